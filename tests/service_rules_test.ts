/**
 * The submission rules (mod/service/rules.ts) on their own: pure functions
 * of the facts a store reads. The stores apply them in their transactions
 * (tests/helpers/store_contract.ts checks that on SQLite and PostgreSQL).
 */
import assert from "node:assert/strict";
import { afterFailure, type Earlier, keptScores, refusal } from "../mod/service/rules.ts";
import { MAX_TRIES } from "../mod/service/store/store.ts";

const rules = { now: 100_000, cooldownMs: 30_000 };
const earlier = (id: number, createdAt: number, first: string, latest = first): Earlier =>
  ({ id, createdAt, firstStatus: first, latestStatus: latest }) as Earlier;

Deno.test("rules: the student's own queued or running job blocks the next, a TA re-run does not", () => {
  assert.deepEqual(refusal([earlier(1, 0, "done"), earlier(2, 90_000, "running")], rules), {
    refused: "active",
    submissionId: 2,
  });
  // Submission 1's first job is done; its latest (a re-run) is queued.
  assert.equal(refusal([earlier(1, 0, "done", "queued")], rules), null);
  assert.equal(refusal([], rules), null, "a first submission");
});

Deno.test("rules: the cooldown counts from the last attempt; a grader failure is none", () => {
  assert.deepEqual(refusal([earlier(1, 0, "done"), earlier(2, 80_000, "done")], rules), {
    refused: "cooldown",
    retryAfterMs: 10_000,
  });
  assert.equal(refusal([earlier(1, 0, "done"), earlier(2, 80_000, "failed")], rules), null);
  assert.equal(refusal([earlier(1, 70_000, "done")], rules), null, "exactly the cooldown ago");
  assert.equal(refusal([earlier(1, 99_999, "done")], { ...rules, cooldownMs: 0 }), null);
});

Deno.test("rules: a failed try goes back to the queue until the last one", () => {
  assert.equal(afterFailure(1), "queued");
  assert.equal(afterFailure(MAX_TRIES - 1), "queued");
  assert.equal(afterFailure(MAX_TRIES), "failed");
});

Deno.test("rules: the kept score is the best, or the latest submission's", () => {
  const s = (userId: string, submissionId: number, score: number) => ({
    userId,
    kind: "part2" as const,
    submissionId,
    receivedAt: submissionId,
    score,
    maxGrade: 4,
  });
  const scores = [s("a", 1, 2), s("a", 2, 4), s("a", 3, 1), s("b", 4, 3)];
  assert.deepEqual(keptScores(scores, "best").map((c) => [c.userId, c.score]), [["a", 4], [
    "b",
    3,
  ]]);
  assert.deepEqual(keptScores(scores, "last").map((c) => [c.userId, c.score]), [["a", 1], [
    "b",
    3,
  ]]);
});
