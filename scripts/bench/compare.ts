/**
 * The rows of one measurement of `deno task bench` (issue 29): every side measured is an
 * anchor (what people would pick instead: socat, Python, Node.js), the runtime's floor (the
 * least a Deno program can do with the same bytes) or socklab, and every figure is compared
 * with the best anchor and with the floor. An anchor that is missing is a row saying so.
 * Pure: no I/O (tests/bench_test.ts covers it).
 *
 * @module
 */
import { fmtRatio, fmtRuns, fmtValue, median, type Row } from "./stats.ts";

/** Who a side is. */
export type Role = "anchor" | "floor" | "socklab";

/** A goal of the issue: a ratio to a side (a tool's name, "floor", "best anchor") or a limit. */
export type Goal =
  | { against: string; ratio: number }
  | { limit: number };

/** One side of a measurement. */
export interface Side {
  tool: string;
  role: Role;
  /** The runs' figures; undefined when it was not measured. */
  xs?: number[];
  /** Why it was not measured (`node missing`). */
  missing?: string;
  goals?: Goal[];
}

/** Which way is better: more (a rate) or less (a time). */
export type Better = "higher" | "lower";

/** One socklab side's ratios, for the chart: its speed relative to each (1 = as fast). */
export interface Bar {
  label: string;
  vsFloor?: number;
  vsAnchor?: number;
  anchor?: string;
}

const has = (s: Side): s is Side & { xs: number[] } => s.xs !== undefined && s.xs.length > 0;

/** The best measured anchor (highest rate or lowest time), if any. */
export function bestAnchor(sides: readonly Side[], better: Better): Side | undefined {
  const anchors = sides.filter((s) => s.role === "anchor" && has(s));
  const sign = better === "higher" ? 1 : -1;
  return anchors.sort((a, b) => sign * (median(b.xs!) - median(a.xs!)))[0];
}

/** What a tool is called in a ratio: its name without `(anchor)`. */
function short(tool: string): string {
  return tool.replace(/\s*\((anchor|floor)\)$/, "");
}

/** "met" or "MISSED" for one goal, with what it is. */
function verdict(goal: Goal, value: number, ratioTo: (name: string) => number, better: Better) {
  const ok = (x: number, bound: number) => better === "higher" ? x >= bound : x <= bound;
  const sign = better === "higher" ? ">=" : "<=";
  if ("limit" in goal) {
    return `${sign} ${goal.limit}: ${
      Number.isFinite(value) ? (ok(value, goal.limit) ? "met" : "MISSED") : "not measured"
    }`;
  }
  const r = ratioTo(goal.against);
  const what = `${sign} ${goal.ratio}x ${goal.against}`;
  return `${what}: ${Number.isFinite(r) ? (ok(r, goal.ratio) ? "met" : "MISSED") : "not measured"}`;
}

/**
 * The rows of one measurement (`unit` after each figure), in the order given, each with its
 * ratio to the best anchor and to the floor (value / reference: above 1 is more, for a time
 * slower) and its goals' verdicts; and the chart's bars of its socklab sides. `suffix` follows
 * each tool's name in the rows (`, per server CPU-second`).
 */
export function compare(
  sides: readonly Side[],
  unit: string,
  better: Better,
  suffix = "",
): { rows: Row[]; bars: Bar[] } {
  const best = bestAnchor(sides, better);
  const floor = sides.find((s) => s.role === "floor" && has(s));
  const byName = (name: string) =>
    name === "floor"
      ? floor
      : name === "best anchor"
      ? best
      : sides.find((s) => short(s.tool) === name && has(s));
  const rows: Row[] = [];
  const bars: Bar[] = [];
  for (const s of sides) {
    if (!has(s)) {
      rows.push({
        measure: "",
        tool: s.tool + suffix,
        median: `not measured: ${s.missing ?? "no figure"}`,
        runs: "",
        ratio: "",
        floor: "",
        target: "",
      });
      continue;
    }
    const m = median(s.xs);
    const ratioTo = (name: string) => {
      const ref = byName(name);
      return ref ? m / median(ref.xs!) : NaN;
    };
    const vsAnchor = best && best !== s ? ratioTo("best anchor") : NaN;
    const vsFloor = floor && floor !== s ? ratioTo("floor") : NaN;
    rows.push({
      measure: "",
      tool: s.tool + suffix,
      median: fmtValue(m, unit),
      runs: fmtRuns(s.xs),
      ratio: Number.isFinite(vsAnchor) ? `${fmtRatio(vsAnchor)} ${short(best!.tool)}` : "",
      floor: Number.isFinite(vsFloor) ? fmtRatio(vsFloor) : "",
      target: (s.goals ?? []).map((g) => verdict(g, m, ratioTo, better)).join("; "),
    });
    if (s.role === "socklab") {
      const speed = (r: number) =>
        Number.isFinite(r) ? (better === "higher" ? r : 1 / r) : undefined;
      bars.push({
        label: s.tool + suffix,
        vsFloor: speed(vsFloor),
        vsAnchor: speed(vsAnchor),
        anchor: best ? short(best.tool) : undefined,
      });
    }
  }
  return { rows, bars };
}
