import assert from "node:assert/strict";
import { runProc, runSocklab, spawnSocklab, startServer } from "../scripts/lib/proc.ts";
import { freeTcpPort } from "../mod/net/ports.ts";
import { requirePython } from "./helpers/requires.ts";
import { DEFAULT_FLOOD_BYTES, floodText, WRONG_COMMAND } from "../mod/pmu/mod.ts";
import { targetUrl } from "../mod/ws/ws_pdc.ts";

const msgs = (n: number) => Array.from({ length: n }, (_, i) => `This is PMU data ${i}`);
const lines = (text: string) => text.split("\n").slice(0, -1);

/** Start ws-pmu on 127.0.0.1, port 0. */
function wsPmu(...args: string[]) {
  return startServer(["ws-pmu", "--host", "127.0.0.1", ...args]);
}

interface NativeResult {
  messages: (string | ArrayBuffer)[];
  code: number;
  wasClean: boolean;
}

/** Deno's own WebSocket client: connect, send `command` (unless undefined), collect until close. */
function nativeSession(url: string, command?: string, timeoutMs = 10_000): Promise<NativeResult> {
  return new Promise((resolve, reject) => {
    const messages: (string | ArrayBuffer)[] = [];
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`no close within ${timeoutMs} ms; got ${messages.length} messages`));
    }, timeoutMs);
    ws.onopen = () => {
      if (command !== undefined) ws.send(command);
    };
    ws.onmessage = (ev) => messages.push(ev.data);
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      clearTimeout(timer);
      resolve({ messages, code: ev.code, wasClean: ev.wasClean });
    };
  });
}

const decode = (m: string | ArrayBuffer) => typeof m === "string" ? m : new TextDecoder().decode(m);

// --- ws-pdc against ws-pmu ----------------------------------------------------------------

Deno.test("ws-pdc CMD_short:0 prints each message on its own line, exits 0; one log line", async () => {
  const { proc: server, port } = await wsPmu("--count", "8");
  await using _s = server;
  const r = await runSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), msgs(8));
  assert.equal(r.stderr, "");
  await server.stderr.waitFor(
    /^127\.0\.0\.1:\d+: CMD_short:0 -> 8 message\(s\), closed 1000 \(normal\)$/,
  );
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /ws-pmu: stopped \(SIGTERM\); served 1 WebSocket connection/);
});

Deno.test("ws-pmu without --count sends 10..20 messages; --seed gives pmu's counts", async () => {
  const [ws, tcp] = await Promise.all([
    wsPmu("--seed", "42"),
    startServer(["pmu", "--host", "127.0.0.1", "--seed", "42"]),
  ]);
  await using _w = ws.proc;
  await using _t = tcp.proc;
  /** Counts of two connections in a row (the seed fixes the sequence, in order). */
  const twoCounts = async (client: string, port: number) => {
    const counts = [];
    for (let i = 0; i < 2; i++) {
      const r = await runSocklab([client, "127.0.0.1", String(port), "CMD_short:0"]);
      assert.equal(r.code, 0, r.stderr);
      const got = lines(r.stdout);
      assert.deepEqual(got, msgs(got.length));
      assert.ok(got.length >= 10 && got.length <= 20, `n = ${got.length}`);
      counts.push(got.length);
    }
    return counts;
  };
  const [overWs, overTcp] = await Promise.all([
    twoCounts("ws-pdc", ws.port),
    twoCounts("pdc", tcp.port),
  ]);
  assert.deepEqual(overWs, overTcp, "ws-pmu --seed 42 draws the counts pmu --seed 42 draws");
});

Deno.test("ws-pdc CMD_short:<d> gets the messages about d seconds apart (--trace)", async () => {
  const { proc: server, port } = await wsPmu("--count", "3");
  await using _s = server;
  const r = await runSocklab(["ws-pdc", "--trace", "127.0.0.1", String(port), "CMD_short:0.3"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), msgs(3));
  const times = [...r.stderr.matchAll(/^message 18 bytes \(binary\) at (\d+\.\d+) s$/gm)].map((m) =>
    Number(m[1])
  );
  assert.equal(times.length, 3, r.stderr);
  // Loose: two gaps of 0.3 s; timers never fire early, a busy machine only makes it later.
  assert.ok(times[2] - times[0] >= 0.5, `messages at ${times}`);
  assert.match(r.stderr, /^closed by 127\.0\.0\.1:\d+: 1000 \(normal\)$/m);
  assert.match(r.stderr, /^3 reads, 54 bytes, 3 messages$/m);
});

Deno.test("ws-pdc CMD_floodme prints the flood byte for byte, as one message", async () => {
  const { proc: server, port } = await wsPmu();
  await using _s = server;
  const r = await runSocklab(["ws-pdc", "--trace", `ws://127.0.0.1:${port}/`, "CMD_floodme"]);
  assert.equal(r.code, 0, r.stderr);
  const flood = floodText();
  assert.equal(r.stdout, flood, "byte for byte: nothing added");
  assert.match(r.stderr, new RegExp(`^1 reads, ${DEFAULT_FLOOD_BYTES} bytes, 1 messages$`, "m"));
  await server.stderr.waitFor(/CMD_floodme -> flood of 57344 bytes, closed 1000/);
});

Deno.test("ws-pmu --flood-file sends that file whole; a wrong command gets 'Wrong command.'", async () => {
  const file = await Deno.makeTempFile({ prefix: "socklab-flood-" });
  try {
    const text = "ROMEO. But soft! What light through yonder window breaks?\n".repeat(2000) +
      "Exeunt, with no newline";
    await Deno.writeTextFile(file, text);
    const { proc: server, port } = await wsPmu("--flood-file", file);
    await using _s = server;
    const r = await runSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_floodme"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, text, "no line break added after the last line");
    const w = await runSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_shorty"]);
    assert.equal(w.code, 1, "a refusal is an error, as for pdc");
    assert.equal(w.stdout, "");
    assert.match(w.stderr, new RegExp(`: the server answered '${WRONG_COMMAND}'\n$`));
    await server.stderr.waitFor(/^127\.0\.0\.1:\d+: "CMD_shorty" -> Wrong command\., closed 1000/);
  } finally {
    await Deno.remove(file);
  }
});

// --- other clients ------------------------------------------------------------------------

Deno.test("Deno's native WebSocket client gets binary frames by default, text frames with --text", async () => {
  const bin = await wsPmu("--count", "4");
  await using _b = bin.proc;
  const txt = await wsPmu("--count", "4", "--text");
  await using _t = txt.proc;

  const b = await nativeSession(`ws://127.0.0.1:${bin.port}`, "CMD_short:0");
  assert.equal(b.code, 1000);
  assert.ok(b.wasClean);
  assert.ok(b.messages.every((m) => m instanceof ArrayBuffer), "binary frames");
  assert.deepEqual(b.messages.map(decode), msgs(4));

  const t = await nativeSession(`ws://127.0.0.1:${txt.port}`, "CMD_short:0\n");
  assert.equal(t.code, 1000);
  assert.ok(t.messages.every((m) => typeof m === "string"), "text frames");
  assert.deepEqual(t.messages, msgs(4));

  const f = await nativeSession(`ws://127.0.0.1:${bin.port}`, "CMD_floodme");
  assert.equal(f.code, 1000);
  assert.equal(f.messages.length, 1, "the flood is one message");
  assert.equal(decode(f.messages[0]), floodText());
});

const PY_CLIENT = `
import sys, websocket
ws = websocket.create_connection(sys.argv[1], timeout=10)
ws.send(sys.argv[2])
while True:
    try:
        m = ws.recv()
    except websocket.WebSocketConnectionClosedException:
        break
    if not m:
        break
    print(type(m).__name__, len(m), m.decode(), flush=True)
`;

Deno.test("python websocket-client (Debian's python3-websocket) receives binary frames it can .decode()", async () => {
  const { proc: server, port } = await wsPmu("--count", "5");
  await using _s = server;
  const url = `ws://127.0.0.1:${port}`;
  const python = await requirePython("websocket", "python3-websocket");
  const r = await runProc([python, "-c", PY_CLIENT, url, "CMD_short:0"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), msgs(5).map((m) => `bytes ${m.length} ${m}`));
  const f = await runProc([python, "-c", PY_CLIENT, url, "CMD_floodme"]);
  assert.equal(f.code, 0, f.stderr);
  assert.ok(f.stdout.startsWith(`bytes ${DEFAULT_FLOOD_BYTES} ${floodText().slice(0, 100)}`));
});

// --- a server that survives bad clients ---------------------------------------------------

Deno.test("ws-pmu closes an oversize message with 1009; silent clients get 'Wrong command.'", async () => {
  const { proc: server, port } = await wsPmu("--max-command", "64", "--idle-timeout", "1");
  await using _s = server;
  const url = `ws://127.0.0.1:${port}`;
  // The idle timeout is 1 s, not less: on a loaded machine the oversize message must arrive
  // before it, or the session ends as silent (1000) first.
  const big = await nativeSession(url, "CMD_short:0" + " ".repeat(200));
  assert.equal(big.code, 1009);
  assert.deepEqual(big.messages, []);
  await server.stderr.waitFor(
    /^127\.0\.0\.1:\d+: no command, closed 1009 \(message too big\): Max payload size/,
  );

  const silent = await nativeSession(url);
  assert.equal(silent.code, 1000);
  assert.deepEqual(silent.messages.map(decode), [WRONG_COMMAND]);
  await server.stderr.waitFor(/no command within 1 s -> Wrong command\., closed 1000/);

  // A TCP connection that never sends a handshake is dropped after the idle timeout too.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    assert.equal(await readUntilClosed(conn), "");
  } finally {
    conn.close();
  }
  await server.stderr.waitFor(/: no WebSocket handshake within 1 s -> dropped$/);

  const r = await runSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_short:0", "--trace"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(r.stdout).length, Number(r.stderr.match(/(\d+) messages$/m)![1]));
});

Deno.test("ws-pmu answers plain HTTP with 426, a broken handshake or plain TCP with 400", async () => {
  const { proc: server, port } = await wsPmu();
  await using _s = server;
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(res.status, 426);
  assert.equal(res.headers.get("upgrade"), "websocket");
  assert.match(await res.text(), /WebSocket server/);
  await server.stderr.waitFor(/: GET \/ without a WebSocket upgrade -> 426 Upgrade Required$/);

  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    ));
    const answer = await readUntilClosed(conn);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  } finally {
    conn.close();
  }
  await server.stderr.waitFor(/bad WebSocket handshake \(Missing or invalid Sec-WebSocket-Key/);

  // A part 2 PDC (plain TCP) pointed at the WebSocket port: 400, logged.
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await tcp.write(new TextEncoder().encode("CMD_short:0"));
    assert.match(await readUntilClosed(tcp), /^HTTP\/1\.1 400 Bad Request\r\n/);
  } finally {
    tcp.close();
  }
  await server.stderr.waitFor(/: not an HTTP request \(a plain TCP client\?\) -> 400$/);
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(
    server.stderr.text,
    /1 plain HTTP request\(s\) with 426, 2 bad handshake\(s\) with 400/,
  );
});

async function readUntilClosed(conn: Deno.Conn, limit = 65536): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (text.length < limit) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

/** A raw WebSocket client on a TCP socket: handshake, one masked text frame. */
async function rawWsClient(port: number, command: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  await conn.write(enc.encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const payload = enc.encode(command);
  const mask = [1, 2, 3, 4];
  const frame = new Uint8Array([
    0x81,
    0x80 | payload.length,
    ...mask,
    ...payload.map((b, i) => b ^ mask[i % 4]),
  ]);
  await conn.write(frame);
  return conn;
}

Deno.test("a client vanishing mid-stream is logged and the server goes on serving", async () => {
  const { proc: server, port } = await wsPmu("--count", "50");
  await using _s = server;
  const conn = await rawWsClient(port, "CMD_short:0.1");
  const buf = new Uint8Array(1024);
  let got = "";
  for (let i = 0; i < 20 && !got.includes("This is PMU data 0"); i++) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.ok(got.includes("This is PMU data 0"), got);
  conn.close(); // no close frame: the peer just goes
  await server.stderr.waitFor(
    /^127\.0\.0\.1:\d+: CMD_short:0\.1 -> 50 message\(s\) \(\d+ sent\), peer vanished \(1006/,
  );
  const r = await runSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), msgs(50));
});

Deno.test("stopping ws-pmu mid-stream closes clients with 1001; ws-pdc says so and exits 1", async () => {
  const { proc: server, port } = await wsPmu("--count", "20");
  await using _s = server;
  await using client = spawnSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_short:1"]);
  await client.stdout.waitFor(/^This is PMU data 0$/);
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /ws-pmu: stopped \(SIGTERM\)/);
  const cs = await client.exited();
  assert.equal(cs.code, 1);
  assert.match(
    client.stderr.text,
    new RegExp(
      `^socklab ws-pdc: error: the connection to 127\\.0\\.0\\.1:${port} ended with close code 1001 \\(going away\\)`,
    ),
  );
});

// --- ws-pdc failures and arguments ----------------------------------------------------------

Deno.test("ws-pdc: refused connection names host:port; failed handshake shows the HTTP status", async () => {
  const closed = freeTcpPort();
  const r = await runSocklab(["ws-pdc", "127.0.0.1", String(closed), "CMD_short:0"]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    new RegExp(`^socklab ws-pdc: error: connection refused by 127\\.0\\.0\\.1:${closed}`),
  );

  await using http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("not here", { status: 404 }),
  );
  const h = await runSocklab(["ws-pdc", "127.0.0.1", String(http.addr.port), "CMD_short:0"]);
  assert.equal(h.code, 1);
  assert.match(
    h.stderr,
    new RegExp(
      `^socklab ws-pdc: error: WebSocket handshake with 127\\.0\\.0\\.1:${http.addr.port} failed: HTTP 404 Not Found`,
    ),
  );
});

Deno.test("ws-pdc against the TCP pmu (not a WebSocket server) exits 1 saying so", async () => {
  const { proc: server, port } = await startServer(["pmu", "--host", "127.0.0.1"]);
  await using _s = server;
  const r = await runSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    new RegExp(
      `^socklab ws-pdc: error: WebSocket handshake with 127\\.0\\.0\\.1:${port} failed: the answer is the plain PMU's "Wrong command\\.", not HTTP .*\\(use pdc\\)\n$`,
    ),
  );
});

Deno.test("ws-pdc usage errors exit 2", async () => {
  const cases = [
    [["127.0.0.1", "5006"], /missing <command>/],
    [["127.0.0.1", "port", "CMD_short:0"], /<port>: 'port' is not a port number/],
    [["127.0.0.1", "0", "CMD_short:0"], /<port>: 0 is out of range/],
    [["http://127.0.0.1:5006/", "CMD_short:0"], /only ws:\/\/ URLs/],
    [["bad host", "5006", "CMD_short:0"], /'bad host' is not a host name/],
  ] as const;
  const results = await Promise.all(cases.map(([args]) => runSocklab(["ws-pdc", ...args])));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i][0]}: ${r.stderr}`);
    assert.match(r.stderr, cases[i][1]);
  });
});

Deno.test("targetUrl builds ws:// URLs from <server> <port> or takes a full URL", () => {
  assert.equal(targetUrl("127.0.0.1", 5006).href, "ws://127.0.0.1:5006/");
  assert.equal(targetUrl("::1", 5006).href, "ws://[::1]:5006/");
  assert.equal(targetUrl("localhost", 80).href, "ws://localhost/");
  assert.equal(targetUrl("ws://127.0.0.1:7/pmu").href, "ws://127.0.0.1:7/pmu");
  assert.equal(targetUrl("ws://127.0.0.1/pmu", 7).href, "ws://127.0.0.1:7/pmu");
  assert.throws(() => targetUrl("ws://127.0.0.1:7/", 8), /says port 7 but <port> is 8/);
  assert.throws(() => targetUrl("wss://127.0.0.1:7/"), /only ws:\/\//);
});

Deno.test("ws-pdc over IPv6 (::1), and ws-pmu on a taken port exits 1", async () => {
  await using server = spawnSocklab(["ws-pmu", "--host", "::1", "--port", "0", "--count", "2"]);
  // (Proc.listening() reads "[::1]:N" as port 1: parse the bracketed form here.)
  const port = Number((await server.stderr.waitFor(/^listening on \[::1\]:(\d+)$/))[1]);
  const r = await runSocklab(["ws-pdc", "::1", String(port), "CMD_short:0"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), msgs(2));
  await server.stderr.waitFor(/^\[::1\]:\d+: CMD_short:0 -> 2 message/);

  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = await runSocklab([
    "ws-pmu",
    "--host",
    "127.0.0.1",
    "--port",
    String(held.addr.port),
  ]);
  assert.equal(taken.code, 1);
  assert.match(
    taken.stderr,
    new RegExp(`^socklab ws-pmu: error: tcp port ${held.addr.port} is already in use`),
  );
});

Deno.test("ws-pdc prints each message as it arrives, from a server that never closes", async () => {
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  const port = (wss.address() as { port: number }).port;
  wss.on("connection", (ws) => {
    ws.once("message", () => {
      for (let i = 0; i < 3; i++) ws.send(new TextEncoder().encode(`This is PMU data ${i}`));
    });
  });
  try {
    await using pdc = spawnSocklab(["ws-pdc", "127.0.0.1", String(port), "CMD_short:0"]);
    await pdc.stdout.waitFor(/This is PMU data 2/);
    assert.deepEqual(pdc.stdout.lines, [0, 1, 2].map((i) => `This is PMU data ${i}`));
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  }
});
