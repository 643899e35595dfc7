/**
 * The rules every {@link Store} must keep, whatever the database: each case
 * runs on every store implementation ({@link storeContract}: SQLite and
 * PostgreSQL in tests/service_store_test.ts), on a fresh database, with as
 * many connections (stores) on it as the case opens: each rule a process
 * relies on across processes is checked with two stores on one database.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Migration, MIGRATIONS, SCHEMA_VERSION } from "../../mod/service/store/migrations.ts";
import {
  type CreateRules,
  DEFAULT_CALENDAR,
  DEFAULT_POLICY,
  isRefusal,
  MAX_TRIES,
  type NewResult,
  type Store,
  type Submission,
} from "../../mod/service/store/store.ts";

/** A fresh empty database; the stores opened on it are closed when it is disposed. */
export interface TestDatabase extends AsyncDisposable {
  /** A new store (its own connection) on this database, migrated. */
  open(migrations?: readonly Migration[]): Promise<Store>;
  /** Raw rows of a query, for what the Store interface does not show. */
  query(sql: string): Promise<Record<string, unknown>[]>;
}

/** Where fresh databases come from (a temporary directory, a private cluster...). */
export interface TestBackend extends AsyncDisposable {
  fresh(): Promise<TestDatabase>;
}

/** `open` for a TestDatabase: makes, migrates and remembers stores; `closeAll` closes them. */
export function opener(make: (migrations: readonly Migration[]) => Store): {
  open(migrations?: readonly Migration[]): Promise<Store>;
  closeAll(): Promise<void>;
} {
  const opened: Store[] = [];
  return {
    async open(migrations: readonly Migration[] = MIGRATIONS): Promise<Store> {
      const s = make(migrations);
      opened.push(s);
      await s.migrate();
      return s;
    },
    async closeAll() {
      for (const s of opened) await s.close();
    },
  };
}

const IN_CI = Deno.env.get("CI") === "true";
const CASES: { name: string; fn: (db: TestDatabase) => Promise<void> }[] = [];

/** A case of the contract: it runs on every store. */
function contract(name: string, fn: (db: TestDatabase) => Promise<void>): void {
  CASES.push({ name, fn });
}

/**
 * Register the contract for one store implementation: one test named `name`
 * with a step per case. `unavailable` (why the backend cannot run here)
 * skips it, saying why, except in CI where it fails.
 */
export function storeContract(
  name: string,
  backend: () => Promise<TestBackend>,
  unavailable: string | null = null,
): void {
  if (unavailable && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${unavailable})`, ignore: true, fn() {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (unavailable) throw new Error(`CI needs it: ${unavailable}`);
    await using b = await backend();
    for (const c of CASES) {
      await t.step(c.name, async () => {
        await using db = await b.fresh();
        await c.fn(db);
      });
    }
  });
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

async function submit(
  s: Store,
  user: string,
  now: number,
  cooldownMs = 0,
  more: Partial<CreateRules> = {},
) {
  return await s.createSubmission(
    {
      userId: user,
      kind: "part2",
      files: [{ name: "PDC.py", bytes: new TextEncoder().encode("print(1)") }],
    },
    { now, cooldownMs, ...more },
  );
}

/** Lease the next job and finish it: a score, or a grader failure on every try. */
async function grade(s: Store, now: number, score: number | "grader failure") {
  for (let i = 0; i < MAX_TRIES; i++) {
    const j = (await s.lease("w", 1000, now + i))!;
    if (score !== "grader failure") {
      assert.ok(await s.complete(j.id, j.leaseId, { ...RESULT, score }, now + i));
      return;
    }
    await s.fail(j.id, j.leaseId, "grader broke", now + i);
  }
}

contract(
  "migrations apply once; a reopened store keeps its rows; one token per user",
  async (db) => {
    const a = await db.open();
    await a.createCourse({
      name: "c",
      policy: DEFAULT_POLICY,
      calendar: DEFAULT_CALENDAR,
      createdAt: 1,
    });
    await a.upsertUser({ id: "alice", name: "A", email: "a@x", role: "student" });
    assert.deepEqual(
      await a.upsertUser({ id: "alice", name: "A2", email: "a@x", role: "student" }),
      { created: false },
    );
    await a.close();
    const b = await db.open();
    assert.equal(await b.migrate(), SCHEMA_VERSION);
    assert.equal((await b.getCourse())?.policy.cooldownSeconds, 30);
    assert.equal((await b.getUser("alice"))?.name, "A2");
    await b.setToken("alice", "h1", 1);
    await b.setToken("alice", "h2", 2);
    assert.equal(await b.userByTokenHash("h1"), null, "the old token is revoked");
    assert.equal((await b.userByTokenHash("h2"))?.id, "alice");
    const versions = await db.query("SELECT version FROM schema_migrations ORDER BY version");
    assert.deepEqual(versions.map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version));
  },
);

contract(
  "a session holds until it is closed, expires, or its user gets a new token",
  async (db) => {
    const a = await db.open();
    const b = await db.open();
    await a.upsertUser({ id: "alice", name: "A", email: "", role: "student" });
    await a.upsertUser({ id: "bob", name: "B", email: "", role: "student" });
    await a.setToken("alice", "t1", 1);
    await a.setToken("bob", "tb", 1);
    assert.equal(await a.openSession("s0", "nobody's", 10, 100), null, "no such token");
    assert.equal((await a.openSession("s1", "t1", 10, 100))?.id, "alice");
    assert.equal((await a.openSession("s2", "t1", 10, 50))?.id, "alice");
    assert.equal((await a.openSession("sb", "tb", 10, 100))?.id, "bob");
    assert.equal((await b.sessionUser("s1", 20))?.id, "alice", "another connection sees it");
    assert.equal(await b.sessionUser("s2", 50), null, "expired");
    assert.equal(await b.sessionUser("s0", 20), null);
    await b.closeSession("s1");
    assert.equal(await a.sessionUser("s1", 20), null, "signed out");
    assert.equal((await a.openSession("s3", "t1", 20, 100))?.id, "alice");
    await b.setToken("alice", "t2", 30);
    assert.equal(await a.sessionUser("s3", 40), null, "a new token ends every session");
    assert.equal(await a.openSession("s4", "t1", 40, 100), null, "the old token opens none");
    assert.equal((await a.sessionUser("sb", 40))?.id, "bob", "other users' sessions stay");
  },
);

contract(
  "the queue with names, the jobs of a period, wall times, lost workers' counts",
  async (db) => {
    const s = await db.open();
    await s.upsertUser({ id: "ann", name: "Ann <A>", email: "", role: "student" });
    await s.upsertUser({ id: "bo", name: "Bo", email: "", role: "student" });
    assert.ok(!isRefusal(await submit(s, "ann", 1_000)));
    assert.ok(!isRefusal(await submit(s, "bo", 2_000)));
    const job = (await s.lease("w/0", 60_000, 3_000))!;
    assert.ok(await s.complete(job.id, job.leaseId, RESULT, 7_500));
    const queued = await s.listQueue("queued");
    assert.deepEqual(
      queued.map((e) => [e.userId, e.userName, e.kind, e.job.status]),
      [["bo", "Bo", "part2", "queued"]],
    );
    assert.equal((await s.listQueue("done"))[0].userName, "Ann <A>");
    assert.deepEqual(await s.recentDurations(5), [4_500], "lease to result, not durationMs");
    assert.deepEqual((await s.jobsSince(2_000)).map((j) => j.id), [1, 2]);
    assert.deepEqual((await s.jobsSince(7_000)).map((j) => j.id), [1], "finished since");
    assert.deepEqual(await s.jobsSince(8_000), []);
    await s.registerWorker({ id: "w", host: "h", slots: 2 }, 100);
    await s.heartbeat("w", 2, 200);
    await s.registerWorker({ id: "v", host: "h", slots: 1 }, 100);
    await s.heartbeat("v", 1, 900);
    await s.resetLostWorkers(500);
    const running = Object.fromEntries((await s.listWorkers()).map((w) => [w.id, w.running]));
    assert.deepEqual(running, { v: 1, w: 0 });
  },
);

contract("two connections on one database never lease one job twice", async (db) => {
  const a = await db.open();
  const b = await db.open();
  await a.upsertUser({ id: "u", name: "U", email: "", role: "student" });
  for (const kind of ["part2", "part3", "part6"] as const) {
    await a.createSubmission({ userId: "u", kind, files: [] }, { now: 1, cooldownMs: 0 });
  }
  const got = await Promise.all([
    a.lease("a", 1000, 2),
    b.lease("b", 1000, 2),
    a.lease("a", 1000, 2),
    b.lease("b", 1000, 2),
  ]);
  const ids = got.filter((j) => j !== null).map((j) => j!.id).sort();
  assert.deepEqual(ids, [1, 2, 3]);
  assert.equal(got.filter((j) => j === null).length, 1);
  const one = got.find((j) => j !== null)!;
  const done = await Promise.all([
    a.complete(one.id, one.leaseId, RESULT, 3),
    b.complete(one.id, one.leaseId, RESULT, 3),
  ]);
  assert.deepEqual(done.sort(), [false, true]);
});

contract("migrations from the previous version add the last one and keep the rows", async (db) => {
  const old = await db.open(MIGRATIONS.slice(0, -1));
  // Rows as the previous version wrote them (its statements, not today's).
  for (
    const sql of [
      `INSERT INTO course (id, name, policy, created_at) VALUES (1, 'c', '${
        JSON.stringify(DEFAULT_POLICY)
      }', 1)`,
      "INSERT INTO users (id, name, email, role) VALUES ('alice', 'A', 'a@x', 'student')",
      "INSERT INTO submissions (user_id, kind, created_at) VALUES ('alice', 'part2', 5)",
      "INSERT INTO jobs (submission_id, status, enqueued_at) VALUES (1, 'queued', 5)",
    ]
  ) await db.query(sql);
  await old.close();
  const now = await db.open();
  assert.equal(await now.migrate(), SCHEMA_VERSION, "applied once: a second run is a no-op");
  assert.equal((await now.getUser("alice"))?.name, "A");
  assert.deepEqual((await now.getCourse())?.calendar, DEFAULT_CALENDAR, "no calendar: the default");
  const sub = (await now.getSubmission(1))!;
  assert.equal(sub.receivedAt, 5, "received when it was accepted");
  assert.equal(sub.firstStatus, "queued");
  assert.deepEqual(await now.listExtensions(), []);
  assert.equal((await now.lease("w1", 1000, 6))?.userId, "alice");
  assert.deepEqual((await now.getSubmission(1))?.renamed, []);
  assert.equal(await now.getCaCert(), null);
  await now.setCaCert("-----BEGIN CERTIFICATE-----\n...");
  assert.equal(await now.getCaCert(), "-----BEGIN CERTIFICATE-----\n...");
  const versions = await db.query("SELECT version FROM schema_migrations ORDER BY version");
  assert.deepEqual(versions.map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version));
});

contract("two processes starting at once apply each migration once", async (db) => {
  const [a, b] = await Promise.all([db.open(), db.open()]);
  assert.equal(await a.migrate(), SCHEMA_VERSION);
  assert.equal(await b.migrate(), SCHEMA_VERSION);
  const rows = await db.query("SELECT version FROM schema_migrations ORDER BY version");
  assert.equal(rows.length, MIGRATIONS.length);
});

contract("a worker that cannot sign takes every kind but ca-sign", async (db) => {
  const s = await db.open();
  await s.upsertUser({ id: "erin", name: "E", email: "e@x", role: "student" });
  const csr = {
    name: "r.csr",
    bytes: new TextEncoder().encode("-----BEGIN CERTIFICATE REQUEST-----"),
  };
  assert.ok(
    !isRefusal(
      await s.createSubmission({ userId: "erin", kind: "ca-sign", files: [csr] }, {
        now: 1,
        cooldownMs: 0,
      }),
    ),
  );
  assert.ok(!isRefusal(await submit(s, "erin", 2)));
  const kinds = ["part2", "part3", "part4-receiver", "part4-sender", "part5", "part6"] as const;
  const remote = (await s.lease("remote", 1000, 3, { kinds }))!;
  assert.equal(remote.kind, "part2");
  assert.equal(await s.lease("remote", 1000, 4, { kinds }), null);
  assert.equal(await s.lease("none", 1000, 4, { kinds: [] }), null);
  assert.equal((await s.lease("serve", 1000, 5, { kinds: ["ca-sign"] }))?.kind, "ca-sign");
});

contract("two servers accepting the same student's submission at once: one wins", async (db) => {
  const [a, b] = [await db.open(), await db.open()];
  await a.upsertUser({ id: "dan", name: "D", email: "d@x", role: "student" });
  const both = await Promise.all([submit(a, "dan", 10, 30_000), submit(b, "dan", 10, 30_000)]);
  assert.equal(both.filter((r) => !isRefusal(r)).length, 1, JSON.stringify(both));
  assert.equal(both.filter((r) => isRefusal(r) && r.refused === "active").length, 1);
  assert.equal((await a.listJobs("queued")).length, 1);
});

contract("two competing workers: every job leased once, one result each", async (db) => {
  const N = 24;
  const [a, b] = [await db.open(), await db.open()];
  for (let i = 0; i < N; i++) {
    await a.upsertUser({ id: `s${i}`, name: `S${i}`, email: "s@x", role: "student" });
    assert.ok(!isRefusal(await submit(i % 2 ? a : b, `s${i}`, i)));
  }
  const taken = new Map<number, string[]>();
  const worker = async (s: Store, name: string, other: Store) => {
    for (let n = 0; n < N + 5; n++) {
      const j = await s.lease(name, 60_000, 100 + n);
      if (!j) return;
      taken.set(j.id, [...(taken.get(j.id) ?? []), name]);
      await s.expireLeases(200 + n); // nothing has expired: a no-op under the race
      assert.equal(await other.complete(j.id, "not-the-lease", RESULT, 300), false);
      assert.ok(await s.renew(j.id, j.leaseId, 60_000, 300 + n));
      assert.ok(await s.complete(j.id, j.leaseId, { ...RESULT, score: j.id % 5 }, 400 + n));
    }
  };
  await Promise.all([worker(a, "wa", b), worker(b, "wb", a)]);
  assert.equal(taken.size, N);
  for (const [id, by] of taken) assert.equal(by.length, 1, `job ${id} leased by ${by}`);
  const counts = await db.query("SELECT job_id, COUNT(*) AS n FROM results GROUP BY job_id");
  assert.equal(counts.length, N);
  assert.ok(counts.every((r) => Number(r.n) === 1));
  assert.equal((await a.listJobs("done")).length, N);
  assert.equal(await a.lease("wa", 1000, 999), null);
});

contract("one active job per student and kind, then the cooldown", async (db) => {
  const s = await db.open();
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

contract("a lease goes to one worker; expiry requeues; complete writes once", async (db) => {
  const s = await db.open();
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
  assert.deepEqual(await s.recentDurations(5), [100], "its last lease (1800) to its result");
});

contract("failures retry up to the limit, then the job is failed", async (db) => {
  const s = await db.open();
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

contract("a lease that expires on the last try fails the job, saying why", async (db) => {
  const s = await db.open();
  assert.deepEqual(
    await s.upsertUser({ id: "ida", name: "I", email: "i@x", role: "student" }),
    { created: true },
  );
  const sub = (await submit(s, "ida", 0)) as Submission;
  for (let i = 1; i <= MAX_TRIES; i++) {
    const j = (await s.lease("w", 1000, i * 10_000))!;
    assert.equal(j.tries, i);
    assert.equal(await s.expireLeases(i * 10_000 + 2000), 1);
    assert.equal((await s.getSubmission(sub.id))!.job.status, i < MAX_TRIES ? "queued" : "failed");
  }
  const job = (await s.getSubmission(sub.id))!.job;
  assert.match(job.error ?? "", /lease expired/);
  assert.equal(job.finishedAt, MAX_TRIES * 10_000 + 2000);
  assert.equal(await s.lease("w", 1000, 99_000), null, "a failed job is not leased again");
  assert.equal(await s.expireLeases(99_000), 0);
});

contract("a TA re-run of a graded submission does not block the student's next one", async (db) => {
  const s = await db.open();
  await s.upsertUser({ id: "hal", name: "H", email: "h@x", role: "student" });
  const first = (await submit(s, "hal", 0)) as Submission;
  const j = (await s.lease("w", 1000, 1))!;
  assert.ok(await s.complete(j.id, j.leaseId, RESULT, 2));
  await s.enqueue(first.id, 3); // the re-run, still queued
  const next = await submit(s, "hal", 4);
  assert.ok(!isRefusal(next), JSON.stringify(next));
  // The student's own queued job still blocks a third.
  const third = await submit(s, "hal", 5);
  assert.ok(isRefusal(third) && third.refused === "active");
});

contract(
  "a submission the grader failed on is not an attempt: no cooldown after it",
  async (db) => {
    const s = await db.open();
    await s.upsertUser({ id: "gus", name: "G", email: "g@x", role: "student" });
    assert.ok(!isRefusal(await submit(s, "gus", 1000, 30_000)));
    for (let i = 1; i <= MAX_TRIES; i++) {
      const j = (await s.lease("w", 1000, 1000 + i))!;
      await s.fail(j.id, j.leaseId, "grader broke", 1000 + i);
    }
    assert.ok(!isRefusal(await submit(s, "gus", 2000, 30_000)), "refused after a grader failure");
  },
);

contract(
  "kept scores are the best or the last, a re-run replacing its submission's",
  async (db) => {
    const s = await db.open();
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
  },
);

contract(
  "a job queued through one connection wakes a listener on another (if the store can)",
  async (db) => {
    const a = await db.open();
    const b = await db.open();
    if (!b.onQueued) return; // SQLite: workers in other processes poll
    let woken!: () => void;
    const wake = new Promise<void>((r) => woken = r);
    const stop = await b.onQueued(() => woken());
    try {
      await a.upsertUser({ id: "fay", name: "F", email: "f@x", role: "student" });
      assert.ok(!isRefusal(await submit(a, "fay", 1)));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 10_000));
      assert.notEqual(await Promise.race([wake, late]), "late", "no notification within 10 s");
      clearTimeout(timer);
    } finally {
      await stop();
    }
  },
);

contract(
  "job counts, grading times and queue waits are read from the rows, bucketed; audit finds none",
  async (db) => {
    const s = await db.open();
    await s.upsertUser({ id: "gus", name: "G", email: "g@x", role: "student" });
    assert.deepEqual(await s.jobCounts(), []);
    const empty = await s.gradingTimes([1000]);
    assert.deepEqual({ ...empty }, { bounds: [1000], counts: [0], count: 0, sum: 0 });
    // Queued at 0, 1, 2; taken at 500 (waited 500), 2001 (2000); the third stays queued.
    for (const t of [0, 1, 2]) {
      assert.ok(
        !isRefusal(
          await s.createSubmission(
            { userId: "gus", kind: (["part2", "part3", "part6"] as const)[t], files: [] },
            { now: t, cooldownMs: 0 },
          ),
        ),
      );
    }
    const a = (await s.lease("w", 10_000, 500))!;
    assert.ok(await s.complete(a.id, a.leaseId, { ...RESULT, durationMs: 1200 }, 600));
    const b = (await s.lease("w", 10_000, 2001))!;
    assert.ok(await s.complete(b.id, b.leaseId, { ...RESULT, durationMs: 30_000 }, 2100));
    const counts = (await s.jobCounts()).map((c) => `${c.kind} ${c.status} ${c.n}`).sort();
    assert.deepEqual(counts, ["part2 done 1", "part3 done 1", "part6 queued 1"]);
    const g = await s.gradingTimes([1000, 5000, 60_000]);
    assert.deepEqual(g.counts, [0, 1, 2]);
    assert.equal(g.count, 2);
    assert.equal(g.sum, 31_200);
    const w = await s.queueWaits([499, 500, 1999, 2000]);
    assert.deepEqual([w.counts, w.count, w.sum], [[0, 1, 1, 2], 2, 2500]);
    const audit = await s.audit();
    assert.deepEqual(audit.integrity, []);
    assert.deepEqual(audit.doneWithoutResult, []);
    assert.deepEqual(audit.signedWithoutCert, []);
    assert.deepEqual(audit.counts, { users: 1, submissions: 3, jobs: 3, results: 2 });
    assert.deepEqual(audit.submissionFiles.map((f) => f.files), [0, 0, 0]);
    // A done job whose result row is gone is found.
    await db.query(`DELETE FROM result_files WHERE job_id = ${a.id}`);
    await db.query(`DELETE FROM results WHERE job_id = ${a.id}`);
    assert.deepEqual((await s.audit()).doneWithoutResult, [a.id]);
  },
);

contract(
  "the calendar and a student's extensions are kept; an extension is replaced",
  async (db) => {
    const s = await db.open();
    await s.createCourse({
      name: "c",
      policy: DEFAULT_POLICY,
      calendar: DEFAULT_CALENDAR,
      createdAt: 1,
    });
    await s.upsertUser({ id: "kim", name: "K", email: "", role: "student" });
    const calendar = {
      timezone: "Europe/Zurich",
      opens: 1000,
      closes: 9000,
      attemptLimit: 5,
      parts: { part6: { closes: 12_000 } },
    };
    await s.setCalendar(calendar);
    assert.deepEqual((await s.getCourse())!.calendar, calendar);
    await s.setExtension({
      userId: "kim",
      kind: "part6",
      until: 20_000,
      attempts: 0,
      grantedAt: 3,
    });
    await s.setExtension({ userId: "kim", kind: null, until: null, attempts: 2, grantedAt: 4 });
    await s.setExtension({
      userId: "kim",
      kind: "part6",
      until: 30_000,
      attempts: 1,
      grantedAt: 5,
    });
    assert.deepEqual(await s.listExtensions("kim"), [
      { userId: "kim", kind: null, until: null, attempts: 2, grantedAt: 4 },
      { userId: "kim", kind: "part6", until: 30_000, attempts: 1, grantedAt: 5 },
    ]);
    assert.deepEqual(await s.listExtensions("nobody"), []);
    assert.equal((await s.listExtensions()).length, 2);
  },
);

contract(
  "outside the window nothing is stored; an upload received before the close is accepted after it",
  async (db) => {
    const s = await db.open();
    await s.upsertUser({ id: "lou", name: "L", email: "", role: "student" });
    const window = { opens: 1000, closes: 5000, attemptLimit: 100 };
    assert.deepEqual(await submit(s, "lou", 999, 0, { window }), {
      refused: "not-open",
      opens: 1000,
    });
    assert.deepEqual(await submit(s, "lou", 5000, 0, { window }), {
      refused: "closed",
      closes: 5000,
    });
    assert.equal((await s.listSubmissions({ userId: "lou" })).length, 0);
    // All of it arrived at 4999; the commit comes after the close: accepted, the times kept.
    const late = await submit(s, "lou", 5200, 0, { window, receivedAt: 4999 });
    assert.ok(!isRefusal(late), JSON.stringify(late));
    const got = (await s.getSubmission(late.id))!;
    assert.deepEqual([got.createdAt, got.receivedAt], [5200, 4999]);
    assert.deepEqual(
      await submit(s, "lou", 5300, 0, { window, receivedAt: 5001 }),
      { refused: "closed", closes: 5000 },
      "the window is checked before the job still queued",
    );
  },
);

contract(
  "the attempt limit counts graded submissions, not grader failures; an extension's attempts add",
  async (db) => {
    const s = await db.open();
    await s.upsertUser({ id: "max", name: "M", email: "", role: "student" });
    const window = { opens: null, closes: null, attemptLimit: 2 };
    assert.ok(!isRefusal(await submit(s, "max", 10, 0, { window })));
    await grade(s, 11, 1);
    assert.ok(!isRefusal(await submit(s, "max", 20, 0, { window })));
    await grade(s, 21, "grader failure");
    assert.ok(!isRefusal(await submit(s, "max", 30, 0, { window })), "a failure is no attempt");
    await grade(s, 31, 2);
    assert.deepEqual(await submit(s, "max", 40, 0, { window }), {
      refused: "limit",
      attemptLimit: 2,
    });
    const subs = await s.listSubmissions({ userId: "max" });
    assert.deepEqual(subs.map((x) => x.firstStatus), ["done", "failed", "done"]);
    const more = { ...window, attemptLimit: 3 };
    assert.ok(!isRefusal(await submit(s, "max", 50, 0, { window: more })));
  },
);

contract(
  "kept scores among what a cut admits, of one student or all; a re-run counts anew",
  async (db) => {
    const s = await db.open();
    await s.upsertUser({ id: "nia", name: "N", email: "", role: "student" });
    for (const [at, score] of [[100, 2], [200, 3], [300, 4]]) {
      assert.ok(!isRefusal(await submit(s, "nia", at)));
      await grade(s, at + 1, score);
    }
    const before250 = (x: { receivedAt: number }) => x.receivedAt < 250;
    await s.upsertUser({ id: "oz", name: "O", email: "", role: "student" });
    assert.ok(!isRefusal(await submit(s, "oz", 150)));
    await grade(s, 151, 4);
    const counts = before250;
    const [cell] = await s.keptScores("best", { counts, userId: "nia" });
    assert.deepEqual([cell.score, cell.submissionId], [3, 2]);
    assert.deepEqual((await s.keptScores("last", { counts })).map((c) => [c.userId, c.score]), [
      ["nia", 3],
      ["oz", 4],
    ]);
    assert.equal((await s.keptScores("best", { userId: "nia" }))[0].score, 4);
    await s.enqueue(2, 400); // a TA re-run, after the cut: its new score counts
    await grade(s, 401, 1);
    assert.equal((await s.keptScores("best", { counts, userId: "nia" }))[0].score, 2);
    assert.deepEqual(await s.keptScores("best", { counts: () => false }), []);
    assert.deepEqual(await s.keptScores("best", { userId: "nobody" }), []);
  },
);
