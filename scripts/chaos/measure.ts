/**
 * Server-side measurements for the chaos storm, read from /proc/<pid>:
 * resident memory now and at its peak (VmRSS, VmHWM in `status`), and the
 * number of open file descriptors (entries of `fd/`).
 *
 * @module
 */

export interface ProcSample {
  /** Resident set size now, KiB. */
  rssKiB: number;
  /** Peak resident set size since the process started ("high water mark"), KiB. */
  hwmKiB: number;
  /** Open file descriptors. */
  fds: number;
}

/** True while /proc/<pid> exists and the process is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Open file descriptors of `pid`, or -1 if it is gone. */
export function fdCount(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return -1;
  }
}

function kib(status: string, key: string): number {
  const m = status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : -1;
}

/** Memory and descriptors of `pid` now, or null if it is gone. */
export function sample(pid: number): ProcSample | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return { rssKiB: kib(status, "VmRSS"), hwmKiB: kib(status, "VmHWM"), fds: fdCount(pid) };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The descriptor count once it has stopped moving: read it every `stepMs`
 * until it equals `target` (if given) or stays the same for `stableMs`;
 * gives up after `timeoutMs` and returns the last reading. Closing is
 * asynchronous on the server side, so a single reading right after the
 * storm would count sockets that are already on their way out.
 */
export async function settledFds(
  pid: number,
  opts: { target?: number; stableMs?: number; timeoutMs?: number; stepMs?: number } = {},
): Promise<number> {
  const stableMs = opts.stableMs ?? 300;
  const stepMs = opts.stepMs ?? 50;
  const until = Date.now() + (opts.timeoutMs ?? 10_000);
  let last = fdCount(pid);
  let since = Date.now();
  while (Date.now() < until) {
    if (last === -1 || last === opts.target) return last;
    await sleep(stepMs);
    const n = fdCount(pid);
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (opts.target === undefined && Date.now() - since >= stableMs) {
      return last;
    }
  }
  return last;
}

/** Lines of a server's stderr that look like a crash or an uncaught error. */
export function crashLines(stderr: string): string[] {
  const re =
    /Uncaught|panicked|RUST_BACKTRACE|^\s+at \S.*:\d+:\d+\)?$|^(Type|Range|Reference|Syntax|Assertion)?Error\b|: error: |Unhandled|unhandled rejection/;
  return stderr.split("\n").filter((l) => re.test(l));
}
