/**
 * A capture in the lab's terms, with no I/O: packets grouped into conversations (client ->
 * server), relative TCP sequence numbers, each direction's stream reassembled (first copy
 * of each byte; retransmissions named), what each segment carries (PMU messages, flood
 * bytes, commands, RESET/OFFSET, multicast ID and text, TLS records, WebSocket frames), and
 * a summary answering the handout's questions: sends vs data segments, bytes per segment,
 * ACKs, retransmissions, the handshakes' round trips.
 * @module
 */
import { parseCommand } from "../pmu/protocol.ts";
import { isMulticastV4, parseDatagram } from "../multicast/datagram.ts";
import { parseAck, parseReset } from "../udp/reset.ts";
import { hostPort } from "../net/address.ts";
import { decodeFrame, flagNames, type Packet, type Skipped, TCP } from "./decode.ts";
import { byteText, type Item, pmuItems, quote, segmentLabel, textItems } from "./items.ts";
import type { PcapFile } from "./pcap.ts";
import { looksLikeTls, type TlsFacts, tlsItems } from "./tls.ts";
import { looksLikeHttp, type WsFacts, wsItems } from "./websocket.ts";

export type Dir = "c2s" | "s2c";

/** One line of the packet view. */
export interface PacketLine {
  no: number;
  /** Seconds since the first packet. */
  time: number;
  conv: number;
  dir: Dir;
  proto: string;
  flags?: string;
  seq?: number;
  ack?: number;
  win?: number;
  len: number;
  retransmission?: boolean;
  decode: string;
}

export interface DirStats {
  packets: number;
  dataSegments: number;
  bytes: number;
  minSegment?: number;
  maxSegment?: number;
  /** Segments with no payload whose only job is ACK (no SYN, FIN, RST). */
  pureAcks: number;
  retransmissions: number;
  retransmittedBytes: number;
  /** Stream bytes never captured (holes), if any. */
  missingBytes: number;
}

export interface Conversation {
  id: number;
  proto: string;
  client: string;
  server: string;
  /** `pmu`, `tls`, `websocket`, `reset` (part 3), `multicast`, or `other`. */
  app: string;
  c2s: DirStats;
  s2c: DirStats;
  /** Summary lines in words. */
  notes: string[];
}

export interface Analysis {
  linkType: number;
  truncated: boolean;
  packets: PacketLine[];
  skipped: Skipped[];
  conversations: Conversation[];
}

interface Seg {
  p: Packet;
  dir: Dir;
  rel: number;
  relAck?: number;
  /** Stream offsets [a, b) of its payload. */
  a: number;
  b: number;
  retrans: boolean;
}

interface Conv {
  id: number;
  proto: string;
  clientKey: string;
  serverKey: string;
  packets: { p: Packet; dir: Dir }[];
}

type Labels = Map<number, Omit<PacketLine, "no" | "time">>;

const endpoint = (addr: string, port: number) => hostPort(addr, port);

function emptyStats(): DirStats {
  return {
    packets: 0,
    dataSegments: 0,
    bytes: 0,
    pureAcks: 0,
    retransmissions: 0,
    retransmittedBytes: 0,
    missingBytes: 0,
  };
}

/** `1 packet`, `2 packets`. */
function n(count: number, what: string): string {
  return `${count} ${what}${count === 1 ? "" : "s"}`;
}

function fmtMs(us: number): string {
  return `${(us / 1000).toFixed(3)} ms`;
}

/** Count a segment or datagram carrying `len` bytes. */
function countData(st: DirStats, len: number): void {
  st.dataSegments++;
  st.bytes += len;
  st.minSegment = Math.min(st.minSegment ?? Infinity, len);
  st.maxSegment = Math.max(st.maxSegment ?? 0, len);
}

/** A line per direction: `client -> server: N <what>s, <rest>`; with `skipEmpty`, only those seen. */
function dirNotes(
  stats: Record<Dir, DirStats>,
  what: string,
  rest: (st: DirStats) => string,
  skipEmpty = false,
): string[] {
  return (["c2s", "s2c"] as Dir[]).filter((dir) => !skipEmpty || stats[dir].packets > 0).map(
    (dir) =>
      `${dir === "c2s" ? "client -> server" : "server -> client"}: ${
        n(stats[dir].packets, what)
      }, ${rest(stats[dir])}`,
  );
}

/** The conversation's result, for TCP and datagrams alike. */
function conversation(
  c: Conv,
  app: string,
  stats: Record<Dir, DirStats>,
  notes: string[],
): Conversation {
  return {
    id: c.id,
    proto: c.proto.toUpperCase(),
    client: c.clientKey,
    server: c.serverKey,
    app,
    c2s: stats.c2s,
    s2c: stats.s2c,
    notes,
  };
}

/** Analyze a parsed pcap file. */
export function analyze(file: PcapFile): Analysis {
  const packets: Packet[] = [];
  const skipped: Skipped[] = [];
  file.records.forEach((r, i) => {
    const d = decodeFrame(r.linkType ?? file.linkType, r, i + 1);
    if ("skipped" in d) skipped.push(d);
    else packets.push(d);
  });
  const t0 = file.records[0]?.timeUs ?? 0;

  // Conversations, in order of first packet; the client is who sent the SYN, else who spoke first.
  const convs = new Map<string, Conv>();
  for (const p of packets) {
    const from = endpoint(p.src, p.sport);
    const to = endpoint(p.dst, p.dport);
    const key = `${p.proto} ${[from, to].sort().join(" ")}`;
    let c = convs.get(key);
    if (!c) {
      c = { id: convs.size + 1, proto: p.proto, clientKey: from, serverKey: to, packets: [] };
      convs.set(key, c);
    }
    if (p.tcp && p.tcp.flags & TCP.SYN && !(p.tcp.flags & TCP.ACK)) {
      [c.clientKey, c.serverKey] = [from, to];
    }
    c.packets.push({ p, dir: "c2s" });
  }
  for (const c of convs.values()) {
    for (const e of c.packets) e.dir = endpoint(e.p.src, e.p.sport) === c.clientKey ? "c2s" : "s2c";
  }

  const labels: Labels = new Map();
  const conversations: Conversation[] = [];
  for (const c of convs.values()) {
    conversations.push(c.proto === "tcp" ? analyzeTcp(c, labels) : analyzeDatagrams(c, labels));
  }
  const lines: PacketLine[] = packets.map((p) => ({
    no: p.no,
    time: (p.timeUs - t0) / 1e6,
    ...labels.get(p.no)!,
  }));
  return {
    linkType: file.linkType,
    truncated: file.truncated,
    packets: lines,
    skipped,
    conversations,
  };
}

/** One TCP conversation: its segments numbered, its streams reassembled, read, labelled, told. */
function analyzeTcp(c: Conv, labels: Labels): Conversation {
  const tcp = tcpSegments(c);
  const streams = reassemble(tcp.segs, tcp.stats);
  const content = streamContent(streams);
  labelSegments(c, tcp, content.items, labels);
  const notes = [
    handshakeNote(tcp),
    ...dirNotes(tcp.stats, "packet", tcpDirNote),
    ...closeNote(tcp.segs),
    ...appNotes(tcp, streams, content),
  ];
  return conversation(c, content.app, tcp.stats, notes);
}

/** A TCP conversation's segments, numbered relative to each side's ISN, and counted. */
interface TcpSegments {
  segs: Seg[];
  stats: Record<Dir, DirStats>;
  /** Window scale and MSS each side offered in its SYN. */
  wscale: Partial<Record<Dir, number>>;
  mss: Partial<Record<Dir, number>>;
}

const other = (d: Dir): Dir => (d === "c2s" ? "s2c" : "c2s");

/**
 * Relative sequence numbers (from each side's SYN, else its first segment), the stream
 * offsets of each payload, retransmissions (bytes already sent), and each side's counts.
 */
function tcpSegments(c: Conv): TcpSegments {
  const base: Partial<Record<Dir, number>> = {};
  for (const { p, dir } of c.packets) {
    if (base[dir] === undefined && p.tcp!.flags & TCP.SYN) base[dir] = p.tcp!.seq;
  }
  for (const { p, dir } of c.packets) {
    if (base[dir] === undefined) base[dir] = (p.tcp!.seq - 1) >>> 0;
  }
  const out: TcpSegments = {
    segs: [],
    stats: { c2s: emptyStats(), s2c: emptyStats() },
    wscale: {},
    mss: {},
  };
  // The end of the highest stream byte sent so far, per direction.
  const sent: Record<Dir, number> = { c2s: 0, s2c: 0 };
  for (const { p, dir } of c.packets) {
    const t = p.tcp!;
    const rel = (t.seq - base[dir]!) >>> 0;
    const relAck = t.flags & TCP.ACK && base[other(dir)] !== undefined
      ? (t.ack - base[other(dir)]!) >>> 0
      : undefined;
    if (t.wscale !== undefined) out.wscale[dir] = t.wscale;
    if (t.mss !== undefined) out.mss[dir] = t.mss;
    const a = rel - 1;
    const b = a + p.payload.length;
    let retrans = false;
    const st = out.stats[dir];
    st.packets++;
    if (p.payload.length > 0) {
      const already = Math.max(0, Math.min(b, sent[dir]) - a);
      sent[dir] = Math.max(sent[dir], b);
      retrans = already > 0;
      if (retrans) {
        st.retransmissions++;
        st.retransmittedBytes += already;
      }
      countData(st, p.payload.length);
    } else if (t.flags & TCP.ACK && !(t.flags & (TCP.SYN | TCP.FIN | TCP.RST))) {
      st.pureAcks++;
    }
    out.segs.push({ p, dir, rel, relAck, a, b, retrans });
  }
  return out;
}

/** Each direction's stream, the first copy of every byte; its holes counted in `stats`. */
function reassemble(segs: Seg[], stats: Record<Dir, DirStats>): Record<Dir, Uint8Array> {
  const streams: Record<Dir, Uint8Array> = { c2s: new Uint8Array(), s2c: new Uint8Array() };
  for (const dir of ["c2s", "s2c"] as Dir[]) {
    const mine = segs.filter((s) => s.dir === dir && s.b > s.a && s.a >= 0);
    // The stream's length: its highest byte captured, or acknowledged by the peer.
    const acked = segs.filter((s) => s.dir === other(dir) && s.relAck !== undefined)
      .map((s) => s.relAck! - 1 - (finSeen(segs, dir, s.relAck!) ? 1 : 0));
    const len = Math.max(0, ...mine.map((s) => s.b), ...acked);
    const buf = new Uint8Array(len);
    const have = new Uint8Array(len);
    for (const s of mine) {
      for (let i = 0; i < s.p.payload.length; i++) {
        if (!have[s.a + i]) {
          buf[s.a + i] = s.p.payload[i];
          have[s.a + i] = 1;
        }
      }
    }
    stats[dir].missingBytes = have.reduce((n, h) => n + (h ? 0 : 1), 0);
    streams[dir] = buf;
  }
  return streams;
}

/** What the two streams hold: the application, its items at stream offsets, and its facts. */
interface StreamContent {
  /** `pmu`, `tls`, `websocket` or `other`. */
  app: string;
  items: Record<Dir, Item[]>;
  /** The client's PMU command (parsed whatever the app). */
  cmd: ReturnType<typeof parseCommand>;
  tls: TlsFacts;
  /** The server's WebSocket frames and status, and the client's request. */
  ws: WsFacts;
  wsClient: WsFacts;
}

function streamContent(streams: Record<Dir, Uint8Array>): StreamContent {
  const cs = streams.c2s;
  const content: StreamContent = {
    app: "other",
    items: { c2s: [], s2c: [] },
    cmd: parseCommand(byteText(cs)),
    tls: {},
    ws: { frames: {} },
    wsClient: { frames: {} },
  };
  const { items, tls, ws, wsClient } = content;
  if (looksLikeTls(cs)) {
    content.app = "tls";
    items.s2c = tlsItems(streams.s2c, tls);
    items.c2s = tlsItems(cs, tls);
  } else if (looksLikeHttp(cs)) {
    content.app = "websocket";
    items.c2s = wsItems(cs, wsClient);
    items.s2c = wsItems(streams.s2c, ws);
    ws.request = wsClient.request;
  } else if (cs.length > 0 && byteText(cs).startsWith("CMD_")) {
    content.app = "pmu";
    items.c2s = textItems(cs, "command");
    items.s2c = pmuItems(streams.s2c, content.cmd.kind === "flood");
  } else {
    items.c2s = textItems(cs);
    items.s2c = textItems(streams.s2c);
  }
  return content;
}

/** Each segment's line: flags, relative numbers, the scaled window, what its payload carries. */
function labelSegments(c: Conv, tcp: TcpSegments, items: Record<Dir, Item[]>, labels: Labels) {
  const { wscale } = tcp;
  for (const s of tcp.segs) {
    const t = s.p.tcp!;
    const scale = wscale.c2s !== undefined && wscale.s2c !== undefined ? wscale[s.dir]! : 0;
    let decode = s.b > s.a ? segmentLabel(items[s.dir], s.a, s.b) : "";
    if (s.retrans) decode = `retransmission${decode ? `: ${decode}` : ""}`;
    if (t.flags & TCP.SYN) {
      const opts = [
        t.mss !== undefined ? `mss=${t.mss}` : "",
        t.wscale !== undefined ? `wscale=${t.wscale}` : "",
      ].filter(Boolean);
      decode = opts.join(" ");
    }
    labels.set(s.p.no, {
      conv: c.id,
      dir: s.dir,
      proto: "TCP",
      flags: flagNames(t.flags),
      seq: s.rel,
      ack: s.relAck,
      win: t.flags & TCP.SYN ? t.window : t.window << scale,
      len: s.p.payload.length,
      retransmission: s.retrans || undefined,
      decode,
    });
  }
}

/** The three-way handshake: its round trip and options, refused, or not captured. */
function handshakeNote({ segs, mss, wscale }: TcpSegments): string {
  const syn = segs.find((s) => s.dir === "c2s" && s.p.tcp!.flags & TCP.SYN);
  const synAck = segs.find((s) => s.dir === "s2c" && s.p.tcp!.flags & TCP.SYN);
  const ack3 = synAck &&
    segs.find((s) =>
      s.dir === "c2s" && s.p.timeUs >= synAck.p.timeUs && !(s.p.tcp!.flags & TCP.SYN)
    );
  if (syn && synAck && ack3) {
    return `TCP handshake: SYN -> SYN,ACK -> ACK, 1 round trip (${
      fmtMs(synAck.p.timeUs - syn.p.timeUs)
    }); MSS ${mss.c2s ?? "?"}/${mss.s2c ?? "?"}, window scale ${wscale.c2s ?? "none"}/${
      wscale.s2c ?? "none"
    } (client/server)`;
  }
  if (syn && !synAck && segs.some((s) => s.dir === "s2c" && s.p.tcp!.flags & TCP.RST)) {
    return "TCP handshake: the server answered the SYN with RST (connection refused)";
  }
  return "TCP handshake: not (fully) in the capture";
}

/** A direction's counts after `client -> server: N packets, `. */
function tcpDirNote(st: DirStats): string {
  const per = st.dataSegments
    ? `, ${
      (st.bytes / st.dataSegments).toFixed(1)
    } bytes per segment on average (min ${st.minSegment}, max ${st.maxSegment})`
    : "";
  return `${n(st.dataSegments, "data segment")} carrying ${st.bytes} bytes${per}; ${
    n(st.pureAcks, "pure ACK")
  }; ${n(st.retransmissions, "retransmission")}${
    st.retransmissions ? ` (${st.retransmittedBytes} bytes again)` : ""
  }${st.missingBytes ? `; ${st.missingBytes} bytes of the stream not captured` : ""}`;
}

/** Who closed first (FIN or RST), if anyone did. */
function closeNote(segs: Seg[]): string[] {
  const fin = segs.find((s) => s.p.tcp!.flags & (TCP.FIN | TCP.RST));
  if (!fin) return [];
  return [
    `close: ${fin.dir === "c2s" ? "client" : "server"} sent ${
      fin.p.tcp!.flags & TCP.RST ? "RST" : "FIN"
    } first`,
  ];
}

/** What the application did, in the handout's terms. */
function appNotes(
  tcp: TcpSegments,
  streams: Record<Dir, Uint8Array>,
  content: StreamContent,
): string[] {
  if (content.app === "pmu") return pmuNotes(tcp, streams, content);
  if (content.app === "websocket") {
    const { ws, wsClient } = content;
    return [
      `WebSocket: ${ws.request ?? "?"} -> ${ws.status ?? "no answer"}; client frames ${
        frameList(wsClient.frames)
      }; server frames ${frameList(ws.frames)}`,
    ];
  }
  if (content.app === "tls") return tlsNotes(tcp.segs, content);
  return [];
}

/** PMU: messages (send() calls) against data segments, or the flood's coverage. */
function pmuNotes(
  { segs, stats }: TcpSegments,
  streams: Record<Dir, Uint8Array>,
  { cmd, items }: StreamContent,
): string[] {
  const notes: string[] = [];
  const cs = streams.c2s;
  const serverData = segs.filter((s) => s.dir === "s2c" && s.b > s.a && !s.retrans).length;
  if (stats.s2c.missingBytes) {
    notes.push(
      `(the capture misses ${stats.s2c.missingBytes} bytes of the server's stream: packets were dropped by the capture, so the counts below are short)`,
    );
  }
  if (cmd.kind === "short") {
    const msgs = items.s2c.filter((i) => i.kind === "message").length;
    notes.push(
      `PMU: ${
        byteText(cs).trim()
      } -> ${msgs} messages (${msgs} send() calls by the server) in ${serverData} data segments${
        msgs > serverData ? ": several messages shared a segment" : ""
      }${msgs === serverData ? ": one segment per message" : ""}`,
    );
  } else if (cmd.kind === "flood") {
    const n = streams.s2c.length;
    const once = stats.s2c.missingBytes === 0;
    notes.push(
      `PMU: CMD_floodme -> ${n} bytes (one send() by the server) in ${serverData} data segments; they cover bytes 0..${
        n - 1
      } ${once ? "exactly once" : `except ${stats.s2c.missingBytes} missing`}${
        stats.s2c.retransmissions ? " (retransmissions aside)" : ""
      }`,
    );
  } else {
    notes.push(`PMU: command ${quote(byteText(cs))} -> ${quote(byteText(streams.s2c))}`);
  }
  return notes;
}

/** TLS: what was offered and chosen, the handshake's round trips, the certificates. */
function tlsNotes(segs: Seg[], { tls, items }: StreamContent): string[] {
  const hsFlights = tlsRoundTrips(segs, items);
  const notes = [
    `TLS: client offers ${tls.offered?.join(", ") ?? "?"}${
      tls.sni ? ` (SNI ${tls.sni})` : ""
    }; server chose ${tls.version ?? "?"}, ${
      tls.cipherSuite ?? "?"
    }; handshake ${hsFlights} round trip${
      hsFlights === 1 ? "" : "s"
    } before the client's first data`,
  ];
  if (tls.certificates?.length) {
    for (const cert of tls.certificates) {
      notes.push(
        `TLS certificate: subject ${cert.subject}; issuer ${cert.issuer}; valid ${cert.validFrom} to ${cert.validTo}`,
      );
    }
  } else if (tls.version === "TLS 1.3") {
    notes.push("TLS certificate: encrypted (TLS 1.3 sends it after the ServerHello, encrypted)");
  }
  return notes;
}

/**
 * Round trips of the TLS handshake: the server's flights (runs of its records with no client
 * handshake record between; ChangeCipherSpec aside) before the client's first ApplicationData
 * record. TLS 1.3: 1 (the client's
 * Finished already travels as ApplicationData); TLS 1.2: 2.
 */
function tlsRoundTrips(segs: Seg[], items: Record<Dir, Item[]>): number {
  const events: { t: number; dir: Dir; app: boolean }[] = [];
  for (const dir of ["c2s", "s2c"] as Dir[]) {
    for (const it of items[dir]) {
      // A TLS 1.3 client sends its (dummy) ChangeCipherSpec as soon as the ServerHello is in.
      if (it.kind === "ChangeCipherSpec") continue;
      const seg = segs.find((s) => s.dir === dir && s.a <= it.start && it.start < s.b);
      if (seg) events.push({ t: seg.p.timeUs, dir, app: it.kind === "ApplicationData" });
    }
  }
  events.sort((x, y) => x.t - y.t);
  let flights = 0;
  let last: Dir | undefined;
  for (const e of events) {
    if (e.dir === "c2s" && e.app) break;
    if (e.dir === "s2c" && last !== "s2c") flights++;
    last = e.dir;
  }
  return flights;
}

/** True if `dir` sent a FIN that `relAck` acknowledges (the FIN takes one sequence number). */
function finSeen(segs: Seg[], dir: Dir, relAck: number): boolean {
  return segs.some((s) => s.dir === dir && s.p.tcp!.flags & TCP.FIN && s.b + 2 <= relAck);
}

function frameList(frames: Record<string, number>): string {
  const parts = Object.entries(frames).map(([k, n]) => `${n} ${k}`);
  return parts.length ? parts.join(", ") : "none";
}

function analyzeDatagrams(
  c: Conv,
  labels: Labels,
): Conversation {
  const stats: Record<Dir, DirStats> = { c2s: emptyStats(), s2c: emptyStats() };
  const group = c.packets[0].p.dst;
  const multicast = isMulticastV4(group) || group.toLowerCase().startsWith("ff");
  let resets = 0;
  let offsets = 0;
  const ids = new Map<string, number>();
  for (const { p, dir } of c.packets) {
    const st = stats[dir];
    st.packets++;
    countData(st, p.payload.length);
    let decode: string;
    if (multicast) {
      const d = parseDatagram(p.payload);
      ids.set(d.id, (ids.get(d.id) ?? 0) + 1);
      decode = `multicast ID ${quote(d.id)} text ${quote(d.text, 48)}`;
    } else if (parseReset(p.payload) !== null) {
      resets++;
      decode = `RESET:${parseReset(p.payload)}`;
    } else if (parseAck(byteText(p.payload)) !== null) {
      offsets++;
      decode = `OFFSET:${parseAck(byteText(p.payload))}`;
    } else {
      decode = quote(byteText(p.payload));
    }
    labels.set(p.no, {
      conv: c.id,
      dir,
      proto: c.proto.toUpperCase(),
      len: p.payload.length,
      decode,
    });
  }
  const notes = dirNotes(
    stats,
    "datagram",
    (st) => `${st.bytes} bytes (min ${st.minSegment}, max ${st.maxSegment})`,
    true,
  );
  let app = "other";
  if (multicast) {
    app = "multicast";
    notes.push(
      `multicast to ${c.serverKey}: ${
        [...ids].map(([id, count]) => `${count} with ID ${quote(id)}`).join(", ")
      }`,
    );
  } else if (resets > 0) {
    app = "reset";
    notes.push(
      `part 3: ${n(resets, "RESET datagram")} (one per attempt), ${n(offsets, "OFFSET answer")}: ${
        n(resets - offsets, "attempt")
      } got no answer (the server dropped it, or the client gave up first)`,
    );
  }
  return conversation(c, app, stats, notes);
}

/** The packet view as text lines: one per packet, then the summary. */
export function formatAnalysis(an: Analysis): string[] {
  const out: string[] = [];
  const many = an.conversations.length > 1;
  for (const c of an.conversations) {
    out.push(
      `conversation ${c.id}: ${c.proto} client ${c.client} -> server ${c.server} (${c.app})`,
    );
  }
  for (const l of an.packets) {
    const arrow = l.dir === "c2s" ? "client -> server" : "server -> client";
    const tcp = l.flags !== undefined
      ? ` [${l.flags}] seq=${l.seq}${l.ack !== undefined ? ` ack=${l.ack}` : ""} win=${l.win}`
      : "";
    out.push(
      `${String(l.no).padStart(4)} ${l.time.toFixed(6).padStart(10)} ${
        many ? `#${l.conv} ` : ""
      }${arrow} ${l.proto}${tcp} len=${l.len}${l.decode ? `  ${l.decode}` : ""}`,
    );
  }
  for (const s of an.skipped) out.push(`${String(s.no).padStart(4)} (not decoded: ${s.skipped})`);
  if (an.truncated) out.push("(the file ends inside a packet: the capture was cut)");
  out.push("");
  for (const c of an.conversations) {
    out.push(`summary of conversation ${c.id} (${c.proto} ${c.client} -> ${c.server}):`);
    for (const n of c.notes) out.push(`  ${n}`);
  }
  if (an.conversations.length === 0) out.push("no TCP or UDP packets in the capture");
  return out;
}
