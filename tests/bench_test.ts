import assert from "node:assert/strict";
import {
  fmtNum,
  fmtRatio,
  fmtRuns,
  median,
  parseBytes,
  percentile,
  resultsTable,
  targetVerdict,
} from "../scripts/bench/stats.ts";
import { allRows, sharedMachine } from "../scripts/bench/report.ts";
import { shortExpected } from "../scripts/bench/load.ts";
import { bestAnchor, compare } from "../scripts/bench/compare.ts";
import { ratioChart } from "../scripts/bench/chart.ts";

Deno.test("bench: median and percentiles", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const xs = Array.from({ length: 101 }, (_, i) => 100 - i); // 0..100, shuffled order
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile([1, 2], 50), 1.5);
  assert.equal(percentile([7], 99), 7);
  assert.throws(() => percentile([1], 101), RangeError);
});

Deno.test("bench: figures, ratios and verdicts", () => {
  assert.equal(fmtNum(1234567.4), "1,234,567");
  assert.equal(fmtNum(123.4), "123");
  assert.equal(fmtNum(12.34), "12.3");
  assert.equal(fmtNum(1.234), "1.23");
  assert.equal(fmtNum(0.01234), "0.012");
  assert.equal(fmtRatio(0.876), "0.88x");
  assert.equal(fmtRatio(12.34), "12.3x");
  assert.equal(fmtRuns([3, 1, 2]), "1.00..3.00 (3)");
  assert.equal(targetVerdict(0.81, 0.8, true), "met");
  assert.equal(targetVerdict(160, 150, false), "MISSED");
  assert.equal(targetVerdict(NaN, 150, false), "not measured");
  assert.equal(parseBytes("256MiB"), 268435456);
  assert.equal(parseBytes("57344"), 57344);
  assert.throws(() => parseBytes("lots"));
});

Deno.test("bench: the table has one line per row, skipped sections included", () => {
  const rows = allRows([
    {
      id: "1",
      title: "throughput",
      notes: [],
      rows: [
        {
          measure: "",
          tool: "socat",
          median: "1 MB/s",
          runs: "",
          ratio: "",
          floor: "",
          target: "",
        },
        {
          measure: "",
          tool: "a|b",
          median: "2 MB/s",
          runs: "",
          ratio: "2.00x",
          floor: "0.50x",
          target: "met",
        },
      ],
    },
    { id: "4", title: "ws", rows: [], notes: [], skipped: "no ws-pmu" },
  ]);
  assert.equal(rows[0].measure, "1 throughput");
  assert.equal(rows[1].measure, "");
  assert.equal(rows[2].tool, "(skipped)");
  const lines = resultsTable(rows).split("\n");
  assert.equal(lines.length, 2 + 3);
  assert.match(lines[3], /a\\\|b/, "pipes inside a cell are escaped");
  assert.equal(new Set(lines.map((l) => l.length)).size, 1, "columns are aligned");
});

Deno.test("bench: the expected CMD_short:0 answer and the shared-machine flag", () => {
  assert.equal(new TextDecoder().decode(shortExpected(2)), "This is PMU data 0This is PMU data 1");
  assert.ok(sharedMachine("1.50 0.9 0.4", 2));
  assert.ok(!sharedMachine("0.20 0.9 0.4", 2));
});

Deno.test("bench: each side against the best anchor and the floor, goals, missing anchors", () => {
  const sides = [
    { tool: "python (anchor)", role: "anchor" as const, xs: [100, 120, 110] },
    { tool: "node (anchor)", role: "anchor" as const, xs: [200] },
    { tool: "socat (anchor)", role: "anchor" as const, missing: "socat missing" },
    { tool: "deno (floor)", role: "floor" as const, xs: [400] },
    {
      tool: "socklab",
      role: "socklab" as const,
      xs: [380, 360],
      goals: [{ against: "floor", ratio: 0.9 }, { against: "python", ratio: 3 }],
    },
  ];
  assert.equal(bestAnchor(sides, "higher")?.tool, "node (anchor)");
  assert.equal(bestAnchor(sides, "lower")?.tool, "python (anchor)");
  const { rows, bars } = compare(sides, "x/s", "higher");
  assert.deepEqual(rows.map((r) => r.ratio), ["0.55x node", "", "", "2.00x node", "1.85x node"]);
  assert.deepEqual(rows.map((r) => r.floor), ["0.28x", "0.50x", "", "", "0.93x"]);
  assert.equal(rows[2].median, "not measured: socat missing");
  assert.equal(rows[4].target, ">= 0.9x floor: met; >= 3x python: met");
  assert.deepEqual(bars, [{
    label: "socklab",
    vsFloor: 370 / 400,
    vsAnchor: 370 / 200,
    anchor: "node",
  }]);
  // A time: lower is better; a ratio above the goal misses, and the chart inverts it.
  const t = compare(
    [
      { tool: "empty (floor)", role: "floor", xs: [20] },
      { tool: "--version", role: "socklab", xs: [50], goals: [{ against: "floor", ratio: 2 }] },
      { tool: "grade", role: "socklab", xs: [4], goals: [{ limit: 5 }] },
    ],
    "ms",
    "lower",
  );
  assert.equal(t.rows[1].floor, "2.50x");
  assert.equal(t.rows[1].target, "<= 2x floor: MISSED");
  assert.equal(t.rows[2].target, "<= 5: met");
  assert.equal(t.bars[0].vsFloor, 0.4);
});

Deno.test("bench: the chart has a bar per ratio, labels escaped", () => {
  const svg = ratioChart([
    { label: "2 socklab <pmu>", vsFloor: 0.8, vsAnchor: 2.5, anchor: "node" },
    { label: "3 pmu-udp", vsFloor: 0.5 },
  ], "socklab & co");
  assert.match(svg, /^<svg /);
  assert.equal(svg.match(/<rect x=/g)?.length, 3);
  assert.match(svg, /2 socklab &lt;pmu&gt;/);
  assert.match(svg, /socklab &amp; co/);
  assert.match(svg, /0\.80x the floor/);
});
