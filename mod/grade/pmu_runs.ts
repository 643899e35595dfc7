/**
 * The graded runs of parts 2 and 6 (and the message check of part 5): run
 * the program against a PMU server with `<server> <port> <command>` and
 * judge its output, stopping it as soon as the verdict is clear.
 *
 * @module
 */
import { settledWithin } from "../deadline.ts";
import { DEFAULT_FLOOD_BYTES, floodText } from "../pmu/flood.ts";
import { randomInt, seededRandom } from "../random.ts";
import type { EventSink, Server } from "../net/server.ts";
import { Sandbox } from "../proc/sandbox.ts";
import { checkFlood, checkPmuMessages, type Verdict } from "./checks.ts";
import {
  captureRun,
  describeEnd,
  type GradeContext,
  programRun,
  runTag,
  showOutput,
  uncheckable,
  unflushedReason,
  watchOutput,
} from "./part.ts";
import type { TestResult } from "./report.ts";

/**
 * How a test's server is started: n messages, writes cut into pieces or not, the flood; `log`
 * gets the server's log lines (each about a connection: the program reached it).
 */
export type StartPmu = (
  opts: {
    count: number;
    split: "none" | "random";
    seed: number;
    flood: Uint8Array;
    log: EventSink;
  },
) => Promise<Server>;

export interface PmuRun {
  name: string;
  command: string;
  /** Messages the server sends for CMD_short (a random n the script cannot guess). */
  count?: number;
  split?: "none" | "random";
  /** Counted in the score (what the course's scorer ran); false: advice. */
  scored: boolean;
}

/**
 * The lab's runs. Scored, as the course's scorer ran them (whole writes, n
 * random: the 2021 scorer sent 15, 17 and 2): CMD_short:0 with a two-digit n,
 * CMD_short:0 and CMD_short:1 with n 1 and 2 (one each, drawn), the flood.
 * Advice (TCP only): messages cut into pieces by the server.
 */
export function pmuRuns(seed: number, withSplit: boolean): PmuRun[] {
  const random = seededRandom(seed);
  // 11..19: never the 10 a script might assume; two digits (18-byte records become 19).
  const big = randomInt(random, 11, 19);
  const small = randomInt(random, 1, 2);
  const runs: PmuRun[] = [
    { name: "CMD_short:0", command: "CMD_short:0", count: big, scored: true },
    { name: "CMD_short:0, few messages", command: "CMD_short:0", count: small, scored: true },
    { name: "CMD_short:1", command: "CMD_short:1", count: 3 - small, scored: true },
    { name: "CMD_floodme", command: "CMD_floodme", scored: true },
  ];
  if (withSplit) {
    runs.push({
      name: "CMD_short:0, messages cut into pieces",
      command: "CMD_short:0",
      count: randomInt(random, 11, 19),
      split: "random",
      scored: false,
    });
  }
  return runs;
}

/** Every run of {@link pmuRuns}, one after the other, each against its own server. */
export async function gradePmuRuns(
  ctx: GradeContext,
  start: StartPmu,
  withSplit: boolean,
): Promise<TestResult[]> {
  const results = [];
  for (const run of pmuRuns(ctx.seed, withSplit)) results.push(await gradePmuRun(ctx, start, run));
  return results;
}

/** Run the program for one {@link PmuRun} against a server from `start`. */
export async function gradePmuRun(
  ctx: GradeContext,
  start: StartPmu,
  run: PmuRun,
): Promise<TestResult> {
  // A flood of this run's own (tagged): printing one captured in an earlier run does not pass.
  const flood = floodText(DEFAULT_FLOOD_BYTES, runTag);
  let connected = false;
  const server = await start({
    count: run.count ?? 15,
    split: run.split ?? "none",
    seed: ctx.seed,
    flood: new TextEncoder().encode(flood),
    log: () => connected = true,
  });
  const stopCapture = await captureRun(ctx, run.name, {
    proto: "tcp",
    port: server.port,
    host: "127.0.0.1",
  });
  const judge = (lines: string[], text: string): Verdict =>
    run.count === undefined ? checkFlood(text, flood) : checkPmuMessages(lines, run.count);
  try {
    await using sb = new Sandbox(programRun(ctx, ["127.0.0.1", String(server.port), run.command]));
    const end = await watchOutput(ctx, sb, (lines) => judge(lines, sb.stdout.text).passed);
    if (end === "held") {
      // The output is right: give the program a moment to exit by itself.
      await settledWithin(sb.result, 2000);
    }
    const r = await sb.stop();
    showOutput(ctx, run.name, r);
    if (end === "budget") {
      return { name: run.name, passed: false, scored: run.scored, detail: uncheckable(ctx) };
    }
    const exited = r.exitedByItself;
    const v = judge(sb.stdout.lines, sb.stdout.text);
    let detail = v.detail;
    if (v.passed && !exited) detail += "; note: the program did not exit when the server closed";
    // It reached the server, was stopped, and less of the server's data is in the output than
    // the server sent: Python's buffer may hold the rest.
    const lost = !v.passed && connected &&
      (run.count === undefined
        ? sb.stdout.text.length < flood.length
        : (sb.stdout.text.match(/This is PMU data \d+/g) ?? []).length < run.count);
    const unflushed = lost ? unflushedReason(ctx, r) : undefined;
    if (unflushed) detail += `; ${unflushed}`;
    else if (!v.passed && (r.timedOut || r.outputCapped || r.exitedByItself)) {
      detail += `; the program ${describeEnd(r)}`;
    }
    return { name: run.name, passed: v.passed, scored: run.scored, detail };
  } finally {
    await server.close();
    await stopCapture();
  }
}
