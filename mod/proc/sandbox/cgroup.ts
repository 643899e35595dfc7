/**
 * The cgroups of jailed runs, v1 or v2: the base all socklab jobs go under,
 * a child per job and per run, their limits (processes, memory, a CPU quota
 * where the cpu controller is there), what the runs ran into, and removal
 * (every process killed first, deepest cgroup first). Where /sys/fs/cgroup
 * holds none (`ip netns exec`), it mounts them in this process's own mount
 * namespace.
 *
 * @module
 */
import { dirname } from "node:path";
import { errorMessage } from "../../errors.ts";
import { parentPid, signal } from "./processes.ts";

/** A cgroup: one directory per hierarchy (cgroup v1: pids, memory and cpu if any; v2: one). */
export interface Cgroup {
  version: 1 | 2;
  /** The pids hierarchy's first (v1): its cgroup.procs lists the processes. */
  dirs: string[];
  /** Why its CPU cannot be capped (no cpu controller); absent when it can. */
  noCpu?: string;
}

/** What a run's cgroup limits (the jail's other limits are rlimits and mounts). */
export interface CgroupLimits {
  /** Processes and threads at once (cgroup pids.max). */
  pids: number;
  /** Memory, swap included, bytes (cgroup). */
  memoryBytes: number;
  /**
   * CPUs its processes may use together (cgroup CPU quota, per {@link CPU_PERIOD_US}),
   * so that a program spinning on every core leaves the machine's other jobs
   * their share. Where the cpu controller is missing, not capped.
   */
  cpus: number;
}

/** The cgroup CPU quota's period (cpu.cfs_period_us, cpu.max's second field), µs. */
export const CPU_PERIOD_US = 100_000;

const CG = "/sys/fs/cgroup";

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function write(file: string, text: string): void {
  Deno.writeTextFileSync(file, text);
}

/**
 * The cgroup all socklab jobs go under, or why there is none. v2 (unified,
 * pids and memory available): /sys/fs/cgroup/socklab. v1: a `socklab` child
 * of this process's own cgroup in the pids and memory hierarchies, and in the
 * cpu hierarchy if there is one (under its own cgroup there too: where cpu
 * and cpuacct share a hierarchy, the CPU of the runs still counts in the
 * cpuacct.usage of the cgroup the caller runs in, as scripts/rush measures).
 * Without a cpu controller, `noCpu` says so and runs are not CPU-capped.
 * Where /sys/fs/cgroup holds no cgroup at all (`ip netns exec` mounts a fresh
 * sysfs on /sys, without them), {@link mountControllers} mounts them first.
 */
export function cgroupBase(): Cgroup | string {
  const found = baseHere();
  if (typeof found !== "string" || mounts().some(isCgroupMount)) return found;
  const why = mountControllers();
  return why === null ? baseHere() : `${found}; ${why}`;
}

/** {@link cgroupBase} in what /sys/fs/cgroup holds now. */
function baseHere(): Cgroup | string {
  if (exists(`${CG}/cgroup.controllers`)) {
    const have = Deno.readTextFileSync(`${CG}/cgroup.controllers`).split(/\s+/);
    if (!have.includes("pids") || !have.includes("memory")) {
      return "cgroup v2 without the pids and memory controllers";
    }
    return {
      version: 2,
      dirs: [`${CG}/socklab`],
      ...(have.includes("cpu") ? {} : { noCpu: "cgroup v2 without the cpu controller" }),
    };
  }
  if (!exists(`${CG}/pids/cgroup.procs`) || !exists(`${CG}/memory/cgroup.procs`)) {
    return "no cgroup pids and memory controllers under /sys/fs/cgroup";
  }
  const own = (ctrl: string) => {
    for (const line of Deno.readTextFileSync("/proc/self/cgroup").split("\n")) {
      const [, ctrls, path] = line.split(":");
      if (ctrls?.split(",").includes(ctrl)) return path === "/" ? "" : path;
    }
    return "";
  };
  const dirs = ["pids", "memory"].map((c) => `${CG}/${c}${own(c)}/socklab`);
  // Debian mounts cpu and cpuacct together (cpu,cpuacct) with a `cpu` symlink; others apart.
  if (exists(`${CG}/cpu/cpu.cfs_quota_us`)) {
    return { version: 1, dirs: [...dirs, `${CG}/cpu${own("cpu")}/socklab`] };
  }
  return {
    version: 1,
    dirs,
    noCpu: "no cgroup cpu controller (cpu.cfs_quota_us) under /sys/fs/cgroup/cpu",
  };
}

/** One line of /proc/self/mountinfo: where, what, and its propagation (`shared:N`...). */
interface Mount {
  point: string;
  type: string;
  propagation: string[];
}

/** This mount namespace's mounts. */
function mounts(): Mount[] {
  const unescape = (p: string) =>
    p.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter(Boolean).map((l) => {
    const [left, right = ""] = l.split(" - ");
    const f = left.split(" ");
    return { point: unescape(f[4]), type: right.split(" ")[0], propagation: f.slice(6) };
  });
}

function isCgroupMount(m: Mount): boolean {
  return (m.type === "cgroup" || m.type === "cgroup2") &&
    (m.point === CG || m.point.startsWith(`${CG}/`));
}

/**
 * Whether this process's mount namespace was made below an ancestor's (`ip netns
 * exec`, `unshare --mount`): what it mounts there goes when this process tree does.
 */
function ownMountNamespace(): boolean {
  const ns = (pid: number | "self") => {
    try {
      return Deno.readLinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      return null; // gone, or not ours to read (a VM's init)
    }
  };
  const mine = ns("self");
  let pid: number | null = Deno.pid;
  for (let i = 0; i < 100 && mine !== null; i++) {
    pid = parentPid(pid);
    if (!pid) return false;
    const theirs = ns(pid);
    if (theirs !== null && theirs !== mine) return true;
  }
  return false;
}

/**
 * What mounts the pids, memory and cpu controllers on an empty /sys/fs/cgroup, as
 * /proc/cgroups places them: cgroup v2 (all in hierarchy 0), or a tmpfs with one v1
 * hierarchy each (co-mounted controllers together, e.g. `cpu,cpuacct`, with a symlink
 * per name, as systemd lays them out). Each step: mount's arguments, or a directory to
 * make, or a symlink.
 */
export function controllerMounts(procCgroups: string): (string[] | string)[] | string {
  const rows = procCgroups.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
    const [name, hierarchy, , enabled] = l.split(/\s+/);
    return { name, hierarchy: Number(hierarchy), enabled: enabled === "1" };
  }).filter((r) => r.enabled);
  const at = (c: string) => rows.find((r) => r.name === c)?.hierarchy;
  if (!at("pids") && !at("memory")) return [["-t", "cgroup2", "cgroup2", CG]];
  if (!at("pids") || !at("memory")) return "pids and memory are on different cgroup versions";
  const steps: (string[] | string)[] = [["-t", "tmpfs", "-o", "mode=755,size=1m", "cgroup", CG]];
  const done = new Set<number>();
  for (const c of ["pids", "memory", "cpu"]) {
    const h = at(c);
    if (!h || done.has(h)) continue;
    done.add(h);
    const names = rows.filter((r) => r.hierarchy === h).map((r) => r.name);
    const dir = `${CG}/${names.join(",")}`;
    steps.push(dir, ["-t", "cgroup", "-o", names.join(","), "cgroup", dir]);
    if (names.length > 1) { for (const n of names) steps.push(`${CG}/${n} -> ${names.join(",")}`); }
  }
  return steps;
}

/**
 * Mount the cgroup controllers on /sys/fs/cgroup ({@link controllerMounts}) when this
 * process has a mount namespace of its own that shares no mounts with the machine's
 * (`ip netns exec`'s), so that a `grade`, `serve` or `worker` started there can isolate.
 * Null once mounted, else why not, naming the fix.
 */
function mountControllers(): string | null {
  const fix = `mount them on ${CG}, or start socklab in a mount namespace of its own ` +
    "(`unshare --mount socklab ...`), where it mounts them itself";
  const holder = mounts().filter((m) => CG.startsWith(m.point === "/" ? "/" : `${m.point}/`))
    .sort((a, b) => b.point.length - a.point.length)[0];
  if (!ownMountNamespace() || holder?.propagation.some((p) => p.startsWith("shared:"))) {
    return `this is the machine's mount namespace (or shares its mounts): ${fix}`;
  }
  let plan: ReturnType<typeof controllerMounts>;
  try {
    plan = controllerMounts(Deno.readTextFileSync("/proc/cgroups"));
  } catch {
    plan = controllerMounts(""); // no /proc/cgroups: a kernel with cgroup v2 only
  }
  if (typeof plan === "string") return `cannot mount them: ${plan}`;
  for (const step of plan) {
    try {
      if (typeof step === "string") {
        const [link, target] = step.split(" -> ");
        if (target) Deno.symlinkSync(target, link);
        else Deno.mkdirSync(step);
        continue;
      }
      const r = new Deno.Command("mount", { args: step, stdout: "null", stderr: "piped" })
        .outputSync();
      if (!r.success) throw new Error(new TextDecoder().decode(r.stderr).trim());
    } catch (e) {
      const what = typeof step === "string" ? step : `mount ${step.join(" ")}`;
      return `cannot mount them in this private mount namespace (${what}): ${errorMessage(e)}`;
    }
  }
  return null;
}

/**
 * Make `name` under `parent` (v2: the pids, memory and, if it can be, cpu
 * controllers enabled down to it; if not, the new cgroup's `noCpu` says why).
 */
export function makeCgroup(parent: Cgroup, name: string): Cgroup {
  const cg: Cgroup = {
    version: parent.version,
    dirs: parent.dirs.map((d) => `${d}/${name}`),
    ...(parent.noCpu ? { noCpu: parent.noCpu } : {}),
  };
  for (const d of [...parent.dirs, ...cg.dirs]) Deno.mkdirSync(d, { recursive: true });
  if (cg.version === 2) {
    // Controllers for the new cgroup come from its parent's subtree_control (never its own:
    // a v2 cgroup that hands controllers down may hold no process).
    for (const d of [dirname(parent.dirs[0]), parent.dirs[0]]) enableControllers(d, cg);
  }
  return cg;
}

/** v2: enable pids and memory (and cpu, unless `cg` cannot have it) for `d`'s children. */
function enableControllers(d: string, cg: Cgroup): void {
  const have = Deno.readTextFileSync(`${d}/cgroup.subtree_control`);
  if (!/\bpids\b/.test(have) || !/\bmemory\b/.test(have)) {
    write(`${d}/cgroup.subtree_control`, "+pids +memory");
  }
  // Apart: the kernel may refuse the cpu controller (e.g. a realtime process in a cgroup).
  if (!cg.noCpu && !/\bcpu\b/.test(have)) {
    try {
      write(`${d}/cgroup.subtree_control`, "+cpu");
    } catch (e) {
      cg.noCpu = `cannot enable the cgroup cpu controller: ${errorMessage(e)}`;
    }
  }
}

/** Set the limits of a run's cgroup (the CPU quota only where the cpu controller is there). */
export function limitCgroup(cg: Cgroup, l: CgroupLimits): void {
  const set = (file: string, v: string | number) => {
    for (const d of cg.dirs) if (exists(`${d}/${file}`)) write(`${d}/${file}`, String(v));
  };
  set("pids.max", l.pids);
  if (cg.version === 2) {
    set("memory.max", l.memoryBytes);
    set("memory.swap.max", 0);
  } else {
    set("memory.limit_in_bytes", l.memoryBytes);
    set("memory.memsw.limit_in_bytes", l.memoryBytes);
  }
  if (cg.noCpu || !(l.cpus > 0)) return;
  const quota = Math.round(l.cpus * CPU_PERIOD_US);
  try {
    if (cg.version === 2) set("cpu.max", `${quota} ${CPU_PERIOD_US}`);
    else {
      set("cpu.cfs_period_us", CPU_PERIOD_US);
      set("cpu.cfs_quota_us", quota);
    }
  } catch { /* v1 refuses more than a parent's quota: the parent's caps the run then */ }
}

/**
 * The CPU quota set on `cg`, as cgroup v2's cpu.max says it ("QUOTA PERIOD"
 * in µs, "max PERIOD" for none), or null where it has no cpu controller.
 */
export function cpuQuota(cg: Cgroup): string | null {
  for (const d of cg.dirs) {
    try {
      if (cg.version === 2) return Deno.readTextFileSync(`${d}/cpu.max`).trim();
      const quota = Number(Deno.readTextFileSync(`${d}/cpu.cfs_quota_us`));
      const period = Number(Deno.readTextFileSync(`${d}/cpu.cfs_period_us`));
      return `${quota < 0 ? "max" : quota} ${period}`;
    } catch { /* not this hierarchy */ }
  }
  return null;
}

/** The processes in a cgroup (in the caller's pid namespace). */
export function cgroupPids(cg: Cgroup): number[] {
  try {
    return Deno.readTextFileSync(`${cg.dirs[0]}/cgroup.procs`).split("\n").filter(Boolean).map(
      Number,
    );
  } catch {
    return [];
  }
}

/** Which limits the cgroup's processes ran into ("processes", "memory"). */
export function cgroupLimitsHit(cg: Cgroup): string[] {
  const read = (file: string) => {
    for (const d of cg.dirs) {
      try {
        return Deno.readTextFileSync(`${d}/${file}`);
      } catch { /* not in this hierarchy */ }
    }
    return "";
  };
  const count = (text: string, key: string) =>
    Number(text.match(new RegExp(`^${key} (\\d+)`, "m"))?.[1] ?? 0);
  const hit: string[] = [];
  if (count(read("pids.events"), "max") > 0) hit.push("processes");
  const oom = cg.version === 2 ? read("memory.events") : read("memory.oom_control");
  if (count(oom, "oom_kill") > 0) hit.push("memory");
  return hit;
}

/**
 * The argv that runs `argv` inside `cg` from its first instruction: sh
 * writes its own pid into each hierarchy's cgroup.procs, then execs it (with
 * `fd3`, if given, opened on descriptor 3: bubblewrap's seccomp filter).
 */
export function inCgroupArgv(cg: Cgroup | undefined, argv: string[], fd3 = ""): string[] {
  return [
    "/bin/sh",
    "-c",
    'fd3=$1; shift; for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; ' +
    'shift; done; shift; if [ -n "$fd3" ]; then exec "$@" 3<"$fd3"; else exec "$@"; fi',
    "sh",
    fd3,
    ...(cg?.dirs ?? []).map((d) => `${d}/cgroup.procs`),
    "--",
    ...argv,
  ];
}

/**
 * The most memory `cg` used at once, bytes (v1 memory.max_usage_in_bytes,
 * v2 memory.peak), or null where the kernel does not say.
 */
export function memoryPeak(cg: Cgroup): number | null {
  const file = cg.version === 2 ? "memory.peak" : "memory.max_usage_in_bytes";
  for (const d of cg.dirs) {
    try {
      return Number(Deno.readTextFileSync(`${d}/${file}`).trim());
    } catch { /* not this hierarchy */ }
  }
  return null;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A cgroup directory and every one below it, deepest first (the order to remove them in). */
export function cgroupSubtree(d: string): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(d)) {
      if (e.isDirectory) out.push(...cgroupSubtree(`${d}/${e.name}`));
    }
  } catch { /* gone */ }
  out.push(d);
  return out;
}

/**
 * Kill every process of the cgroup and its children, then remove them all,
 * in every hierarchy (v1: a child left in one hierarchy only, as a SIGKILLed
 * grade may leave it, is removed too). Bounded: gives up (leaving the
 * directories) after about 3 s per cgroup.
 */
export async function removeCgroup(cg: Cgroup): Promise<void> {
  const below = new Set<string>();
  for (const d of cg.dirs) for (const sub of cgroupSubtree(d)) below.add(sub.slice(d.length));
  const deepestFirst = [...below].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const rel of deepestFirst) {
    const dirs = cg.dirs.map((d) => d + rel).filter(exists);
    if (cg.version === 2 && exists(`${dirs[0]}/cgroup.kill`)) {
      try {
        write(`${dirs[0]}/cgroup.kill`, "1");
      } catch { /* gone */ }
    }
    for (let i = 0; i < 150; i++) {
      const pids = dirs.flatMap((d) => cgroupPids({ version: cg.version, dirs: [d] }));
      if (pids.length === 0) break;
      for (const p of pids) signal(p, "SIGKILL");
      await tick(20);
    }
    for (const d of dirs) {
      for (let i = 0; i < 50 && exists(d); i++) {
        try {
          Deno.removeSync(d);
        } catch {
          await tick(20);
        }
      }
    }
  }
}
