/**
 * The part 3 protocol, pure: the PMU's `RESET:<n>` command, its answer
 * `OFFSET:<x>` (the course server's colon) or `OFFSET=<x>` (the handout's
 * spelling), how a datagram is shown in a log line, and the statistics of the
 * lab's 60-run experiment (Q20).
 *
 * @module
 */
import { type Random, randomInt } from "../random.ts";

/** The largest n a `RESET:<n>` may ask for (one hour). */
export const MAX_RESET = 3600;

/** What the server answers to anything but a valid RESET. */
export const WRONG_COMMAND = "Wrong command.";

/** The separator of the answer: `OFFSET:7` (course server) or `OFFSET=7` (handout). */
export type AckSeparator = ":" | "=";

const decoder = new TextDecoder();

/** A datagram's text (invalid UTF-8 replaced), without one trailing `\r\n` or `\n`. */
export function datagramText(data: Uint8Array): string {
  return decoder.decode(data).replace(/\r?\n$/, "");
}

/**
 * The n of `RESET:<n>` (integer, 0 <= n <= 3600; a trailing newline is
 * tolerated), or null if the datagram is anything else.
 */
export function parseReset(data: Uint8Array | string): number | null {
  const text = typeof data === "string" ? data.replace(/\r?\n$/, "") : datagramText(data);
  const m = /^RESET:(\d{1,4})$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  return n <= MAX_RESET ? n : null;
}

/** The answer to `RESET:<n>` with the offset x. */
export function offsetAnswer(x: number, sep: AckSeparator = ":"): string {
  return `OFFSET${sep}${x}`;
}

/**
 * The server's decision for one datagram, drawing from `random`: first
 * whether the answer is lost (probability `drop`), then, for a RESET that is
 * answered, the offset x uniform in 0..n. The draws happen in this order
 * for every datagram, so a seed fixes the whole sequence. `answer` is null
 * when the answer is lost.
 */
export function answerFor(
  data: Uint8Array | string,
  random: Random,
  drop: number,
  sep: AckSeparator = ":",
): { answer: string | null; reset: boolean } {
  const dropped = random() < drop;
  const n = parseReset(data);
  if (n === null) return { answer: dropped ? null : WRONG_COMMAND, reset: false };
  return { answer: dropped ? null : offsetAnswer(randomInt(random, 0, n), sep), reset: true };
}

/**
 * The offset of an acknowledgement `OFFSET:<x>` or `OFFSET=<x>` (trailing
 * whitespace tolerated), or null if the text is not one (e.g. `Wrong command.`).
 */
export function parseAck(text: string): number | null {
  const m = /^OFFSET[:=](\d+)\s*$/.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * A datagram as one printable log field: control characters escaped
 * (`\n`, `\x00`), invalid UTF-8 shown as U+FFFD, long data cut to `max`
 * characters with its size appended.
 */
export function showData(data: Uint8Array, max = 80): string {
  const text = decoder.decode(data);
  // deno-lint-ignore no-control-regex
  const esc = text.replace(/[\x00-\x1f\x7f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  if (data.length === 0) return "(empty)";
  if (esc.length <= max) return esc;
  return `${esc.slice(0, max)}... (${data.length} bytes)`;
}

/**
 * The attempts each run of the experiment needs against a server that loses
 * answers with `random`/`drop` and receives exactly one datagram per attempt
 * (a client given one address): what a seeded `pmu-udp` will make a client
 * see. `maxTries` bounds each run like `--max-tries`.
 */
export function simulateAttempts(
  random: Random,
  drop: number,
  runs: number,
  command = "RESET:20",
  maxTries = Infinity,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    let k = 0;
    while (k < maxTries) {
      k++;
      const a = answerFor(command, random, drop);
      if (a.answer !== null && a.reset) break;
    }
    out.push(k);
  }
  return out;
}

/** One run of the experiment. */
export interface RunResult {
  run: number;
  attempts: number;
  /** The acknowledgement as received, or null if the run gave up (`--max-tries`). */
  answer: string | null;
  /** Who answered (`127.0.0.1:5004`), or null. */
  from: string | null;
  seconds: number;
}

/** The experiment's numbers (the `--json` document, less the run parameters). */
export interface ExperimentSummary {
  runs: number;
  answered: number;
  failed: number;
  totalAttempts: number;
  /** attempts -> how many answered runs needed that many. */
  histogram: Record<string, number>;
  /** Mean attempts per answered run (null if none answered). */
  mean: number | null;
  /** The loss rate per attempt that mean implies: p = 1 - 1/mean. */
  impliedLoss: number | null;
  /** The loss rate assumed for the prediction (`--loss`, the course server's 0.5). */
  assumedLoss: number;
  /** The mean that loss rate predicts: 1/(1-p) (attempts are geometric). */
  predictedMean: number;
}

/** Histogram, mean, implied loss and predicted mean of a list of runs. */
export function summarize(results: readonly RunResult[], assumedLoss = 0.5): ExperimentSummary {
  const ok = results.filter((r) => r.answer !== null);
  const histogram: Record<string, number> = {};
  for (const r of [...ok].sort((a, b) => a.attempts - b.attempts)) {
    histogram[r.attempts] = (histogram[r.attempts] ?? 0) + 1;
  }
  const answeredAttempts = ok.reduce((s, r) => s + r.attempts, 0);
  const mean = ok.length ? answeredAttempts / ok.length : null;
  return {
    runs: results.length,
    answered: ok.length,
    failed: results.length - ok.length,
    totalAttempts: results.reduce((s, r) => s + r.attempts, 0),
    histogram,
    mean,
    impliedLoss: mean === null ? null : 1 - 1 / mean,
    assumedLoss,
    predictedMean: assumedLoss < 1 ? 1 / (1 - assumedLoss) : Infinity,
  };
}

/** The human report of the experiment: runs, histogram, mean and the geometric prediction. */
export function formatExperiment(results: readonly RunResult[], s: ExperimentSummary): string[] {
  const lines = ["run  attempts  answer"];
  for (const r of results) {
    lines.push(
      `${String(r.run).padStart(3)}  ${String(r.attempts).padStart(8)}  ${
        r.answer ?? "(no answer)"
      }`,
    );
  }
  lines.push("", "attempts  runs");
  for (const [k, n] of Object.entries(s.histogram)) {
    lines.push(`${k.padStart(8)}  ${String(n).padStart(4)}  ${"#".repeat(n)}`);
  }
  lines.push("");
  const f = (x: number | null, d = 2) => (x === null ? "n/a" : x.toFixed(d));
  lines.push(
    `runs: ${s.runs} (${s.answered} answered, ${s.failed} gave up), attempts: ${s.totalAttempts}`,
  );
  lines.push(`mean attempts per answered run: ${f(s.mean)}`);
  lines.push(`loss rate per attempt those runs imply (p = 1 - 1/mean): ${f(s.impliedLoss, 3)}`);
  lines.push(
    `mean a loss rate p predicts (1/(1-p)): ${f(s.predictedMean)} for p = ${s.assumedLoss}`,
  );
  return lines;
}
