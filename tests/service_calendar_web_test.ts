/**
 * The calendar on the web pages over plain HTTP (issue 26), the clock
 * injected: the student's home (the calendar, a countdown, attempt n of N,
 * the last hour's banner with the estimated wait), /parts/<kind> (every
 * submission, which one counts), the form's refusal after the close, and
 * the teaching assistant's extension form (CSRF, a refused local time, the
 * student's page after it).
 */
import assert from "node:assert/strict";
import {
  finishNext,
  HANDOUT,
  makeCourse,
  postSubmission,
  serveInProcess,
  TestClock,
  webSignIn,
} from "./helpers/service.ts";

const { opens: OPENS, closes: CLOSES } = HANDOUT;
const MIN = 60_000;

/** Sign in with the personal link and its button; the session cookie. */
async function signIn(url: string, token: string): Promise<string> {
  return (await webSignIn(url, token)).cookie;
}

async function getPage(url: string, cookie: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers: { cookie }, redirect: "manual" });
  return { status: res.status, text: await res.text() };
}

/** Text without tags and with spaces collapsed, to match sentences across lines. */
const words = (page: string) => page.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");

function csrfOf(page: string): string {
  const m = page.match(/name="csrf" value="([^"]+)"/);
  assert.ok(m, "the page has a CSRF field");
  return m[1];
}

Deno.test("web calendar: home, countdown, attempts, the last hour's banner, a part's history", async () => {
  const calendar = { opens: OPENS, closes: CLOSES, attemptLimit: 5 };
  await using course = await makeCourse(["alice"], {}, { calendar });
  const clock = new TestClock(OPENS - 90 * MIN);
  await using svc = await serveInProcess(course, { clock: clock.now });
  const alice = course.tokens.alice;
  const cookie = await signIn(svc.url, alice);
  let home = words((await getPage(`${svc.url}/`, cookie)).text);
  assert.match(
    home,
    /The submission system opens on Thu 4 Nov 2021 23:55 CET and closes on Wed 17 Nov 2021 23:55 CET , Europe\/Zurich time/,
  );
  assert.match(home, /opens Thu 4 Nov 2021 23:55 CET \(in 1 h 30 min\)/);
  assert.match(home, /not open yet/);
  assert.ok(!home.includes('href="/submit?kind=part2"'), "no link to a closed form");

  clock.at(OPENS + MIN);
  const ids: number[] = [];
  for (const score of [1, "grader failure", 3, 2] as const) {
    const made = await postSubmission(svc.url, alice, {
      kind: "part2",
      files: { script: "print(1)\n" },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    ids.push(made.body.id as number);
    await finishNext(svc.store, score);
  }
  clock.at(CLOSES - (2 * 24 * 60 + 3 * 60) * MIN);
  const text = (await getPage(`${svc.url}/`, cookie)).text;
  home = words(text);
  assert.match(home, /3 of 5/, "attempt 3 of 5: the grader failure is none");
  assert.match(home, /closes in 2 days 3 h/);
  assert.match(text, /<a href="\/parts\/part2">all/);
  assert.doesNotMatch(home, /closes at/, "no banner yet");

  clock.at(CLOSES - 30 * MIN);
  home = words((await getPage(`${svc.url}/`, cookie)).text);
  assert.match(home, /The submission system closes at 17 Nov 2021 23:55 CET , in 30 min/);
  assert.match(home, /no grader is running right now/, "no worker: said so, no made-up wait");

  const history = await getPage(`${svc.url}/parts/part2`, cookie);
  assert.equal(history.status, 200);
  const rows = [...history.text.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => words(m[1]).trim());
  assert.equal(rows.length, 1 + 4, rows.join("\n"));
  assert.match(rows[1], new RegExp(`^#${ids[3]} 4 Nov 2021 23:56 CET done 2/4 3 zip`));
  assert.match(rows[2], new RegExp(`^#${ids[2]} .* done 3/4 2 counts zip`));
  assert.match(rows[3], new RegExp(`^#${ids[1]} .* failed – – not an attempt zip`));
  assert.match(rows[4], new RegExp(`^#${ids[0]} 4 Nov 2021 23:56 CET done 1/4 1 zip`));
  assert.match(words(history.text), /Attempt 3 of 5; kept score 3\/4/);
  assert.equal((await getPage(`${svc.url}/parts/part9`, cookie)).status, 404);
  const sub = words((await getPage(`${svc.url}/submissions/${ids[0]}`, cookie)).text);
  assert.match(sub, /accepted 4 Nov 2021 23:56 CET · attempt 1/);

  // After the close the form says when, next to the part, and queues nothing.
  clock.at(CLOSES);
  const form = new FormData();
  form.set("csrf", csrfOf((await getPage(`${svc.url}/submit`, cookie)).text));
  form.set("kind", "part2");
  form.set("script", new File(["print(1)\n"], "PDC.py"));
  const res = await fetch(`${svc.url}/submit`, { method: "POST", body: form, headers: { cookie } });
  const refused = await res.text();
  assert.equal(res.status, 403);
  assert.match(
    refused,
    /id="kind-error" class="error">the submission system closed on Wed 17 Nov 2021 23:55 CET</,
  );
  assert.equal((await svc.store.listJobs("queued")).length, 0);
});

Deno.test("web calendar: the teaching assistant's extension form", async () => {
  const calendar = { opens: OPENS, closes: CLOSES };
  await using course = await makeCourse(["alice", "bob"], {}, { calendar });
  const clock = new TestClock(CLOSES + 10 * MIN);
  await using svc = await serveInProcess(course, { clock: clock.now });
  const ta = await signIn(svc.url, course.ta);
  const page = (await getPage(`${svc.url}/course/students/alice`, ta)).text;
  assert.match(page, /<h2 id="extension">Extension and attempts<\/h2>/);
  assert.match(words(page), /No extension\./);
  assert.match(page, /action="\/course\/students\/alice\/extension"/);
  const post = (fields: Record<string, string>, cookie = ta) => {
    const body = new URLSearchParams(fields);
    return fetch(`${svc.url}/course/students/alice/extension`, {
      method: "POST",
      body,
      headers: { cookie },
      redirect: "manual",
    });
  };
  const csrf = csrfOf(page);
  const noCsrf = await post({ until: "2021-11-18T23:55" });
  assert.equal(noCsrf.status, 403);
  await noCsrf.body?.cancel();
  const twice = await post({ csrf, until: "2021-10-31T02:30" });
  assert.equal(twice.status, 400);
  assert.match(words(await twice.text()), /happens twice in Europe\/Zurich/);
  const ok = await post({ csrf, kind: "part2", until: "2021-11-18T23:55", attempts: "3" });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get("location"), "/course/students/alice");
  await ok.body?.cancel();
  const after = words((await getPage(`${svc.url}/course/students/alice`, ta)).text);
  assert.match(
    after,
    /Part2 - Packetization: until 18 Nov 2021 23:55 CET, 3 more attempt\(s\) \(0 of 103 used\)/,
  );
  const book = words((await getPage(`${svc.url}/course/gradebook`, ta)).text);
  assert.match(book, /alice Student alice extension /);
  assert.match(book, /bob Student bob – /, "bob has none");

  // Alice may submit part 2 again; bob may not; a student cannot use the form.
  const alice = await postSubmission(svc.url, course.tokens.alice, {
    kind: "part2",
    files: { script: "print(1)\n" },
  });
  assert.equal(alice.status, 201, JSON.stringify(alice.body));
  const bob = await postSubmission(svc.url, course.tokens.bob, {
    kind: "part2",
    files: { script: "print(1)\n" },
  });
  assert.equal(bob.status, 403);
  const student = await signIn(svc.url, course.tokens.bob);
  const csrfBob = csrfOf((await getPage(`${svc.url}/`, student)).text);
  const denied = await post({ csrf: csrfBob, attempts: "9" }, student);
  assert.equal(denied.status, 404);
  await denied.body?.cancel();
});
