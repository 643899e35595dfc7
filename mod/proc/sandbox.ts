/**
 * The one sandbox `grade` runs a student's program in.
 *
 * Always: its own process group (through setsid), a time limit, a cap on its
 * output, stdin closed or piped, stdout and stderr pipes, no PYTHON* variable
 * from this process's environment (`scorerEnv`), and at the end everything it
 * started stopped (SIGTERM, a grace period, SIGKILL), without waiting on a
 * pipe a stray process holds open. That is how the course's scorer ran
 * programs (LAB-FACTS.md): a Python program stopped by SIGTERM dies without
 * flushing, so what print() held in its buffer is lost, as it was there.
 *
 * With a {@link Jail} (root, bubblewrap; see `isolationProblem`), each run is
 * also isolated (bubblewrap as root, no user namespace, then setpriv):
 * - new pid, mount, ipc and uts namespaces; the network namespace is the
 *   caller's (grade's engine runs in a private one, see mod/grade/engine.ts);
 * - the system read-only (/usr, /etc), a fresh /proc, a minimal /dev, a
 *   private /tmp, a fresh writable working directory holding only the files
 *   it was given; nothing of grade's directory, home or other runs;
 * - the job's own uid/gid (from a reserved range, `leaseUid`; no two jobs at
 *   once share one) with no groups, no capabilities, no new privileges; a
 *   clean environment (PATH, HOME, LANG, and what the caller adds); no
 *   descriptor but 0-2 (see `closeInheritedFds`);
 * - a seccomp filter (`seccompFilter`): no keyrings, no user namespaces, no
 *   io_uring;
 * - rlimits (CPU time, file size, open files) and a cgroup (processes,
 *   memory, and a CPU quota where the cpu controller is there; cgroup v1 or
 *   v2) killed and removed at the end of the run.
 *
 * A bare jail (`namespaces: false`: root without bubblewrap) keeps the
 * user, the rlimits (with RLIMIT_NPROC), the cgroup where there is one and
 * the private directory, in this machine's namespaces.
 *
 * The parts, in mod/proc/sandbox/: processes.ts (the process tree, signals,
 * finding a program), cgroup.ts (cgroups v1 and v2), seccomp.ts (the filter,
 * assembled from labelled BPF), uids.ts (a uid per job), jail.ts (a run's limits, directory, files and
 * argv), isolation.ts (whether this machine can jail), run.ts (the Sandbox).
 * This module is their one entry: import from here.
 *
 * @module
 */
export {
  type Cgroup,
  cgroupBase,
  cgroupLimitsHit,
  cgroupSubtree,
  CPU_PERIOD_US,
  cpuQuota,
  inCgroupArgv,
  limitCgroup,
  makeCgroup,
  memoryPeak,
  removeCgroup,
} from "./sandbox/cgroup.ts";
export { cpuQuotaProblem, isolationProblem } from "./sandbox/isolation.ts";
export {
  inJailSystem,
  type Jail,
  JAIL_HOME,
  JAIL_LIMITS,
  JAIL_PATH,
  JAIL_UID,
  type JailLimits,
} from "./sandbox/jail.ts";
export { closeInheritedFds, descendants, findProgram } from "./sandbox/processes.ts";
export { Sandbox, type SandboxOptions, type SandboxResult, scorerEnv } from "./sandbox/run.ts";
export { seccompFilter } from "./sandbox/seccomp.ts";
export { JAIL_UIDS, leaseUid, UID_LOCKS, type UidLease } from "./sandbox/uids.ts";
