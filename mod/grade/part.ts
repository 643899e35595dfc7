/**
 * What a gradable part is: the lab's prototype, and a function that runs the
 * program through its tests. One module per part implements it; the
 * registry is in `parts.ts`.
 *
 * @module
 */
import type { CaptureTarget } from "../packets/capture.ts";
import type { Jail, Sandbox, SandboxOptions, SandboxResult } from "../proc/sandbox.ts";
import type { RunCaptures, StopCapture } from "./capture.ts";
import { excerpt } from "./checks.ts";
import { escapeControls } from "../escape.ts";
import type { TestResult } from "./report.ts";

/**
 * What a grader keeps of what a program sends it: the first
 * {@link KEPT.datagrams} datagrams, each cut to {@link KEPT.bytes}, and the
 * first {@link KEPT.stream} bytes of a connection. A program flooding grade
 * must not grow its memory (measured before these bounds: 60000-byte
 * datagrams for 3 s made the engine hold 1.2 GB in part 4, 1.5 GB in part 3;
 * part 5's server streaming 1.8 GB of TLS, 7 GB); a lab program sends a
 * handful of short datagrams, and a few kilobytes.
 */
export const KEPT = { datagrams: 1000, bytes: 4096, stream: 2 ** 20 };

/**
 * A tag of this run (6 letters and digits) drawn from the system's random
 * source, not the seed, which a student may know: what the grader's servers
 * send carries such tags (part 4's play, the flood of parts 2 and 6), so
 * that only a program that received them can print them.
 */
export function runTag(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return [...b].map((x) => "abcdefghijkmnpqrstuvwxyz23456789"[x % 32]).join("");
}

/** Append `item` to `list` unless it already holds {@link KEPT.datagrams}. */
export function keep<T>(list: T[], item: () => T): void {
  if (list.length < KEPT.datagrams) list.push(item());
}

export interface GradeContext {
  /** The student's program, e.g. ["python3", "PDC.py"]; prototype arguments are appended. */
  program: string[];
  /** Wall-clock limit of one run of the program, ms. */
  timeLimitMs: number;
  /** Output kept per run before the program is stopped. */
  outputCapBytes: number;
  /** Progress and, with --verbose, the program's output (stderr of grade). */
  log: (line: string) => void;
  verbose: boolean;
  /** Random seed for what the program must not guess (n, offsets). */
  seed: number;
  /** Part-specific options (sciper, certificate paths...). */
  options: Record<string, string | undefined>;
  /** Prefix for the program's argv (e.g. a network namespace); empty normally. */
  prefix: string[];
  /** Called with every finished run of the program (the service keeps their output). */
  record?: (test: string, result: SandboxResult) => void;
  /** Isolated grading: every run is jailed (see mod/proc/sandbox.ts). */
  jail?: Jail;
  /** Isolated grading: the program's files, given to every run (path it sees -> file here). */
  files?: Record<string, string>;
  /** Grading interrupted: stop the program. */
  signal?: AbortSignal;
  /** `grade --capture`: each run's packets are recorded (see {@link captureRun}). */
  captures?: RunCaptures;
  /**
   * `grade --unbuffered`: Python's output unbuffered (PYTHONUNBUFFERED=1), unlike the course's
   * scorer, so a missing flush=True loses nothing; the verdict is then not the course's.
   */
  unbuffered?: boolean;
  /** How long judging one run's output may take in all, ms (default {@link CHECK_BUDGET_MS}). */
  checkBudgetMs?: number;
}

/**
 * How long the checks of one run may take in all, ms. They are linear in the
 * output (at most the output limit), so only a pathological output on a
 * starved machine comes near it; past it, the test fails against the program
 * ({@link uncheckable}) rather than the grader hanging.
 */
export const CHECK_BUDGET_MS = 10_000;

/**
 * Judge the program's stdout as it arrives (see LineReader.watch: at a
 * bounded cost), until `pred` holds, the output ends, the time limit
 * passes, or judging it took {@link GradeContext.checkBudgetMs}.
 */
export async function watchOutput(
  ctx: GradeContext,
  sb: Sandbox,
  pred: (lines: string[]) => boolean,
  timeoutMs = ctx.timeLimitMs,
): Promise<"held" | "ended" | "timeout" | "budget"> {
  const budgetMs = ctx.checkBudgetMs ?? CHECK_BUDGET_MS;
  return (await sb.stdout.watch(pred, { timeoutMs, budgetMs })).end;
}

/** The verdict of a run whose output took longer than the check budget to judge. */
export function uncheckable(ctx: GradeContext): string {
  const s = ((ctx.checkBudgetMs ?? CHECK_BUDGET_MS) / 1000).toFixed(1);
  return `the output could not be checked in ${s} s: print only what the lab asks for`;
}

export interface GradablePart {
  name: string;
  /** The lab's prototype, e.g. `<server> <port> <command>`. */
  prototype: string;
  summary: string;
  run(ctx: GradeContext): Promise<TestResult[]>;
}

/** The sandbox options for one run of the program with `args` appended. */
export function programRun(
  ctx: GradeContext,
  args: string[],
  extra: Partial<SandboxOptions> = {},
): SandboxOptions {
  return {
    argv: [...ctx.program, ...args],
    timeLimitMs: ctx.timeLimitMs,
    outputCapBytes: ctx.outputCapBytes,
    prefix: ctx.prefix,
    jail: ctx.jail,
    signal: ctx.signal,
    ...extra,
    env: { ...extra.env, ...(ctx.unbuffered ? { PYTHONUNBUFFERED: "1" } : {}) },
    files: { ...ctx.files, ...extra.files },
  };
}

/**
 * The reason a failed run shows less than the program printed, when it may be that: the
 * program was stopped (it did not exit: Python flushes at exit) without --unbuffered, so what
 * print() held in Python's buffer (8 KiB on a pipe) was lost, as with the course's scorer
 * (LAB-FACTS.md, "How the scorer ran programs"). Undefined when that cannot be the cause. The
 * caller knows that the program had something to print and printed less than expected.
 */
export function unflushedReason(ctx: GradeContext, r: SandboxResult): string | undefined {
  if (ctx.unbuffered || r.exitedByItself || r.outputCapped) return undefined;
  const n = r.stdout.split("\n").filter((l) => l.trim()).length;
  const got = n === 0
    ? "printed nothing we could read"
    : `printed only ${n} line${n === 1 ? "" : "s"} we could read`;
  return `your program was stopped after ${(r.durationMs / 1000).toFixed(1)} s and ${got}: ` +
    `print with flush=True, as the handout asks`;
}

/**
 * With `grade --capture`, start recording the packets of `test`'s run
 * (`target`: its transport, port and address) before the run starts; the
 * result stops it once the run's exchange is over (servers closed).
 */
export function captureRun(
  ctx: GradeContext,
  test: string,
  target: CaptureTarget,
): Promise<StopCapture> {
  return ctx.captures?.start(test, target) ?? Promise.resolve(() => Promise.resolve());
}

/** Lines of a stream `--verbose` shows per run, and characters of each. */
const SHOWN = { lines: 200, chars: 400 };

/** The first `n` lines of `text`, each cut to {@link SHOWN.chars}: never a copy of all of it. */
function firstLines(text: string, n: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length && out.length < n;) {
    const end = text.indexOf("\n", at);
    const stop = end < 0 ? text.length : end;
    const line = text.slice(at, Math.min(stop, at + SHOWN.chars));
    out.push(stop - at > SHOWN.chars ? `${line}... (${stop - at} characters)` : line);
    at = stop + 1;
  }
  return out;
}

/** Record a finished run; with --verbose, show what the program printed (escaped). */
export function showOutput(ctx: GradeContext, test: string, r: SandboxResult): void {
  ctx.record?.(test, r);
  if (!ctx.verbose) return;
  ctx.log(`--- ${test}: program ${describeEnd(r)}`);
  for (const l of firstLines(r.stdout, SHOWN.lines)) {
    if (l) ctx.log(`  stdout| ${escapeControls(l)}`);
  }
  for (const l of firstLines(r.stderr, SHOWN.lines)) {
    if (l) ctx.log(`  stderr| ${escapeControls(l)}`);
  }
}

/** The last non-blank line of a stream, shortened and quoted (control characters escaped). */
function lastLine(text: string): string | undefined {
  for (let end = text.length; end > 0;) {
    const start = text.lastIndexOf("\n", end - 1) + 1;
    const line = text.slice(start, Math.min(end, start + 200)).trim();
    if (line) return excerpt(line, 100);
    end = start - 1;
  }
  return undefined;
}

/**
 * How the run ended, in words. When the program exited by itself, its last
 * stdout and stderr lines say why (a usage message on stdout is the usual
 * cause of an early exit).
 */
export function describeEnd(r: SandboxResult): string {
  if (r.outputCapped) return `was stopped: it printed more than the output limit`;
  if (r.timedOut) return `was stopped after ${(r.durationMs / 1000).toFixed(1)} s (time limit)`;
  if (r.limitsHit?.length) {
    return `ran into the sandbox's ${r.limitsHit.join(" and ")} limit (${
      r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`
    })`;
  }
  if (!r.exitedByItself) return `was stopped by the grader`;
  const said = [["stdout", lastLine(r.stdout)], ["stderr", lastLine(r.stderr)]]
    .filter(([, l]) => l !== undefined)
    .map(([name, l]) => `last ${name} line: ${l}`);
  const why = said.length ? ` (${said.join("; ")})` : "";
  if (r.signal) return `was killed by ${r.signal}${why}`;
  return `exited with code ${r.code} after ${(r.durationMs / 1000).toFixed(1)} s${why}`;
}
