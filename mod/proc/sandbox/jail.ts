/**
 * The jail of one run: its limits, its private directory holding the
 * program's files, its cgroup, and the argv that starts it (sh enters the
 * cgroup, then bubblewrap's namespaces and mounts, setpriv's unprivileged
 * user, prlimit's rlimits, the program). DEVELOPERS.md, "grade's isolation",
 * has the measurements behind each choice.
 *
 * Without bubblewrap (a {@link Jail} with `namespaces: false`, for root on a
 * machine that lacks it), the same user, rlimits, cgroup and private
 * directory, in this machine's namespaces: the program runs in its
 * directory's `home`, and an absolute file name in its arguments is
 * rewritten to its copy.
 *
 * @module
 */
import { dirname, normalize } from "node:path";
import {
  type Cgroup,
  type CgroupLimits,
  cgroupLimitsHit,
  inCgroupArgv,
  limitCgroup,
  makeCgroup,
  removeCgroup,
} from "./cgroup.ts";
import { seccompFilter } from "./seccomp.ts";

/**
 * The uid and gid a jailed program runs as where no other is given (nobody,
 * nogroup); grade gives each job its own (./uids.ts).
 */
export const JAIL_UID = 65534;
/** PATH inside the jail: only the system's programs are visible there. */
export const JAIL_PATH = "/usr/local/bin:/usr/bin:/bin";
/** The jailed program's working directory and HOME. */
export const JAIL_HOME = "/home/student";

export interface JailLimits extends CgroupLimits {
  /** CPU seconds of each process (RLIMIT_CPU). */
  cpuSeconds: number;
  /** Largest file it may write, bytes (RLIMIT_FSIZE). */
  fileBytes: number;
  /** Open file descriptors (RLIMIT_NOFILE). */
  openFiles: number;
  /** Size of its private /tmp, bytes. */
  tmpBytes: number;
}

export const JAIL_LIMITS: JailLimits = {
  pids: 64,
  memoryBytes: 512 * 2 ** 20,
  cpuSeconds: 60,
  fileBytes: 64 * 2 ** 20,
  openFiles: 256,
  tmpBytes: 64 * 2 ** 20,
  cpus: 1,
};

/** Where a job's jailed runs happen: a directory private to grade, and the job's cgroup. */
export interface Jail {
  /** Each run's working directory is made in it (never visible to another run). */
  dir: string;
  /** The job's cgroup; each run gets its own child of it. None: no cgroups here (bare only). */
  cgroup?: Cgroup;
  limits: JailLimits;
  /** The uid (and gid) the program runs as (default {@link JAIL_UID}). */
  uid?: number;
  /** false: no bubblewrap, this machine's namespaces (see the module's documentation). */
  namespaces?: boolean;
}

/** What the jail shows of this machine, read-only: a program's file may not be put there. */
const SYSTEM = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/** Is `path` (absolute) part of the system a jailed program sees anyway (e.g. /usr/bin/python3)? */
export function inJailSystem(path: string): boolean {
  return SYSTEM.some((s) => path === s || path.startsWith(s + "/"));
}

/** One jailed run being prepared: its directory, its cgroup, and the argv that runs it. */
export interface JailedRun {
  dir: string;
  cgroup?: Cgroup;
  argv: string[];
  /** In its own namespaces (bubblewrap), or bare: then its working directory and environment. */
  namespaces: boolean;
  cwd?: string;
  env?: Record<string, string>;
}

let runCount = 0;

/**
 * Make the run's directory (its files in it) and cgroup; the argv that runs `program` jailed,
 * with `env` added to {@link JAIL_ENV}.
 */
export function prepareRun(
  jail: Jail,
  program: string[],
  files: Record<string, string>,
  env: Record<string, string> = {},
): JailedRun {
  const id = `run-${++runCount}-${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${jail.dir}/${id}`;
  const uid = jail.uid ?? JAIL_UID;
  const namespaces = jail.namespaces ?? true;
  // Bare, the program reaches its home through this directory: traversable, not listable.
  Deno.mkdirSync(dir, { mode: namespaces ? 0o700 : 0o711 });
  if (!namespaces) Deno.chmodSync(dir, 0o711);
  const absDirs = placeFiles(dir, files, uid);
  const cgroup = jail.cgroup && makeCgroup(jail.cgroup, id);
  if (cgroup) limitCgroup(cgroup, jail.limits);
  if (!namespaces) {
    const home = `${dir}/home`;
    const argv = program.map((a) =>
      files[a] && a.startsWith("/") ? `${dir}/abs${normalize(a)}` : a
    );
    return {
      dir,
      cgroup,
      namespaces,
      cwd: home,
      env: { ...JAIL_ENV, ...env, HOME: home },
      argv: inCgroupArgv(cgroup, [
        "setsid",
        ...userArgv(uid),
        ...limitsArgv(jail.limits, cgroup ? true : "no cgroup"),
        ...argv,
      ]),
    };
  }
  const filter = seccompFilter();
  const bpf = filter ? `${dir}/seccomp.bpf` : "";
  if (filter) Deno.writeFileSync(bpf, filter, { mode: 0o600 });
  const mounts = jailMounts(dir, absDirs, jail.limits);
  const runEnv = { ...JAIL_ENV, ...env };
  const argv = jailArgv(cgroup, bpf, mounts, jail.limits, uid, runEnv, program);
  return { dir, cgroup, namespaces, argv };
}

/** Make `d` and its missing parents, traversable and owned by the jail's user `uid`. */
function mkdirs(d: string, uid: number): void {
  try {
    Deno.statSync(d);
    return;
  } catch { /* make it */ }
  mkdirs(dirname(d), uid);
  Deno.mkdirSync(d, { mode: 0o755 });
  Deno.chownSync(d, uid, uid);
}

/**
 * Copy the program's files into the run's directory `dir`: relative ones to
 * `dir/home` (its HOME), absolute ones to `dir/abs/...`; the absolute ones'
 * directories, to be mounted at their own paths.
 */
function placeFiles(dir: string, files: Record<string, string>, uid: number): Set<string> {
  const home = `${dir}/home`;
  mkdirs(home, uid);
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
    mkdirs(dirname(dest), uid);
    Deno.copyFileSync(src, dest);
    const exec = ((Deno.statSync(src).mode ?? 0) & 0o100) !== 0;
    Deno.chmodSync(dest, exec ? 0o755 : 0o644);
    Deno.chownSync(dest, uid, uid);
  }
  return absDirs;
}

/**
 * bubblewrap's mounts: the system read-only, fresh /proc and /dev, a private
 * /tmp, the run's home at {@link JAIL_HOME}, the absolute files' directories.
 */
function jailMounts(dir: string, absDirs: Set<string>, l: JailLimits): string[] {
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
  fs.push("--perms", "0755", "--dir", "/home", "--bind", `${dir}/home`, JAIL_HOME);
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
  return fs;
}

/**
 * The jailed program's whole environment (with what the caller adds): no PYTHON* variable, as
 * the course's scorer ran Python (see `scorerEnv` in run.ts).
 */
const JAIL_ENV = {
  PATH: JAIL_PATH,
  HOME: JAIL_HOME,
  LANG: "C.UTF-8",
};

/** setpriv's part of a run's argv: user `uid`, no groups, no capabilities, no new privileges. */
function userArgv(uid: number): string[] {
  return [
    "setpriv",
    `--reuid=${uid}`,
    `--regid=${uid}`,
    "--clear-groups",
    "--no-new-privs",
    "--bounding-set=-all",
    "--inh-caps=-all",
    "--",
  ];
}

/**
 * prlimit's part: CPU time, file size, open files, no core. Bare runs also
 * get a process count (RLIMIT_NPROC: per uid, and the uid is the job's
 * own), and where no cgroup bounds their memory, an address-space limit.
 */
function limitsArgv(l: JailLimits, bare: boolean | "no cgroup" = false): string[] {
  return [
    "prlimit",
    `--cpu=${l.cpuSeconds}`,
    `--fsize=${l.fileBytes}`,
    `--nofile=${l.openFiles}`,
    "--core=0",
    ...(bare ? [`--nproc=${l.pids}`] : []),
    ...(bare === "no cgroup" ? [`--as=${2 * l.memoryBytes}`] : []),
    "--",
  ];
}

/**
 * The argv of a jailed run: sh writes its pid into the cgroup and execs
 * bubblewrap (the seccomp filter `bpf`, if any, on its fd 3), which execs
 * setpriv, then prlimit, then the program.
 */
function jailArgv(
  cgroup: Cgroup | undefined,
  bpf: string,
  mounts: string[],
  l: JailLimits,
  uid: number,
  env: Record<string, string>,
  program: string[],
): string[] {
  // Enter the cgroup first, so that everything that follows is counted and killed with it.
  return inCgroupArgv(cgroup, [
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
    ...mounts,
    "--chdir",
    JAIL_HOME,
    "--clearenv",
    ...Object.entries(env).flatMap(([k, v]) => ["--setenv", k, v]),
    "--",
    ...userArgv(uid),
    ...limitsArgv(l),
    ...program,
  ], bpf);
}

/** Kill what is left of a jailed run, note the limits it hit, remove its cgroup and directory. */
export async function cleanRun(run: JailedRun): Promise<string[]> {
  let hit: string[] = [];
  if (run.cgroup) {
    try {
      hit = cgroupLimitsHit(run.cgroup);
    } catch { /* no cgroup */ }
    await removeCgroup(run.cgroup);
  }
  await Deno.remove(run.dir, { recursive: true }).catch(() => {});
  return hit;
}
