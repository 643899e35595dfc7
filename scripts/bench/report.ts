/**
 * bench/RESULTS.md: the machine, the versions, the table and how each figure
 * was taken. Pure: the harness gathers, this writes.
 *
 * @module
 */
import type { Anchors, Machine } from "./env.ts";
import { resultsTable, type Row } from "./stats.ts";
import type { Bar } from "./compare.ts";

/** One measurement (1, 2, 3, 4, 5a, 5b, 6, 7) and what came of it. */
export interface Section {
  id: string;
  title: string;
  rows: Row[];
  /** socklab's ratios, for the chart. */
  bars?: Bar[];
  /** How it was measured, and what limits it. */
  notes: string[];
  /** Why it was not measured, if it was not. */
  skipped?: string;
}

export interface RunInfo {
  machine: Machine;
  anchors: Anchors;
  sections: Section[];
  loadBefore: string;
  loadAfter: string;
  seconds: number;
  command: string;
}

/** Every row of every measured section, with skipped sections as one row each. */
export function allRows(sections: readonly Section[]): Row[] {
  const rows: Row[] = [];
  for (const s of sections) {
    if (s.skipped !== undefined) {
      rows.push({
        measure: `${s.id} ${s.title}`,
        tool: "(skipped)",
        median: "",
        runs: "",
        ratio: "",
        floor: "",
        target: s.skipped,
      });
      continue;
    }
    s.rows.forEach((r, i) => rows.push({ ...r, measure: i === 0 ? `${s.id} ${s.title}` : "" }));
  }
  return rows;
}

/** The whole of bench/RESULTS.md. */
export function resultsMarkdown(r: RunInfo): string {
  const m = r.machine;
  const out: string[] = [
    "# socklab benchmark results",
    "",
    `Written by \`${r.command}\` (scripts/bench.ts) on ${m.date}, in ${
      r.seconds.toFixed(0)
    } s. Every figure is the median of several runs (the runs column gives min..max and` +
    ' their number); ratios compare medians: "vs best anchor" to the best of the tools' +
    ' people would pick instead (socat, Python, Node.js), "vs floor" to the runtime\'s' +
    " floor (a minimal Deno program doing the same on the wire, bench/floor_*.ts). A ratio is" +
    " value / reference: above 1 is more (for a time: slower). Loopback only." +
    " RESULTS.svg charts socklab's ratios.",
    "",
    "## Machine",
    "",
    `- CPU: ${m.cpus} x ${m.cpuModel}`,
    `- memory: ${m.memory}`,
    `- system: ${m.os}, ${m.kernel}`,
    `- load average (1, 5, 15 min) before: ${r.loadBefore}; after: ${r.loadAfter} (the bench` +
    " itself keeps up to 2 cores busy)" +
    (sharedMachine(r.loadBefore, m.cpus)
      ? " (the machine was busy with other work when the run started: figures are noisier)"
      : ""),
    "",
    "## Versions",
    "",
    ...Object.entries(m.versions).map(([k, v]) => `- ${k}: ${v}`),
    "",
    "## Results",
    "",
    resultsTable(allRows(r.sections)),
    "",
  ];
  if (r.anchors.problems.length > 0) {
    out.push("## Missing anchors", "", ...r.anchors.problems.map((p) => `- ${p}`), "");
  }
  out.push("## How each figure was taken", "");
  for (const s of r.sections) {
    out.push(`### ${s.id} ${s.title}`, "");
    if (s.skipped !== undefined) out.push(`Not measured: ${s.skipped}`, "");
    if (s.notes.length > 0) out.push(...s.notes.map((n) => `- ${n}`), "");
  }
  return out.join("\n");
}

/** True when the 1-minute load average already exceeded half the cores. */
export function sharedMachine(load: string, cpus: number): boolean {
  const one = Number(load.split(" ")[0]);
  return Number.isFinite(one) && one > cpus / 2;
}
