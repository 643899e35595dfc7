/**
 * Processes for the tests and the scripts (bench, chaos, make-certs): run the
 * socklab CLI as a subprocess exactly as the binary runs (the same Deno flags,
 * from mod/cli/flags.ts), read its stdout and stderr line by line with
 * deadlines, wait for `listening on`, and always stop what was started.
 * Development tooling: the tests and scripts/ import it, mod/ never does.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { denoArgv } from "../../mod/cli/flags.ts";
import { settledWithin } from "../../mod/deadline.ts";
import { LineReader } from "../../mod/proc/lines.ts";

export { LineReader };

export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));
export const MAIN: string = ROOT + "main.ts";

/**
 * `deno run <socklab's flags> --config deno.json <script> ...args` (denoArgv of
 * mod/cli/flags.ts with this checkout's deno.json), for socklab itself and for the scripts
 * that run in their own process (bench load, chaos, make-certs).
 */
export function denoRunArgv(script: string, args: readonly string[] = []): string[] {
  return denoArgv(script, args, ROOT + "deno.json");
}

/** The argv that runs socklab with `args`: `deno run <flags> main.ts ...args`. */
export function socklabArgv(args: readonly string[]): string[] {
  return denoRunArgv(MAIN, args);
}

const ENV = { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };

export interface SpawnOptions {
  /** Prefix for the argv, e.g. `ip netns exec NAME`. */
  prefix?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Keep stdin open as a pipe (write with `writeStdin`, end with `closeStdin`). */
  stdin?: boolean;
}

/** A running process with line readers on stdout and stderr. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  readonly argv: string[];
  #stdinWriter?: WritableStreamDefaultWriter<Uint8Array>;
  #status?: Promise<Deno.CommandStatus>;

  constructor(argv: string[], opts: SpawnOptions = {}) {
    this.argv = [...(opts.prefix ?? []), ...argv];
    this.child = new Deno.Command(this.argv[0], {
      args: this.argv.slice(1),
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: { ...ENV, ...opts.env },
      cwd: opts.cwd,
    }).spawn();
    this.stdout = new LineReader(this.child.stdout);
    this.stderr = new LineReader(this.child.stderr);
    if (opts.stdin) this.#stdinWriter = this.child.stdin.getWriter();
  }

  /** Exit status (after both output streams are drained). */
  get status(): Promise<Deno.CommandStatus> {
    return this.#status ??= (async () => {
      const st = await this.child.status;
      await Promise.all([this.stdout.done, this.stderr.done]);
      return st;
    })();
  }

  async writeStdin(text: string | Uint8Array): Promise<void> {
    await this.#stdinWriter!.write(
      typeof text === "string" ? new TextEncoder().encode(text) : text,
    );
  }

  async closeStdin(): Promise<void> {
    if (!this.#stdinWriter) return;
    const w = this.#stdinWriter;
    this.#stdinWriter = undefined;
    await w.close().catch(() => {});
  }

  /** Wait for `listening on host:port` on stderr; returns the port. */
  async listening(timeoutMs = 15_000): Promise<{ host: string; port: number }> {
    const m = await this.stderr.waitFor(
      /listening on (?:\[([^\]]+)\]|([^\s\[\]:]+)):(\d+)/,
      timeoutMs,
    );
    return { host: m[1] ?? m[2], port: Number(m[3]) };
  }

  /** Send a signal (ignored if the process is gone). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
  }

  /**
   * Stop the process: SIGTERM, then SIGKILL if it has not exited within
   * `graceMs`. Returns its status.
   */
  async stop(graceMs = 5_000): Promise<Deno.CommandStatus> {
    await this.closeStdin();
    this.kill("SIGTERM");
    if (!await settledWithin(this.child.status, graceMs)) this.kill("SIGKILL");
    return await this.status;
  }

  /** Wait for the process to exit by itself within `timeoutMs`, else kill it and fail. */
  async exited(timeoutMs = 20_000): Promise<Deno.CommandStatus> {
    if (!await settledWithin(this.child.status, timeoutMs)) {
      await this.stop(1000);
      throw new Error(
        `${
          this.argv.slice(-4).join(" ")
        } did not exit within ${timeoutMs} ms\nstdout:\n${this.stdout.text}\nstderr:\n${this.stderr.text}`,
      );
    }
    return await this.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop(2_000);
  }
}

/** Start `socklab ...args` in the background. Use with `await using`. */
export function spawnSocklab(args: string[], opts: SpawnOptions = {}): Proc {
  return new Proc(socklabArgv(args), opts);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `socklab ...args` to completion (killed and failed after `timeoutMs`). */
export async function runSocklab(
  args: string[],
  opts: SpawnOptions & { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return await runProc(socklabArgv(args), opts);
}

/** Run any program to completion, with the same deadline handling. */
export async function runProc(
  argv: string[],
  opts: SpawnOptions & { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  await using p = new Proc(argv, { ...opts, stdin: opts.input !== undefined });
  if (opts.input !== undefined) {
    await p.writeStdin(opts.input);
    await p.closeStdin();
  }
  const st = await p.exited(opts.timeoutMs ?? 20_000);
  return { code: st.code, stdout: p.stdout.text, stderr: p.stderr.text };
}

/** Start a socklab server on port 0 and wait until it listens. */
export async function startServer(
  args: string[],
  opts: SpawnOptions = {},
): Promise<{ proc: Proc; port: number; host: string }> {
  const proc = spawnSocklab([...args, "--port", "0"], opts);
  try {
    const { host, port } = await proc.listening();
    return { proc, port, host };
  } catch (e) {
    await proc.stop(1000);
    throw e;
  }
}
