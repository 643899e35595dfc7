/**
 * The scoring service against hostile or careless input: what an attacker
 * with a student token (or only the URL), a student with a broken upload at
 * midnight, or a teaching assistant with an odd roster can send it.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { handleApi } from "../mod/service/api.ts";
import { UsageError } from "../mod/errors.ts";
import { gradeBook, gradeBookCsv, importRoster, parseRoster } from "../mod/service/course.ts";
import { openStore } from "../mod/service/store/open.ts";
import { checkUpload, readCapped, UploadError } from "../mod/service/upload.ts";
import { DEFAULT_POLICY, type Kind, type Store } from "../mod/service/store/store.ts";
import { gradedSubmission, makeCourse, serveInProcess, webSignIn } from "./helpers/service.ts";

Deno.test("service hostile: a roster with a BOM, CRLF and quoted formulas exports as text", async () => {
  await using course = await makeCourse([]);
  const roster = "\uFEFFID,Name,Email\r\n" +
    'alice,"=HYPERLINK(""http://evil"",""x"")",a@x\r\n' +
    'bob,"+1+2, ""Bob""",b@x\r\n' +
    "carl,@SUM(A1),c@x\r\n" +
    "dan,-2+3,d@x\r\n" +
    "erin,\u00c9rin \u{1F642},e@x\r\n";
  const rows = parseRoster(roster);
  assert.deepEqual(rows.map((r) => r.id), ["alice", "bob", "carl", "dan", "erin"]);
  assert.equal(rows[1].name, '+1+2, "Bob"');
  const store = await openStore({ data: course.data });
  try {
    await importRoster(store, rows);
    const csv = gradeBookCsv(await gradeBook(store, Date.now()));
    const lines = csv.trim().split("\n").slice(1);
    assert.deepEqual(lines, [
      `alice,"'=HYPERLINK(""http://evil"",""x"")",,,,,,,`,
      `bob,"'+1+2, ""Bob""",,,,,,,`,
      "carl,'@SUM(A1),,,,,,,",
      "dan,'-2+3,,,,,,,",
      "erin,\u00c9rin \u{1F642},,,,,,,",
    ]);
    // No cell of the export starts with a formula character (scores are numbers).
    for (const line of lines) {
      for (const cell of line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
        assert.doesNotMatch(cell.replace(/^"/, ""), /^[=+\-@\t\r]/, line);
      }
    }
  } finally {
    await store.close();
  }
});

/** Send `head` on a new connection to the service and keep it open. */
async function stall(url: string, head: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(new TextEncoder().encode(head));
  return conn;
}

/** The first response the server sent on `conn`: its head and body (bounded reads). */
async function answer(conn: Deno.TcpConn): Promise<string> {
  const buf = new Uint8Array(4096);
  let bytes = new Uint8Array();
  for (let i = 0; i < 100; i++) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    bytes = new Uint8Array([...bytes, ...buf.subarray(0, n)]);
    const text = new TextDecoder().decode(bytes);
    const head = text.indexOf("\r\n\r\n");
    const length = Number(text.match(/\r\ncontent-length: (\d+)/i)?.[1] ?? NaN);
    if (
      head >= 0 && bytes.length >= new TextEncoder().encode(text.slice(0, head)).length + 4 + length
    ) break;
  }
  return new TextDecoder().decode(bytes);
}

Deno.test("service hostile: a stalled upload, even without a token, cannot hold the shutdown", async () => {
  await using course = await makeCourse(["alice"]);
  const svc = await serveInProcess(course);
  let closed = false;
  const conns: Deno.TcpConn[] = [];
  try {
    const part = '--XX\r\ncontent-disposition: form-data; name="kind"\r\n\r\npart2\r\n--XX\r\n';
    // Only the URL: the sign-in form, read before anyone is known.
    conns.push(
      await stall(
        svc.url,
        "POST /login HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n" +
          "content-length: 1000\r\n\r\ntoken=",
      ),
    );
    // A student's token: a submission whose file never comes.
    conns.push(
      await stall(
        svc.url,
        `POST /api/submissions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${course.tokens.alice}\r\n` +
          `content-type: multipart/form-data; boundary=XX\r\ncontent-length: 100000\r\n\r\n${part}`,
      ),
    );
    // The server has read those requests' headers once it answers a later one.
    const me = await fetch(`${svc.url}/api/me`, {
      headers: { authorization: `Bearer ${course.tokens.alice}` },
    });
    assert.equal(me.status, 200);
    await me.body?.cancel();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      svc.close(1_000).then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 15_000)),
    ]);
    clearTimeout(timer);
    assert.ok(stopped, "the service did not stop while uploads stalled");
    closed = true;
    const [login, api] = await Promise.all(conns.map(answer));
    assert.match(login, /^HTTP\/1\.1 [45]\d\d /, login);
    assert.match(api, /^HTTP\/1\.1 503 /, api);
    assert.match(api, /"error":"the service is stopping/, api);
  } finally {
    for (const c of conns) c.close();
    if (!closed) await svc.close(1_000);
    await svc.finished;
  }
});

Deno.test("service hostile: an upload that trickles is refused after its deadline, a cut one is a 400", async () => {
  const stalled = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(10));
    },
  });
  const slow = new Request("http://x/", { method: "POST", body: stalled });
  await assert.rejects(
    readCapped(slow, 1000, { timeoutMs: 50 }),
    (e) => e instanceof UploadError && e.status === 408 && /did not arrive within/.test(e.message),
  );
  const cut = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(10));
      c.error(new Deno.errors.BadResource("connection reset"));
    },
  });
  await assert.rejects(
    readCapped(new Request("http://x/", { method: "POST", body: cut }), 1000),
    (e) => e instanceof UploadError && e.status === 400 && /cut before its end/.test(e.message),
  );
  const stopping = new AbortController();
  const held = new Request("http://x/", {
    method: "POST",
    body: new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array(1)) }),
  });
  const reading = readCapped(held, 1000, { signal: stopping.signal });
  stopping.abort();
  await assert.rejects(reading, (e) => e instanceof UploadError && e.status === 503);
});

const EVIL = `<img src=x onerror=alert(1)>"'&`;

/** A graded submission of `userId` whose test and output say {@link EVIL}. */
function graded(store: Store, userId: string, kind: Kind, score: number): Promise<number> {
  return gradedSubmission(store, userId, kind, score, {
    tests: [{ name: `test ${EVIL}`, passed: false, scored: true, detail: `detail ${EVIL}` }],
    stdout: `out ${EVIL}`,
    stderr: `err ${EVIL}`,
  });
}

Deno.test("service hostile: a re-run names one student or none, never widens to everyone", async () => {
  await using course = await makeCourse(["alice", "bob"]);
  await using svc = await serveInProcess(course);
  await graded(svc.store, "alice", "part2", 1);
  await graded(svc.store, "bob", "part2", 2);
  const rerun = (body: string) =>
    fetch(`${svc.url}/api/course/rerun`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${course.ta}` },
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  for (const bad of ['{"kind": "part2", "user": 123}', '{"kind": "part2", "user": null}', "null"]) {
    const r = await rerun(bad);
    assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
  }
  assert.equal((await svc.store.listJobs("queued")).length, 0, "nothing queued by a bad re-run");
  assert.deepEqual(await rerun('{"kind": "part2", "user": "bob"}'), {
    status: 200,
    body: { queued: 1 },
  });
  // A negative limit is not "no limit".
  const listed = await fetch(`${svc.url}/api/course/submissions?limit=-1`, {
    headers: { authorization: `Bearer ${course.ta}` },
  });
  assert.equal((await listed.json()).submissions.length, 1);
});

Deno.test("service hostile: test names, details and program output are escaped on every page", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const id = await graded(svc.store, "alice", "part2", 1);
  const cookie = async (token: string) => (await webSignIn(svc.url, token)).cookie;
  for (
    const [token, paths] of [
      [course.tokens.alice, ["/", `/submissions/${id}`, `/submissions/${id}/live`]],
      [course.ta, [
        "/course",
        `/submissions/${id}`,
        "/course/students/alice",
        "/course/gradebook",
        "/course/submissions?kind=part2",
      ]],
    ] as const
  ) {
    const c = await cookie(token);
    for (const path of paths) {
      const res = await fetch(`${svc.url}${path}`, { headers: { cookie: c } });
      const text = await res.text();
      assert.equal(res.status, 200, path);
      assert.ok(!text.includes("<img"), `${path} shows raw HTML`);
      if (path.startsWith("/submissions/")) {
        assert.match(text, /detail &lt;img src=x onerror=alert\(1\)&gt;&quot;&#39;&amp;/, path);
        assert.match(text, /out &lt;img/, path);
      }
    }
  }
});

Deno.test("service hostile: a database locked by another process is a 503 to retry, not a 500", async () => {
  await using course = await makeCourse(["alice"]);
  // The error SQLite gives while another connection holds the write lock.
  const path = `${course.dir}/locked.db`;
  const holder = new DatabaseSync(path);
  holder.exec("CREATE TABLE t (x); BEGIN EXCLUSIVE");
  const other = new DatabaseSync(path);
  other.exec("PRAGMA busy_timeout = 0");
  const locked = (() => {
    try {
      other.exec("INSERT INTO t VALUES (1)");
    } catch (e) {
      return e;
    }
  })();
  other.close();
  holder.close();
  assert.ok(locked instanceof Error, "SQLite refused the write");
  const store = await openStore({ data: course.data });
  const logs: string[] = [];
  try {
    const busy = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "createSubmission") return () => Promise.reject(locked);
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const form = new FormData();
    form.set("kind", "part2");
    form.set("script", new File(["print(1)\n"], "PDC.py"));
    const res = await handleApi(
      new Request("http://x/api/submissions", {
        method: "POST",
        body: form,
        headers: { authorization: `Bearer ${course.tokens.alice}` },
      }),
      {
        store: busy,
        dataDir: course.data,
        notify() {},
        workerTimeoutMs: 1000,
        log: (l) => logs.push(l),
        now: Date.now,
      },
    );
    assert.ok(res);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "30");
    assert.match((await res.json()).error, /database is busy.*try again/);
    assert.deepEqual(logs, [
      "api: POST /api/submissions: the database is locked by another process",
    ]);
  } finally {
    await store.close();
  }
});

Deno.test("service hostile: uploaded file names are safe and never collide", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-names-" });
  try {
    const made = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        `${dir}/k.pem`,
        "-out",
        `${dir}/c.pem`,
        "-subj",
        "/CN=x",
        "-days",
        "1",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(made.success);
    const upload = async (names: Record<string, string>) => {
      const form = new FormData();
      form.set("kind", "part5");
      form.set("script", new File(["print(1)\n"], names.script));
      form.set("cert", new File([await Deno.readFile(`${dir}/c.pem`)], names.cert));
      form.set("key", new File([await Deno.readFile(`${dir}/k.pem`)], names.key));
      return (await checkUpload(form, "alice", DEFAULT_POLICY)).files.map((f) => f.name);
    };
    // The key's x.pem, made unique as key-x.pem, must not take the script's name (it overwrote it).
    const names = await upload({ script: "key-x.pem", cert: "x.pem", key: "x.pem" });
    assert.equal(new Set(names).size, 3, names.join(" "));
    for (const evil of ["../../x.py", "a\0b.py", "A".repeat(300) + ".py", "output", ".bashrc"]) {
      const [script] = await upload({ script: evil, cert: "c.pem", key: "k.pem" });
      assert.match(script, /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/, evil);
      assert.notEqual(script, "output");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("service hostile: a roster in Latin-1 is refused, one in UTF-16 is read", () => {
  const text = "id,name,email\nzoe,Zo\u00e9 \u00c9lise,z@x\n";
  const latin1 = Uint8Array.from(text, (c) => c.charCodeAt(0));
  assert.throws(
    () => parseRoster(latin1),
    (e) => e instanceof UsageError && /not UTF-8 text/.test(e.message),
  );
  const utf16 = new Uint8Array(2 + text.length * 2);
  utf16.set([0xff, 0xfe]);
  for (let i = 0; i < text.length; i++) utf16[2 + 2 * i] = text.charCodeAt(i);
  assert.deepEqual(parseRoster(utf16), [{ id: "zoe", name: "Zo\u00e9 \u00c9lise", email: "z@x" }]);
  const utf8 = new TextEncoder().encode("\uFEFF" + text);
  assert.deepEqual(parseRoster(utf8), parseRoster(utf16));
});

Deno.test("service hostile: forms work behind a TLS proxy (Origin https://our-host), not from other sites", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const host = new URL(svc.url).host;
  const signIn = async (token: string) => {
    const { cookie } = await webSignIn(svc.url, token);
    const page = await (await fetch(`${svc.url}/`, { headers: { cookie } })).text();
    return { cookie, csrf: page.match(/name="csrf" value="([^"]+)"/)![1] };
  };
  const ta = await signIn(course.ta);
  const importAs = async (origin: string) => {
    const fd = new FormData();
    fd.set("csrf", ta.csrf);
    fd.set("roster", new File([`id,name,email\nu${origin.length},U,u@x\n`], "r.csv"));
    const res = await fetch(`${svc.url}/course/roster`, {
      method: "POST",
      body: fd,
      headers: { cookie: ta.cookie, origin },
      redirect: "manual",
    });
    return { status: res.status, text: await res.text() };
  };
  for (const evil of ["https://evil.example", `https://${host}.evil.example`, "null"]) {
    assert.equal((await importAs(evil)).status, 403, evil);
  }
  // The proxy ends TLS: the browser's origin is https, the request reaching us is http.
  const behind = await importAs(`https://${host}`);
  assert.equal(behind.status, 200, behind.text);
  // The students' links use the address the teaching assistant's browser used.
  assert.match(behind.text, new RegExp(`,https://${host}/login\\?token=slk_`), behind.text);
});

Deno.test("service hostile: a script saved in Latin-1 is refused with how to fix it, not as 'binary'", async () => {
  const upload = async (bytes: Uint8Array) => {
    const form = new FormData();
    form.set("kind", "part2");
    form.set("script", new File([bytes as Uint8Array<ArrayBuffer>], "PDC.py"));
    return await checkUpload(form, "alice", DEFAULT_POLICY).then(() => null, (e) => e);
  };
  // "# é\nprint(1)\n" with é as the single byte 0xE9.
  const latin1 = Uint8Array.from("# \u00e9\nprint(1)\n", (c) => c.charCodeAt(0));
  const e = await upload(latin1);
  assert.ok(e instanceof UploadError && e.status === 415);
  assert.match(e.message, /PDC\.py is not UTF-8 text .*save it as UTF-8/);
  const binary = await upload(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1]));
  assert.match(binary.message, /PDC\.py is not a text file \(UTF-8\) but binary/);
});
