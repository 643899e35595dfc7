/**
 * The one sandbox `grade` runs a student's program in.
 *
 * Always: its own process group (through setsid), a time limit, a cap on its
 * output, stdin closed or piped, and at the end everything it started
 * stopped (SIGTERM, a grace period, SIGKILL), without waiting on a pipe a
 * stray process holds open.
 *
 * With a {@link Jail} (root, bubblewrap; see `isolationProblem`), each run is
 * also isolated (bubblewrap as root, no user namespace, then setpriv):
 * - new pid, mount, ipc and uts namespaces; the network namespace is the
 *   caller's (grade's engine runs in a private one, see mod/grade/engine.ts);
 * - the system read-only (/usr, /etc), a fresh /proc, a minimal /dev, a
 *   private /tmp, a fresh writable working directory holding only the files
 *   it was given; nothing of grade's directory, home or other runs;
 * - uid/gid 65534 (nobody) with no groups, no capabilities, no new
 *   privileges; a clean environment (PATH, HOME, LANG, PYTHONUNBUFFERED=1);
 *   no descriptor but 0-2 (see `closeInheritedFds`);
 * - a seccomp filter (`seccompFilter`): no keyrings, no user namespaces;
 * - rlimits (CPU time, file size, open files) and a cgroup (processes,
 *   memory, and a CPU quota where the cpu controller is there; cgroup v1 or
 *   v2) killed and removed at the end of the run.
 *
 * @module
 */
import { dirname, normalize } from "node:path";
import { settledWithin } from "../deadline.ts";
import { LineReader } from "./lines.ts";
import { errorMessage } from "../errors.ts";

export interface SandboxOptions {
  /** The program and its arguments. */
  argv: string[];
  /** Wall-clock limit; the program is stopped when it runs over. */
  timeLimitMs: number;
  /** Bytes of stdout (and, separately, of stderr) kept; over that the program is stopped. */
  outputCapBytes?: number;
  /** "null" (default): stdin is /dev/null; "piped": write with writeStdin/closeStdin. */
  stdin?: "null" | "piped";
  env?: Record<string, string>;
  cwd?: string;
  /** Run through this prefix, e.g. `ip netns exec NAME`. */
  prefix?: string[];
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number;
  /** Run isolated (see the module's documentation); `env`, `cwd` and `prefix` are then ignored. */
  jail?: Jail;
  /**
   * With a jail, the program's files: the path it sees (relative to its working
   * directory, or absolute) -> the file to copy there. Ignored without a jail.
   */
  files?: Record<string, string>;
  /** Stop the program when this aborts (grade interrupted). */
  signal?: AbortSignal;
}

export interface SandboxResult {
  /** Exit code, or null if a signal ended it. */
  code: number | null;
  signal: string | null;
  /** It exited by itself (not stopped by us). */
  exitedByItself: boolean;
  timedOut: boolean;
  outputCapped: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Jailed runs: the limits it ran into ("processes", "memory"). */
  limitsHit?: string[];
}

/** Children of every process, from /proc (empty where /proc is unreadable). */
function childrenMap(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const list = map.get(ppid) ?? [];
        list.push(Number(e.name));
        map.set(ppid, list);
      } catch { /* gone meanwhile */ }
    }
  } catch { /* no /proc */ }
  return map;
}

/** Every descendant of `pid` (children, grandchildren...). */
export function descendants(pid: number): number[] {
  const map = childrenMap();
  const out: number[] = [];
  const todo = [pid];
  while (todo.length && out.length < 10_000) {
    for (const c of map.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** Where `prog` is (a path, or found on PATH), or null. */
export function findProgram(prog: string, path = Deno.env.get("PATH") ?? ""): string | null {
  const isExe = (p: string) => {
    try {
      const st = Deno.statSync(p);
      return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (prog.includes("/")) return isExe(prog) ? prog : null;
  for (const dir of path.split(":")) {
    if (dir && isExe(`${dir}/${prog}`)) return `${dir}/${prog}`;
  }
  return null;
}

function signal(pid: number, sig: Deno.Signal) {
  try {
    Deno.kill(pid, sig);
  } catch { /* already gone */ }
}

// ---------------------------------------------------------------- the jail

/** O_CLOEXEC in /proc/self/fdinfo's octal `flags`. */
const O_CLOEXEC = 0o2000000;

/**
 * Close the descriptors this process inherited without close-on-exec (fds 0-2
 * aside): spawned children (bubblewrap, and through it a jailed program)
 * would inherit them, whatever their namespaces. Deno's own descriptors are
 * all close-on-exec, so only the parent's leftovers (a shell's, a CI runner's
 * log pipe) are closed. Through libc's close() (Deno has no API to close a
 * descriptor it did not open).
 */
export function closeInheritedFds(): void {
  const stray: number[] = [];
  for (const e of Deno.readDirSync("/proc/self/fdinfo")) {
    const fd = Number(e.name);
    if (!(fd > 2)) continue;
    try {
      const flags = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`).match(/^flags:\s*([0-7]+)/m);
      if (flags && (parseInt(flags[1], 8) & O_CLOEXEC) === 0) stray.push(fd);
    } catch { /* the listing's own descriptor, closed meanwhile */ }
  }
  if (stray.length === 0) return;
  const libc = Deno.dlopen("libc.so.6", { close: { parameters: ["i32"], result: "i32" } });
  try {
    for (const fd of stray) libc.symbols.close(fd);
  } finally {
    libc.close();
  }
}

/** The uid and gid a jailed program runs as (nobody, nogroup). */
export const JAIL_UID = 65534;
/** PATH inside the jail: only the system's programs are visible there. */
export const JAIL_PATH = "/usr/local/bin:/usr/bin:/bin";
/** The jailed program's working directory and HOME. */
export const JAIL_HOME = "/home/student";

export interface JailLimits {
  /** Processes and threads at once (cgroup pids.max). */
  pids: number;
  /** Memory, swap included, bytes (cgroup). */
  memoryBytes: number;
  /** CPU seconds of each process (RLIMIT_CPU). */
  cpuSeconds: number;
  /** Largest file it may write, bytes (RLIMIT_FSIZE). */
  fileBytes: number;
  /** Open file descriptors (RLIMIT_NOFILE). */
  openFiles: number;
  /** Size of its private /tmp, bytes. */
  tmpBytes: number;
  /**
   * CPUs its processes may use together (cgroup CPU quota, per {@link CPU_PERIOD_US}),
   * so that a program spinning on every core leaves the machine's other jobs
   * their share. Where the cpu controller is missing, not capped.
   */
  cpus: number;
}

/** The cgroup CPU quota's period (cpu.cfs_period_us, cpu.max's second field), µs. */
export const CPU_PERIOD_US = 100_000;

export const JAIL_LIMITS: JailLimits = {
  pids: 64,
  memoryBytes: 512 * 2 ** 20,
  cpuSeconds: 60,
  fileBytes: 64 * 2 ** 20,
  openFiles: 256,
  tmpBytes: 64 * 2 ** 20,
  cpus: 1,
};

/** A cgroup: one directory per hierarchy (cgroup v1: pids, memory and cpu if any; v2: one). */
export interface Cgroup {
  version: 1 | 2;
  /** The pids hierarchy's first (v1): its cgroup.procs lists the processes. */
  dirs: string[];
  /** Why its CPU cannot be capped (no cpu controller); absent when it can. */
  noCpu?: string;
}

/** Where a job's jailed runs happen: a directory private to grade, and the job's cgroup. */
export interface Jail {
  /** Each run's working directory is made in it (never visible to another run). */
  dir: string;
  /** The job's cgroup; each run gets its own child of it. */
  cgroup: Cgroup;
  limits: JailLimits;
}

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
 */
export function cgroupBase(): Cgroup | string {
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
    for (const d of [dirname(parent.dirs[0]), parent.dirs[0]]) {
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
  }
  return cg;
}

/** Set the limits of a run's cgroup (the CPU quota only where the cpu controller is there). */
export function limitCgroup(cg: Cgroup, l: JailLimits): void {
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
function cgroupPids(cg: Cgroup): number[] {
  try {
    return Deno.readTextFileSync(`${cg.dirs[0]}/cgroup.procs`).split("\n").filter(Boolean).map(
      Number,
    );
  } catch {
    return [];
  }
}

/** Which limits the cgroup's processes ran into. */
function cgroupLimitsHit(cg: Cgroup): string[] {
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
 * Kill every process of the cgroup and its children, then remove them all.
 * Bounded: gives up (leaving the directories) after about 3 s.
 */
export async function removeCgroup(cg: Cgroup): Promise<void> {
  for (const dir of cgroupSubtree(cg.dirs[0])) {
    const one: Cgroup = {
      version: cg.version,
      dirs: cg.dirs.map((d) => d + dir.slice(cg.dirs[0].length)),
    };
    if (cg.version === 2 && exists(`${dir}/cgroup.kill`)) {
      try {
        write(`${dir}/cgroup.kill`, "1");
      } catch { /* gone */ }
    }
    for (let i = 0; i < 150; i++) {
      const pids = cgroupPids(one);
      if (pids.length === 0) break;
      for (const p of pids) signal(p, "SIGKILL");
      await tick(20);
    }
    for (const d of one.dirs) {
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

/** Why `grade` cannot isolate programs on this machine, or null if it can. Cached. */
let problem: Promise<string | null> | undefined;
/** Why isolated runs get no CPU quota (found by isolationProblem's probe), or null. */
let cpuProblem: string | null = null;
export function isolationProblem(): Promise<string | null> {
  return problem ??= (async () => {
    if (Deno.build.os !== "linux") return "not Linux";
    if (Deno.uid() !== 0) return "not root (the sandbox is bubblewrap run as root)";
    for (const tool of ["bwrap", "setpriv", "prlimit", "ip"]) {
      if (!findProgram(tool, JAIL_PATH + ":/usr/sbin:/sbin")) {
        return `no '${tool}' (Debian package ${
          tool === "bwrap" ? "bubblewrap" : tool === "ip" ? "iproute2" : "util-linux"
        })`;
      }
    }
    const base = cgroupBase();
    if (typeof base === "string") return `no usable cgroups: ${base}`;
    try {
      const probe = makeCgroup(base, `probe-${crypto.randomUUID().slice(0, 8)}`);
      try {
        limitCgroup(probe, JAIL_LIMITS);
        const quota = cpuQuota(probe);
        cpuProblem = probe.noCpu ??
          (quota === null || quota.startsWith("max") ? "the cgroup CPU quota cannot be set" : null);
      } finally {
        await removeCgroup(probe);
      }
    } catch (e) {
      return `cannot make a cgroup in ${base.dirs[0]}: ${errorMessage(e)}`;
    }
    const r = await new Deno.Command("bwrap", {
      args: ["--unshare-net", "--unshare-pid", "--dev-bind", "/", "/", "--", "/bin/true"],
      stdout: "null",
      stderr: "piped",
    }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
    if (!r.success) {
      return `bubblewrap cannot make namespaces here: ${new TextDecoder().decode(r.stderr).trim()}`;
    }
    return null;
  })();
}

/**
 * Why isolated runs are not CPU-capped here (no cgroup cpu controller), or
 * null when each gets its quota (or when there is no isolation at all).
 */
export async function cpuQuotaProblem(): Promise<string | null> {
  return await isolationProblem() === null ? cpuProblem : null;
}

/** What the jail shows of this machine, read-only: a program's file may not be put there. */
const SYSTEM = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/** Is `path` (absolute) part of the system a jailed program sees anyway (e.g. /usr/bin/python3)? */
export function inJailSystem(path: string): boolean {
  return SYSTEM.some((s) => path === s || path.startsWith(s + "/"));
}

/**
 * The seccomp filter (classic BPF, as `bwrap --seccomp` reads it) every jailed
 * program runs under, or null on an architecture it does not know. It refuses
 * (EPERM) what the namespaces do not separate:
 * - the kernel's keyrings (add_key, request_key, keyctl): the user keyring of
 *   uid 65534 is shared by every job's programs and outlives the run, so a key
 *   one job leaves is read by the next;
 * - new user namespaces (unshare or clone with CLONE_NEWUSER): root inside one
 *   opens the kernel's less-guarded paths (mounts, netfilter, veths);
 *   clone3, whose flags a filter cannot read, fails with ENOSYS (libc then uses clone);
 * - any other ABI (i386 through int 0x80, x32), whose numbers differ.
 */
export function seccompFilter(arch: string = Deno.build.arch): Uint8Array | null {
  const abi = {
    // AUDIT_ARCH_*, then syscall numbers: add_key, request_key, keyctl, unshare, clone, clone3.
    x86_64: { audit: 0xc000003e, keys: [248, 249, 250], unshare: 272, clone: 56, clone3: 435 },
    aarch64: { audit: 0xc00000b7, keys: [217, 218, 219], unshare: 97, clone: 220, clone3: 435 },
  }[arch];
  if (!abi) return null;
  const LD = 0x20, JEQ = 0x15, JGE = 0x35, JSET = 0x45, RET = 0x06;
  const ALLOW = 0x7fff0000, ERRNO = 0x00050000, EPERM = 1, ENOSYS = 38;
  const CLONE_NEWUSER = 0x10000000, X32 = 0x40000000;
  // [code, jump-if-true label, k]; a jump's false branch is the next instruction.
  type Ins = [number, string | null, number];
  const prog: (Ins | string)[] = [
    [LD, null, 4], // seccomp_data.arch
    [JEQ, "native", abi.audit],
    [RET, null, ERRNO | EPERM],
    "native",
    [LD, null, 0], // seccomp_data.nr
    [JGE, "deny", X32],
    ...abi.keys.map((nr): Ins => [JEQ, "deny", nr]),
    [JEQ, "flags", abi.unshare],
    [JEQ, "flags", abi.clone],
    [JEQ, "nosys", abi.clone3],
    [RET, null, ALLOW],
    "flags",
    [LD, null, 16], // seccomp_data.args[0], its low 32 bits (little-endian)
    [JSET, "deny", CLONE_NEWUSER],
    [RET, null, ALLOW],
    "nosys",
    [RET, null, ERRNO | ENOSYS],
    "deny",
    [RET, null, ERRNO | EPERM],
  ];
  const at = new Map<string, number>();
  const code: Ins[] = [];
  for (const p of prog) typeof p === "string" ? at.set(p, code.length) : code.push(p);
  const out = new DataView(new ArrayBuffer(code.length * 8));
  code.forEach(([op, label, k], i) => {
    out.setUint16(i * 8, op, true);
    out.setUint8(i * 8 + 2, label === null ? 0 : at.get(label)! - i - 1); // struct sock_filter
    out.setUint8(i * 8 + 3, 0);
    out.setUint32(i * 8 + 4, k, true);
  });
  return new Uint8Array(out.buffer);
}

let runCount = 0;

/** One jailed run being prepared: its directory, its cgroup, and the argv that runs it. */
interface JailedRun {
  dir: string;
  cgroup: Cgroup;
  argv: string[];
}

/** Make the run's directory (its files in it) and cgroup; the argv that runs `program` jailed. */
function prepareRun(jail: Jail, program: string[], files: Record<string, string>): JailedRun {
  const id = `run-${++runCount}-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${jail.dir}/${id}`;
  const home = `${dir}/home`;
  Deno.mkdirSync(dir, { mode: 0o700 });
  const mkdirs = (d: string) => {
    if (exists(d)) return;
    mkdirs(dirname(d));
    Deno.mkdirSync(d, { mode: 0o755 });
    Deno.chownSync(d, JAIL_UID, JAIL_UID);
  };
  mkdirs(home);
  const absDirs = new Set<string>();
  for (const [name, src] of Object.entries(files)) {
    const path = normalize(name);
    let dest: string;
    if (path.startsWith("/")) {
      const d = dirname(path);
      if (
        d === "/" || inJailSystem(d) || [JAIL_HOME, "/proc", "/dev"].some((s) => d.startsWith(s))
      ) {
        throw new Error(`the program's file ${name} cannot be put in the sandbox's ${d}`);
      }
      absDirs.add(d);
      dest = `${dir}/abs${path}`;
    } else {
      if (path.startsWith("..")) {
        throw new Error(`the program's file ${name} is outside its directory`);
      }
      dest = `${home}/${path}`;
    }
    mkdirs(dirname(dest));
    Deno.copyFileSync(src, dest);
    const exec = ((Deno.statSync(src).mode ?? 0) & 0o100) !== 0;
    Deno.chmodSync(dest, exec ? 0o755 : 0o644);
    Deno.chownSync(dest, JAIL_UID, JAIL_UID);
  }
  const cgroup = makeCgroup(jail.cgroup, id);
  limitCgroup(cgroup, jail.limits);

  const filter = seccompFilter();
  const bpf = filter ? `${dir}/seccomp.bpf` : "";
  if (filter) Deno.writeFileSync(bpf, filter, { mode: 0o600 });

  const l = jail.limits;
  const fs: string[] = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"];
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    try {
      const st = Deno.lstatSync(top);
      if (st.isSymlink) fs.push("--symlink", Deno.readLinkSync(top), top);
      else if (st.isDirectory) fs.push("--ro-bind", top, top);
    } catch { /* not on this system */ }
  }
  fs.push("--proc", "/proc", "--dev", "/dev");
  fs.push("--size", String(l.tmpBytes), "--perms", "1777", "--tmpfs", "/tmp");
  fs.push("--perms", "0755", "--dir", "/home", "--bind", home, JAIL_HOME);
  // Absolute files: their directories at the same paths, read-only (parents first, traversable).
  const made = new Set(["/", "/tmp", "/home"]);
  for (const d of [...absDirs].sort()) {
    const parts = d.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = "/" + parts.slice(0, i).join("/");
      if (!made.has(p)) fs.push("--perms", "0755", "--dir", p);
      made.add(p);
    }
    fs.push("--ro-bind", `${dir}/abs${d}`, d);
  }
  const env = {
    PATH: JAIL_PATH,
    HOME: JAIL_HOME,
    LANG: "C.UTF-8",
    PYTHONUNBUFFERED: "1",
  };
  const argv = [
    // Enter the cgroup first, so that everything that follows is counted and killed with it.
    // The seccomp filter (if any) on fd 3 for bubblewrap, which reads and closes it.
    "/bin/sh",
    "-c",
    'bpf=$1; shift; for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; ' +
    'shift; done; shift; if [ -n "$bpf" ]; then exec "$@" 3<"$bpf"; else exec "$@"; fi',
    "sh",
    bpf,
    ...cgroup.dirs.map((d) => `${d}/cgroup.procs`),
    "--",
    "bwrap",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    "sandbox",
    "--die-with-parent",
    "--new-session",
    ...(bpf ? ["--seccomp", "3"] : []),
    ...fs,
    "--chdir",
    JAIL_HOME,
    "--clearenv",
    ...Object.entries(env).flatMap(([k, v]) => ["--setenv", k, v]),
    "--",
    "setpriv",
    `--reuid=${JAIL_UID}`,
    `--regid=${JAIL_UID}`,
    "--clear-groups",
    "--no-new-privs",
    "--bounding-set=-all",
    "--inh-caps=-all",
    "--",
    "prlimit",
    `--cpu=${l.cpuSeconds}`,
    `--fsize=${l.fileBytes}`,
    `--nofile=${l.openFiles}`,
    "--core=0",
    "--",
    ...program,
  ];
  return { dir, cgroup, argv };
}

/** A graded program, running. */
export class Sandbox {
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  readonly result: Promise<SandboxResult>;
  readonly #child: Deno.ChildProcess;
  readonly #started = performance.now();
  readonly #grace: number;
  #stopping?: Promise<void>;
  #stoppedByUs = false;
  #exited = false;
  #timedOut = false;
  #stdin?: WritableStreamDefaultWriter<Uint8Array>;
  readonly #timer: ReturnType<typeof setTimeout>;
  #run?: JailedRun;

  constructor(opts: SandboxOptions) {
    this.#grace = opts.graceMs ?? 1000;
    const jail = opts.jail;
    const path = jail ? JAIL_PATH : opts.env?.PATH;
    if (!(jail && opts.argv[0].includes("/")) && !findProgram(opts.argv[0], path)) {
      throw new Error(
        `cannot run '${opts.argv[0]}': ${
          opts.argv[0].includes("/")
            ? "no such executable file"
            : jail
            ? `not found on the sandbox's PATH (${JAIL_PATH}; programs under /root or /home, ` +
              `e.g. pyenv's, are not visible there: use the system's)`
            : "not found on PATH"
        }`,
      );
    }
    let argv: string[];
    if (jail) {
      this.#run = prepareRun(jail, opts.argv, opts.files ?? {});
      argv = this.#run.argv;
    } else {
      argv = [...(opts.prefix ?? []), "setsid", ...opts.argv];
    }
    try {
      this.#child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: opts.stdin ?? "null",
        stdout: "piped",
        stderr: "piped",
        env: jail ? {} : opts.env,
        clearEnv: !!jail,
        cwd: jail ? undefined : opts.cwd,
      }).spawn();
    } catch (e) {
      if (this.#run) void this.#cleanRun(this.#run);
      throw new Error(`cannot start ${opts.argv[0]}: ${errorMessage(e)}`);
    }
    const cap = opts.outputCapBytes ?? 1 << 20;
    const onCap = () => void this.stop();
    this.stdout = new LineReader(this.#child.stdout, { maxBytes: cap, onCap });
    this.stderr = new LineReader(this.#child.stderr, { maxBytes: cap, onCap });
    if (opts.stdin === "piped") this.#stdin = this.#child.stdin.getWriter();
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      void this.stop();
    }, opts.timeLimitMs);
    void this.#child.status.then(() => this.#exited = true);
    if (opts.signal) {
      const onAbort = () => void this.stop();
      if (opts.signal.aborted) onAbort();
      else opts.signal.addEventListener("abort", onAbort, { once: true });
      void this.#child.status.then(() => opts.signal!.removeEventListener("abort", onAbort));
    }
    this.result = this.#collect();
  }

  /** Kill what is left of a jailed run, note the limits it hit, remove its cgroup and directory. */
  async #cleanRun(run: JailedRun): Promise<string[]> {
    let hit: string[] = [];
    try {
      hit = cgroupLimitsHit(run.cgroup);
    } catch { /* no cgroup */ }
    await removeCgroup(run.cgroup);
    await Deno.remove(run.dir, { recursive: true }).catch(() => {});
    return hit;
  }

  async #collect(): Promise<SandboxResult> {
    const st = await this.#child.status;
    clearTimeout(this.#timer);
    await this.#killGroup("SIGKILL"); // whatever it left behind
    const limitsHit = this.#run ? await this.#cleanRun(this.#run) : undefined;
    // A stray process may hold the pipes open: wait for them a moment, no more.
    const drained = Promise.all([this.stdout.done, this.stderr.done]);
    if (!await settledWithin(drained, this.#grace)) {
      this.stdout.cancel();
      this.stderr.cancel();
      await drained;
    }
    return {
      code: st.signal ? null : st.code,
      signal: st.signal,
      exitedByItself: !this.#stoppedByUs,
      timedOut: this.#timedOut,
      outputCapped: this.stdout.capped || this.stderr.capped,
      durationMs: Math.round(performance.now() - this.#started),
      stdout: this.stdout.text,
      stderr: this.stderr.text,
      ...(limitsHit ? { limitsHit } : {}),
    };
  }

  /** The program's process id (its process group id too). */
  get pid(): number {
    return this.#child.pid;
  }

  async writeStdin(text: string): Promise<void> {
    try {
      await this.#stdin?.write(new TextEncoder().encode(text));
    } catch { /* the program closed its stdin or exited */ }
  }

  async closeStdin(): Promise<void> {
    const w = this.#stdin;
    this.#stdin = undefined;
    await w?.close().catch(() => {});
  }

  /**
   * Signal the group and every descendant (found before signalling, as orphans
   * lose their tree). Jailed: every process of its cgroup; bubblewrap itself
   * only with SIGKILL (its death ends the pid namespace, so all of them).
   */
  #killGroup(sig: Deno.Signal): Promise<void> {
    if (this.#run) {
      const pids = cgroupPids(this.#run.cgroup).filter((p) => p !== this.#child.pid);
      if (sig === "SIGKILL" && !this.#exited) signal(this.#child.pid, sig); // never a reused pid
      for (const p of pids) signal(p, sig);
      return Promise.resolve();
    }
    const pids = descendants(this.#child.pid);
    signal(-this.#child.pid, sig);
    for (const p of pids) signal(p, sig);
    return Promise.resolve();
  }

  /** Stop the program: SIGTERM to its group, SIGKILL after the grace period. */
  stop(): Promise<SandboxResult> {
    this.#stopping ??= (async () => {
      // Its output may end a moment before its exit status arrives: wait for that moment.
      await settledWithin(this.#child.status, 100);
      if (!this.#exited) this.#stoppedByUs = true;
      await this.closeStdin();
      await this.#killGroup("SIGTERM");
      await settledWithin(this.#child.status, this.#grace);
      await this.#killGroup("SIGKILL");
    })();
    return this.#stopping.then(() => this.result);
  }

  /** Wait for it to exit by itself (up to its time limit), then make sure nothing is left. */
  async finish(): Promise<SandboxResult> {
    return await this.result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
