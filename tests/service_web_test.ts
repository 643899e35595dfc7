/**
 * The scoring service's web pages over plain HTTP (no browser): sign-in,
 * security headers, CSRF and same-origin refusals, escaping, ownership,
 * and a refused upload shown next to its field with nothing queued.
 */
import assert from "node:assert/strict";
import { issueToken } from "../mod/service/auth.ts";
import { openStore } from "../mod/service/store/open.ts";
import { makeCourse, serveInProcess, setCookie, webSignIn } from "./helpers/service.ts";

/** Sign in with a token's link and its button; returns the session cookie (name=value). */
async function signIn(url: string, token: string): Promise<string> {
  const { cookie, setCookie } = await webSignIn(url, token);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.ok(!setCookie.includes(token), "the token is not the cookie");
  return cookie;
}

async function getPage(url: string, cookie: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers: { cookie }, redirect: "manual" });
  return { status: res.status, text: await res.text() };
}

function csrfOf(page: string): string {
  const m = page.match(/name="csrf" value="([^"]+)"/);
  assert.ok(m, "the page has a CSRF field");
  return m[1];
}

Deno.test("web: the link signs in, pages carry the security headers, the token is never shown", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const token = course.tokens.alice;
  const cookie = await signIn(svc.url, token);
  const res = await fetch(`${svc.url}/`, { headers: { cookie } });
  const text = await res.text();
  assert.equal(res.status, 200);
  assert.match(text, /<h1>My parts<\/h1>/);
  assert.match(text, /Part3 - Dual UDP ipv6\/ipv4/);
  assert.ok(!text.includes(token), "the page does not show the token");
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.ok(!/unsafe-inline/.test(csp));
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), "same-origin");
  // No inline script anywhere: every <script> has a src on our origin.
  for (const m of text.matchAll(/<script([^>]*)>/g)) assert.match(m[1], /src="\/static\//);

  const css = await fetch(`${svc.url}/static/style.css`);
  assert.match(css.headers.get("content-type") ?? "", /text\/css/);
  await css.body?.cancel();

  const bad = await fetch(`${svc.url}/login?token=slk_forged`, { redirect: "manual" });
  assert.equal(bad.status, 401);
  assert.equal(setCookie(bad, "socklab_session"), null);
  assert.match(await bad.text(), /not valid: it was replaced by a newer one, or mistyped/);

  const anon = await fetch(`${svc.url}/`, { redirect: "manual" });
  await anon.body?.cancel();
  assert.equal(anon.status, 303);
  assert.equal(anon.headers.get("location"), "/login");

  const forged = cookie.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
  const f = await fetch(`${svc.url}/`, { headers: { cookie: forged }, redirect: "manual" });
  await f.body?.cancel();
  assert.equal(f.status, 303, "a tampered cookie is no session");
});

Deno.test("web: a POST without the session's CSRF token, or from another origin, is refused and queues nothing", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const cookie = await signIn(svc.url, course.tokens.alice);
  const form = await getPage(`${svc.url}/submit`, cookie);
  const csrf = csrfOf(form.text);
  const body = (token: string | null) => {
    const fd = new FormData();
    if (token !== null) fd.set("csrf", token);
    fd.set("kind", "part2");
    fd.set("script", new File(["print('hi')\n"], "PDC.py"));
    return fd;
  };
  for (
    const [what, token, origin] of [
      ["no token", null, undefined],
      ["a wrong token", "x" + csrf.slice(1), undefined],
      ["another origin", csrf, "http://evil.example"],
    ] as const
  ) {
    const res = await fetch(`${svc.url}/submit`, {
      method: "POST",
      body: body(token),
      headers: origin ? { cookie, origin } : { cookie },
      redirect: "manual",
    });
    assert.equal(res.status, 403, what);
    await res.body?.cancel();
  }
  const store = await openStore({ data: course.data });
  try {
    assert.equal((await store.listSubmissions({})).length, 0, "nothing queued");
  } finally {
    await store.close();
  }
  // The same form with its token goes through.
  const ok = await fetch(`${svc.url}/submit`, {
    method: "POST",
    body: body(csrf),
    headers: { cookie },
    redirect: "manual",
  });
  await ok.body?.cancel();
  assert.equal(ok.status, 303);
  assert.match(ok.headers.get("location") ?? "", /^\/submissions\/\d+$/);
});

Deno.test("web: a binary script comes back on the form, the reason next to the field, the part kept", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const cookie = await signIn(svc.url, course.tokens.alice);
  const csrf = csrfOf((await getPage(`${svc.url}/submit`, cookie)).text);
  const fd = new FormData();
  fd.set("csrf", csrf);
  fd.set("kind", "part4-sender");
  fd.set("sciper", "123456");
  fd.set("script", new File([new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0xff, 0xfe])], "a.out"));
  const res = await fetch(`${svc.url}/submit`, { method: "POST", body: fd, headers: { cookie } });
  const text = await res.text();
  assert.equal(res.status, 415);
  assert.match(text, /<p id="script-error" class="error">a\.out is not a text file/);
  assert.match(text, /id="script"[^>]*aria-invalid="true"/);
  assert.match(text, /<option value="part4-sender"\s+selected>/);
  assert.match(text, /name="sciper"[^>]*value="123456"/);
});

Deno.test("web: names and outputs are escaped; a student sees only their own; TA pages are the TA's", async () => {
  await using course = await makeCourse(["alice", "bob"]);
  const store = await openStore({ data: course.data });
  await store.upsertUser({
    id: "bob",
    name: "<script>alert(1)</script>",
    email: "b@x",
    role: "student",
  });
  await store.close();
  await using svc = await serveInProcess(course);
  const ta = await signIn(svc.url, course.ta);
  const home = await getPage(`${svc.url}/`, ta);
  assert.equal(home.status, 303);
  const overview = await getPage(`${svc.url}/course`, ta);
  assert.equal(overview.status, 200);
  assert.match(overview.text, /<h1>Course /);
  const book = await getPage(`${svc.url}/course/gradebook?q=bob`, ta);
  assert.match(book.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.ok(!book.text.includes("<script>alert(1)</script>"));

  // Bob submits through the API; Alice cannot open it, nor the TA's pages.
  const fd = new FormData();
  fd.set("kind", "part2");
  fd.set("script", new File(["print('x')\n"], "PDC.py"));
  const made = await fetch(`${svc.url}/api/submissions`, {
    method: "POST",
    body: fd,
    headers: { authorization: `Bearer ${course.tokens.bob}` },
  });
  const { id } = await made.json();
  const alice = await signIn(svc.url, course.tokens.alice);
  const taOnly = ["/course", "/course/gradebook", "/course/queue", "/course/students/bob"];
  for (
    const path of [
      `/submissions/${id}`,
      `/submissions/${id}/archive`,
      "/course/export.csv",
      ...taOnly,
    ]
  ) {
    const r = await getPage(`${svc.url}${path}`, alice);
    assert.equal(r.status, 404, path);
  }
  const bob = await signIn(svc.url, course.tokens.bob);
  const own = await getPage(`${svc.url}/submissions/${id}`, bob);
  assert.equal(own.status, 200);
  assert.match(own.text, /Queued/);
  assert.match(own.text, /data-live="\/submissions\/\d+\/live"/);
  assert.match(own.text, /<noscript><meta http-equiv="refresh"/);
  // The TA sees it in the queue and exports the grade book.
  const withJob = await getPage(`${svc.url}/course/queue`, ta);
  assert.match(withJob.text, new RegExp(`href="/submissions/${id}">#${id}</a>`));
  assert.match(
    withJob.text,
    /&lt;script&gt;alert\(1\)&lt;\/script&gt; \(bob\)/,
    "names beside ids",
  );
  const csv = await getPage(`${svc.url}/course/export.csv`, ta);
  assert.match(csv.text, /^id,name,part2,part3,part4-receiver,part4-sender,part5,part6,ca-sign\n/);
});

Deno.test("web: the TA imports a roster from the page and downloads the new students' links", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const ta = await signIn(svc.url, course.ta);
  const csrf = csrfOf((await getPage(`${svc.url}/course/tools`, ta)).text);
  const fd = new FormData();
  fd.set("csrf", csrf);
  fd.set(
    "roster",
    new File(["id,name,email\nalice,Alice A,a@x\ncarol,Carol,c@x\n"], "roster.csv"),
  );
  const res = await fetch(`${svc.url}/course/roster`, {
    method: "POST",
    body: fd,
    headers: { cookie: ta },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-disposition") ?? "", /tokens\.csv/);
  const lines = (await res.text()).trim().split("\n");
  assert.equal(lines[0], "id,token,link");
  assert.equal(lines.length, 2, "only the new student gets a token");
  const [id, token, link] = lines[1].split(",");
  assert.equal(id, "carol");
  assert.equal(link, `${svc.url}/login?token=${token}`);
  const carol = await signIn(svc.url, token);
  assert.match((await getPage(`${svc.url}/`, carol)).text, /Carol/);
});

Deno.test("web: a 10 MiB form is refused (413) before it is read whole, and nothing is queued", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const cookie = await signIn(svc.url, course.tokens.alice);
  const csrf = csrfOf((await getPage(`${svc.url}/submit`, cookie)).text);
  const fd = new FormData();
  fd.set("csrf", csrf);
  fd.set("kind", "part2");
  fd.set("script", new File([new Uint8Array(10 * 1024 * 1024).fill(0x61)], "PDC.py"));
  const res = await fetch(`${svc.url}/submit`, { method: "POST", body: fd, headers: { cookie } });
  const text = await res.text();
  assert.equal(res.status, 413);
  assert.match(text, /larger than the limit of 1 MiB/);
  assert.match(text, /<h1>New submission<\/h1>/, "the form comes back");
  const store = await openStore({ data: course.data });
  try {
    assert.equal((await store.listSubmissions({})).length, 0);
  } finally {
    await store.close();
  }
  // The sign-in form is capped too.
  const form = await fetch(`${svc.url}/login`);
  const login = setCookie(form, "socklab_login")!;
  const big = await fetch(`${svc.url}/login`, {
    method: "POST",
    body: new URLSearchParams({ csrf: csrfOf(await form.text()), token: "x".repeat(100_000) }),
    headers: { cookie: login },
  });
  assert.equal(big.status, 403);
  assert.equal(setCookie(big, "socklab_session"), null);
  await big.body?.cancel();
  assert.equal((await getPage(`${svc.url}/`, cookie)).status, 200, "still serving");
});

Deno.test("web: a replaced token ends the sessions it opened", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const cookie = await signIn(svc.url, course.tokens.alice);
  assert.equal((await getPage(`${svc.url}/`, cookie)).status, 200);
  const store = await openStore({ data: course.data });
  let fresh: string;
  try {
    fresh = await issueToken(store, "alice");
  } finally {
    await store.close();
  }
  const old = await getPage(`${svc.url}/`, cookie);
  assert.equal(old.status, 303, "the old session is gone");
  const again = await signIn(svc.url, fresh);
  assert.equal((await getPage(`${svc.url}/`, again)).status, 200);
});

Deno.test("web: behind an HTTPS proxy the session cookie is Secure", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const plain = await webSignIn(svc.url, course.tokens.alice);
  assert.ok(!/;\s*Secure/i.test(plain.setCookie));
  const proxied = await webSignIn(svc.url, course.tokens.alice, { "x-forwarded-proto": "https" });
  assert.match(proxied.setCookie, /;\s*Secure/);
});

Deno.test("web: a link alone signs no one in; the press does, only from our page; sign-out ends the session", async () => {
  await using course = await makeCourse(["alice", "mallory"]);
  await using svc = await serveInProcess(course);
  const alice = await signIn(svc.url, course.tokens.alice);
  // Another site links alice's browser to mallory's token: a page asks, nothing changes.
  const link = await fetch(`${svc.url}/login?token=${course.tokens.mallory}`, {
    headers: { cookie: alice },
    redirect: "manual",
  });
  const text = await link.text();
  assert.equal(link.status, 200);
  assert.match(text, /Sign in as <strong>Student mallory<\/strong> \(mallory\)\?/);
  assert.match(text, /You are signed in as Student alice \(alice\)/);
  assert.ok(!text.includes(course.tokens.mallory), "the token is not in the page");
  assert.equal(setCookie(link, "socklab_session"), null);
  assert.match((await getPage(`${svc.url}/`, alice)).text, /Student alice \(alice\)/);
  // Its form posted from another site, or without this browser's sign-in cookie: refused.
  const pending = text.match(/name="pending" value="([^"]+)"/)![1];
  const csrf = csrfOf(text);
  const login = setCookie(link, "socklab_login")!;
  for (
    const [what, headers] of [
      ["another site", { cookie: login, origin: "https://evil.example" }],
      ["no sign-in cookie", { cookie: alice }],
      ["another browser's cookie", { cookie: `socklab_login=${"A".repeat(43)}` }],
    ] as const
  ) {
    const res = await fetch(`${svc.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ csrf, pending }),
      headers,
      redirect: "manual",
    });
    await res.body?.cancel();
    assert.equal(res.status, 403, what);
    assert.equal(setCookie(res, "socklab_session"), null, what);
  }
  // The student's own link, already signed in: home.
  const own = await fetch(`${svc.url}/login?token=${course.tokens.alice}`, {
    headers: { cookie: alice },
    redirect: "manual",
  });
  await own.body?.cancel();
  assert.equal(own.headers.get("location"), "/");

  // Sign-out ends the session on the server: a copy of the cookie no longer works.
  const copy = alice;
  const out = await fetch(`${svc.url}/logout`, {
    method: "POST",
    body: new URLSearchParams({ csrf: csrfOf((await getPage(`${svc.url}/`, alice)).text) }),
    headers: { cookie: alice },
    redirect: "manual",
  });
  await out.body?.cancel();
  assert.equal(out.status, 303);
  assert.match(out.headers.get("set-cookie") ?? "", /Max-Age=0/);
  assert.equal((await getPage(`${svc.url}/`, copy)).status, 303, "the copied cookie is signed out");
  const fd = new FormData();
  fd.set("csrf", "x");
  fd.set("kind", "part2");
  const post = await fetch(`${svc.url}/submit`, {
    method: "POST",
    body: fd,
    headers: { cookie: copy },
  });
  await post.body?.cancel();
  assert.equal(post.status, 401, "nor submits");
});
