import assert from "node:assert/strict";
import { runSocklab, spawnSocklab, startServer } from "../scripts/lib/proc.ts";
import { freeTcpPort, freeUdpPort } from "../mod/net/ports.ts";

const ROMEO = "Oh Romeo, Romeo! wherefore art thou Romeo?";

Deno.test("echo-client gets its message back from echo-server in 8-byte reads", async () => {
  const { proc: server, port } = await startServer(["echo-server", "--host", "127.0.0.1"]);
  await using _s = server;
  const r = await runSocklab(["echo-client", "--host", "127.0.0.1", "--port", String(port)]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n").slice(0, -1);
  assert.equal(lines.join(""), ROMEO);
  assert.ok(lines.every((l) => new TextEncoder().encode(l).length <= 8), lines.join("|"));
  assert.ok(lines.length >= Math.ceil(ROMEO.length / 8));
  assert.match(r.stderr, /^sending: Oh Romeo/m);
  await server.stderr.waitFor(/^received: Oh Romeo,/);
  await server.stderr.waitFor(/^No more data from 127\.0\.0\.1:\d+/);
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /echo-server: stopped \(SIGTERM\); served 1 connection/);
});

Deno.test("echo-server serves a second client while the first holds its connection", async () => {
  const { proc: server, port } = await startServer(["echo-server", "--host", "127.0.0.1"]);
  await using _s = server;
  await using holder = spawnSocklab(["echo-client", "--hold", "--port", String(port), "first"]);
  await holder.stderr.waitFor(/holding the connection/);
  const r = await runSocklab(["echo-client", "--port", String(port), "second"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "second\n");
  assert.equal(holder.stdout.text, "first\n");
  const st = await holder.stop();
  assert.equal(st.code, 0, "Ctrl-C (SIGTERM here) ends --hold cleanly");
});

Deno.test("sockets --port shows the LISTEN socket, then the ESTABLISHED pair of a held client", async () => {
  const { proc: server, port } = await startServer(["echo-server", "--host", "127.0.0.1"]);
  await using _s = server;
  const before = await runSocklab(["sockets", "--port", String(port), "--json"]);
  assert.equal(before.code, 0);
  const rows0 = JSON.parse(before.stdout) as { state: string; localPort: number; proto: string }[];
  assert.deepEqual(rows0.map((r) => [r.proto, r.state, r.localPort]), [["tcp", "LISTEN", port]]);

  await using holder = spawnSocklab(["echo-client", "--hold", "--port", String(port)]);
  await holder.stderr.waitFor(/holding the connection/);
  const during = await runSocklab(["sockets", "--port", String(port)]);
  assert.equal(during.code, 0);
  const lines = during.stdout.trim().split("\n");
  assert.match(
    lines[0],
    /^Netid\s+State\s+Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port$/,
  );
  const states = lines.slice(1).map((l) => l.split(/\s+/)[1]).sort();
  assert.deepEqual(states, ["ESTABLISHED", "ESTABLISHED", "LISTEN"]);
  assert.ok(
    lines.some((l) => new RegExp(`127\\.0\\.0\\.1:${port}\\s+127\\.0\\.0\\.1:\\d+`).test(l)),
  );

  // The client closes first: its side of the connection goes to TIME_WAIT.
  await holder.stop();
  await server.stderr.waitFor(/^No more data from/);
  const after = await runSocklab(["sockets", "--port", String(port), "--json"]);
  const states2 = (JSON.parse(after.stdout) as { state: string }[]).map((r) => r.state);
  assert.ok(states2.includes("TIME_WAIT"), `expected TIME_WAIT in ${states2}`);
});

Deno.test("hello-send reaches hello-recv, which shows sender and text", async () => {
  const port = freeUdpPort();
  await using recv = spawnSocklab(["hello-recv", "--host", "127.0.0.1", "--port", String(port)]);
  await recv.listening();
  const r = await runSocklab(["hello-send", "--host", "127.0.0.1", "--port", String(port)]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "Message sent\n");
  await recv.stdout.waitFor(/^Received: Hello, Romeo! $/);
  assert.match(recv.stdout.lines[0], /^From: 127\.0\.0\.1:\d+$/);
  const st = await recv.stop();
  assert.equal(st.code, 0);
  assert.match(recv.stderr.text, /received 1 datagram/);
});

Deno.test("hello-recv prints invalid UTF-8 safely and keeps running", async () => {
  await using recv = spawnSocklab(["hello-recv", "--host", "127.0.0.1", "--port", "0"]);
  const { port } = await recv.listening();
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    await s.send(new Uint8Array([0xff, 0xfe, 0x41]), to);
    await s.send(new Uint8Array(0), to);
    await s.send(new TextEncoder().encode("still here"), to);
  } finally {
    s.close();
  }
  await recv.stdout.waitFor(/^Received: still here$/);
  assert.ok(recv.stdout.lines.includes("Received: \ufffd\ufffdA"));
});

Deno.test("echo-client to a closed port exits 1 naming host:port", async () => {
  const port = freeTcpPort();
  const r = await runSocklab(["echo-client", "--host", "127.0.0.1", "--port", String(port)]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    new RegExp(`^socklab echo-client: error: connection refused by 127\\.0\\.0\\.1:${port}`),
  );
});

Deno.test("echo-server on a taken port exits 1 saying so", async () => {
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const r = await runSocklab([
    "echo-server",
    "--host",
    "127.0.0.1",
    "--port",
    String(held.addr.port),
  ]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`^socklab echo-server: error: tcp port ${held.addr.port} is already in use`),
  );
});
