/**
 * The one sandbox `grade` runs a student's program in: its own process group
 * (through setsid), a time limit, a cap on its output, stdin closed or
 * piped, and at the end the whole group (and any descendant that left it)
 * stopped: SIGTERM, a grace period, then SIGKILL. Nothing is left running.
 *
 * @module
 */
import { settledWithin } from "../deadline.ts";
import { LineReader } from "./lines.ts";

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

  constructor(opts: SandboxOptions) {
    this.#grace = opts.graceMs ?? 1000;
    if (!findProgram(opts.argv[0], opts.env?.PATH)) {
      throw new Error(
        `cannot run '${opts.argv[0]}': ${
          opts.argv[0].includes("/") ? "no such executable file" : "not found on PATH"
        }`,
      );
    }
    const argv = [...(opts.prefix ?? []), "setsid", ...opts.argv];
    try {
      this.#child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: opts.stdin ?? "null",
        stdout: "piped",
        stderr: "piped",
        env: opts.env,
        cwd: opts.cwd,
      }).spawn();
    } catch (e) {
      throw new Error(`cannot start ${opts.argv[0]}: ${e instanceof Error ? e.message : e}`);
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
    this.result = this.#collect();
  }

  async #collect(): Promise<SandboxResult> {
    const st = await this.#child.status;
    clearTimeout(this.#timer);
    await this.#killGroup("SIGKILL"); // whatever it left behind
    await Promise.all([this.stdout.done, this.stderr.done]);
    return {
      code: st.signal ? null : st.code,
      signal: st.signal,
      exitedByItself: !this.#stoppedByUs,
      timedOut: this.#timedOut,
      outputCapped: this.stdout.capped || this.stderr.capped,
      durationMs: Math.round(performance.now() - this.#started),
      stdout: this.stdout.text,
      stderr: this.stderr.text,
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

  /** Signal the group and every descendant (found before signalling, as orphans lose their tree). */
  #killGroup(sig: Deno.Signal): Promise<void> {
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
