/**
 * A graded program, running: spawned (jailed or in its own process group),
 * its output read line by line up to a cap, stopped at its time limit, and
 * everything it started stopped at the end.
 *
 * @module
 */
import { settledWithin } from "../../deadline.ts";
import { errorMessage } from "../../errors.ts";
import { LineReader } from "../lines.ts";
import { cgroupPids } from "./cgroup.ts";
import { cleanRun, type Jail, JAIL_PATH, type JailedRun, prepareRun } from "./jail.ts";
import { descendants, findProgram, signal } from "./processes.ts";

export interface SandboxOptions {
  /** The program and its arguments. */
  argv: string[];
  /** Wall-clock limit; the program is stopped when it runs over. */
  timeLimitMs: number;
  /** Bytes of stdout (and, separately, of stderr) kept; over that the program is stopped. */
  outputCapBytes?: number;
  /** "null" (default): stdin is /dev/null; "piped": write with writeStdin/closeStdin. */
  stdin?: "null" | "piped";
  /**
   * Variables added to the program's environment: jailed, to the jail's clean one; otherwise
   * to this process's, less its PYTHON* variables (see {@link scorerEnv}).
   */
  env?: Record<string, string>;
  cwd?: string;
  /** Run through this prefix, e.g. `ip netns exec NAME`. */
  prefix?: string[];
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number;
  /** Run isolated (see the module's documentation); `cwd` and `prefix` are then ignored. */
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

/**
 * An unjailed run's environment: this process's without its PYTHON* variables, plus `extra`.
 * The course's scorer ran Python with none (LAB-FACTS.md, "How the scorer ran programs"): an
 * inherited PYTHONUNBUFFERED=1 (this build machine exports it) would show output that a
 * missing flush=True loses there.
 */
export function scorerEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) if (name.startsWith("PYTHON")) delete env[name];
  return { ...env, ...extra };
}

/** Throw, in words, when `program` cannot be started (not found, not executable). */
function checkProgram(program: string, jail: Jail | undefined, path: string | undefined): void {
  if (jail && program.includes("/")) return; // a path inside the jail, not this machine's
  if (findProgram(program, path)) return;
  throw new Error(
    `cannot run '${program}': ${
      program.includes("/")
        ? "no such executable file"
        : jail
        ? `not found on the sandbox's PATH (${JAIL_PATH}; programs under /root or /home, ` +
          `e.g. pyenv's, are not visible there: use the system's)`
        : "not found on PATH"
    }`,
  );
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
    checkProgram(opts.argv[0], jail, jail ? JAIL_PATH : opts.env?.PATH);
    let argv: string[];
    if (jail) {
      this.#run = prepareRun(jail, opts.argv, opts.files ?? {}, opts.env);
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
        env: jail ? this.#run?.env ?? {} : scorerEnv(opts.env),
        clearEnv: true,
        cwd: jail ? this.#run?.cwd : opts.cwd,
      }).spawn();
    } catch (e) {
      if (this.#run) void cleanRun(this.#run);
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

  async #collect(): Promise<SandboxResult> {
    const st = await this.#child.status;
    clearTimeout(this.#timer);
    await this.#killGroup("SIGKILL"); // whatever it left behind
    const limitsHit = this.#run ? await cleanRun(this.#run) : undefined;
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
    const cgroup = this.#run?.cgroup;
    if (this.#run?.namespaces && cgroup) {
      const pids = cgroupPids(cgroup).filter((p) => p !== this.#child.pid);
      if (sig === "SIGKILL" && !this.#exited) signal(this.#child.pid, sig); // never a reused pid
      for (const p of pids) signal(p, sig);
      return Promise.resolve();
    }
    // Its process group and descendants (a bare jail's program is its own group: setsid),
    // and every process of its cgroup if it has one.
    const pids = [...descendants(this.#child.pid), ...(cgroup ? cgroupPids(cgroup) : [])];
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
