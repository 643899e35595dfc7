/**
 * `deno task bench`: socklab measured side by side with the tools people would use instead
 * (the anchors: socat, Python, Node.js) and with the runtime's floor (the least a Deno program
 * does with the same bytes), as ratios of medians of several runs (issues 11, 29). Prints the
 * machine's load average first, then the table; writes bench/RESULTS.md (machine, versions,
 * figures, method) and bench/RESULTS.svg (socklab's ratios).
 *
 * Loopback only; every load is bounded in count and time; every process it starts, it stops.
 * The whole run takes about 8 minutes on 2 cores. A missing anchor stops it before anything
 * is measured, naming it, unless --allow-missing (its rows then say "not measured").
 *
 * Usage: deno task bench [--only 1,2,3,4,5a,5b,6,7] [--runs N] [--out FILE] [--no-write]
 *                        [--allow-missing]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { type BenchContext, idleMemory, startupTime, streamThroughput } from "./bench/cases.ts";
import { connectionRate, udpService, websocketRate } from "./bench/servers.ts";
import { serviceCpu, wholeLab } from "./bench/lab.ts";
import { describeMachine, loadAverage, probeAnchors } from "./bench/env.ts";
import { ROOT } from "./lib/proc.ts";
import { allRows, resultsMarkdown, type Section } from "./bench/report.ts";
import { resultsTable } from "./bench/stats.ts";
import { ratioChart } from "./bench/chart.ts";

type Case = (ctx: BenchContext) => Promise<Section>;

/** A measurement that would start after this many seconds is skipped (the run stays < 12 min). */
const BUDGET_S = 600;

/** The measurements in order, with their ids. */
export const CASES: [string, string, Case][] = [
  ["1", "stream throughput", streamThroughput],
  ["2", "connection service rate", connectionRate],
  ["3", "UDP", udpService],
  ["4", "WebSocket", websocketRate],
  ["5a", "peak RSS with 1,000 idle connections", idleMemory],
  ["5b", "start-up", startupTime],
  ["6", "grading the whole lab", wholeLab],
  ["7", "the scoring service, CPU per job", serviceCpu],
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      runs: { type: "string", default: "5" },
      out: { type: "string", default: resolve(ROOT, "bench/RESULTS.md") },
      "no-write": { type: "boolean", default: false },
      "allow-missing": { type: "boolean", default: false },
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
  log(
    `bench: load average (1, 5, 15 min) ${loadBefore} on ${navigator.hardwareConcurrency} ` +
      "core(s): figures taken on a busy machine are noisier",
  );
  const anchors = await probeAnchors(log);
  if (anchors.missing.length > 0 && !values["allow-missing"]) {
    log(
      `bench: missing anchor(s): ${anchors.missing.join(", ")}: install them (scripts/setup.sh ` +
        "as root), or run with --allow-missing to measure without them",
    );
    return 1;
  }
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
        skipped: `not started: ${BUDGET_S} s had passed (the whole run must stay under 12 min)`,
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
    const svg = values.out!.replace(/\.md$/, "") + ".svg";
    const bars = sections.flatMap((s) =>
      (s.bars ?? []).map((b) => ({ ...b, label: `${s.id} ${b.label}` }))
    );
    await Deno.writeTextFile(svg, ratioChart(bars, `socklab ${machine.date}, load ${loadBefore}`));
    log(`bench: wrote ${values.out} and ${svg} (${seconds.toFixed(0)} s in all)`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
