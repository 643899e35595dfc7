import assert from "node:assert/strict";
import { runSocklab, spawnSocklab, startServer } from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";
import { seededRandom } from "../mod/random.ts";
import { answerFor, simulateAttempts } from "../mod/udp/reset.ts";
import { DatagramReader } from "../mod/udp/receiver.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function pmu(...args: string[]) {
  return startServer(["pmu-udp", ...args]);
}

function pdc(host: string, port: number, ...args: string[]) {
  return runSocklab(["pdc-udp", host, String(port), ...args]);
}

Deno.test("--family 4: localhost and 127.0.0.1 are acknowledged, ::1 is not", async () => {
  const { proc: server, port } = await pmu("--family", "4", "--drop", "0");
  await using _s = server;
  const [local, v4, v6] = await Promise.all([
    pdc("localhost", port),
    pdc("127.0.0.1", port),
    pdc("::1", port, "--timeout", "0.2", "--max-tries", "2"),
  ]);
  for (const r of [local, v4]) {
    assert.equal(r.code, 0, r.stderr);
    const m = r.stdout.match(/^OFFSET:(\d+)\n$/);
    assert.ok(m && Number(m[1]) <= 20, r.stdout);
    assert.match(r.stderr, /^attempts: 1$/m);
    assert.match(r.stderr, new RegExp(`acknowledged by 127\\.0\\.0\\.1:${port}`));
  }
  assert.match(
    local.stderr,
    new RegExp(`sent RESET:20 to 127\\.0\\.0\\.1:${port}, \\[::1\\]:${port}`),
  );
  assert.equal(v6.code, 1);
  assert.equal(v6.stdout, "");
  assert.match(v6.stderr, /^attempts: 2$/m);
  assert.match(
    v6.stderr,
    /socklab pdc-udp: error: no acknowledgement from \[::1\]:\d+ after 2 attempt/,
  );
  await server.stderr.waitFor(/^Received RESET:20 from 127\.0\.0\.1:\d+$/);
  await server.stderr.waitFor(/^Ack sent! \(OFFSET:\d+\)$/);
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /pmu-udp: stopped \(SIGTERM\); received 2 datagram\(s\): 2 ack/);
});

/** A connected IPv4 UDP socket's fate after sending RESET:20 to 127.0.0.1:port (python3). */
async function connectedV4(port: number): Promise<string> {
  const code = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
s.connect(("127.0.0.1", ${port}))
s.send(b"RESET:20")
try:
    print("answer", s.recv(100).decode())
except Exception as e:
    print(type(e).__name__)
`;
  const out = await new Deno.Command("python3", { args: ["-c", code], stdout: "piped" }).output();
  return dec.decode(out.stdout).trim();
}

Deno.test("--family 6 on ::: ::1 and localhost are acknowledged over IPv6; IPv4 gets port unreachable (IPV6_V6ONLY)", async () => {
  const { proc: server, port, host } = await pmu("--family", "6", "--drop", "0");
  await using _s = server;
  assert.equal(host, "::");
  const [v6, local, v4] = await Promise.all([
    pdc("::1", port),
    pdc("localhost", port),
    pdc("127.0.0.1", port, "--timeout", "0.2", "--max-tries", "2"),
  ]);
  for (const r of [v6, local]) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OFFSET:\d+\n$/);
    assert.match(r.stderr, new RegExp(`acknowledged by \\[::1\\]:${port}`));
  }
  assert.equal(v4.code, 1, v4.stderr);
  // Like the course's p3server_v6: nothing listens for IPv4 on the port, so the kernel
  // answers port unreachable, which a connected socket sees at once as a refusal.
  assert.equal(await connectedV4(port), "ConnectionRefusedError");
  assert.doesNotMatch(server.stderr.text, /::ffff:127\.0\.0\.1/);
  // ...and the port is free for IPv4: an IPv4-only server can share it.
  await using v4server = spawnSocklab([
    "pmu-udp",
    "--family",
    "4",
    "--drop",
    "0",
    "--port",
    String(port),
  ]);
  await v4server.listening();
  assert.match(await connectedV4(port), /^answer OFFSET:\d+$/);
});

Deno.test("--family dual --ack-sep =: both families answered with OFFSET=<x>, accepted", async () => {
  const { proc: server, port } = await pmu("--family", "dual", "--drop", "0", "--ack-sep", "=");
  await using _s = server;
  const rs = await Promise.all([pdc("127.0.0.1", port), pdc("::1", port), pdc("localhost", port)]);
  for (const r of rs) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OFFSET=\d+\n$/);
  }
  assert.match(rs[0].stderr, /acknowledged by 127\.0\.0\.1:/);
  assert.match(rs[1].stderr, /acknowledged by \[::1\]:/);
});

Deno.test("--family alternate switches IPv4 / IPv6 every --period; clients of both families get through", async () => {
  const { proc: server, port } = await pmu("--period", "0.6", "--drop", "0");
  await using _s = server;
  assert.match(server.stderr.text, /family alternate \(period 0\.6 s\)/);
  const [v4, v6] = await Promise.all([
    pdc("127.0.0.1", port, "--timeout", "0.2", "--max-tries", "40"),
    pdc("::1", port, "--timeout", "0.2", "--max-tries", "40"),
  ]);
  assert.equal(v4.code, 0, v4.stderr);
  assert.equal(v6.code, 0, v6.stderr);
  assert.match(v4.stderr, /acknowledged by 127\.0\.0\.1:/);
  assert.match(v6.stderr, /acknowledged by \[::1\]:/);
  await server.stderr.waitFor(new RegExp(`^serving IPv6 only on \\[::\\]:${port} for 0\\.6 s$`));
  const from = server.stderr.lines.findIndex((l) => l.startsWith("serving IPv6 only"));
  await server.stderr.waitFor(/^serving IPv4 only on 0\.0\.0\.0:\d+/, 10_000, from);
  assert.doesNotMatch(server.stderr.text, /cannot serve/);
});

/** The answer and attempt count a seeded server gives a client with one address. */
function expected(seed: number): { answer: string; attempts: number } {
  const r = seededRandom(seed);
  for (let attempts = 1; attempts <= 64; attempts++) {
    const a = answerFor("RESET:20", r, 0.5);
    if (a.answer !== null) return { answer: a.answer, attempts };
  }
  throw new Error(`seed ${seed}: 64 answers dropped in a row`);
}

/** The first seed in 1..1000 for which `ok` holds (a bounded search; fails if none does). */
function firstSeed(ok: (seed: number) => boolean): number {
  for (let seed = 1; seed <= 1000; seed++) if (ok(seed)) return seed;
  throw new Error("no seed in 1..1000 has the wanted property");
}

Deno.test("--drop 0.5 --seed S gives the attempt count and offset the seed predicts", async () => {
  const seed = firstSeed((s) => expected(s).attempts === 3);
  const { proc: server, port } = await pmu(
    "--family",
    "4",
    "--host",
    "127.0.0.1",
    "--seed",
    String(seed),
  );
  await using _s = server;
  const r = await pdc("127.0.0.1", port, "--timeout", "0.5");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, expected(seed).answer + "\n");
  assert.match(r.stderr, /^attempts: 3$/m);
  assert.equal(r.stderr.match(/no acknowledgement within 0\.5 s/g)?.length, 2);
  assert.match(server.stderr.text, new RegExp(`seed ${seed}`));
  assert.match(
    server.stderr.text,
    /Ignoring message from 127\.0\.0\.1:\d+ \(answer dropped on purpose, --drop 0\.5\)/,
  );
});

Deno.test("no answer: retransmissions arrive --timeout apart; --max-tries 3 exits 1 after ~3 timeouts", async () => {
  // The test is the server here: it never answers and timestamps each arrival.
  const sink = new DatagramReader(
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  const port = (sink.conn.addr as Deno.NetAddr).port;
  try {
    const t0 = performance.now();
    const client = pdc("127.0.0.1", port, "--timeout", "0.3", "--max-tries", "3");
    const arrivals: number[] = [];
    while (arrivals.length < 3) {
      const d = await sink.next(15_000);
      assert.ok(d, `only ${arrivals.length} datagrams arrived`);
      assert.equal(dec.decode(d.data), "RESET:20");
      arrivals.push(performance.now());
    }
    const r = await client;
    const total = (performance.now() - t0) / 1000;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^attempts: 3$/m);
    assert.match(r.stderr, /error: no acknowledgement from 127\.0\.0\.1:\d+ after 3 attempt\(s\)/);
    assert.equal(await sink.next(100), null, "nothing after the last attempt");
    const gaps = [arrivals[1] - arrivals[0], arrivals[2] - arrivals[1]];
    for (const g of gaps) assert.ok(g > 200 && g < 1500, `gap ${g} ms, --timeout 0.3`);
    assert.ok(total > 0.85 && total < 15, `exited after ${total} s`);
  } finally {
    await sink.close();
  }
});

Deno.test("the server survives garbage, empty, 65,507-byte and non-UTF-8 datagrams; the client keeps trying past 'Wrong command.'", async () => {
  const { proc: server, port } = await pmu("--family", "4", "--host", "127.0.0.1", "--drop", "0");
  await using _s = server;
  const me = new DatagramReader(
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    const bad = [
      enc.encode("garbage"),
      new Uint8Array(0),
      new Uint8Array(65_507).fill(0x52),
      new Uint8Array([0xff, 0xfe, 0x00, 0x80]),
      enc.encode("RESET:3601"),
    ];
    for (const d of bad) {
      await me.conn.send(d, to);
      const answer = await me.next(5_000);
      assert.equal(answer && dec.decode(answer.data), "Wrong command.");
    }
    await me.conn.send(enc.encode("RESET:20\n"), to);
    const ack = await me.next(5_000);
    assert.match(ack ? dec.decode(ack.data) : "", /^OFFSET:\d+$/);
  } finally {
    await me.close();
  }
  // The log is in order: once the acknowledgement is logged, every line before it is there.
  await server.stderr.waitFor(/^Ack sent! \(OFFSET:\d+\)$/);
  assert.match(server.stderr.text, /^Received R{80}\.\.\. \(65507 bytes\) from 127\.0\.0\.1:\d+$/m);
  assert.match(server.stderr.text, /^Received \(empty\) from/m);
  assert.match(server.stderr.text, /^Received \ufffd\ufffd\\x00\ufffd from/m);

  const r = await pdc(
    "127.0.0.1",
    port,
    "--command",
    "HELLO",
    "--timeout",
    "0.2",
    "--max-tries",
    "2",
  );
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr.match(/not an acknowledgement from 127\.0\.0\.1:\d+: Wrong command\./g)?.length,
    2,
  );
  const ok = await pdc("127.0.0.1", port);
  assert.equal(ok.code, 0, "still serving");
});

Deno.test("--runs N --json: N runs whose attempts are the ones the seeded drop predicts", async () => {
  const runs = 8;
  const total = (s: number) => simulateAttempts(seededRandom(s), 0.5, runs).reduce((a, b) => a + b);
  const seed = firstSeed((s) => total(s) >= 11 && total(s) <= 13);
  const predicted = simulateAttempts(seededRandom(seed), 0.5, runs);
  const { proc: server, port } = await pmu(
    "--family",
    "4",
    "--host",
    "127.0.0.1",
    "--seed",
    String(seed),
  );
  await using _s = server;
  const r = await pdc("127.0.0.1", port, "--runs", String(runs), "--timeout", "0.5", "--json");
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.runs, runs);
  assert.equal(doc.results.length, runs);
  assert.deepEqual(doc.results.map((x: { attempts: number }) => x.attempts), predicted);
  assert.ok(doc.results.every((x: { answer: string }) => /^OFFSET:\d+$/.test(x.answer)));
  const sum = predicted.reduce((a, b) => a + b);
  assert.equal(doc.totalAttempts, sum);
  assert.equal(doc.mean, sum / runs);
  assert.ok(Math.abs(doc.impliedLoss - (1 - runs / sum)) < 1e-9);
  assert.equal(doc.predictedMean, 2);
  const hist = Object.values(doc.histogram as Record<string, number>).reduce((a, b) => a + b);
  assert.equal(hist, runs);
  assert.match(r.stderr, new RegExp(`^run ${runs}/${runs}: OFFSET:\\d+ after \\d+ attempt`, "m"));
});

Deno.test("--runs N prints the runs, a histogram and the mean", async () => {
  const { proc: server, port } = await pmu("--family", "4", "--host", "127.0.0.1", "--drop", "0");
  await using _s = server;
  const r = await pdc("127.0.0.1", port, "--runs", "3");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^run {2}attempts {2}answer$/m);
  assert.match(r.stdout, /^ {2}3 {9}1 {2}OFFSET:\d+$/m);
  assert.match(r.stdout, /^ {7}1 {5}3 {2}###$/m);
  assert.match(r.stdout, /^mean attempts per answered run: 1\.00$/m);
  assert.match(r.stdout, /^mean a loss rate p predicts \(1\/\(1-p\)\): 2\.00 for p = 0\.5$/m);
  assert.equal(r.stderr.match(/^run \d\/3: /gm)?.length, 3);
});

Deno.test("bad arguments are usage errors (exit 2) naming the value; a taken port is exit 1", async () => {
  const cases: [string[], RegExp][] = [
    [["pdc-udp", "localhost", "99999"], /<port>: 99999 is out of range/],
    [["pdc-udp", "localhost", "x"], /<port>: 'x' is not a port number/],
    [["pdc-udp", "bad..name", "5004"], /'bad\.\.name' is not a host name/],
    [["pdc-udp", "localhost", "5004", "--timeout", "0"], /--timeout: 0 is out of range/],
    [["pmu-udp", "--drop", "1.5"], /--drop: 1\.5 is out of range/],
    [["pmu-udp", "--family", "5"], /--family: '5' is not one of alternate, 4, 6, dual/],
    [["pmu-udp", "--ack-sep", "-"], /--ack-sep: '-' is not one of :, =/],
    [["pmu-udp", "--host", "127.0.0.1"], /--family alternate needs an IPv6 address/],
  ];
  const rs = await Promise.all(cases.map(([args]) => runSocklab(args)));
  rs.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i][0].join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, cases[i][1]);
  });
  const held = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const p = (held.addr as Deno.NetAddr).port;
    const r = await runSocklab([
      "pmu-udp",
      "--family",
      "4",
      "--host",
      "127.0.0.1",
      "--port",
      String(p),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`^socklab pmu-udp: error: udp port ${p} is already in use`, "m"),
    );
  } finally {
    held.close();
  }
});

netnsTest(
  "on the lab's port 5004 with the defaults, the handout's client gets through; an unknown name is exit 1",
  async (ns) => {
    await using server = spawnSocklab(["pmu-udp", "--period", "0.5", "--seed", "1"], {
      prefix: ns.prefix,
    });
    const { port } = await server.listening();
    assert.equal(port, 5004);
    const r = await runSocklab([
      "pdc-udp",
      "localhost",
      "5004",
      "--timeout",
      "0.2",
      "--max-tries",
      "50",
    ], {
      prefix: ns.prefix,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OFFSET:\d+\n$/);
    // No route out of the namespace: the resolver fails at once instead of asking DNS.
    const u = await runSocklab(["pdc-udp", "no-such-host.invalid", "5004"], { prefix: ns.prefix });
    assert.equal(u.code, 1, u.stderr);
    assert.match(u.stderr, /^socklab pdc-udp: error: cannot resolve 'no-such-host\.invalid'$/m);
  },
);
