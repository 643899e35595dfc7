import assert from "node:assert/strict";
import { randomInt, seededRandom } from "../mod/random.ts";
import { isHostName } from "../mod/net/address.ts";
import { pdcTargets } from "../mod/udp/pdc_udp.ts";
import { DatagramReader } from "../mod/udp/receiver.ts";
import {
  answerFor,
  formatExperiment,
  parseAck,
  parseReset,
  type RunResult,
  showData,
  simulateAttempts,
  summarize,
} from "../mod/udp/reset.ts";

const enc = new TextEncoder();

Deno.test("parseReset accepts RESET:<n> for 0..3600 (trailing newline tolerated) only", () => {
  assert.equal(parseReset("RESET:20"), 20);
  assert.equal(parseReset("RESET:0"), 0);
  assert.equal(parseReset("RESET:3600"), 3600);
  assert.equal(parseReset(enc.encode("RESET:20\n")), 20);
  assert.equal(parseReset(enc.encode("RESET:20\r\n")), 20);
  for (const bad of ["RESET:3601", "RESET:-1", "RESET:", "RESET=20", "reset:20", " RESET:20", ""]) {
    assert.equal(parseReset(bad), null, bad);
  }
  assert.equal(parseReset(new Uint8Array([0xff, 0xfe])), null);
});

Deno.test("parseAck recognises OFFSET:<x> and OFFSET=<x>, not Wrong command.", () => {
  assert.equal(parseAck("OFFSET:7"), 7);
  assert.equal(parseAck("OFFSET=13"), 13);
  assert.equal(parseAck("OFFSET:0\n"), 0);
  for (const bad of ["Wrong command.", "OFFSET:", "OFFSET:x", "offset:3", "b'OFFSET:7'", ""]) {
    assert.equal(parseAck(bad), null, bad);
  }
});

Deno.test("the seeded PRNG repeats its sequence and stays in [0, 1)", () => {
  const a = seededRandom(42), b = seededRandom(42), c = seededRandom(43);
  const xs = Array.from({ length: 1000 }, a);
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, b));
  assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, c));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(mean > 0.45 && mean < 0.55, String(mean));
  const r = seededRandom(1);
  const ints = new Set(Array.from({ length: 500 }, () => randomInt(r, 0, 20)));
  assert.equal(ints.size, 21);
});

Deno.test("answerFor: offsets in 0..n, Wrong command. otherwise, drop 0 and 1 are absolute", () => {
  const r = seededRandom(5);
  for (let i = 0; i < 200; i++) {
    const a = answerFor("RESET:20", r, 0);
    assert.ok(a.reset);
    const x = parseAck(a.answer!);
    assert.ok(x !== null && x >= 0 && x <= 20, a.answer!);
  }
  assert.match(answerFor("RESET:20", r, 0, "=").answer!, /^OFFSET=\d+$/);
  assert.deepEqual(answerFor("HELLO", r, 0), { answer: "Wrong command.", reset: false });
  assert.equal(answerFor("RESET:20", r, 1).answer, null);
});

Deno.test("simulateAttempts with drop 0.5 gives a mean near 2, with drop 0 exactly 1", () => {
  const xs = simulateAttempts(seededRandom(9), 0.5, 2000);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(mean > 1.85 && mean < 2.15, String(mean));
  assert.deepEqual(simulateAttempts(seededRandom(9), 0, 5), [1, 1, 1, 1, 1]);
  assert.deepEqual(simulateAttempts(seededRandom(9), 1, 2, "RESET:20", 3), [3, 3]);
});

Deno.test("summarize: histogram, mean, implied loss, prediction; failed runs apart", () => {
  const runs: RunResult[] = [1, 1, 2, 4].map((attempts, i) => ({
    run: i + 1,
    attempts,
    answer: "OFFSET:1",
    from: "127.0.0.1:5004",
    seconds: 0,
  }));
  runs.push({ run: 5, attempts: 3, answer: null, from: null, seconds: 0 });
  const s = summarize(runs, 0.5);
  assert.deepEqual(s.histogram, { 1: 2, 2: 1, 4: 1 });
  assert.equal(s.runs, 5);
  assert.equal(s.answered, 4);
  assert.equal(s.failed, 1);
  assert.equal(s.totalAttempts, 11);
  assert.equal(s.mean, 2);
  assert.equal(s.impliedLoss, 0.5);
  assert.equal(s.predictedMean, 2);
  const text = formatExperiment(runs, s).join("\n");
  assert.match(text, /^ {7}1 {5}2 {2}##$/m);
  assert.match(text, /mean attempts per answered run: 2\.00/);
  assert.match(text, /\(no answer\)/);
});

Deno.test("showData escapes control bytes, marks empty and cuts long data", () => {
  assert.equal(showData(enc.encode("RESET:20\n")), "RESET:20\\n");
  assert.equal(showData(new Uint8Array([0, 0x41])), "\\x00A");
  assert.equal(showData(new Uint8Array(0)), "(empty)");
  assert.equal(showData(new Uint8Array([0xff])), "\ufffd");
  assert.equal(showData(new Uint8Array(65507).fill(66), 10), "BBBBBBBBBB... (65507 bytes)");
});

Deno.test("pdcTargets: localhost is both loopbacks, literals as they are, bad names rejected", async () => {
  assert.deepEqual(await pdcTargets("localhost"), [
    { address: "127.0.0.1", family: 4 },
    { address: "::1", family: 6 },
  ]);
  assert.deepEqual(await pdcTargets("::1"), [{ address: "::1", family: 6 }]);
  assert.deepEqual(await pdcTargets("[::1]"), [{ address: "::1", family: 6 }]);
  assert.deepEqual(await pdcTargets("127.0.0.1"), [{ address: "127.0.0.1", family: 4 }]);
  await assert.rejects(pdcTargets("bad..name"), /not a host name/);
  assert.ok(
    isHostName("tcpip.epfl.ch") && isHostName("a-b.c.") && !isHostName("-a") && !isHostName("a b"),
  );
});

function listenBelowEphemeral(): Deno.DatagramConn {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      return Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  throw new Error("no free UDP port in 20000-31999 after 50 tries");
}

Deno.test("DatagramReader: times out without losing the pending receive, races two sockets", async () => {
  // A port below the ephemeral range (32768-60999): no other test's bind to port 0 can take it
  // between the close and the bind again at the end.
  const a = new DatagramReader(listenBelowEphemeral());
  const b = new DatagramReader(Deno.listenDatagram({ transport: "udp", hostname: "::1", port: 0 }));
  const tx4 = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const tx6 = Deno.listenDatagram({ transport: "udp", hostname: "::1", port: 0 });
  try {
    assert.equal(await a.next(20), null);
    assert.equal(await DatagramReader.any([a, b], 20), null);
    await tx6.send(enc.encode("six"), b.conn.addr);
    const got = await DatagramReader.any([a, b], 5000);
    assert.equal(got?.reader, b);
    assert.equal(new TextDecoder().decode(got!.datagram.data), "six");
    // a's receive is still the one started above; a datagram now reaches it.
    await tx4.send(enc.encode("four"), a.conn.addr);
    const got4 = await a.next(5000);
    assert.equal(new TextDecoder().decode(got4!.data), "four");
    assert.equal(got4!.from.hostname, "127.0.0.1");
  } finally {
    const port = (a.conn.addr as Deno.NetAddr).port;
    await a.close();
    await b.close();
    tx4.close();
    tx6.close();
    assert.equal(await a.next(10), null, "a closed reader returns null");
    // close() resolves once the port is free again: it can be bound at once.
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
  }
});

Deno.test("DatagramReader: wait() gets each datagram whole and apart, then null once closed", async () => {
  const r = new DatagramReader(listenBelowEphemeral());
  const tx = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (r.conn.addr as Deno.NetAddr).port;
  try {
    await tx.send(enc.encode("first, longer"), r.conn.addr);
    await tx.send(enc.encode("second"), r.conn.addr);
    const one = await r.wait();
    const two = await r.wait();
    // Each datagram is its own copy: the reader's one receive buffer is reused.
    assert.equal(new TextDecoder().decode(one!.data), "first, longer");
    assert.equal(new TextDecoder().decode(two!.data), "second");
    assert.equal(one!.from.port, (tx.addr as Deno.NetAddr).port);
    const pending = r.wait();
    await r.close();
    assert.equal(await pending, null, "closing ends the pending wait with null");
    assert.equal(await r.wait(), null);
    // close() resolved once the pending receive settled: the port is free again.
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
  } finally {
    await r.close();
    tx.close();
  }
});
