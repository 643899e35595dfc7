/**
 * The packet view's pure half (mod/packets/): pcap files written and read back, cut at
 * random; every link type; IPv4/IPv6 with options and extension headers; TCP and UDP; and
 * the lab's decoders on synthetic exchanges (PMU d=0 and flood with a retransmission,
 * RESET/OFFSET, multicast, TLS 1.2 with its certificate, TLS 1.3, WebSocket).
 */
import assert from "node:assert/strict";
import { analyze, formatAnalysis } from "../mod/packets/analyze.ts";
import { frame, ipPacket, tcpSegment, udpDatagram } from "./helpers/packets.ts";
import { decodeFrame, type Packet, TCP } from "../mod/packets/decode.ts";
import { ipv6String } from "../mod/net/address.ts";
import {
  LINKTYPE,
  PcapError,
  type PcapRecord,
  readPcap,
  writePcap,
  writePcapng,
} from "../mod/packets/pcap.ts";
import { tlsItems } from "../mod/packets/tls.ts";
import { wsItems } from "../mod/packets/websocket.ts";
import { floodText, pmuMessage } from "../mod/pmu/mod.ts";
import { seededRandom } from "../mod/random.ts";

const enc = new TextEncoder();
const LINKS = Object.values(LINKTYPE);

function randomBytes(rnd: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
}

Deno.test("pcap: written then read back gives the same records, for random files", () => {
  const rnd = seededRandom(22);
  for (let trial = 0; trial < 50; trial++) {
    const linkType = LINKS[trial % LINKS.length];
    const records: PcapRecord[] = Array.from({ length: Math.floor(rnd() * 20) }, () => {
      const data = randomBytes(rnd, Math.floor(rnd() * 300));
      return {
        timeUs: 1_700_000_000_000_000 + Math.floor(rnd() * 1e12),
        origLen: data.length + (rnd() < 0.2 ? 100 : 0),
        data,
      };
    });
    const file = writePcap(linkType, records);
    const back = readPcap(file);
    assert.equal(back.linkType, linkType);
    assert.equal(back.truncated, false);
    assert.deepEqual(back.records, records);
  }
});

Deno.test("pcap: a file cut anywhere reads as its complete records, marked truncated", () => {
  const rnd = seededRandom(7);
  const records: PcapRecord[] = Array.from({ length: 8 }, (_, i) => {
    const data = randomBytes(rnd, 10 + i * 13);
    return { timeUs: 1_000_000 * i + 17, origLen: data.length, data };
  });
  const file = writePcap(LINKTYPE.ETHERNET, records);
  const ends = [24];
  for (const r of records) ends.push(ends[ends.length - 1] + 16 + r.data.length);
  for (let trial = 0; trial < 200; trial++) {
    const cut = Math.floor(rnd() * (file.length + 1));
    if (cut < 24) {
      assert.throws(() => readPcap(file.subarray(0, cut)), PcapError);
      continue;
    }
    const back = readPcap(file.subarray(0, cut));
    const complete = ends.filter((e) => e <= cut).length - 1;
    assert.equal(back.records.length, complete, `cut at ${cut}`);
    assert.deepEqual(back.records, records.slice(0, complete));
    assert.equal(back.truncated, !ends.includes(cut));
  }
});

Deno.test("pcap: big-endian and nanosecond files; garbage is named", () => {
  const data = new Uint8Array([1, 2, 3]);
  const le = writePcap(LINKTYPE.RAW, [{ timeUs: 5_000_123, origLen: 3, data }]);
  // Swap every 32-bit header field (and the two 16-bit version fields) to big-endian.
  const be = le.slice();
  const swap32 = (off: number) => be.set(le.slice(off, off + 4).reverse(), off);
  const swap16 = (off: number) => be.set(le.slice(off, off + 2).reverse(), off);
  [0, 8, 12, 16, 20, 24, 28, 32, 36].forEach(swap32);
  [4, 6].forEach(swap16);
  assert.deepEqual(readPcap(be).records, [{ timeUs: 5_000_123, origLen: 3, data }]);
  const ns = le.slice();
  new DataView(ns.buffer).setUint32(0, 0xa1b23c4d, true);
  new DataView(ns.buffer).setUint32(28, 123_456, true);
  assert.equal(readPcap(ns).records[0].timeUs, 5_000_123);
  assert.throws(() => readPcap(enc.encode("hello, this is not a capture file")), /not a pcap/);
});

Deno.test("pcapng: written then read back, any resolution and several link types; cut anywhere", () => {
  const rnd = seededRandom(5);
  for (let trial = 0; trial < 30; trial++) {
    const records: PcapRecord[] = Array.from({ length: 1 + Math.floor(rnd() * 10) }, (_, i) => {
      const data = randomBytes(rnd, Math.floor(rnd() * 200));
      const r: PcapRecord = {
        timeUs: 1_700_000_000_000_000 + i * 1000 + trial,
        origLen: data.length,
        data,
      };
      if (i > 0 && rnd() < 0.3) r.linkType = LINKTYPE.RAW;
      return r;
    });
    const file = writePcapng(LINKTYPE.ETHERNET, records, trial % 2 ? 9 : 6);
    const back = readPcap(file);
    assert.equal(back.linkType, LINKTYPE.ETHERNET);
    assert.equal(back.truncated, false);
    assert.deepEqual(back.records, records);
    // Cut anywhere after the header blocks: the complete packets, in order.
    const cut = 24 + Math.floor(rnd() * (file.length - 24));
    const part = readPcap(file.subarray(0, cut));
    assert.deepEqual(part.records, records.slice(0, part.records.length));
    const ends: number[] = [];
    const fv = new DataView(file.buffer);
    for (let o = 0; o < file.length; o += fv.getUint32(o + 4, true)) ends.push(o);
    assert.equal(part.truncated, !ends.includes(cut), `cut at ${cut}`);
  }
  // Each packet is decoded with its own interface's link type.
  const ip = ipPacket("127.0.0.1", "127.0.0.1", 17, udpDatagram(1, 2, enc.encode("RESET:20")));
  const mixed = writePcapng(LINKTYPE.ETHERNET, [
    { timeUs: 1, origLen: 0, data: frame(LINKTYPE.ETHERNET, ip) },
    { timeUs: 2, origLen: 0, data: frame(LINKTYPE.LINUX_SLL2, ip), linkType: LINKTYPE.LINUX_SLL2 },
  ]);
  assert.deepEqual(analyze(readPcap(mixed)).packets.map((p) => p.decode), ["RESET:20", "RESET:20"]);
  // Big-endian: the same one-packet file with every multi-byte field swapped.
  const data = new Uint8Array([0x45, 1, 2]);
  const le = writePcapng(LINKTYPE.RAW, [{ timeUs: 5_000_123, origLen: 3, data }]);
  const be = le.slice();
  const swap = (off: number, n: number) => be.set(le.slice(off, off + n).reverse(), off);
  [0, 4, 8, 24, 28, 32, 40, 56, 60, 64, 68, 72, 76, 80, 84, le.length - 4].forEach((o) =>
    swap(o, 4)
  );
  [12, 14, 36, 38, 44, 46].forEach((o) => swap(o, 2));
  assert.deepEqual(readPcap(be).records, [{ timeUs: 5_000_123, origLen: 3, data }]);
});

Deno.test("decode: TCP and UDP over IPv4 and IPv6 on every link type", () => {
  const cases = [
    { src: "127.0.0.1", dst: "127.0.0.2" },
    { src: "::1", dst: "fe80::1:2" },
  ];
  for (const linkType of LINKS) {
    for (const { src, dst } of cases) {
      const payload = enc.encode("This is PMU data 7");
      const seg = tcpSegment({
        sport: 40001,
        dport: 5003,
        seq: 0xfffffff0,
        ack: 77,
        flags: TCP.PSH | TCP.ACK,
        window: 512,
        mss: 1460,
        wscale: 7,
        payload,
      });
      const tcp = decodeFrame(
        linkType,
        { timeUs: 1, origLen: 0, data: frame(linkType, ipPacket(src, dst, 6, seg)) },
        1,
      ) as Packet;
      assert.ok(!("skipped" in tcp), `link ${linkType}: ${JSON.stringify(tcp)}`);
      assert.equal(tcp.family, src.includes(":") ? 6 : 4);
      assert.equal(tcp.src, src);
      assert.equal(tcp.dst, dst);
      assert.equal(tcp.proto, "tcp");
      assert.equal(tcp.sport, 40001);
      assert.equal(tcp.dport, 5003);
      assert.deepEqual(tcp.tcp, {
        seq: 0xfffffff0,
        ack: 77,
        flags: TCP.PSH | TCP.ACK,
        window: 512,
        mss: 1460,
        wscale: 7,
      });
      assert.deepEqual(tcp.payload, payload);
      // A short datagram: the Ethernet padding must not become payload.
      const udp = decodeFrame(
        linkType,
        {
          timeUs: 2,
          origLen: 0,
          data: frame(linkType, ipPacket(src, dst, 17, udpDatagram(5004, 40002, enc.encode("x")))),
        },
        2,
      ) as Packet;
      assert.equal(udp.proto, "udp");
      assert.deepEqual(udp.payload, enc.encode("x"));
    }
  }
  assert.equal(ipv6String(new Uint8Array(16)), "::");
  assert.equal(
    ipv6String(Uint8Array.from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])),
    "2001:db8::1:0:0:1",
  );
  const arp = new Uint8Array(60);
  arp.set([0x08, 0x06], 12);
  const skipped = decodeFrame(LINKTYPE.ETHERNET, { timeUs: 0, origLen: 60, data: arp }, 3);
  assert.ok("skipped" in skipped && skipped.skipped === "ARP");
});

/** A TCP exchange as a pcap: handshake, each chunk in turn (acked), FIN from the server. */
type Chunk = { dir: "c2s" | "s2c"; data: Uint8Array; resend?: boolean };

function tcpCapture(
  chunks: Chunk[],
  opts: { linkType?: number; client?: string; server?: string } = {},
): Uint8Array {
  const linkType = opts.linkType ?? LINKTYPE.ETHERNET;
  const client = opts.client ?? "127.0.0.1";
  const server = opts.server ?? "127.0.0.1";
  const isn = { c2s: 1000, s2c: 900_000 };
  const next = { c2s: isn.c2s + 1, s2c: isn.s2c + 1 };
  const records: PcapRecord[] = [];
  let t = 1_700_000_000_000_000;
  const push = (dir: "c2s" | "s2c", flags: number, seq: number, payload?: Uint8Array) => {
    const back = dir === "c2s" ? "s2c" : "c2s";
    const seg = tcpSegment({
      sport: dir === "c2s" ? 40000 : 5003,
      dport: dir === "c2s" ? 5003 : 40000,
      seq,
      ack: flags & TCP.ACK ? next[back] : 0,
      flags,
      window: 512,
      payload,
      ...(flags & TCP.SYN ? { mss: 65495, wscale: 7 } : {}),
    });
    const [src, dst] = dir === "c2s" ? [client, server] : [server, client];
    const data = frame(linkType, ipPacket(src, dst, 6, seg));
    records.push({ timeUs: t += 100, origLen: data.length, data });
  };
  push("c2s", TCP.SYN, isn.c2s);
  push("s2c", TCP.SYN | TCP.ACK, isn.s2c);
  push("c2s", TCP.ACK, next.c2s);
  for (const c of chunks) {
    const seq = c.resend ? next[c.dir] - c.data.length : next[c.dir];
    if (!c.resend) next[c.dir] += c.data.length;
    push(c.dir, TCP.PSH | TCP.ACK, seq, c.data);
    push(c.dir === "c2s" ? "s2c" : "c2s", TCP.ACK, next[c.dir === "c2s" ? "s2c" : "c2s"]);
  }
  push("s2c", TCP.FIN | TCP.ACK, next.s2c++);
  push("c2s", TCP.FIN | TCP.ACK, next.c2s++);
  push("s2c", TCP.ACK, next.s2c);
  return writePcap(linkType, records);
}

Deno.test("analyze: PMU d=0, messages sharing segments, seen from the server's side", () => {
  const msgs = Array.from({ length: 15 }, (_, i) => pmuMessage(i));
  // 15 sends in 6 segments; segment 3 cuts message 7 in its number ("This is PMU data 1|2").
  const wire = msgs.join("");
  const cuts = [0, 18, 54, 54 + 18 * 3 + 17, 200, 240, wire.length];
  const chunks: Chunk[] = [{ dir: "c2s", data: enc.encode("CMD_short:0") }];
  for (let i = 0; i + 1 < cuts.length; i++) {
    chunks.push({ dir: "s2c", data: enc.encode(wire.slice(cuts[i], cuts[i + 1])) });
  }
  for (const linkType of LINKS) {
    const an = analyze(readPcap(tcpCapture(chunks, { linkType })));
    assert.equal(an.conversations.length, 1);
    const c = an.conversations[0];
    assert.equal(c.app, "pmu");
    assert.equal(c.client, "127.0.0.1:40000");
    assert.equal(c.s2c.dataSegments, 6);
    assert.equal(c.s2c.bytes, wire.length);
    assert.equal(c.s2c.retransmissions, 0);
    const data = an.packets.filter((p) => p.dir === "s2c" && p.len > 0);
    assert.equal(data[0].seq, 1);
    assert.equal(data[0].decode, "This is PMU data 0");
    assert.equal(data[1].decode, "This is PMU data 1 .. 2");
    assert.equal(data[2].decode, "This is PMU data 3 .. 6 (6 cut)");
    assert.match(data[3].decode, /^This is PMU data 6 \.\. \d+ \(6 continued/);
    const text = formatAnalysis(an).join("\n");
    assert.match(text, /15 messages \(15 send\(\) calls by the server\) in 6 data segments/);
    assert.match(text, /1 round trip/);
  }
});

Deno.test("analyze: a refused connection is a SYN answered by RST", () => {
  const rec = (data: Uint8Array, timeUs: number) => ({ timeUs, origLen: data.length, data });
  const syn = tcpSegment({ sport: 40000, dport: 5003, seq: 7, flags: TCP.SYN });
  const rst = tcpSegment({ sport: 5003, dport: 40000, seq: 0, ack: 8, flags: TCP.RST | TCP.ACK });
  const an = analyze(readPcap(writePcap(LINKTYPE.RAW, [
    rec(ipPacket("127.0.0.1", "127.0.0.1", 6, syn), 1),
    rec(ipPacket("127.0.0.1", "127.0.0.1", 6, rst), 2),
  ])));
  assert.equal(an.packets[1].flags, "RST,ACK");
  assert.equal(an.packets[1].ack, 1);
  assert.match(an.conversations[0].notes[0], /answered the SYN with RST \(connection refused\)/);
});

Deno.test("analyze: a flood with a retransmission covers every byte exactly once", () => {
  const flood = enc.encode(floodText(10_000));
  const chunks: Chunk[] = [
    { dir: "c2s", data: enc.encode("CMD_floodme") },
  ];
  for (let off = 0; off < flood.length; off += 1448) {
    chunks.push({ dir: "s2c", data: flood.subarray(off, off + 1448) });
    if (off === 1448 * 3) {
      chunks.push({ dir: "s2c", data: flood.subarray(off, off + 1448), resend: true });
    }
  }
  const an = analyze(readPcap(tcpCapture(chunks, { client: "::1", server: "::1" })));
  const c = an.conversations[0];
  assert.equal(c.s2c.retransmissions, 1);
  assert.equal(c.s2c.missingBytes, 0);
  const lines = an.packets.filter((p) => p.dir === "s2c" && p.len > 0);
  assert.equal(lines[0].decode, "flood bytes 0..1447");
  assert.equal(lines[4].decode, `retransmission: flood bytes ${1448 * 3}..${1448 * 4 - 1}`);
  assert.match(
    c.notes.join("\n"),
    /10000 bytes .* in 7 data segments; they cover bytes 0\.\.9999 exactly once \(retransmissions aside\)/,
  );
});

Deno.test("analyze: part 3 datagrams (one RESET per attempt, lost answers) and multicast", () => {
  const records: PcapRecord[] = [];
  let t = 0;
  const udp = (src: string, dst: string, sp: number, dp: number, text: string) => {
    const data = frame(
      LINKTYPE.LINUX_SLL2,
      ipPacket(src, dst, 17, udpDatagram(sp, dp, enc.encode(text))),
    );
    records.push({ timeUs: t += 1000, origLen: data.length, data });
  };
  for (let i = 0; i < 3; i++) udp("::1", "::1", 41000, 5004, "RESET:20");
  udp("::1", "::1", 5004, 41000, "OFFSET:7");
  udp("127.0.0.1", "224.1.1.1", 42000, 10505, "swcmTVBut soft! what light");
  udp("127.0.0.1", "224.1.1.1", 42000, 10505, "swcmTV");
  const an = analyze(readPcap(writePcap(LINKTYPE.LINUX_SLL2, records)));
  assert.equal(an.conversations.length, 2);
  const [reset, tv] = an.conversations;
  assert.equal(reset.app, "reset");
  assert.equal(reset.c2s.packets, 3);
  assert.match(
    reset.notes.join("\n"),
    /3 RESET datagrams .* 1 OFFSET answer: 2 attempts got no answer/,
  );
  assert.equal(an.packets[3].decode, "OFFSET:7");
  assert.equal(tv.app, "multicast");
  assert.equal(an.packets[4].decode, 'multicast ID "swcmTV" text "But soft! what light"');
});

// ---------------------------------------------------------------------------
// TLS and WebSocket

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}
function u24(n: number): number[] {
  return [n >> 16, (n >> 8) & 0xff, n & 0xff];
}
function record(type: number, body: number[]): Uint8Array {
  return Uint8Array.from([type, 3, 3, ...u16(body.length), ...body]);
}
function handshake(type: number, body: number[]): number[] {
  return [type, ...u24(body.length), ...body];
}
function clientHello(): number[] {
  const name = [0, ...u16(9), ...enc.encode("localhost")];
  const sni = [...u16(name.length), ...name];
  const versions = [4, 3, 4, 3, 3];
  const ext = [
    ...u16(0),
    ...u16(sni.length),
    ...sni,
    ...u16(43),
    ...u16(versions.length),
    ...versions,
  ];
  return handshake(1, [
    3,
    3,
    ...Array(32).fill(1),
    0,
    ...u16(4),
    0x13,
    1,
    0xc0,
    0x2f,
    1,
    0,
    ...u16(ext.length),
    ...ext,
  ]);
}
function serverHello(version: number, suite: number): number[] {
  const ext = version === 0x0304 ? [...u16(43), ...u16(2), 3, 4] : [];
  return handshake(2, [
    3,
    3,
    ...Array(32).fill(2),
    0,
    ...u16(suite),
    0,
    ...u16(ext.length),
    ...ext,
  ]);
}
function certDer(): number[] {
  const pem = Deno.readTextFileSync(new URL("../certs/localhost.crt", import.meta.url));
  const b64 = pem.split("-----")[2].replace(/\s/g, "");
  return [...Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))];
}

Deno.test("analyze: TLS 1.2 shows the certificate, 2 round trips; TLS 1.3 says it is encrypted", () => {
  const der = certDer();
  const certMsg = handshake(11, [...u24(der.length + 3), ...u24(der.length), ...der]);
  const tls12 = analyze(readPcap(tcpCapture([
    { dir: "c2s", data: record(22, clientHello()) },
    {
      dir: "s2c",
      data: record(22, [...serverHello(0x0303, 0xc02f), ...certMsg, ...handshake(14, [])]),
    },
    {
      dir: "c2s",
      data: Uint8Array.from([
        ...record(22, handshake(16, [1, 2])),
        ...record(20, [1]),
        ...record(22, [9, 9, 9]),
      ]),
    },
    { dir: "s2c", data: Uint8Array.from([...record(20, [1]), ...record(22, [8, 8, 8])]) },
    { dir: "c2s", data: record(23, [5, 5, 5, 5]) },
  ])));
  const c = tls12.conversations[0];
  assert.equal(c.app, "tls");
  const notes = c.notes.join("\n");
  assert.match(
    notes,
    /client offers TLS 1\.3, TLS 1\.2 \(SNI localhost\); server chose TLS 1\.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256; handshake 2 round trips/,
  );
  assert.match(
    notes,
    /certificate: subject CN=localhost; issuer .*CN=socklab demo CA.*; valid .* to /,
  );
  const decodes = tls12.packets.map((p) => p.decode).join("\n");
  assert.match(
    decodes,
    /TLS Handshake TLS 1\.2 len=\d+: ServerHello .*, Certificate \(1 cert; subject CN=localhost/,
  );
  assert.match(
    decodes,
    /TLS ChangeCipherSpec TLS 1\.2 len=1; TLS Handshake TLS 1\.2 len=3: encrypted handshake message/,
  );

  const tls13 = analyze(readPcap(tcpCapture([
    { dir: "c2s", data: record(22, clientHello()) },
    {
      dir: "s2c",
      data: Uint8Array.from([
        ...record(22, serverHello(0x0304, 0x1302)),
        ...record(20, [1]),
        ...record(23, [7, 7, 7]),
      ]),
    },
    { dir: "c2s", data: Uint8Array.from([...record(20, [1]), ...record(23, [6, 6])]) },
    { dir: "c2s", data: record(23, [5, 5, 5, 5]) },
  ])));
  const n13 = tls13.conversations[0].notes.join("\n");
  assert.match(n13, /server chose TLS 1\.3, TLS_AES_256_GCM_SHA384; handshake 1 round trip /);
  assert.match(n13, /certificate: encrypted/);
  const d13 = tls13.packets.map((p) => p.decode).join("\n");
  assert.match(
    d13,
    /TLS ApplicationData TLS 1\.2 len=3: encrypted handshake \(EncryptedExtensions, Certificate/,
  );
  assert.match(d13, /TLS ApplicationData TLS 1\.2 len=2: encrypted handshake \(Finished\)/);
  assert.match(d13, /TLS ApplicationData TLS 1\.2 len=4$/m);
});

Deno.test("analyze: WebSocket upgrade, then frames with opcode, FIN, mask and length", () => {
  const req =
    "GET /pmu HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const res =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const key = [1, 2, 3, 4];
  const cmd = enc.encode("CMD_short:0");
  const masked = Uint8Array.from([
    0x81,
    0x80 | cmd.length,
    ...key,
    ...cmd.map((b, i) => b ^ key[i % 4]),
  ]);
  const frames = [0, 1].map((i) => {
    const m = enc.encode(pmuMessage(i));
    return Uint8Array.from([0x82, m.length, ...m]);
  });
  const big = Uint8Array.from([0x82, 126, ...u16(300), ...new Uint8Array(300)]);
  const an = analyze(readPcap(tcpCapture([
    { dir: "c2s", data: enc.encode(req) },
    { dir: "s2c", data: enc.encode(res) },
    { dir: "c2s", data: masked },
    { dir: "s2c", data: Uint8Array.from([...frames[0], ...frames[1]]) },
    { dir: "s2c", data: big.subarray(0, 100) },
    { dir: "s2c", data: big.subarray(100) },
    { dir: "s2c", data: Uint8Array.from([0x88, 2, 0x03, 0xe8]) },
  ])));
  const d = an.packets.filter((p) => p.len > 0).map((p) => p.decode);
  assert.equal(d[0], "HTTP GET /pmu HTTP/1.1 (Upgrade: websocket)");
  assert.equal(d[1], "HTTP HTTP/1.1 101 Switching Protocols (Upgrade: websocket)");
  assert.equal(d[2], 'WS text FIN masked len=11 "CMD_short:0"');
  assert.equal(
    d[3],
    'WS binary FIN len=18 "This is PMU data 0"; WS binary FIN len=18 "This is PMU data 1"',
  );
  assert.match(d[4], /^WS binary FIN len=300 .* \(continues\)$/);
  assert.match(d[5], /^\(rest of WS binary FIN len=300 "\\x00/);
  assert.equal(d[6], "WS close FIN len=2 code 1000");
  assert.match(
    an.conversations[0].notes.join("\n"),
    /GET \/pmu HTTP\/1\.1 -> HTTP\/1\.1 101 Switching Protocols; client frames 1 text; server frames 3 binary, 1 close/,
  );
});

Deno.test("decoders never throw on random bytes or random cuts of valid streams", () => {
  const rnd = seededRandom(3);
  const valid = Uint8Array.from([...record(22, clientHello()), ...record(23, [1, 2, 3])]);
  for (let i = 0; i < 300; i++) {
    const junk = randomBytes(rnd, Math.floor(rnd() * 200));
    const cut = valid.subarray(0, Math.floor(rnd() * valid.length));
    const mixed = Uint8Array.from([22, 3, 3, ...junk]);
    for (const s of [junk, cut, mixed]) {
      tlsItems(s, {});
      wsItems(Uint8Array.from([...enc.encode("GET / HTTP/1.1\r\n\r\n"), ...s]), { frames: {} });
    }
    // A frame of random bytes on a random link type never throws either.
    const linkType = LINKS[i % LINKS.length];
    decodeFrame(linkType, { timeUs: 0, origLen: 0, data: junk }, 1);
    analyze({
      linkType,
      snapLen: 0,
      truncated: false,
      records: [{ timeUs: 0, origLen: 0, data: junk }],
    });
  }
});
