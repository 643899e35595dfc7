/**
 * Operating the service (issue 32): `/healthz` and `/metrics` (the text
 * format read back by a parser written here, to the exposition format's
 * rules), HTTPS from the binary with a certificate the course CA signs
 * (trusted by Deno's fetch with the CA, by curl over HTTP/2, by
 * `socklab submit --ca`), and the JSON log of a session that used tokens,
 * a cookie and uploads, grepped for them.
 */
import assert from "node:assert/strict";
import { makeRequest } from "../mod/tls/ca.ts";
import { courseIdentity, serviceNames } from "../mod/service/https.ts";
import { formatLog } from "../mod/service/log.ts";
import { runProc, runSocklab, spawnSocklab } from "../scripts/lib/proc.ts";
import { pgUnavailable, startPgCluster } from "./helpers/pg.ts";
import { requireTool } from "./helpers/requires.ts";
import { makeCourse, postSubmission, serveInProcess, waitGraded } from "./helpers/service.ts";
import { initCourse } from "../mod/service/course.ts";

// -- a parser of the Prometheus text format (0.0.4), strict where it matters --

interface Metric {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = ["counter", "gauge", "histogram", "summary", "untyped"];

/** `a="x",b="y\"z"` -> labels, or throws. */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (!m) throw new Error(`bad labels: ${text}`);
    assert.ok(!(m[1] in labels), `label ${m[1]} twice`);
    labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
  }
  return labels;
}

/** Every sample, checked: a family's TYPE before its samples, histograms consistent. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Metric[] } {
  const types = new Map<string, string>();
  const samples: Metric[] = [];
  assert.ok(text.endsWith("\n"), "the text ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = line.match(/^# (HELP|TYPE) (\S+) (.*)$/);
    if (meta) {
      assert.match(meta[2], NAME);
      if (meta[1] === "TYPE") {
        assert.ok(!types.has(meta[2]), `TYPE of ${meta[2]} twice`);
        assert.ok(TYPES.includes(meta[3]), `type ${meta[3]}`);
        types.set(meta[2], meta[3]);
      }
      continue;
    }
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m) throw new Error(`not a sample: ${line}`);
    const family = types.has(m[1]) ? m[1] : m[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(family), `${m[1]}: no TYPE before it`);
    const value = m[3] === "+Inf" ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `${line}: value`);
    samples.push({ name: m[1], labels: parseLabels(m[2] ?? ""), value });
  }
  for (const [name, type] of types) {
    if (type !== "histogram") continue;
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    const les = buckets.map((b) => b.labels.le === "+Inf" ? Infinity : Number(b.labels.le));
    assert.deepEqual(les, [...les].sort((a, b) => a - b), `${name}: le ascending`);
    assert.equal(les.at(-1), Infinity, `${name}: a +Inf bucket`);
    buckets.forEach((b, i) => assert.ok(i === 0 || b.value >= buckets[i - 1].value));
    const count = samples.find((s) => s.name === `${name}_count`)?.value;
    assert.equal(buckets.at(-1)!.value, count, `${name}: +Inf is the count`);
    assert.ok(samples.some((s) => s.name === `${name}_sum`), `${name}: a sum`);
  }
  return { types, samples };
}

/** The value of the sample `name` whose labels include `labels`. */
function value(samples: Metric[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.ok(s, `no ${name} ${JSON.stringify(labels)}`);
  return s.value;
}

Deno.test("metrics parser: refuses what the format refuses", () => {
  assert.throws(() => parsePrometheus("x 1\n"), /no TYPE/);
  assert.throws(() => parsePrometheus('# TYPE x gauge\nx{a="1} 1\n'), /not a sample|bad labels/);
  assert.throws(() => parsePrometheus("# TYPE x gauge\n# TYPE x gauge\n"), /twice/);
  assert.throws(
    () => parsePrometheus('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'),
    /count/,
  );
  const ok = parsePrometheus('# TYPE x gauge\nx{a="q\\"\\\\\\n"} 1.5\n');
  assert.deepEqual(ok.samples[0].labels, { a: 'q"\\\n' });
});

/** A certificate request in `dir` (what a ca-sign student uploads). */
async function csrIn(dir: string): Promise<string> {
  await makeRequest({ key: `${dir}/x.key`, csr: `${dir}/x.csr`, cn: "student" });
  return `${dir}/x.csr`;
}

Deno.test("/metrics and /healthz: queue, jobs, histograms, workers, refusals; who may read", async () => {
  await using course = await makeCourse(["alice", "bob"]);
  // part2 stays queued: the queue has depth.
  const service = await serveInProcess(course, {
    workers: 1,
    kinds: ["ca-sign"],
    isolation: "off",
  });
  try {
    const { url } = service;
    const csr = await Deno.readFile(await csrIn(course.dir));
    const signed = await postSubmission(url, course.tokens.alice, {
      kind: "ca-sign",
      files: { csr: { name: "x.csr", data: csr } },
    });
    assert.equal(signed.status, 201, JSON.stringify(signed.body));
    assert.equal(
      (await waitGraded(url, course.tokens.alice, signed.body.id as number)).status,
      "done",
    );
    const script = { script: { name: "PDC.py", data: "print(1)\n" } };
    assert.equal(
      (await postSubmission(url, course.tokens.bob, { kind: "part2", files: script })).status,
      201,
    );
    assert.equal(
      (await postSubmission(url, course.tokens.bob, { kind: "part2", files: script })).status,
      429,
    );
    assert.equal(
      (await postSubmission(url, course.tokens.alice, { kind: "part9", files: script })).status,
      400,
    );

    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(await res.text());
    assert.equal(types.get("socklab_grading_seconds"), "histogram");
    assert.equal(value(samples, "socklab_queue_depth", { part: "part2" }), 1);
    assert.equal(value(samples, "socklab_queue_depth", { part: "ca-sign" }), 0);
    assert.equal(value(samples, "socklab_jobs", { part: "ca-sign", status: "done" }), 1);
    assert.equal(value(samples, "socklab_grading_seconds_count"), 1);
    assert.equal(value(samples, "socklab_grading_seconds_bucket", { le: "+Inf" }), 1);
    assert.ok(value(samples, "socklab_grading_seconds_sum") > 0);
    assert.equal(value(samples, "socklab_queue_wait_seconds_count"), 1, "only the taken job");
    assert.equal(value(samples, "socklab_workers", { state: "alive" }), 1);
    assert.equal(value(samples, "socklab_worker_slots"), 1);
    assert.equal(value(samples, "socklab_submissions_accepted_total"), 2);
    assert.equal(value(samples, "socklab_submissions_refused_total", { reason: "active" }), 1);
    assert.equal(value(samples, "socklab_submissions_refused_total", { reason: "invalid" }), 1);

    // Through a proxy on this machine the peer is local, but the request is not.
    const proxied = { "x-forwarded-for": "192.0.2.7" };
    const anon = await fetch(`${url}/metrics`, { headers: proxied });
    assert.equal(anon.status, 401);
    assert.match((await anon.json()).error, /teaching assistant's token/);
    const student = await fetch(`${url}/metrics`, {
      headers: { ...proxied, authorization: `Bearer ${course.tokens.bob}` },
    });
    assert.equal(student.status, 403);
    await student.body?.cancel();
    const ta = await fetch(`${url}/metrics`, {
      headers: { ...proxied, authorization: `Bearer ${course.ta}` },
    });
    assert.equal(ta.status, 200);
    assert.ok(parsePrometheus(await ta.text()).samples.length > 20);

    const health = await fetch(`${url}/healthz`, { headers: proxied });
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { db: "ok", workers: 1, queue: 1 });
  } finally {
    await service.close(5_000);
  }
});

const PG = pgUnavailable();
Deno.test({
  name: `/healthz is 503 once PostgreSQL is gone${PG ? ` (skipped: ${PG})` : ""}`,
  ignore: PG !== null && Deno.env.get("CI") !== "true",
  async fn() {
    await using pg = await startPgCluster();
    const dir = await Deno.makeTempDir({ prefix: "socklab-ops-" });
    try {
      await initCourse(`${dir}/course`, { db: pg.url });
      const service = await serveInProcess({ data: `${dir}/course`, db: pg.url });
      try {
        const up = await fetch(`${service.url}/healthz`);
        assert.deepEqual(await up.json(), { db: "ok", workers: 0, queue: 0 });
        await pg.stop();
        const started = Date.now();
        const down = await fetch(`${service.url}/healthz`);
        assert.equal(down.status, 503);
        const body = await down.json();
        assert.match(body.db, /connection refused|no result within/);
        assert.equal(body.queue, null);
        assert.ok(Date.now() - started < 10_000, "answered within the health bound");
      } finally {
        await service.close(2_000);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * `socklab serve` over HTTPS on `data` (no workers unless `extra` says),
 * its URL and a client that trusts the course CA; stopped on dispose.
 */
async function httpsServe(data: string, extra: string[]) {
  const proc = spawnSocklab(["serve", "--data", data, "--port", "0", "--workers", "0", ...extra]);
  try {
    const url = (await proc.stderr.waitFor(/listening on (https:\/\/[^\s"]+)/, 30_000))[1];
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(`${data}/ca.crt`)],
    });
    return {
      proc,
      url,
      client,
      async [Symbol.asyncDispose]() {
        client.close();
        await proc.stop(10_000);
      },
    };
  } catch (e) {
    await proc.stop(2_000);
    throw e;
  }
}

/** Everything `serve` wrote to stderr, each line parsed as JSON. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim().split("\n").map((line) => {
    const o = JSON.parse(line);
    assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
    assert.ok(["info", "warn", "error"].includes(o.level), line);
    assert.equal(typeof o.event, "string", line);
    assert.equal(typeof o.msg, "string", line);
    return o;
  });
}

Deno.test("serve over HTTPS with the course CA; submit --ca; a JSON log with no secret in it", async () => {
  const curl = requireTool("curl", "curl");
  await using course = await makeCourse(["alice"]);
  const marker = `UPLOADED_CONTENT_${crypto.randomUUID()}`;
  const tls = ["--tls-self-signed", "lab3.example.edu", "--log-format", "json"];
  await using serve = await httpsServe(course.data, [
    "--workers",
    "1",
    "--kinds",
    "ca-sign",
    ...tls,
  ]);
  const { url, client } = serve;

  await assert.rejects(fetch(`${url}/healthz`), (e: Error) => {
    assert.match(`${e.message} ${e.cause}`, /invalid peer certificate: UnknownIssuer/);
    return true;
  }, "not trusted without the CA");
  const health = await fetch(`${url}/healthz`, { client });
  assert.deepEqual(await health.json(), { db: "ok", workers: 1, queue: 0 });
  const h2 = await runProc([
    curl,
    "-sS",
    "--http2",
    "--cacert",
    `${course.data}/ca.crt`,
    "-o",
    "/dev/null",
    "-w",
    "%{http_version}",
    `${url}/healthz`,
  ]);
  assert.equal(h2.stdout, "2", h2.stderr);

  // The web sign-in (the token in a link, then the page's button) gives Secure cookies.
  const link = await fetch(`${url}/login?token=${course.tokens.alice}`, {
    client,
    redirect: "manual",
  });
  const asked = await link.text();
  const login = link.headers.get("set-cookie") ?? "";
  assert.match(login, /^socklab_login=[^;]+;.*; Secure/);
  const field = (name: string) => asked.match(new RegExp(`name="${name}" value="([^"]+)"`))![1];
  const form = new URLSearchParams({ csrf: field("csrf"), pending: field("pending") });
  const signIn = await fetch(`${url}/login`, {
    client,
    method: "POST",
    body: form,
    redirect: "manual",
    headers: { origin: url, cookie: login.split(";")[0] },
  });
  await signIn.body?.cancel();
  const setCookie = signIn.headers.get("set-cookie") ?? "";
  assert.match(setCookie, /; Secure/);
  const cookie = setCookie.split(";")[0];
  const home = await fetch(`${url}/`, { client, headers: { cookie } });
  assert.equal(home.status, 200);
  await home.body?.cancel();

  // Uploads with content that must not reach the log: accepted, and refused.
  const headers = { authorization: `Bearer ${course.tokens.alice}` };
  for (const kind of ["part2", "no-such-part"]) {
    const body = new FormData();
    body.set("kind", kind);
    body.set("script", new File([`print("${marker}")\n`], "PDC.py"));
    const r = await fetch(`${url}/api/submissions`, { client, method: "POST", body, headers });
    assert.equal(r.status, kind === "part2" ? 201 : 400);
    await r.body?.cancel();
  }

  const csr = await csrIn(course.dir);
  const submitArgs = ["submit", "--server", url, "--token", course.tokens.alice, "ca-sign", csr];
  const untrusted = await runSocklab(submitArgs, { timeoutMs: 30_000 });
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /cannot reach .*certificate/i);
  const submitted = await runSocklab([...submitArgs, "--ca", `${course.data}/ca.crt`], {
    timeoutMs: 60_000,
  });
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.match(await Deno.readTextFile(`${course.dir}/x.crt`), /BEGIN CERTIFICATE/);

  assert.equal((await serve.proc.stop(10_000)).code, 0);
  const log = serve.proc.stderr.text;
  for (const secret of [course.tokens.alice, course.ta, cookie.split("=")[1], marker]) {
    assert.ok(!log.includes(secret), `the log holds ${secret.slice(0, 12)}...`);
  }
  const lines = jsonLines(log);
  const done = lines.find((l) => l.event === "job.done")!;
  assert.equal(done.student, "alice");
  assert.equal(done.part, "ca-sign");
  assert.equal(typeof done.submission, "number");
  assert.equal(typeof done.duration_ms, "number");
  const events = new Set(lines.map((l) => l.event));
  for (
    const e of ["service.listening", "web.sign_in", "submission.accepted", "submission.refused"]
  ) {
    assert.ok(events.has(e), `no ${e} in the log`);
  }
});

Deno.test("serve: --tls-cert/--tls-key, a kept certificate reused, and bad TLS options", async () => {
  await using course = await makeCourse([]);
  const [a, b] = [serviceNames("a.example"), serviceNames("b.example,10.0.0.5")];
  assert.deepEqual(b, ["b.example", "10.0.0.5", "localhost", "127.0.0.1", "::1"]);
  const first = await courseIdentity(course.data, a);
  assert.ok(first.made);
  assert.equal((await Deno.stat(`${course.data}/https/server.key`)).mode! & 0o777, 0o600);
  const again = await courseIdentity(course.data, a);
  assert.deepEqual([again.made, again.cert], [false, first.cert]);
  assert.ok((await courseIdentity(course.data, b)).made, "other names: a new one");
  const late = await courseIdentity(course.data, b, Date.now() + 390 * 86_400_000);
  assert.ok(late.made, "close to its end: renewed");

  const cert = `${course.data}/https/server.crt`, key = `${course.data}/https/server.key`;
  await using serve = await httpsServe(course.data, ["--tls-cert", cert, "--tls-key", key]);
  const { url, client } = serve;
  assert.equal((await fetch(`${url}/healthz`, { client })).status, 200);

  const bad = async (extra: string[], re: RegExp, code = 2) => {
    const r = await runSocklab(["serve", "--data", course.data, "--port", "0", ...extra]);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, re);
  };
  await bad(["--tls-cert", cert], /--tls-cert and --tls-key go together/);
  await bad(["--tls-self-signed", "x", "--tls-key", key], /leave out --tls-cert/);
  await bad(["--tls-self-signed", "bad name!"], /not a host name/);
  await bad(["--log-format", "xml"], /--log-format/);
  await bad(["--tls-cert", key, "--tls-key", key], /holds no PEM certificate/, 1);
});

Deno.test("log lines: text ignores the fields, JSON carries them; a token is masked in both", () => {
  const token = "slk_" + "A".repeat(43);
  const text = formatLog("text", `sent ${token} by mistake`, { event: "x", student: "alice" });
  assert.equal(text, "sent slk_[redacted] by mistake");
  const json = JSON.parse(
    formatLog("json", `job 3: ${token}`, { event: "job.done", part: "part2", duration_ms: 5 }, 0),
  );
  assert.deepEqual(json, {
    time: "1970-01-01T00:00:00.000Z",
    level: "info",
    event: "job.done",
    msg: "job 3: slk_[redacted]",
    part: "part2",
    duration_ms: 5,
  });
  const plain = JSON.parse(formatLog("json", "hello", undefined, 0));
  assert.deepEqual([plain.event, plain.level], ["message", "info"]);
});
