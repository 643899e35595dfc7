/**
 * The service's HTTP house (mod/service/http.ts, answer.ts): route tables
 * matched by URLPattern (404, 405 with Allow), who may use a route, and one
 * answer for every failure (JSON under /api/, a page elsewhere), on its own
 * and through a served course.
 */
import assert from "node:assert/strict";
import { errorAnswer } from "../mod/service/answer.ts";
import { download, HttpError, match, mayUse, route } from "../mod/service/http.ts";
import { makeCourse, serveInProcess } from "./helpers/service.ts";

const ROUTES = [
  route("GET", "/things", "user", "list"),
  route("POST", "/things", "ta", "make"),
  route("GET", "/things/:id", "user", "one"),
];

Deno.test("http: a route is found by method and pattern; a trailing slash and HEAD are forgiven", () => {
  const at = (method: string, path: string) =>
    match(ROUTES, new Request(`http://x${path}`, { method }), new URL(`http://x${path}`));
  assert.equal(at("GET", "/things").route.handler, "list");
  assert.equal(at("POST", "/things/").route.handler, "make");
  assert.equal(at("HEAD", "/things").route.handler, "list");
  const one = at("GET", "/things/42");
  assert.deepEqual([one.route.handler, one.params.id], ["one", "42"]);
  assert.throws(
    () => at("GET", "/nothing"),
    (e) => e instanceof HttpError && e.status === 404 && e.message === "nothing at /nothing",
  );
  assert.throws(
    () => at("DELETE", "/things"),
    (e) => e instanceof HttpError && e.status === 405 && e.headers.allow === "GET, POST",
  );
});

Deno.test("http: who may use a route", () => {
  const student = { id: "s", role: "student" as const };
  const ta = { id: "ta", role: "ta" as const };
  assert.ok(mayUse("anyone", null));
  assert.ok(!mayUse("user", null));
  assert.ok(mayUse("user", student) && mayUse("user", ta));
  assert.ok(mayUse("student", student) && !mayUse("student", ta));
  assert.ok(mayUse("ta", ta) && !mayUse("ta", student));
});

Deno.test("http: one answer for every failure: JSON under /api/, a page elsewhere", async () => {
  const logs: string[] = [];
  const log = (l: string) => logs.push(l);
  const api = await errorAnswer(
    new Request("http://x/api/thing", { method: "POST", body: "ignored" }),
    new HttpError(429, "wait a bit", { "retry-after": "5" }),
    { what: "t", log },
  );
  assert.equal(api.status, 429);
  assert.equal(api.headers.get("retry-after"), "5");
  assert.deepEqual(await api.json(), { error: "wait a bit" });
  const web = await errorAnswer(
    new Request("http://x/thing"),
    new HttpError(404, "no such thing"),
    {
      what: "t",
      log,
    },
  );
  assert.equal(web.status, 404);
  assert.match(web.headers.get("content-type") ?? "", /text\/html/);
  assert.match(web.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
  assert.match(await web.text(), /<h1>Not found<\/h1>[\s\S]*No such thing\./);
  assert.deepEqual(logs, [], "a refusal is not logged");
  const bug = await errorAnswer(new Request("http://x/api/x"), new TypeError("oops"), {
    what: "api: GET /api/x",
    log,
  });
  assert.equal(bug.status, 500);
  assert.match((await bug.json()).error, /the teaching assistant can see why/);
  assert.match(logs[0], /^api: GET \/api\/x: TypeError: oops/);
});

Deno.test("http: a download's file name keeps only letters, digits, '.', '_' and '-'", async () => {
  const res = download("x", "text/plain", 'a "b";\r\nc.crt');
  assert.equal(res.headers.get("content-disposition"), 'attachment; filename="a__b____c.crt"');
  await res.body?.cancel();
});

Deno.test("http: through the service, unknown pages are HTML, unknown API routes JSON, other methods 405", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const auth = { authorization: `Bearer ${course.tokens.alice}` };
  const page = await fetch(`${svc.url}/no/such/page`);
  assert.equal(page.status, 404);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await page.text(), /<h1>Not found<\/h1>/);
  const api = await fetch(`${svc.url}/api/no/such/route`, { headers: auth });
  assert.equal(api.status, 404);
  assert.deepEqual(await api.json(), { error: "nothing at /api/no/such/route" });
  const put = await fetch(`${svc.url}/api/submissions`, { method: "PUT", headers: auth });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "POST, GET");
  await put.body?.cancel();
  const login = await fetch(`${svc.url}/login`, { method: "DELETE" });
  assert.equal(login.status, 405);
  assert.match(await login.text(), /<h1>Not allowed<\/h1>/);
  // Without a token every /api/ path is a 401, known or not.
  const anon = await fetch(`${svc.url}/api/no/such/route`);
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get("www-authenticate"), 'Bearer realm="socklab"');
  await anon.body?.cancel();
});
