/**
 * The jail of one run: its limits, its private directory holding the
 * program's files, its cgroup, and the argv that starts it (sh enters the
 * cgroup, then bubblewrap's namespaces and mounts, setpriv's unprivileged
 * user, prlimit's rlimits, the program). DEVELOPERS.md, "grade's isolation",
 * has the measurements behind each choice.
 *
 * @module
 */
import { dirname, normalize } from "node:path";
import {
  type Cgroup,
  type CgroupLimits,
  cgroupLimitsHit,
  limitCgroup,
  makeCgroup,
  removeCgroup,
} from "./cgroup.ts";
import { seccompFilter } from "./seccomp.ts";

/** The uid and gid a jailed program runs as (nobody, nogroup). */
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
  /** The job's cgroup; each run gets its own child of it. */
  cgroup: Cgroup;
  limits: JailLimits;
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
  cgroup: Cgroup;
  argv: string[];
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
  Deno.mkdirSync(dir, { mode: 0o700 });
  const absDirs = placeFiles(dir, files);
  const cgroup = makeCgroup(jail.cgroup, id);
  limitCgroup(cgroup, jail.limits);
  const filter = seccompFilter();
  const bpf = filter ? `${dir}/seccomp.bpf` : "";
  if (filter) Deno.writeFileSync(bpf, filter, { mode: 0o600 });
  const mounts = jailMounts(dir, absDirs, jail.limits);
  const argv = jailArgv(cgroup, bpf, mounts, jail.limits, { ...JAIL_ENV, ...env }, program);
  return { dir, cgroup, argv };
}

/** Make `d` and its missing parents, traversable and owned by the jail's user. */
function mkdirs(d: string): void {
  try {
    Deno.statSync(d);
    return;
  } catch { /* make it */ }
  mkdirs(dirname(d));
  Deno.mkdirSync(d, { mode: 0o755 });
  Deno.chownSync(d, JAIL_UID, JAIL_UID);
}

/**
 * Copy the program's files into the run's directory `dir`: relative ones to
 * `dir/home` (its HOME), absolute ones to `dir/abs/...`; the absolute ones'
 * directories, to be mounted at their own paths.
 */
function placeFiles(dir: string, files: Record<string, string>): Set<string> {
  const home = `${dir}/home`;
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

/**
 * The argv of a jailed run: sh writes its pid into the cgroup and execs
 * bubblewrap (the seccomp filter `bpf`, if any, on its fd 3), which execs
 * setpriv, then prlimit, then the program.
 */
function jailArgv(
  cgroup: Cgroup,
  bpf: string,
  mounts: string[],
  l: JailLimits,
  env: Record<string, string>,
  program: string[],
): string[] {
  return [
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
    ...mounts,
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
}

/** Kill what is left of a jailed run, note the limits it hit, remove its cgroup and directory. */
export async function cleanRun(run: JailedRun): Promise<string[]> {
  let hit: string[] = [];
  try {
    hit = cgroupLimitsHit(run.cgroup);
  } catch { /* no cgroup */ }
  await removeCgroup(run.cgroup);
  await Deno.remove(run.dir, { recursive: true }).catch(() => {});
  return hit;
}
