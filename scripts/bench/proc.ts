/**
 * Processes for `deno task bench`: servers started and stopped through
 * scripts/lib/proc.ts's Proc (the same argv as the binary, `listening on` awaited), clients
 * timed from spawn to exit with a hard time limit, the peak memory of a pid.
 *
 * @module
 */
import { Proc } from "../lib/proc.ts";

/** Run `argv` with the open-files limit raised to `n` first (exec keeps the pid). */
export function withNofile(n: number, argv: string[]): string[] {
  return ["bash", "-c", `ulimit -n ${n} 2>/dev/null || ulimit -n hard; exec "$@"`, "bash", ...argv];
}

/** Start a server and wait for `listening on`; stops it if that never comes. */
export async function startListening(
  argv: string[],
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<{ proc: Proc; port: number }> {
  const proc = new Proc(argv, { env });
  try {
    const { port } = await proc.listening(timeoutMs);
    return { proc, port };
  } catch (e) {
    await proc.stop(1000);
    throw new Error(
      `${argv.slice(-6).join(" ")} did not start: ${e instanceof Error ? e.message : e}\n` +
        proc.stderr.text.slice(-500),
    );
  }
}

export interface Timed {
  ms: number;
  code: number;
  /** Bytes written to stdout when `countStdout` was asked for. */
  bytes?: number;
  /** stdout's text when `keepStdout` was asked for. */
  stdout?: string;
  stderr: string;
}

/**
 * Run `argv` to completion and time it from spawn to exit. stdout goes to
 * /dev/null unless `countStdout` (then it is counted, not kept) or `keepStdout`
 * (kept as text). Killed and failed after `timeoutMs`.
 */
export async function timed(
  argv: string[],
  opts: { stdin?: string; countStdout?: boolean; keepStdout?: boolean; timeoutMs?: number } = {},
): Promise<Timed> {
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: opts.countStdout || opts.keepStdout ? "piped" : "null",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let killed = false;
  const limit = opts.timeoutMs ?? 60_000;
  timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, limit);
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await w.close().catch(() => {});
  }
  const counting = opts.countStdout
    ? (async () => {
      let n = 0;
      for await (const chunk of child.stdout) n += chunk.length;
      return n;
    })()
    : Promise.resolve(undefined);
  const keeping = opts.keepStdout && !opts.countStdout
    ? new Response(child.stdout).text()
    : Promise.resolve(undefined);
  const errText = new Response(child.stderr).text();
  const st = await child.status;
  const ms = performance.now() - t0;
  clearTimeout(timer);
  timer = undefined;
  const [bytes, stdout, stderr] = await Promise.all([counting, keeping, errText]);
  if (killed) throw new Error(`${argv.slice(-4).join(" ")} ran over ${limit} ms and was killed`);
  return { ms, code: st.code, bytes, stdout, stderr };
}

/** Run a program that prints one JSON document; fail with its stderr otherwise. */
export async function runJson<T>(argv: string[], timeoutMs = 60_000): Promise<T> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const r = await child.output();
  clearTimeout(timer);
  const out = new TextDecoder().decode(r.stdout).trim();
  if (!r.success) {
    throw new Error(
      `${argv.slice(-6).join(" ")} failed (${r.code}): ${
        new TextDecoder().decode(r.stderr).trim().slice(-400)
      }`,
    );
  }
  return JSON.parse(out.split("\n").pop()!) as T;
}

/** Peak (VmHWM) and current (VmRSS) resident memory of `pid`, in KiB. */
export function memoryKiB(pid: number): { hwm: number; rss: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { hwm: kib("VmHWM"), rss: kib("VmRSS") };
}

/** The number of threads of `pid`. */
export function threadsOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^Threads:\s+(\d+)/m.exec(status)?.[1]);
}

/** CPU time (user + system, all threads) `pid` has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces) start at ") ".
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const CLK_TCK = 100; // USER_HZ: 100 on every Linux ABI Deno runs on
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
