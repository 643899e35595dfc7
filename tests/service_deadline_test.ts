/**
 * The course's calendar through the service (issue 26), on SQLite and on
 * PostgreSQL, the time driven by an injected clock (no sleeps): a course
 * with the handout's dates refuses before it opens and after it closes with
 * a sentence that says when, takes an upload received before the close
 * whatever its grading's time and not one whose last byte came after, an
 * attempt limit that a grader failure does not use up, an extension, the
 * history with attempt numbers, and the grade book as of the close. The
 * grading is played through the store (tests/helpers/service.ts
 * `finishNext`): the worker's behaviour is tested elsewhere. Each refusal is
 * counted in /metrics by its reason.
 */
import assert from "node:assert/strict";
import { dbName, pgUnavailable, startPgCluster } from "./helpers/pg.ts";
import {
  finishNext,
  getJson,
  HANDOUT,
  makeCourse,
  postSubmission,
  serveInProcess,
  TestClock,
} from "./helpers/service.ts";
import type { PartJson, SubmissionJson } from "../mod/service/api.ts";

const { opens: OPENS, closes: CLOSES } = HANDOUT;
const HOUR = 3600_000;
const SCRIPT = "import sys\nprint(sys.argv)\n";

type Svc = Awaited<ReturnType<typeof serveInProcess>>;

const upload = (svc: Svc, token: string) =>
  postSubmission(svc.url, token, { kind: "part2", files: { script: SCRIPT } });

/** A part 2 upload whose body arrives in two halves, `between()` running in between. */
async function splitUpload(svc: Svc, token: string, between: () => void) {
  const form = new FormData();
  form.set("kind", "part2");
  form.set("script", new File([SCRIPT], "PDC.py"));
  const req = new Request("http://127.0.0.1/", { method: "POST", body: form });
  const bytes = new Uint8Array(await req.arrayBuffer());
  const half = Math.floor(bytes.length / 2);
  let pull = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pull++ === 0) return c.enqueue(bytes.slice(0, half));
      between();
      c.enqueue(bytes.slice(half));
      c.close();
    },
  });
  const res = await fetch(`${svc.url}/api/submissions`, {
    method: "POST",
    body,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": req.headers.get("content-type")!,
    },
  });
  return { status: res.status, body: await res.json() };
}

/** The grade book CSV's row of `id` (as of `asOf`, if given). */
async function exported(svc: Svc, ta: string, id: string, asOf?: string): Promise<string> {
  const q = asOf ? `?as_of=${encodeURIComponent(asOf)}` : "";
  const res = await fetch(`${svc.url}/api/course/export${q}`, {
    headers: { authorization: `Bearer ${ta}` },
  });
  assert.equal(res.status, 200);
  return (await res.text()).split("\n").find((l) => l.startsWith(`${id},`))!;
}

async function part2Of(svc: Svc, token: string): Promise<PartJson> {
  const me = await getJson(svc.url, token, "/api/me");
  return (me.body.parts as PartJson[]).find((p) => p.kind === "part2")!;
}

/** Before the opening, the attempts, the close, an upload in flight, an extension. */
async function beforeAndDuring(svc: Svc, clock: TestClock, alice: string) {
  let r = await upload(svc, alice);
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.error, "the submission system opens on Thu 4 Nov 2021 23:55 CET");
  assert.equal((await svc.store.listJobs("queued")).length, 0, "nothing queued");
  assert.equal((await part2Of(svc, alice)).state, "not-open");

  clock.at(OPENS + HOUR);
  assert.equal((await upload(svc, alice)).status, 201);
  await finishNext(svc.store, 1);
  assert.equal((await upload(svc, alice)).status, 201);
  await finishNext(svc.store, "grader failure");
  assert.equal((await upload(svc, alice)).status, 201, "a grader failure is no attempt");
  await finishNext(svc.store, 3);
  r = await upload(svc, alice);
  assert.equal(r.status, 429);
  assert.equal(
    r.body.error,
    "you have used all 2 attempts of part2: if you need more, send an email to the TA team",
  );
  const part = await part2Of(svc, alice);
  assert.deepEqual(
    [part.state, part.attempts, part.attempt_limit, part.kept_score, part.closes],
    ["open", 2, 2, 3, "2021-11-17T23:55:00.000+01:00"],
  );
  const { body } = await getJson(svc.url, alice, "/api/parts/part2");
  const subs = body.submissions as SubmissionJson[];
  assert.deepEqual(subs.map((s) => [s.attempt, s.kept, s.status]), [
    [2, true, "done"],
    [null, false, "failed"],
    [1, false, "done"],
  ]);
  assert.equal(subs[0].created_at, "2021-11-05T00:55:00.000+01:00", "accepted, in Lausanne");
}

async function scenario(db?: string) {
  const calendar = { opens: OPENS, closes: CLOSES, attemptLimit: 2 };
  await using course = await makeCourse(["alice", "bob"], {}, { calendar, db });
  const clock = new TestClock(OPENS - HOUR);
  await using svc = await serveInProcess(course, { clock: clock.now });
  const { alice, bob } = course.tokens;
  await beforeAndDuring(svc, clock, alice);

  // Bob's upload starts before the close, its last byte comes after: refused, nothing queued.
  clock.at(CLOSES - 1000);
  const inFlight = await splitUpload(svc, bob, () => clock.at(CLOSES + 1000));
  assert.equal(inFlight.status, 403, JSON.stringify(inFlight.body));
  assert.equal(inFlight.body.error, "the submission system closed on Wed 17 Nov 2021 23:55 CET");
  // His next one is received a minute before the close and graded an hour after: it counts.
  clock.at(CLOSES - 60_000);
  const bobs = await upload(svc, bob);
  assert.equal(bobs.status, 201);
  clock.at(CLOSES + HOUR);
  assert.equal(await finishNext(svc.store, 4), bobs.body.id);
  assert.equal((await upload(svc, bob)).status, 403, "closed for him");

  // Alice gets a day and one attempt more: her late submission is taken.
  const ext = await fetch(`${svc.url}/api/course/extensions`, {
    method: "POST",
    headers: { authorization: `Bearer ${course.ta}`, "content-type": "application/json" },
    body: JSON.stringify({ user: "alice", until: "2021-11-18T23:55", attempts: 1 }),
  });
  assert.equal(ext.status, 200);
  assert.deepEqual((await ext.json()).extension, {
    user: "alice",
    kind: null,
    until: "2021-11-18T23:55:00.000+01:00",
    attempts: 1,
  });
  assert.equal((await upload(svc, alice)).status, 201, "extended");
  await finishNext(svc.store, 4);
  assert.equal((await upload(svc, bob)).status, 403, "bob has no extension");

  // The grade book as of the close: alice's late 4 is not in it; bob's is. Now: both.
  const close = "2021-11-17T23:55";
  assert.equal(await exported(svc, course.ta, "alice", close), "alice,Student alice,3,,,,,,");
  assert.equal(await exported(svc, course.ta, "bob", close), "bob,Student bob,4,,,,,,");
  assert.equal(await exported(svc, course.ta, "alice"), "alice,Student alice,4,,,,,,");
  const book = await getJson(svc.url, course.ta, "/api/course/gradebook");
  const rows = book.body.rows as { id: string; extended: boolean }[];
  assert.deepEqual(rows.map((r) => [r.id, r.extended]), [["alice", true], ["bob", false]]);

  // A TA re-run of her graded submissions: the new scores count, as of the close too.
  const rerun = await fetch(`${svc.url}/api/course/rerun`, {
    method: "POST",
    headers: { authorization: `Bearer ${course.ta}`, "content-type": "application/json" },
    body: JSON.stringify({ kind: "part2", user: "alice" }),
  });
  assert.deepEqual(await rerun.json(), { queued: 3 });
  for (let i = 0; i < 3; i++) await finishNext(svc.store, 2);
  assert.equal(await exported(svc, course.ta, "alice", close), "alice,Student alice,2,,,,,,");
  const bad = await getJson(svc.url, course.ta, "/api/course/export?as_of=2021-10-31T02:30");
  assert.equal(bad.status, 400);
  assert.match(bad.body.error as string, /happens twice in Europe\/Zurich/);

  // Each refusal above is counted for /metrics with its reason.
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  const refused = [
    ...metrics.matchAll(/^socklab_submissions_refused_total\{reason="(\w+)"\} (\d+)$/gm),
  ];
  assert.deepEqual(refused.map((m) => `${m[1]} ${m[2]}`), [
    "attempt_limit 1",
    "closed 3",
    "not_open 1",
  ]);
}

Deno.test("deadline: the handout's dates, the limit, an upload in flight, an extension, export as of the close (SQLite)", async () => {
  await scenario();
});

const PG = pgUnavailable();
const IN_CI = Deno.env.get("CI") === "true";
Deno.test({
  name: `deadline: the same on PostgreSQL${PG && !IN_CI ? ` (skipped: ${PG})` : ""}`,
  ignore: PG !== null && !IN_CI,
  async fn() {
    if (PG) throw new Error(`CI needs PostgreSQL: ${PG}`);
    await using pg = await startPgCluster();
    await scenario(await pg.createDatabase(dbName()));
  },
});
