/**
 * `deno task bench`: socklab measured side by side with the tools people
 * would use instead (issue 11), as ratios of medians of several runs. Prints
 * the table and writes bench/RESULTS.md (machine, versions, figures, method).
 *
 * Loopback only; every load is bounded in count and time; every process it
 * starts, it stops. The whole run takes a few minutes on 2 cores.
 *
 * Usage: deno task bench [--only 1,2,3,4,5a,5b] [--runs N] [--out FILE] [--no-write]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import {
  type BenchContext,
  connectionRate,
  idleMemory,
  startupTime,
  streamThroughput,
  udpService,
  websocketRate,
} from "./bench/cases.ts";
import { describeMachine, loadAverage, probeAnchors } from "./bench/env.ts";
import { ROOT } from "./lib/proc.ts";
import { allRows, resultsMarkdown, type Section } from "./bench/report.ts";
import { resultsTable } from "./bench/stats.ts";

type Case = (ctx: BenchContext) => Promise<Section>;

/** A measurement that would start after this many seconds is skipped (the run stays < 5 min). */
const BUDGET_S = 230;

/** The measurements in the order, with their ids. */
export const CASES: [string, string, Case][] = [
  ["1", "stream throughput", streamThroughput],
  ["2", "connection service rate", connectionRate],
  ["3", "UDP", udpService],
  ["4", "WebSocket", websocketRate],
  ["5a", "peak RSS with 1,000 idle connections", idleMemory],
  ["5b", "start-up", startupTime],
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      runs: { type: "string", default: "5" },
      out: { type: "string", default: resolve(ROOT, "bench/RESULTS.md") },
      "no-write": { type: "boolean", default: false },
    },
  });
  const log = (line: string) => console.error(line);
  const only = values.only?.split(",").map((s) => s.trim());
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
    log("bench: --runs must be an integer 1..50");
    return 2;
  }
  const t0 = performance.now();
  const loadBefore = loadAverage();
  const anchors = await probeAnchors(log);
  const machine = await describeMachine(anchors);
  const ctx: BenchContext = { anchors, runs, log };
  const sections: Section[] = [];
  for (const [id, name, run] of CASES) {
    if (only && !only.includes(id)) continue;
    const t = performance.now();
    if ((t - t0) / 1000 > BUDGET_S) {
      log(`bench: ${id} skipped: the time budget is spent`);
      sections.push({
        id,
        title: name,
        rows: [],
        notes: [],
        skipped: `not started: ${BUDGET_S} s had passed (the whole run must stay under 5 min)`,
      });
      continue;
    }
    log(`bench: ${id} ${name}...`);
    try {
      sections.push(await run(ctx));
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      log(`bench: ${id} failed: ${why}`);
      sections.push({
        id,
        title: name,
        rows: [],
        notes: [],
        skipped: `failed: ${why.split("\n")[0]}`,
      });
    }
    log(`bench: ${id} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const table = resultsTable(allRows(sections));
  console.log(table);
  if (!values["no-write"]) {
    const md = resultsMarkdown({
      machine,
      anchors,
      sections,
      loadBefore,
      loadAfter: loadAverage(),
      seconds,
      command: "deno task bench" + (Deno.args.length ? " " + Deno.args.join(" ") : ""),
    });
    await Deno.mkdir(resolve(values.out!, ".."), { recursive: true });
    await Deno.writeTextFile(values.out!, md);
    log(`bench: wrote ${values.out} (${seconds.toFixed(0)} s in all)`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
