import assert from "node:assert/strict";
import net from "node:net";
import { within } from "../mod/deadline.ts";
import { runSocklab, spawnSocklab, startServer } from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";
import { freeTcpPort } from "../mod/net/ports.ts";
import { floodText, pmuMessages } from "../mod/pmu/mod.ts";
import { pdcExchange } from "../mod/tcp/pdc.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function sha256(text: string | Uint8Array): Promise<string> {
  const data = typeof text === "string" ? enc.encode(text) : text;
  const d = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `This is PMU data 0` .. `n-1`, one per line. */
function lines(n: number): string {
  return pmuMessages(n).map((m) => m + "\n").join("");
}

/** Connects, sends `data` (if any), reads everything until the server closes. */
async function rawExchange(port: number, data?: Uint8Array | string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const writing = data === undefined ? Promise.resolve() : (async () => {
      const bytes = typeof data === "string" ? enc.encode(data) : data;
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    })();
    writing.catch(() => {});
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 100_000; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    await writing;
    return dec.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    conn.close();
  }
}

Deno.test("done when: pdc CMD_short:0 against pmu --count 15 prints exactly messages 0..14", async () => {
  const { proc: server, port } = await startServer(["pmu", "--host", "127.0.0.1", "--count", "15"]);
  await using _s = server;
  const r = await runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, lines(15));
  await server.stderr.waitFor(/^127\.0\.0\.1:\d+ CMD_short:0 -> 15 message\(s\), \d+\.\d+ s$/);
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(
    server.stderr.text,
    /pmu: stopped \(SIGTERM\); served 1 connection\(s\): 1 CMD_short, 0 CMD_floodme, 0 wrong/,
  );
});

Deno.test("pdc re-frames any cut: d=0.2, --split 1, --split random, --split 7; --trace", async () => {
  const plain = await startServer(["pmu", "--host", "127.0.0.1", "--count", "4"]);
  await using _a = plain.proc;
  const one = await startServer(["pmu", "--host", "127.0.0.1", "--count", "30", "--split", "1"]);
  await using _b = one.proc;
  const rnd = await startServer([
    "pmu",
    "--host",
    "localhost",
    "--seed",
    "5",
    "--split",
    "random",
  ]);
  await using _c = rnd.proc;
  const seven = await startServer(["pmu", "--host", "127.0.0.1", "--count", "12", "--split", "7"]);
  await using _d = seven.proc;
  const [slow, ones, random, sevens] = await Promise.all([
    runSocklab(["pdc", "127.0.0.1", String(plain.port), "CMD_short:0.2", "--trace"]),
    runSocklab(["pdc", "127.0.0.1", String(one.port), "CMD_short:0", "--read-size", "3"]),
    runSocklab(["pdc", "localhost", String(rnd.port), "CMD_short:0\n"]),
    runSocklab(["pdc", "127.0.0.1", String(seven.port), "CMD_short:0"]),
  ]);
  assert.equal(slow.code, 0, slow.stderr);
  assert.equal(slow.stdout, lines(4));
  // Messages 0.2 s apart arrive in several reads (loose: the machine may stall a while).
  const trace = slow.stderr.split("\n").filter((l) => /^read \d+: \d+ bytes at \+\d/.test(l));
  assert.ok(trace.length >= 2, slow.stderr);
  assert.match(slow.stderr, /^\d+ reads, 72 bytes, 4 messages$/m);
  assert.equal(ones.code, 0, ones.stderr);
  assert.equal(ones.stdout, lines(30));
  assert.equal(random.code, 0, random.stderr);
  const n = random.stdout.split("\n").length - 1;
  assert.ok(n >= 10 && n <= 20, random.stdout);
  assert.equal(random.stdout, lines(n));
  assert.equal(sevens.stdout, lines(12));
});

Deno.test("pdc prints a flood byte for byte: default, --flood-bytes, --flood-file UTF-8 split randomly", async () => {
  const file = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    const text = "ACTE PREMIER\nScène 1. Ünïcödé, ✓ et 🎭 coupés entre deux lectures.\n".repeat(
      700,
    ) + "Fin sans saut de ligne";
    await Deno.writeTextFile(file, text);
    const def = await startServer(["pmu", "--host", "127.0.0.1"]);
    await using _a = def.proc;
    const big = await startServer(["pmu", "--host", "127.0.0.1", "--flood-bytes", "100000"]);
    await using _b = big.proc;
    const utf = await startServer([
      "pmu",
      "--host",
      "127.0.0.1",
      "--flood-file",
      file,
      "--split",
      "random",
    ]);
    await using _c = utf.proc;
    const [d, b, u] = await Promise.all([
      runSocklab(["pdc", "127.0.0.1", String(def.port), "CMD_floodme", "--trace"]),
      runSocklab(["pdc", "127.0.0.1", String(big.port), "CMD_floodme"]),
      runSocklab(["pdc", "127.0.0.1", String(utf.port), "CMD_floodme", "--read-size", "5"]),
    ]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await sha256(d.stdout), await sha256(floodText()));
    assert.match(d.stderr, /^\d+ reads, 57344 bytes, 0 messages$/m);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(await sha256(b.stdout), await sha256(floodText(100_000)));
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await sha256(u.stdout), await sha256(text));
    await utf.proc.stderr.waitFor(/CMD_floodme -> flood of \d+ bytes/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("pmu answers 'Wrong command.' to other commands and to silence (--idle-timeout)", async () => {
  const { proc: server, port } = await startServer([
    "pmu",
    "--host",
    "127.0.0.1",
    "--idle-timeout",
    "0.5",
  ]);
  await using _s = server;
  const [wrong, silent, toolong] = await Promise.all([
    runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:61"]),
    runSocklab(["pdc", "127.0.0.1", String(port), ""]),
    runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:" + "0".repeat(300)]),
  ]);
  for (const r of [wrong, silent, toolong]) {
    // The PMU's refusal is no data: on stderr, exit 1.
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /: the server answered 'Wrong command\.'$/m);
  }
  await server.stderr.waitFor(/"CMD_short:61" -> Wrong command\./);
  await server.stderr.waitFor(/\(no command within 0\.5 s\) -> Wrong command\./);
  await server.stderr.waitFor(/\(longer than 256 bytes\) -> Wrong command\./);
});

Deno.test("200 concurrent exchanges with one pmu are all correct", async () => {
  // 200 at once from one address: a class sharing one machine (--max-per-peer raised).
  const { proc: server, port } = await startServer([
    "pmu",
    "--host",
    "127.0.0.1",
    "--seed",
    "7",
    "--max-per-peer",
    "200",
  ]);
  await using _s = server;
  const flood = floodText();
  const one = async (i: number) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let out = "";
    try {
      const cmd = i % 10 === 0 ? "CMD_floodme" : "CMD_short:0";
      const stats = await pdcExchange(conn, cmd, (t) => out += t);
      if (cmd === "CMD_floodme") {
        assert.equal(out, flood, `client ${i}`);
        assert.equal(stats.messages, 0);
      } else {
        const n = out.split("\n").length - 1;
        assert.ok(n >= 10 && n <= 20, `client ${i}: ${n} messages`);
        assert.equal(out, lines(n), `client ${i}`);
        assert.equal(stats.messages, n);
      }
    } finally {
      conn.close();
    }
  };
  await within(Promise.all(Array.from({ length: 200 }, (_, i) => one(i))), 30_000, "200 pdcs");
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /served 200 connection\(s\): 180 CMD_short, 20 CMD_floodme/);
  const logLines = server.stderr.lines.filter((l) => /^127\.0\.0\.1:\d+ /.test(l));
  assert.equal(logLines.length, 200);
});

Deno.test("hostile clients do not disturb a good one, and the server keeps serving", async () => {
  const { proc: server, port } = await startServer([
    "pmu",
    "--host",
    "127.0.0.1",
    "--count",
    "5",
    "--idle-timeout",
    "1",
  ]);
  await using _s = server;
  const good = runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:0.2"]);
  const garbage = rawExchange(port, new Uint8Array([0xff, 0xfe, 0, 1, 2, 0x80, 10, 13]));
  const huge = rawExchange(port, "A".repeat(1 << 20) + "\n");
  const silent = rawExchange(port);
  const dribble = (async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(enc.encode("CMD_sh"));
      // Not synchronisation: a pause so that the server most likely reads the prefix alone.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await conn.write(enc.encode("ort:0"));
      await conn.closeWrite();
      let out = "";
      const buf = new Uint8Array(64);
      for (let i = 0; i < 10_000; i++) {
        const n = await conn.read(buf);
        if (n === null) break;
        out += dec.decode(buf.subarray(0, n));
      }
      return out;
    } finally {
      conn.close();
    }
  })();
  const quitter = (async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(enc.encode("CMD_short:0.2"));
    const buf = new Uint8Array(64);
    await conn.read(buf); // the first message, then vanish mid-stream
    conn.close();
  })();
  const [g, gb, hg, sl, dr] = await within(
    Promise.all([good, garbage, huge, silent, dribble, quitter]),
    20_000,
    "clients",
  );
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.stdout, lines(5));
  assert.equal(gb, "Wrong command.");
  assert.equal(hg, "Wrong command.");
  assert.equal(sl, "Wrong command.");
  assert.equal(dr, pmuMessages(5).join(""));
  await server.stderr.waitFor(/CMD_short:0\.2 -> \d of 5 message\(s\) \(peer vanished\)/);
  await server.stderr.waitFor(/"A{40}"\.\.\. \(longer than 256 bytes\) -> Wrong command\./);
  // Still serving.
  const after = await runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(after.stdout, lines(5));
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /served 7 connection\(s\): 4 CMD_short, 0 CMD_floodme, 3 wrong/);
});

Deno.test("pmu stops cleanly on SIGTERM while a client refuses to read a huge flood", async () => {
  const { proc: server, port } = await startServer([
    "pmu",
    "--host",
    "127.0.0.1",
    "--flood-bytes",
    "20000000",
  ]);
  await using _s = server;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode("CMD_floodme"));
    await conn.read(new Uint8Array(1)); // the flood has begun; now read no more
    const st = await server.stop(10_000);
    assert.equal(st.code, 0, server.stderr.text);
    assert.match(server.stderr.text, /CMD_floodme -> .*\(server shutting down\)/);
    assert.match(server.stderr.text, /pmu: stopped \(SIGTERM\); served 1 connection/);
  } finally {
    conn.close();
  }
});

Deno.test("pdc: usage errors name the argument; IPv6 literal and bad names are refused", async () => {
  const rs = await Promise.all([
    runSocklab(["pdc", "127.0.0.1", "5003"]),
    runSocklab(["pdc", "::1", "5003", "CMD_short:0"]),
    runSocklab(["pdc", "no such host!", "5003", "CMD_short:0"]),
    runSocklab(["pdc", "127.0.0.1", "70000", "CMD_short:0"]),
    runSocklab(["pmu", "--split", "0"]),
    runSocklab(["pmu", "--count", "many"]),
  ]);
  for (const r of rs) assert.equal(r.code, 2, r.stderr);
  assert.match(rs[0].stderr, /^socklab pdc: error: missing <command>$/m);
  assert.match(rs[1].stderr, /<server>: ::1 is an IPv6 address; this client uses IPv4 only/);
  assert.match(rs[2].stderr, /<server>: 'no such host!' is not a valid host name/);
  assert.match(rs[3].stderr, /<port>: 70000 is out of range/);
  assert.match(rs[4].stderr, /--split: 0 is out of range/);
  assert.match(rs[5].stderr, /--count: 'many' is not an integer/);
  for (const r of rs) assert.doesNotMatch(r.stderr, /^\s+at /m);
});

Deno.test("pdc: refused connection, and a reset mid-stream prints what arrived then the error", async () => {
  const closed = freeTcpPort();
  const refused = await runSocklab(["pdc", "127.0.0.1", String(closed), "CMD_short:0"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`connection refused by 127\\.0\\.0\\.1:${closed}`));

  const bad = await runSocklab(["pmu", "--port", "0", "--flood-file", "/nonexistent/flood.txt"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /cannot read --flood-file \/nonexistent\/flood\.txt/);

  // A fake PMU that sends two messages, then resets the connection (Deno's own close sends a
  // FIN even with unread bytes, so node:net's resetAndDestroy makes the RST).
  let accepted!: (s: net.Socket) => void;
  const socket = new Promise<net.Socket>((resolve) => accepted = resolve);
  const fake = net.createServer((s) => {
    s.on("error", () => {});
    s.write("This is PMU data 0This is PMU data 1");
    accepted(s);
  });
  await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
  try {
    const fakePort = (fake.address() as net.AddressInfo).port;
    await using pdc = spawnSocklab([
      "pdc",
      "127.0.0.1",
      String(fakePort),
      "CMD_short:0",
      "--trace",
    ]);
    const s = await within(socket, 15_000, "accept");
    await pdc.stderr.waitFor(/^read 1: 36 bytes/);
    s.resetAndDestroy();
    const st = await pdc.exited();
    assert.equal(st.code, 1);
    assert.equal(pdc.stdout.text, lines(2));
    assert.match(pdc.stderr.text, /^1 reads, 36 bytes, 2 messages$/m);
    assert.match(
      pdc.stderr.text,
      /socklab pdc: error: 127\.0\.0\.1:\d+: connection reset after 36 bytes$/m,
    );
  } finally {
    await new Promise((resolve) => fake.close(resolve));
  }
});

netnsTest(
  "pmu on its default port 5003; pdc by name; an unknown host is a clear error",
  async (ns) => {
    await using server = spawnSocklab(["pmu", "--count", "3"], { prefix: ns.prefix });
    const { host, port } = await server.listening();
    assert.equal(`${host}:${port}`, "0.0.0.0:5003");
    const ok = await runSocklab(["pdc", "localhost", "5003", "CMD_short:0"], { prefix: ns.prefix });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, lines(3));
    // No route in the namespace: the resolver fails at once, no query leaves the host.
    const unknown = await runSocklab(["pdc", "no-such-host.invalid", "5003", "CMD_short:0"], {
      prefix: ns.prefix,
    });
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /cannot resolve 'no-such-host\.invalid' to an IPv4 address/);
  },
);
