/**
 * The HTTP gate in front of the service (mod/net/http_gate.ts): what it
 * makes of a request head, how it follows a body to its end, and, through
 * the service with short clocks, slow clients cut, the cap per address,
 * and everyone else still served.
 */
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { BodyEnd, rewriteHead } from "../mod/net/http_gate.ts";
import { within } from "../mod/deadline.ts";
import { makeCourse, serveInProcess } from "./helpers/service.ts";

const enc = new TextEncoder();

Deno.test("http gate: a head loses its hop-by-hop headers and gains connection: close", () => {
  const made = rewriteHead(
    "POST /api/submissions HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n" +
      "Keep-Alive: timeout=5\r\nUpgrade: websocket\r\nContent-Length: 12",
  );
  assert.ok(typeof made !== "string");
  assert.equal(
    made.head,
    "POST /api/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nconnection: close\r\n\r\n",
  );
  assert.deepEqual(made.framing, { kind: "length", length: 12 });
  const chunked = rewriteHead("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked");
  assert.deepEqual(typeof chunked !== "string" && chunked.framing, { kind: "chunked" });
  const get = rewriteHead("GET / HTTP/1.0");
  assert.deepEqual(typeof get !== "string" && get.framing, { kind: "none" });
  for (
    const [bad, why] of [
      ["GET / HTTP/2", /not an HTTP\/1/],
      ["hello", /not an HTTP\/1/],
      ["GET / HTTP/1.1\r\nno colon", /malformed/],
      ["POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6", /content-length/],
      ["POST / HTTP/1.1\r\ncontent-length: -1", /content-length/],
      ["POST / HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked", /both/],
    ] as const
  ) {
    const r = rewriteHead(bad);
    assert.ok(typeof r === "string" && why.test(r), `${JSON.stringify(bad)}: ${r}`);
  }
});

Deno.test("http gate: a body's end, by its length or its last chunk split across reads", () => {
  const byLength = new BodyEnd({ kind: "length", length: 5 });
  assert.equal(byLength.add(enc.encode("abc")), false);
  assert.equal(byLength.add(enc.encode("de")), true);
  const chunked = new BodyEnd({ kind: "chunked" });
  assert.equal(chunked.add(enc.encode("3\r\nabc\r\n0")), false);
  assert.equal(chunked.add(enc.encode("\r\n")), false);
  assert.equal(chunked.add(enc.encode("\r\n")), true);
  assert.equal(new BodyEnd({ kind: "none" }).done, true);
});

/** Everything a connection receives until the server closes it (bounded in time). */
async function answerOf(conn: Deno.Conn, ms = 10_000): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  await within(
    (async () => {
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
    })(),
    ms,
    "the server's answer",
  );
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

/** A TCP connection from `localAddress` (127.0.0.x) through node:net; resolves when open. */
function connectFrom(port: number, localAddress: string): Promise<import("node:net").Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: "127.0.0.1", port, localAddress }, () => resolve(s));
    s.once("error", reject);
  });
}

Deno.test("http gate: slow heads and slow bodies are cut, the cap per address holds, others are served", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course, {
    maxPerPeer: 3,
    headTimeoutMs: 300,
    rateWindowMs: 300,
  });
  const addr = { hostname: "127.0.0.1", port: svc.port };
  const opened: { close(): void }[] = [];
  try {
    // Silent: closed without a word (a browser's idle preconnect). Half a head: 408.
    const silent = await Deno.connect(addr);
    opened.push(silent);
    const half = await Deno.connect(addr);
    opened.push(half);
    await half.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n"));
    assert.equal(await answerOf(silent), "");
    assert.match(await answerOf(half), /^HTTP\/1\.1 408 /);

    // A body at a byte a window: 408 once a window passes under the rate.
    const slow = await Deno.connect(addr);
    opened.push(slow);
    await slow.write(enc.encode(
      "POST /api/submissions HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; " +
        `boundary=XX\r\nauthorization: Bearer ${course.tokens.alice}\r\ncontent-length: 5000\r\n\r\n--XX`,
    ));
    const slowAnswer = answerOf(slow);
    assert.match(await slowAnswer, /^HTTP\/1\.1 408 /);

    // Three connections held from 127.0.0.1: a fourth is refused (503), 127.0.0.2 is not.
    const held = await Promise.all([1, 2, 3].map(() => Deno.connect(addr)));
    opened.push(...held);
    await within(
      (async () => {
        while (svc.connections < 3) await new Promise((r) => setTimeout(r, 10));
      })(),
      5_000,
      "the gate holding three connections",
    );
    const fourth = await Deno.connect(addr);
    opened.push(fourth);
    assert.match(await answerOf(fourth), /^HTTP\/1\.1 503 [^]*retry-after: 10/i);
    const other = await connectFrom(svc.port, "127.0.0.2");
    opened.push({ close: () => other.destroy() });
    const otherAnswer = new Promise<string>((resolve) => {
      let text = "";
      other.on("data", (d) => text += d.toString());
      other.on("close", () => resolve(text));
    });
    other.write("GET /api/me HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n");
    const text = await within(otherAnswer, 10_000, "the answer to 127.0.0.2");
    assert.match(text, /^HTTP\/1\.1 401 /, "answered, then closed: one request per connection");
    // Once the held ones are cut (no head in time), 127.0.0.1 is served again.
    await Promise.all(held.map((c) => answerOf(c)));
    const me = await fetch(`${svc.url}/api/me`, {
      headers: { authorization: `Bearer ${course.tokens.alice}` },
    });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).id, "alice");
  } finally {
    for (const c of opened) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
  await svc.close(1000);
  const said = svc.logs.join("\n");
  assert.match(said, /cut or refused: no request head within 0\.3 s/, said);
  assert.match(said, /cut or refused: a body slower than 1024 bytes\/s/, said);
  assert.match(said, /cut or refused: .*--max-per-peer 3/, said);
});
