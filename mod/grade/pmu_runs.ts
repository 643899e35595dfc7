/**
 * The graded runs of parts 2 and 6 (and the message check of part 5): run
 * the program against a PMU server with `<server> <port> <command>` and
 * judge its output, stopping it as soon as the verdict is clear.
 *
 * @module
 */
import { settledWithin } from "../deadline.ts";
import { floodText } from "../pmu/flood.ts";
import { randomInt, seededRandom } from "../random.ts";
import type { Server } from "../net/server.ts";
import { Sandbox } from "../proc/sandbox.ts";
import { checkFlood, checkPmuMessages, type Verdict } from "./checks.ts";
import { describeEnd, type GradeContext, programRun, showOutput } from "./part.ts";
import type { TestResult } from "./report.ts";

/** How a test's server is started: n messages, writes cut into pieces or not. */
export type StartPmu = (
  opts: { count: number; split: "none" | "random"; seed: number },
) => Promise<Server>;

export interface PmuRun {
  name: string;
  command: string;
  /** Messages the server sends for CMD_short (a random n the script cannot guess). */
  count?: number;
  split?: "none" | "random";
}

/** The lab's runs: CMD_short:0 and :1 with random n, the flood, and (TCP only) cut writes. */
export function pmuRuns(seed: number, withSplit: boolean): PmuRun[] {
  const random = seededRandom(seed);
  const runs: PmuRun[] = [
    // 11..19: never the 10 a script might assume, and two-digit numbers (18-byte records break).
    { name: "CMD_short:0", command: "CMD_short:0", count: randomInt(random, 11, 19) },
    { name: "CMD_short:1", command: "CMD_short:1", count: randomInt(random, 3, 4) },
    { name: "CMD_floodme", command: "CMD_floodme" },
  ];
  if (withSplit) {
    runs.push({
      name: "CMD_short:0, messages cut into pieces",
      command: "CMD_short:0",
      count: randomInt(random, 11, 19),
      split: "random",
    });
  }
  return runs;
}

/** Run the program for one {@link PmuRun} against a server from `start`. */
export async function gradePmuRun(
  ctx: GradeContext,
  start: StartPmu,
  run: PmuRun,
): Promise<TestResult> {
  const server = await start({
    count: run.count ?? 15,
    split: run.split ?? "none",
    seed: ctx.seed,
  });
  const flood = floodText();
  const judge = (lines: string[], text: string): Verdict =>
    run.count === undefined ? checkFlood(text, flood) : checkPmuMessages(lines, run.count);
  try {
    await using sb = new Sandbox(programRun(ctx, ["127.0.0.1", String(server.port), run.command]));
    const good = await sb.stdout.until(
      (lines) => judge(lines, sb.stdout.text).passed,
      ctx.timeLimitMs,
    );
    let exited = false;
    if (good) {
      // The output is right: give the program a moment to exit by itself.
      await settledWithin(sb.result, 2000);
    }
    const r = await sb.stop();
    exited = r.exitedByItself;
    showOutput(ctx, run.name, r);
    const v = judge(sb.stdout.lines, sb.stdout.text);
    let detail = v.detail;
    if (v.passed && !exited) detail += "; note: the program did not exit when the server closed";
    if (!v.passed && (r.timedOut || r.outputCapped || r.code !== 0)) {
      detail += `; the program ${describeEnd(r)}`;
    }
    return { name: run.name, passed: v.passed, detail };
  } finally {
    await server.close();
  }
}
