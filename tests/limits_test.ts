/**
 * The limits of the servers (RELIABILITY.md): a client over --max-connections
 * is refused politely and logged, a client that stops reading is hung up on
 * after --idle-timeout.
 */
import assert from "node:assert/strict";
import { runSocklab, startServer } from "../scripts/lib/proc.ts";

const enc = new TextEncoder();

/** Connections that stay silent (closed at the end of the test). */
async function stallers(port: number, n: number): Promise<Deno.TcpConn[]> {
  const out: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i++) out.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  return out;
}

function closeAll(conns: Deno.Conn[]) {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
}

Deno.test("pmu --max-connections: the client over the limit is told so and logged; then served again", async () => {
  const { proc: server, port } = await startServer([
    "pmu",
    "--host",
    "127.0.0.1",
    "--max-connections",
    "2",
    "--count",
    "3",
  ]);
  await using _s = server;
  const held = await stallers(port, 2);
  try {
    const r = await runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:0"]);
    // A refusal is no data: stderr, exit 1 (scripts can trust pdc's exit code).
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^socklab pdc: error: 127\.0\.0\.1:\d+: the server answered 'Server busy: too many connections, try again later\.'$/m,
    );
    await server.stderr.waitFor(
      /^127\.0\.0\.1:\d+ refused: 2 connections already open \(--max-connections 2\)$/,
    );
  } finally {
    closeAll(held);
  }
  await server.stderr.waitFor(/\(no command, EOF\)/);
  // Both stalled sessions have ended once their log lines are out: room again.
  await server.stderr.until(
    (ls) => ls.filter((l) => /\(no command, EOF\)/.test(l)).length === 2,
    10_000,
  );
  const ok = await runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(ok.stdout, "This is PMU data 0\nThis is PMU data 1\nThis is PMU data 2\n");
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /1 refused \(busy\)/);
});

Deno.test("pmu hangs up on a client that reads nothing of its flood for --idle-timeout", async () => {
  const { proc: server, port } = await startServer([
    "pmu",
    "--host",
    "127.0.0.1",
    "--idle-timeout",
    "1",
    "--flood-bytes",
    String(16 << 20),
  ]);
  await using _s = server;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode("CMD_floodme"));
    // Never read: the server's write blocks once the kernel's buffers are full.
    await server.stderr.waitFor(
      /CMD_floodme -> no flood \(hung up: the client read nothing for 1 s\)/,
      15_000,
    );
  } finally {
    conn.close();
  }
});

Deno.test("ws-pmu --max-connections: the connection over the limit gets 503 and a log line", async () => {
  const { proc: server, port } = await startServer([
    "ws-pmu",
    "--host",
    "127.0.0.1",
    "--max-connections",
    "2",
    "--idle-timeout",
    "2",
    "--count",
    "2",
  ]);
  await using _s = server;
  const held = await stallers(port, 2);
  try {
    // A WebSocket handshake from this process (no client start-up: well within the idle timeout).
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(enc.encode(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    const answer = await new Response(conn.readable).text();
    assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    await server.stderr.waitFor(
      /^127\.0\.0\.1:\d+: refused, 2 connections already open \(--max-connections 2\) -> 503$/,
    );
    // The two silent connections are dropped after the idle timeout, and say so.
    await server.stderr.until(
      (ls) =>
        ls.filter((l) => /: no WebSocket handshake within 2 s -> dropped$/.test(l)).length === 2,
      10_000,
    );
  } finally {
    closeAll(held);
  }
  // Room again: the next client is served.
  const ok = await runSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(ok.stdout, "This is PMU data 0\nThis is PMU data 1\n", ok.stderr);
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /1 refused \(busy, 503\)/);
});

Deno.test("secure-pmu --max-connections: a TLS client over the limit is told so after its handshake", async () => {
  const certs = new URL("../certs/", import.meta.url).pathname;
  const { proc: server, port } = await startServer([
    "secure-pmu",
    certs + "localhost.crt",
    certs + "localhost.key",
    "--host",
    "127.0.0.1",
    "--max-connections",
    "1",
  ]);
  await using _s = server;
  const held = await stallers(port, 1);
  try {
    const r = await runSocklab([
      "secure-pdc",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "CMD_short:0",
      certs + "ca.crt",
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /the server answered 'Server busy: too many connections/);
    await server.stderr.waitFor(/refused: 1 connections already open \(--max-connections 1\)/);
  } finally {
    closeAll(held);
  }
});
