/**
 * The pure parts of `deno task rush`: the plan of the deadline hour, the
 * figures read from the database (what "lost" and "twice" mean), and the
 * paper estimate.
 *
 * @module
 */
import assert from "node:assert/strict";
import { figures, type JobRow } from "../scripts/rush/measure.ts";
import { planRush, risingOffset } from "../scripts/rush/plan.ts";
import { estimate, MEAN_PER_STUDENT } from "../scripts/rush/report.ts";

Deno.test("rush plan: 1 to 4 submissions a student, in the window, rising toward the deadline", () => {
  const plan = planRush({ students: 400, windowMs: 100_000, seed: 5 });
  assert.deepEqual(plan, planRush({ students: 400, windowMs: 100_000, seed: 5 }), "seeded");
  const per = new Map<number, number>();
  for (const p of plan) per.set(p.student, (per.get(p.student) ?? 0) + 1);
  assert.equal(per.size, 400);
  assert.ok([...per.values()].every((n) => n >= 1 && n <= 4));
  assert.ok(
    plan.every((p, i) =>
      p.atMs >= 0 && p.atMs <= 100_000 && (i === 0 || plan[i - 1].atMs <= p.atMs)
    ),
  );
  const first = plan.filter((p) => p.atMs < 25_000).length;
  const last = plan.filter((p) => p.atMs >= 75_000).length;
  // Density 1 + 3x: the last quarter holds (1+3*0.875)/(1+3*0.125) = 2.6x the first.
  assert.ok(last > 2 * first, `first quarter ${first}, last ${last}`);
  const q = (x: string) => plan.filter((p) => p.quality === x).length / plan.length;
  assert.ok(q("good") > 0.7 && q("broken") > 0.1 && q("hostile") > 0 && q("hostile") < 0.08);
  assert.equal(new Set(plan.map((p) => p.kind)).size, 7, "every kind");
  assert.ok(Math.abs(plan.length / 400 - MEAN_PER_STUDENT) < 0.2);
});

Deno.test("rush plan: the rising offset maps 0..1 onto 0..1, later than uniform", () => {
  assert.equal(risingOffset(0), 0);
  assert.equal(risingOffset(1), 1);
  assert.ok(risingOffset(0.5) > 0.5);
});

const row = (submission: number, o: Partial<JobRow> = {}): JobRow => ({
  submission,
  status: "done",
  tries: 1,
  jobs: 1,
  results: 1,
  enqueuedAt: 1000 * submission,
  startedAt: 1000 * submission + 500,
  finishedAt: 1000 * submission + 2500,
  ...o,
});

Deno.test("rush figures: lost, twice, failed and re-run come from the job rows", () => {
  const ok = figures(new Set([1, 2, 3]), [row(1), row(2), row(3), row(9)]);
  assert.deepEqual([ok.accepted, ok.results, ok.lost, ok.duplicated, ok.failed], [3, 3, 0, 0, 0]);
  assert.equal(ok.waitP50, 0.5);
  assert.equal(ok.e2eP99, 2.5);
  assert.equal(ok.drainS, (3000 + 2500 - 1000) / 1000);

  const bad = figures(new Set([1, 2, 3, 4, 5, 6]), [
    row(1, { status: "running", results: 0, finishedAt: null }), // lost
    row(2, { results: 2 }), // two results
    row(3, { jobs: 2 }), // two jobs
    row(4, { status: "failed", results: 0, finishedAt: null }), // failed: an outcome, not lost
    row(5, { tries: 2 }), // ran twice, one result: fine
    // 6: accepted, but no row at all: lost
  ]);
  assert.equal(bad.lost, 2);
  assert.equal(bad.duplicated, 2);
  assert.equal(bad.failed, 1);
  assert.equal(bad.rerun, 1);
});

Deno.test("rush estimate: slots from the grading time, machines from the CPU", () => {
  const e = estimate(1000, 3, 0.25, 2);
  assert.equal(e.perHour, 1000 * MEAN_PER_STUDENT);
  assert.ok(Math.abs(e.peakPerS - (2200 / 3600) * 1.6) < 1e-9);
  assert.ok(Math.abs(e.busySlots - e.peakPerS * 3) < 1e-9, "Little's law");
  assert.equal(e.slots, Math.ceil(e.busySlots / 0.7));
  assert.equal(e.machines, Math.ceil((e.peakPerS * 0.25) / (2 * 0.7)));
  assert.ok(estimate(1000, 3, 5, 2).machines > estimate(1000, 3, 0.5, 2).machines);
  assert.ok(estimate(1000, 30, 0.5, 2).slots > estimate(1000, 3, 0.5, 2).slots);
  assert.deepEqual([estimate(1, 0.1, 0.01, 2).slots, estimate(1, 0.1, 0.01, 2).machines], [1, 1]);
});
