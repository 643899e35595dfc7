import assert from "node:assert/strict";
import { openStore } from "../mod/service/store/open.ts";
import {
  DEFAULT_POLICY,
  isRefusal,
  MAX_TRIES,
  type NewResult,
  type Store,
  type Submission,
} from "../mod/service/store/store.ts";

async function withStore(fn: (s: Store, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "socklab-store-" });
  const s = await openStore({ data: dir });
  try {
    await fn(s, dir);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const RESULT: NewResult = {
  score: 3,
  maxGrade: 4,
  success: 0,
  tests: [{ name: "t", passed: true, detail: "ok" }],
  stdout: "",
  stderr: "",
  files: [{ name: "x.crt", bytes: new Uint8Array([1, 2, 3]) }],
  durationMs: 1200,
};

async function submit(s: Store, user: string, now: number, cooldownMs = 0) {
  const r = await s.createSubmission(
    {
      userId: user,
      kind: "part2",
      files: [{ name: "PDC.py", bytes: new TextEncoder().encode("print(1)") }],
    },
    { now, cooldownMs },
  );
  return r;
}

Deno.test("store: migrations apply once; a reopened store keeps its rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-store-" });
  try {
    const a = await openStore({ data: dir });
    await a.createCourse({ name: "c", policy: DEFAULT_POLICY, createdAt: 1 });
    await a.upsertUser({ id: "alice", name: "A", email: "a@x", role: "student" });
    await a.close();
    const b = await openStore({ data: dir });
    assert.equal(await b.migrate(), 1);
    assert.equal((await b.getCourse())?.policy.cooldownSeconds, 30);
    assert.equal((await b.getUser("alice"))?.name, "A");
    await b.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: one active job per student and kind, then the cooldown", async () => {
  await withStore(async (s) => {
    await s.upsertUser({ id: "alice", name: "A", email: "a@x", role: "student" });
    const first = await submit(s, "alice", 1000, 30_000);
    assert.ok(!isRefusal(first));
    const second = await submit(s, "alice", 2000, 30_000);
    assert.deepEqual(second, { refused: "active", submissionId: (first as Submission).id });
    const job = (await s.lease("w1", 10_000, 3000))!;
    assert.ok(await s.complete(job.id, job.leaseId, RESULT, 4000));
    const third = await submit(s, "alice", 5000, 30_000);
    assert.deepEqual(third, { refused: "cooldown", retryAfterMs: 26_000 });
    assert.ok(!isRefusal(await submit(s, "alice", 31_000, 30_000)));
    assert.equal((await s.listSubmissions({ userId: "alice" })).length, 2);
  });
});

Deno.test("store: a lease goes to one worker; expiry requeues; complete writes once", async () => {
  await withStore(async (s) => {
    await s.upsertUser({ id: "alice", name: "A", email: "a@x", role: "student" });
    const sub = (await submit(s, "alice", 0)) as Submission;
    const a = (await s.lease("w1", 1000, 10))!;
    assert.equal(a.tries, 1);
    assert.equal(await s.lease("w2", 1000, 20), null);
    assert.equal(await s.queuePosition(a.id), null);
    assert.ok(await s.renew(a.id, a.leaseId, 1000, 500));
    assert.equal(await s.expireLeases(1400), 0);
    assert.equal(await s.expireLeases(1600), 1);
    assert.equal(await s.queuePosition(a.id), 1);
    assert.equal(await s.renew(a.id, a.leaseId, 1000, 1700), false);
    const b = (await s.lease("w2", 1000, 1800))!;
    assert.equal(b.id, a.id);
    assert.equal(b.tries, 2);
    assert.equal(await s.complete(a.id, a.leaseId, RESULT, 1900), false, "stale lease");
    assert.ok(await s.complete(b.id, b.leaseId, RESULT, 1900));
    assert.equal(await s.complete(b.id, b.leaseId, RESULT, 1950), false, "twice");
    const r = (await s.latestResult(sub.id))!;
    assert.equal(r.worker, "w2");
    assert.deepEqual([...r.files[0].bytes], [1, 2, 3]);
    assert.equal((await s.getSubmission(sub.id))!.job.status, "done");
    assert.deepEqual(await s.recentDurations(5), [1200]);
  });
});

Deno.test("store: failures retry up to the limit, then the job is failed", async () => {
  await withStore(async (s) => {
    await s.upsertUser({ id: "bob", name: "B", email: "b@x", role: "student" });
    const sub = (await submit(s, "bob", 0)) as Submission;
    for (let i = 1; i <= MAX_TRIES; i++) {
      const j = (await s.lease("w", 1000, i))!;
      assert.equal(j.tries, i);
      assert.equal(
        await s.fail(j.id, j.leaseId, "grader broke", i),
        i < MAX_TRIES ? "queued" : "failed",
      );
    }
    assert.equal(await s.lease("w", 1000, 99), null);
    const got = (await s.getSubmission(sub.id))!;
    assert.equal(got.job.status, "failed");
    assert.equal(got.job.error, "grader broke");
    // A released job goes back untouched.
    const again = await s.enqueue(sub.id, 100);
    const l = (await s.lease("w", 1000, 101))!;
    assert.equal(l.id, again.id);
    assert.ok(await s.release(l.id, l.leaseId));
    assert.equal((await s.lease("w", 1000, 102))!.tries, 1);
  });
});

Deno.test("store: kept scores are the best or the last, a re-run replacing its submission's", async () => {
  await withStore(async (s) => {
    await s.upsertUser({ id: "carol", name: "C", email: "c@x", role: "student" });
    for (const [i, score] of [2, 4, 1].entries()) {
      assert.ok(!isRefusal(await submit(s, "carol", i)));
      const j = (await s.lease("w", 1000, 10))!;
      assert.ok(await s.complete(j.id, j.leaseId, { ...RESULT, score }, 11));
    }
    assert.equal((await s.keptScores("best"))[0].score, 4);
    assert.equal((await s.keptScores("last"))[0].score, 1);
    // Re-running the best one, now scoring 0: the best is 2.
    const best = (await s.listSubmissions({ userId: "carol" }))[1];
    await s.enqueue(best.id, 20);
    const j = (await s.lease("w", 1000, 21))!;
    assert.ok(await s.complete(j.id, j.leaseId, { ...RESULT, score: 0 }, 22));
    assert.equal((await s.keptScores("best"))[0].score, 2);
  });
});
