/**
 * The pure parts of `deno task bench`: medians, percentiles, ratios and the
 * formatting of figures. No I/O here (tests/bench_stats_test.ts covers it).
 *
 * @module
 */
import { markdownTable } from "../lib/markdown.ts";

/** The median of `xs` (mean of the two middle values for an even count). NaN if empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The p-th percentile (0..100) of `xs`, by linear interpolation between the
 * closest ranks (like numpy's default). NaN if empty.
 */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0..100`);
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

/** Smallest and largest of `xs`. */
export function spread(xs: readonly number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

/** Three significant digits, with thousands separators above 1000: 1234567 -> "1,234,567". */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return "0";
  return x.toPrecision(2);
}

/** A figure with its unit: `fmtValue(1234.5, "MB/s")` -> "1,235 MB/s". */
export function fmtValue(x: number, unit: string): string {
  return `${fmtNum(x)} ${unit}`.trim();
}

/** A ratio: 1.234 -> "1.23x". */
export function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`;
}

/** The range of runs, e.g. "1,200..1,350 (5)". */
export function fmtRuns(xs: readonly number[]): string {
  if (xs.length === 0) return "";
  const [lo, hi] = spread(xs);
  return `${fmtNum(lo)}..${fmtNum(hi)} (${xs.length})`;
}

/** Bytes as MiB/GiB text: 268435456 -> "256 MiB". */
export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${fmtNum(n / 2 ** 30)} GiB`;
  if (n >= 2 ** 20) return `${fmtNum(n / 2 ** 20)} MiB`;
  if (n >= 2 ** 10) return `${fmtNum(n / 2 ** 10)} KiB`;
  return `${n} B`;
}

/** One line of the results table. */
export interface Row {
  /** What is measured, e.g. `1 stream throughput, 256 MiB flood`. Blank repeats the one above. */
  measure: string;
  /** The tool or server measured, e.g. `socklab pdc`, `socat -u (anchor)`. */
  tool: string;
  /** The median as text with its unit, e.g. `1,234 MB/s`. */
  median: string;
  /** The runs, e.g. `1,200..1,350 (5)`. */
  runs: string;
  /** The ratio to the best anchor, e.g. `0.87x socat`; empty for the best anchor itself. */
  ratio: string;
  /** The ratio to the runtime's floor, e.g. `0.93x`; empty for the floor itself. */
  floor: string;
  /** The target and whether it is met, e.g. `>= 0.8x: met`. */
  target: string;
}

const HEAD: Row = {
  measure: "measurement",
  tool: "tool",
  median: "median",
  runs: "runs (min..max, n)",
  ratio: "vs best anchor",
  floor: "vs floor",
  target: "goal",
};
const KEYS = ["measure", "tool", "median", "runs", "ratio", "floor", "target"] as const;

/** The rows as a Markdown table (also readable as plain text). */
export function resultsTable(rows: readonly Row[]): string {
  const cells = (r: Row) => KEYS.map((k) => r[k]);
  return markdownTable(cells(HEAD), rows.map(cells));
}

/**
 * "met" / "MISSED" for a target: `higherIsBetter` says which side of `limit`
 * passes. A NaN value is "not measured".
 */
export function targetVerdict(
  value: number,
  limit: number,
  higherIsBetter: boolean,
): "met" | "MISSED" | "not measured" {
  if (!Number.isFinite(value)) return "not measured";
  return (higherIsBetter ? value >= limit : value < limit) ? "met" : "MISSED";
}

/** Parse `256MiB`, `64KiB`, `1GiB`, `1000` into bytes. */
export function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  const unit = (m[2] ?? "B").toLowerCase();
  const mult: Record<string, number> = {
    b: 1,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
  };
  return Math.round(Number(m[1]) * mult[unit]);
}
