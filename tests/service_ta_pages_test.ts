/**
 * The teaching assistant's pages at class size (issue 28) over plain HTTP,
 * and what they are made of: the grade book's search, sort and pages, the
 * charts' numbers, the estimates' arithmetic; a re-run asked first, done
 * once (Post/Redirect/Get), the students keeping their result meanwhile;
 * lost workers; the result page's own output per test; a renamed upload;
 * HTML 404s and a favicon.
 */
import assert from "node:assert/strict";
import { gradeBookQuery, type GradeBookRow, queryGradeBook } from "../mod/service/course.ts";
import { openStore } from "../mod/service/store/open.ts";
import { KINDS } from "../mod/service/store/store.ts";
import { estimateSeconds } from "../mod/service/submissions.ts";
import { barChart, queueCharts, scoreHistogram } from "../mod/service/web/charts.ts";
import { classId, populateClass } from "./helpers/class_fixture.ts";
import {
  gradedSubmission,
  makeCourse,
  postSubmission,
  serveInProcess,
  webSignIn,
} from "./helpers/service.ts";

async function getPage(url: string, cookie: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers: { cookie }, redirect: "manual" });
  return { status: res.status, text: await res.text() };
}

const csrfOf = (page: string) => page.match(/name="csrf" value="([^"]+)"/)![1];
/** Text without tags and with spaces collapsed. */
const words = (page: string) => page.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");

function row(id: string, name: string, part2: number | null): GradeBookRow {
  const scores = Object.fromEntries(KINDS.map((k) => [k, null])) as GradeBookRow["scores"];
  scores.part2 = part2;
  return { id, name, scores, extended: false };
}

Deno.test("grade book: a search by id or name (accents ignored), a column's order, pages of 50", () => {
  const rows = [
    row("s002", "Zoé Müller", 3),
    row("s001", "Léa Rossi", null),
    row("s003", "Noah Zoellner", 4),
    ...Array.from({ length: 117 }, (_, i) => row(`t${String(i).padStart(3, "0")}`, "T", i % 5)),
  ];
  const q = (s: string) => gradeBookQuery(new URLSearchParams(s));
  assert.deepEqual(queryGradeBook(rows, q("q=zoe")).rows.map((r) => r.id), ["s002", "s003"]);
  assert.deepEqual(queryGradeBook(rows, q("q=S001")).rows.map((r) => r.id), ["s001"]);
  const byScore = queryGradeBook(rows, q("q=s0&sort=part2&dir=desc")).rows.map((r) => r.id);
  assert.deepEqual(byScore, ["s003", "s002", "s001"], "no score last, whatever the order");
  const up = queryGradeBook(rows, q("q=s0&sort=part2")).rows.map((r) => r.id);
  assert.deepEqual(up, ["s002", "s003", "s001"]);
  const all = queryGradeBook(rows, q(""));
  assert.deepEqual([all.matching, all.pages, all.rows.length], [120, 3, 50]);
  assert.equal(all.rows[0].id, "s001");
  const last = queryGradeBook(rows, q("page=9"));
  assert.deepEqual([last.page, last.rows.length], [3, 20], "a page past the end is the last");
  assert.deepEqual(q("sort=nonsense&dir=sideways&page=-4"), {
    q: "",
    sort: "id",
    dir: "asc",
    page: 1,
  });
});

Deno.test("charts: the last hour's waits and throughput, score histograms, in numbers and words", () => {
  const now = 10_000_000;
  const job = (enq: number, start: number | null, end: number | null) => ({
    id: 1,
    submissionId: 1,
    status: "done" as const,
    tries: 1,
    enqueuedAt: now - enq,
    startedAt: start === null ? null : now - start,
    finishedAt: end === null ? null : now - end,
    worker: "w",
    leaseUntil: null,
    error: null,
  });
  // Two jobs started 1 to 2 minutes ago after 30 s and 90 s; one 40 minutes ago after 10 s.
  const jobs = [
    job(120_000, 90_000, 60_000),
    job(150_000, 60_000, 30_000),
    job(2_410_000, 2_400_000, 2_390_000),
  ];
  const { wait, done } = queueCharts(jobs, now);
  assert.equal(wait.bars.length, 12);
  assert.equal(wait.bars[11].value, 60_000, "mean of 30 s and 90 s");
  assert.equal(wait.bars[11].text, "60 s");
  assert.equal(wait.bars[3].value, 10_000, "40 minutes ago");
  assert.match(wait.summary, /3 job\(s\) started; the longest mean wait of five minutes was 60 s/);
  assert.equal(done.bars.length, 60);
  assert.deepEqual(done.bars.slice(-2).map((b) => b.value), [1, 1]);
  assert.match(done.summary, /^3 job\(s\) finished, at most 1 in one minute$/);
  const svg = barChart(wait).text;
  assert.match(
    svg,
    /<svg id="chart-wait" role="img" aria-labelledby="chart-wait-title chart-wait-desc"/,
  );
  assert.match(svg, /<title id="chart-wait-title">Queue wait, last hour<\/title>/);
  assert.match(svg, />60 s<\/text>/, "the value is written on its bar");
  assert.ok(!/style=/.test(svg), "no inline style: the CSP allows none");

  const hist = scoreHistogram("h", "Part <2>", [4, 4, 0, null, 3, null], 4);
  assert.deepEqual(hist.bars.map((b) => [b.label, b.value]), [["0", 1], ["1", 0], ["2", 0], [
    "3",
    1,
  ], ["4", 2]]);
  assert.equal(hist.summary, "4 of 6 student(s) scored, 2 with full marks (4)");
  assert.match(barChart(hist).text, /Part &lt;2&gt;/, "escaped");
  const wide = scoreHistogram("w", "t", [0, 50, 100], 100);
  assert.equal(wide.bars.length, 10, "ten ranges past 12 points");
  assert.equal(wide.bars[0].label, "0-10");
});

Deno.test("estimates: position x mean / slots from the measured wall time, never below a second", () => {
  assert.equal(estimateSeconds(1900, 2, 48), 46, "48th behind 2 slots at 1.9 s: about 46 s");
  assert.equal(estimateSeconds(1900, 2, 1), 2, "its own grading");
  assert.equal(estimateSeconds(10_000, 4, 3), 10, "a free slot: one grading");
  assert.equal(estimateSeconds(10_000, 1, null, { elapsedMs: 4000 }), 6, "running, 4 s in");
  assert.equal(estimateSeconds(10_000, 1, null, { elapsedMs: 60_000 }), 1, "late: about 1 s");
});

Deno.test("TA pages: 300 students found in one search, sorted, paged; charts; names in the queue", async () => {
  await using course = await makeCourse([]);
  const now = Date.now();
  await populateClass(course, 300, now, { queued: 5 });
  await using svc = await serveInProcess(course);
  const { cookie: ta } = await webSignIn(svc.url, course.ta);
  assert.equal((await getPage(`${svc.url}/`, ta)).status, 303, "the TA's home is /course");

  const overview = await getPage(`${svc.url}/course`, ta);
  assert.equal(overview.status, 200);
  assert.match(words(overview.text), /300 students/);
  assert.match(words(overview.text), /5 queued, 0 running/);
  assert.equal(overview.text.match(/<svg /g)?.length, 2, "two charts drawn by the server");
  assert.match(
    overview.text,
    /<figcaption><strong>Queue wait, last hour<\/strong>: \d+ job\(s\) started/,
  );

  const book = await getPage(`${svc.url}/course/gradebook`, ta);
  assert.equal(book.text.match(/<tr>/g)?.length, 51, "a head and 50 students");
  assert.match(words(book.text), /Page 1 of 6/);
  assert.equal(book.text.match(/<svg /g)?.length, KINDS.length, "a histogram a part");
  for (const k of KINDS) assert.match(book.text, new RegExp(`<svg id="hist-${k}"`));
  const found = await getPage(`${svc.url}/course/gradebook?q=${classId(277)}`, ta);
  assert.match(words(found.text), /1 of 300 students match/);
  assert.match(
    found.text,
    new RegExp(`href="/course/students/${classId(277)}">${classId(277)}</a>`),
  );
  const sorted = await getPage(`${svc.url}/course/gradebook?sort=part3&dir=desc&page=2`, ta);
  assert.match(sorted.text, /aria-sort="descending"/);
  assert.match(words(sorted.text), /Page 2 of 6/);
  assert.match(sorted.text, /href="\/course\/gradebook\?sort=part3&amp;dir=desc" rel="prev"/);

  const queue = await getPage(`${svc.url}/course/queue`, ta);
  for (let i = 0; i < 5; i++) assert.match(queue.text, new RegExp(`\\(${classId(i)}\\)</a>`));
  const student = await getPage(`${svc.url}/course/students/${classId(0)}`, ta);
  assert.equal(student.status, 200);
  assert.match(
    student.text,
    /<h2 id="extension">Extension and attempts<\/h2>/,
    "the calendar's form",
  );
  assert.equal((await getPage(`${svc.url}/course/students/nobody`, ta)).status, 404);
});

Deno.test("TA re-run: asked first with the number of jobs, queued once, students keep their result", async () => {
  await using course = await makeCourse(["alice", "bob"]);
  const store = await openStore({ data: course.data });
  let alices: number;
  try {
    alices = await gradedSubmission(store, "alice", "part2", 3);
    await gradedSubmission(store, "bob", "part2", 1);
    await gradedSubmission(store, "bob", "part3", 2);
  } finally {
    await store.close();
  }
  await using svc = await serveInProcess(course);
  const { cookie: ta } = await webSignIn(svc.url, course.ta);
  const asked = await getPage(`${svc.url}/course/rerun?kind=part2`, ta);
  assert.match(
    words(asked.text),
    /This queues 2 job\(s\) ?: every graded submission of Part2 - Packetization of every student/,
  );
  assert.equal((await svc.store.listJobs("queued")).length, 0, "asking queues nothing");
  const one = await getPage(`${svc.url}/course/rerun?kind=part2&user=alice`, ta);
  assert.match(
    words(one.text),
    /This queues 1 job\(s\) ?: every graded submission of Part2 - Packetization of Student alice \(alice\)/,
  );
  const rerun = await fetch(`${svc.url}/course/rerun`, {
    method: "POST",
    body: new URLSearchParams({ csrf: csrfOf(one.text), kind: "part2", user: "alice" }),
    headers: { cookie: ta },
    redirect: "manual",
  });
  await rerun.body?.cancel();
  assert.equal(rerun.status, 303, "Post/Redirect/Get");
  const back = rerun.headers.get("location")!;
  assert.equal(back, "/course/tools?rerun=part2&queued=1&user=alice");
  assert.equal((await svc.store.listJobs("queued")).length, 1);
  // The page it leads to says it, and reloading it queues nothing more.
  for (let i = 0; i < 2; i++) {
    assert.match(
      words((await getPage(`${svc.url}${back}`, ta)).text),
      /1 job\(s\) queued: the graded P2 submissions of alice run again/,
    );
  }
  assert.equal((await svc.store.listJobs("queued")).length, 1);

  // Meanwhile alice still sees her score (the page and the API), with the re-run's state.
  const { cookie: alice } = await webSignIn(svc.url, course.tokens.alice);
  const mine = await getPage(`${svc.url}/submissions/${alices}`, alice);
  assert.match(
    words(mine.text),
    /Queued position 1 in the queue\. Your result below stays until the new one replaces it\./,
  );
  assert.match(words(mine.text), /Score 3\/4 \(the last grading\)/);
  const api = await (await fetch(`${svc.url}/api/submissions/${alices}`, {
    headers: { authorization: `Bearer ${course.tokens.alice}` },
  })).json();
  assert.deepEqual([api.status, api.score, api.max_grade], ["queued", 3, 4]);
  assert.match(words((await getPage(`${svc.url}/`, alice)).text), /3\/4, re-run queued \(#1\)/);

  const refused = await fetch(`${svc.url}/course/rerun`, {
    method: "POST",
    body: new URLSearchParams({ csrf: csrfOf(one.text), kind: "part9" }),
    headers: { cookie: ta },
  });
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /<h1>Bad request<\/h1>/);
});

Deno.test("TA workers: a silent worker is lost, runs nothing, its jobs queued again; gone a day, forgotten", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course, { leaseMs: 1000 });
  const now = Date.now();
  const store = svc.store;
  const made = await postSubmission(svc.url, course.tokens.alice, {
    kind: "part2",
    files: { script: "print(1)\n" },
  });
  assert.equal(made.status, 201);
  await store.registerWorker({ id: "pc1", host: "lab-pc", slots: 2 }, now - 10_000);
  const job = (await store.lease("pc1/0", 1000, now - 10_000))!;
  await store.heartbeat("pc1", 1, now - 10_000);
  await store.registerWorker({ id: "old", host: "gone", slots: 1 }, now - 2 * 86_400_000);
  const { tidyWorkers } = await import("../mod/service/worker.ts");
  assert.equal(await tidyWorkers(store, now, 1000), 1, "its job went back to the queue");
  assert.equal((await store.getSubmission(job.submissionId))!.job.status, "queued");
  const workers = await store.listWorkers();
  assert.deepEqual(
    workers.map((w) => [w.id, w.running]),
    [["pc1", 0]],
    "counts reset, old dropped",
  );
  const { cookie: ta } = await webSignIn(svc.url, course.ta);
  const page = words((await getPage(`${svc.url}/course/queue`, ta)).text);
  assert.match(page, /pc1 lab-pc lost \(its jobs went back to the queue\) 2 nothing/);
  const overview = words((await getPage(`${svc.url}/course`, ta)).text);
  assert.match(overview, /0 worker\(s\) alive with 0 slot\(s\), 1 lost/);
});

Deno.test("result page: each test's own output under it, failing ones open, the grader apart; a renamed upload", async () => {
  await using course = await makeCourse(["alice"]);
  const runs = [
    { test: "CMD_short:0", end: "exited with code 0", stdout: "PMU data 0\n", stderr: "" },
    {
      test: "CMD_floodme",
      end: "was stopped after 20.0 s (time limit)",
      stdout: "",
      stderr: "Traceback <x>\n",
    },
    { test: "sender", end: "exited with code 1", stdout: "other run\n", stderr: "" },
  ];
  const store = await openStore({ data: course.data });
  let id: number;
  try {
    id = await gradedSubmission(store, "alice", "part2", 1, {
      tests: [
        { name: "CMD_short:0", passed: true, scored: true, detail: "all 10 messages" },
        { name: "CMD_floodme", passed: false, scored: true, detail: "nothing printed" },
        { name: "exits", passed: false, scored: false, detail: "no run of its own" },
      ],
      stdout: "=== CMD_short:0: the program exited with code 0\nPMU data 0\n",
      files: [{ name: "runs.json", bytes: new TextEncoder().encode(JSON.stringify(runs)) }],
    });
  } finally {
    await store.close();
  }
  await using svc = await serveInProcess(course);
  const { cookie } = await webSignIn(svc.url, course.tokens.alice);
  const text = (await getPage(`${svc.url}/submissions/${id}`, cookie)).text;
  assert.match(
    text,
    /<details><summary><span class="pass">PASS<\/span>\s*<strong>CMD_short:0<\/strong>/,
  );
  assert.match(
    text,
    /<details open><summary><span class="fail">FAIL<\/span>\s*<strong>CMD_floodme<\/strong>/,
  );
  assert.match(
    text,
    /<p class="grader"><span class="sr-only">The grader: <\/span>the program was stopped after 20\.0 s/,
  );
  assert.match(text, /<pre class="output">Traceback &lt;x&gt;\n<\/pre>/);
  assert.ok(
    !text.includes("=== CMD_short:0"),
    "the grader's header is not in the program's output",
  );
  assert.match(text, /<h2>Other runs of your program<\/h2>\s*<details><summary>sender<\/summary>/);

  // A file saved under another name says so.
  const made = await postSubmission(svc.url, course.tokens.alice, {
    kind: "part3",
    files: { script: { name: "../x.py", data: "print(1)\n" } },
  });
  assert.equal(made.status, 201);
  const renamed = words((await getPage(`${svc.url}/submissions/${made.body.id}`, cookie)).text);
  assert.match(renamed, /Your file \.\.\/x\.py was saved as x\.py/);
  const api = await (await fetch(`${svc.url}/api/submissions/${made.body.id}`, {
    headers: { authorization: `Bearer ${course.tokens.alice}` },
  })).json();
  assert.deepEqual(api.renamed, [{ from: "../x.py", to: "x.py" }]);
});

Deno.test("web: a wrong address is an HTML page (JSON under /api/), the favicon is there, the form by part", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const { cookie } = await webSignIn(svc.url, course.tokens.alice);
  const wrong = await fetch(`${svc.url}/no/such/page`, { headers: { cookie } });
  assert.equal(wrong.status, 404);
  assert.match(wrong.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await wrong.text(), /<h1>Not found<\/h1>/);
  const api = await fetch(`${svc.url}/api/nothing`, {
    headers: { authorization: `Bearer ${course.tokens.alice}` },
  });
  assert.equal(api.status, 404);
  assert.ok((await api.json()).error);
  const icon = await fetch(`${svc.url}/favicon.ico`);
  assert.equal(icon.url, `${svc.url}/favicon.svg`);
  assert.match(icon.headers.get("content-type") ?? "", /image\/svg\+xml/);
  assert.match(await icon.text(), /^<svg /);
  const form = (await getPage(`${svc.url}/submit?kind=part5`, cookie)).text;
  assert.match(form, /<form class="stack by-part"/);
  assert.match(form, /<div class="field for-part5"><label for="cert">/);
  assert.match(form, /<div class="field for-part4-sender"><label for="sciper">/);
  const css = await (await fetch(`${svc.url}/static/style.css`)).text();
  assert.match(
    css,
    /form\.by-part:has\(#kind option\[value="part5"\]:checked\) \.for-part5 \{ display: block; \}/,
  );
});
