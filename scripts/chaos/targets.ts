/**
 * The storms, one per server: which hostile kinds, how many of each, and the
 * good exchange checked against the server's own client code. `scale` 1 is
 * the full run of `deno task chaos`; the test suite runs a reduced storm.
 *
 * @module
 */
import { encodeDatagram, MAX_DATAGRAM } from "../../mod/multicast/datagram.ts";
import { openMulticastSender } from "../../mod/multicast/sender.ts";
import { randomInt } from "../../mod/random.ts";
import { echoExchange } from "../../mod/tcp/echo.ts";
import { pdcExchange } from "../../mod/tcp/pdc.ts";
import { floodText, pmuMessage } from "../../mod/pmu/mod.ts";
import { fileURLToPath } from "node:url";
import { connectSecure, lenientClose } from "../../mod/tls/client.ts";
import { NORMAL_CLOSES } from "../../mod/ws/close.ts";
import { runWsPdc } from "../../mod/ws/ws_pdc.ts";
import { resetExchange } from "../../mod/udp/pdc_udp.ts";
import { parseAck } from "../../mod/udp/reset.ts";
import {
  BUSY_REPLIES,
  closeAfterConnect,
  connectAndStall,
  connectionFlood,
  datagrams,
  type Endpoint,
  mebibyteNoTerminator,
  multicastDatagrams,
  neverRead,
  plainHttp,
  plainOnTls,
  randomBytes,
  randomGarbage,
  resetMidStream,
  sendEachOf,
  stallMidCommand,
  tlsGarbage,
  tlsHandshakeStall,
  tlsThen,
  udpGarbage,
  udpMaxSize,
  wsBigMessage,
  wsFrame,
  wsGarbageFrames,
  wsHalfUpgrade,
  wsInvalidOpcode,
  wsOversize,
  wsThen,
  wsUnmasked,
  wsUpgrade,
} from "./peers.ts";
import type { Proc } from "../lib/proc.ts";
import type { Kind, StormSpec } from "./storm.ts";

export interface Scale {
  /** Multiplies every kind's count (at least 1 of each). */
  peers: number;
  /** How long stalling peers hold, ms. */
  holdMs: number;
  /** Storm time limit, ms. */
  stormMs: number;
  goodMax: number;
  goodMin: number;
  /**
   * The PMU servers' --idle-timeout, s. Also the time a good client has between
   * connecting and its command arriving: on a loaded machine (the test suite
   * runs files in parallel on 2 cores) 0.5 s was too short for good clients.
   */
  idleTimeout: number;
}

/** Full storm: stalling peers hold 4 s, past the 2 s idle timeout, so it shows. */
export const FULL: Scale = {
  peers: 1,
  holdMs: 4_000,
  stormMs: 30_000,
  goodMax: 400,
  goodMin: 20,
  idleTimeout: 2,
};
/** Reduced storm (tests): short holds, and an idle timeout no good client can hit. */
export const REDUCED: Scale = {
  idleTimeout: 10,
  peers: 0.15,
  holdMs: 1_000,
  stormMs: 6_000,
  goodMax: 60,
  goodMin: 5,
};

function kinds(scale: Scale, list: [string, number, Kind["peer"]][]): Kind[] {
  return list.map(([name, count, peer]) => ({
    name,
    count: Math.max(1, Math.round(count * scale.peers)),
    peer,
  }));
}

/** A printable message of random length for the echo check. */
function echoMessage(i: number): string {
  const n = 1 + ((i * 7919) % 3000);
  let s = "";
  for (let k = 0; s.length < n; k++) s += `msg${i}-${k} `;
  return s.slice(0, n);
}

/** Code D against echo-server: what comes back is what was sent. */
async function goodEcho(ep: Endpoint, i: number): Promise<string | null> {
  const conn = await Deno.connect(ep);
  try {
    const msg = echoMessage(Math.max(0, i));
    const got = await echoExchange(conn, msg, () => {}, 8);
    return got === msg ? null : `echo differs (${got.length} of ${msg.length} chars)`;
  } finally {
    conn.close();
  }
}

/** socklab echo-server (part 1.2): proves the harness on a server that exists on main. */
export function echoStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "echo-server",
    argv: ["echo-server", "--host", "127.0.0.1", "--max-per-peer", "0"],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["random bytes", 60, randomGarbage],
      ["1 MiB, no terminator", 8, mebibyteNoTerminator],
      ["connect and stall", 40, connectAndStall],
      ["stall mid-command", 40, stallMidCommand("Oh Rom")],
      ["close after connect", 80, closeAfterConnect],
      ["reset mid-stream", 15, resetMidStream("Oh Romeo, Romeo! wherefore art thou Romeo?", 8)],
      ["never read", 10, neverRead("", true)],
      ["connection flood (100 at once)", 2, connectionFlood(100)],
    ]),
    good: goodEcho,
    handled: (s) => `${s.match(/served (\d+) connection/)?.[1] ?? "?"} connections`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 40,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    seed,
  };
}

const enc = new TextEncoder();

/** Near misses of `RESET:20`: mutated by one edit, out of range, signed, huge, with junk after. */
const NEAR_RESETS = [
  "RESET:3601",
  "RESET:-1",
  "RESET:20.5",
  "RESET:",
  "RESET:99999999999999999999",
  "reset:20",
  "RESET:20\n\n",
  "RESET:20\0",
  " RESET:20",
  "RESET:20;RESET:20",
  "RESET:" + "9".repeat(4000),
  "OFFSET:7",
];

/** pdc-udp's exchange (retransmitting) against pmu-udp: an acknowledgement OFFSET:<x>, 0 <= x <= 20. */
async function goodReset(ep: Endpoint): Promise<string | null> {
  const r = await resetExchange({
    targets: [{ address: ep.hostname, family: 4 }],
    port: ep.port,
    command: "RESET:20",
    timeout: 0.3,
    maxTries: 40,
  });
  if (r.answer === null) return `no acknowledgement in ${r.attempts} attempts`;
  const x = parseAck(r.answer);
  if (x === null || x > 20 || r.answer !== `OFFSET:${x}`) return `bad answer ${r.answer}`;
  return null;
}

/** socklab pmu-udp (part 3), IPv4, losing half its answers like the course server. */
export function pmuUdpStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "pmu-udp",
    argv: ["pmu-udp", "--host", "127.0.0.1", "--family", "4", "--drop", "0.5", "--seed", "1"],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["UDP garbage at full rate", 8, udpGarbage(2_000)],
      ["UDP max-size at full rate", 4, udpMaxSize(300)],
      [
        "near-miss commands",
        8,
        datagrams(500, (_, i) => enc.encode(NEAR_RESETS[i % NEAR_RESETS.length])),
      ],
      ["empty datagrams", 2, datagrams(1_000, () => new Uint8Array(0))],
    ]),
    good: goodReset,
    handled: (s) => `${s.match(/received (\d+) datagram/)?.[1] ?? "?"} datagrams`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin * 3, // the datagram storm is over in seconds: keep checking
    concurrency: 8,
    holdMs: scale.holdMs * 3,
    stormMs: scale.stormMs,
    seed,
  };
}

/** The group and port of the multicast storm (inside a private namespace only). */
export const STORM_GROUP = "224.1.1.1";
export const STORM_PORT = 10505;
const SCIPER = "123456";

/**
 * sender's datagram `<sciper><line>` through socklab's multicast socket (TTL 0)
 * until the receiver prints exactly that line: a good datagram the flood made
 * the kernel drop is sent again every 0.25 s (UDP promises nothing; the
 * receiver must print what does arrive, exactly, and never die).
 */
async function goodMulticast(ep: Endpoint, i: number, rx: Proc): Promise<string | null> {
  const line = `${SCIPER}good ${i} ${"Romeo ".repeat(1 + (Math.abs(i) % 20))}`.trimEnd();
  const sock = await openMulticastSender({ group: ep.hostname, port: ep.port, ttl: 0 });
  try {
    const from = rx.stdout.lines.length;
    for (let k = 0; k < 40; k++) {
      await sock.send(enc.encode(line));
      try {
        await rx.stdout.waitFor(new RegExp(`^${line}$`), 250, from);
        return null;
      } catch { /* not yet: send again */ }
    }
    return `the receiver never printed '${line}'`;
  } finally {
    sock.close();
  }
}

/** socklab receiver (part 4.1) in a private namespace. */
export function receiverStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "receiver",
    argv: ["receiver", STORM_GROUP, String(STORM_PORT)],
    port: STORM_PORT,
    hostname: STORM_GROUP,
    netns: true,
    kinds: kinds(scale, [
      [
        "short datagrams (0-5 bytes)",
        4,
        multicastDatagrams(500, (ctx) => randomBytes(ctx.random, randomInt(ctx.random, 0, 5))),
      ],
      [
        "invalid UTF-8",
        4,
        multicastDatagrams(500, (ctx) =>
          encodeDatagram(
            "swcmTV",
            randomBytes(ctx.random, randomInt(ctx.random, 1, 200)).map(
              (b) => b | 0x80,
            ),
          )),
      ],
      [
        "forged line breaks",
        2,
        multicastDatagrams(
          200,
          (_, i) => enc.encode(`swcmTV\n${SCIPER}good ${i} Romeo\r\n\x1b[2J`),
        ),
      ],
      [
        "garbage at full rate",
        4,
        multicastDatagrams(1_000, (ctx) => randomBytes(ctx.random, randomInt(ctx.random, 0, 1500))),
      ],
      [
        "max-size at full rate",
        2,
        multicastDatagrams(100, (ctx) => randomBytes(ctx.random, MAX_DATAGRAM)),
      ],
    ]),
    good: goodMulticast,
    handled: (s) => `${s.match(/received (\d+) datagram/)?.[1] ?? "?"} datagrams`,
    goodWorkers: 2,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin * 3, // the datagram storm is over in seconds: keep checking
    concurrency: 4,
    holdMs: scale.holdMs * 3,
    stormMs: scale.stormMs,
    seed,
  };
}

// --- PMU (parts 2, 5, 6) ------------------------------------------------------------

/** Near misses of the PMU's commands. */
const NEAR_COMMANDS = [
  "CMD_short:61",
  "CMD_short:-1",
  "CMD_short:1e3",
  "CMD_short:",
  "CMD_shortt:0",
  "cmd_short:0",
  "CMD_floodme!",
  "CMD_flood",
  "CMD_short:0\n\n",
  "CMD_short:0\0",
  " CMD_short:0",
  "CMD_short:" + "9".repeat(300),
  "GET / HTTP/1.1\r\n\r\n",
];

/**
 * The flood size the storms give the servers: 1 MiB, far more than the kernel
 * buffers of a connection hold, so a client that never reads leaves the
 * server's write blocked (the default 56 KiB would just sit in the buffers).
 */
export const STORM_FLOOD = 1 << 20;

/** The good commands, in turn: mostly CMD_short:0, every fourth a flood. */
export function goodCommand(i: number): string {
  return Math.abs(i) % 4 === 3 ? "CMD_floodme" : "CMD_short:0";
}

/**
 * What a PDC must print for `command`: the flood exactly, byte for byte, or
 * `This is PMU data 0..n-1` one a line with 10 <= n <= 20. Null if right.
 */
export function checkPdcOutput(command: string, out: string): string | null {
  if (command === "CMD_floodme") {
    const want = floodText(STORM_FLOOD);
    return out === want ? null : `flood differs: ${out.length} chars, want ${want.length}`;
  }
  const lines = out.split("\n");
  if (lines.pop() !== "") return `output does not end with a newline: ${JSON.stringify(out)}`;
  return checkMessages(lines);
}

function checkMessages(messages: string[]): string | null {
  const n = messages.length;
  if (n < 10 || n > 20) return `${n} messages (want 10..20): ${JSON.stringify(messages)}`;
  const bad = messages.findIndex((m, k) => m !== pmuMessage(k));
  return bad === -1 ? null : `message ${bad} is ${JSON.stringify(messages[bad])}`;
}

/** pdc's exchange (mod/tcp/pdc.ts) over any connection. */
export async function goodPdc(
  conn: Deno.Conn,
  i: number,
  onBusy?: () => void,
): Promise<string | null> {
  try {
    const command = goodCommand(i);
    let out = "";
    await pdcExchange(conn, command, (t) => out += t);
    if (onBusy && out.startsWith(BUSY_REPLIES[0])) {
      onBusy();
      return BUSY_REPLIES[0];
    }
    return checkPdcOutput(command, out);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** The hostile kinds of a PMU over TCP or TLS-less framing (part 2). */
function pmuKinds(scale: Scale): Kind[] {
  return kinds(scale, [
    ["random bytes", 60, randomGarbage],
    ["near-miss commands", 40, sendEachOf(NEAR_COMMANDS)],
    ["1 MiB, no terminator", 8, mebibyteNoTerminator],
    ["connect and stall", 40, connectAndStall],
    ["stall mid-command", 40, stallMidCommand("CMD_sho")],
    ["close after connect", 80, closeAfterConnect],
    ["reset mid-stream", 15, resetMidStream("CMD_floodme", 1)],
    ["never read", 20, neverRead("CMD_floodme")],
    ["connection flood (100 at once)", 3, connectionFlood(100)],
  ]);
}

/**
 * Server flags of the PMU storms: the idle timeout and the flood. Every peer of these
 * storms, good clients included, comes from 127.0.0.1: the per-address cap is off
 * (`--max-per-peer 0`) so that they measure what they always measured; the `-fair` storms
 * below measure the cap, with their good clients on 127.0.0.2.
 */
const pmuFlags = (scale: Scale) => [
  "--idle-timeout",
  String(scale.idleTimeout),
  "--flood-bytes",
  String(STORM_FLOOD),
  "--max-per-peer",
  "0",
];

/** socklab pmu (part 2). */
export function pmuStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "pmu",
    argv: ["pmu", "--host", "127.0.0.1", ...pmuFlags(scale)],
    hostname: "127.0.0.1",
    kinds: pmuKinds(scale),
    good: async (ep, i) => goodPdc(await Deno.connect(ep), i),
    handled: (s) => `${s.match(/served (\d+) connection/)?.[1] ?? "?"} connections`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 40,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    seed,
  };
}

/** ws-pdc's exchange (mod/ws/ws_pdc.ts): every message right, a normal close. */
async function goodWs(ep: Endpoint, i: number): Promise<string | null> {
  const command = goodCommand(i);
  const got: Uint8Array[] = [];
  const r = await runWsPdc(new URL(`ws://${ep.hostname}:${ep.port}/`), command, (m) => {
    got.push(m.data);
  });
  if (!NORMAL_CLOSES.includes(r.code)) return `closed with ${r.code} ${r.reason}`;
  if (command === "CMD_floodme") {
    const text = got.length === 1 ? dec.decode(got[0]) : null;
    return text === floodText(STORM_FLOOD)
      ? null
      : `flood: ${got.length} messages, not the flood text`;
  }
  return checkMessages(got.map((d) => dec.decode(d)));
}

const dec = new TextDecoder();

/** socklab ws-pmu (part 6). */
export function wsPmuStorm(scale: Scale, seed = 1): StormSpec {
  const floodFrame = (ep: Endpoint) => {
    const up = wsUpgrade(ep);
    const f = wsFrame(0x1, enc.encode("CMD_floodme"));
    const all = new Uint8Array(up.length + f.length);
    all.set(up);
    all.set(f, up.length);
    return all;
  };
  return {
    name: "ws-pmu",
    argv: ["ws-pmu", "--host", "127.0.0.1", ...pmuFlags(scale)],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["random bytes", 40, randomGarbage],
      ["plain HTTP request", 40, plainHttp],
      ["half an upgrade, then stall", 20, wsHalfUpgrade],
      ["garbage frames", 40, wsGarbageFrames],
      ["frame announcing 2^40 bytes", 20, wsOversize],
      ["message over the maximum (4 KiB)", 20, wsBigMessage(4096)],
      ["reserved opcodes", 20, wsInvalidOpcode],
      ["unmasked frame", 20, wsUnmasked],
      ["upgrade, then stall", 20, wsThen(() => new Uint8Array(0))],
      ["connect and stall", 20, connectAndStall],
      ["close after connect", 60, closeAfterConnect],
      ["reset mid-stream", 15, resetMidStream(floodFrame, 1)],
      ["never read", 20, neverRead(floodFrame)],
      ["connection flood (100 at once)", 3, connectionFlood(100)],
    ]),
    good: goodWs,
    handled: (s) =>
      `${s.match(/served (\d+) WebSocket/)?.[1] ?? "?"} WebSockets, ${
        s.match(/answered (\d+) plain/)?.[1] ?? "?"
      } HTTP`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 40,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    seed,
  };
}

/** The demo certificates (certs/README.md): public test material. */
const CERTS = fileURLToPath(new URL("../../certs/", import.meta.url));

/** secure-pdc's connection (mod/tls/client.ts: chain checked against the CA), then pdc's exchange. */
async function goodSecure(ep: Endpoint, i: number): Promise<string | null> {
  const caFile = CERTS + "ca.crt";
  const conn = await connectSecure({
    address: ep.hostname,
    port: ep.port,
    name: "localhost",
    caCert: await Deno.readTextFile(caFile),
    caFile,
  });
  return goodPdc(lenientClose(conn), i);
}

/** socklab secure-pmu (part 5) with the demo certificate. */
export function securePmuStorm(scale: Scale, seed = 1): StormSpec {
  const ca = Deno.readTextFileSync(CERTS + "ca.crt");
  return {
    name: "secure-pmu",
    argv: [
      "secure-pmu",
      CERTS + "localhost.crt",
      CERTS + "localhost.key",
      "--host",
      "127.0.0.1",
      ...pmuFlags(scale),
    ],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["random bytes", 40, randomGarbage],
      ["TLS record of garbage", 40, tlsGarbage],
      ["plain TCP command", 40, plainOnTls("CMD_short:0")],
      ["handshake header, then stall", 20, tlsHandshakeStall],
      ["connect and stall", 20, connectAndStall],
      ["close after connect", 60, closeAfterConnect],
      ["handshake, then stall", 20, tlsThen(ca, null, true)],
      ["near-miss command over TLS", 20, tlsThen(ca, "CMD_short:61", true)],
      ["reset mid-stream (TLS)", 10, resetMidStream("CMD_floodme", 1, { tls: true })],
      ["never read (TLS)", 20, tlsThen(ca, "CMD_floodme", false)],
      ["connection flood (100 at once)", 3, connectionFlood(100)],
    ]),
    good: goodSecure,
    handled: (s) => `${s.match(/served (\d+) connection/)?.[1] ?? "?"} connections`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 30,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    seed,
  };
}

/** The connection limit of the `pmu-at-limit` storm. */
export const STORM_LIMIT = 64;

/**
 * `pmu --max-connections 64` under connection floods far over its limit: the
 * floods are refused politely, and a good client told `Server busy` tries
 * again 0.1 s later (as a real one would), up to 100 times; its exchange must
 * then be exactly right.
 */
export function pmuAtLimitStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "pmu-at-limit",
    argv: [
      "pmu",
      "--host",
      "127.0.0.1",
      ...pmuFlags(scale),
      "--max-connections",
      String(STORM_LIMIT),
    ],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["connection flood (100 at once)", 6, connectionFlood(100)],
      ["connect and stall", 40, connectAndStall],
      ["never read", 10, neverRead("CMD_floodme")],
    ]),
    good: async (ep, i) => {
      for (let k = 0; k < 100; k++) {
        let busy = false;
        const why = await goodPdc(await Deno.connect(ep), i, () => busy = true);
        if (!busy) return why;
        await new Promise((r) => setTimeout(r, 100));
      }
      return "told 'Server busy' 100 times in a row";
    },
    handled: (s) =>
      `${s.match(/served (\d+) connection/)?.[1] ?? "?"} served, ${
        s.match(/(\d+) refused/)?.[1] ?? "0"
      } refused`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 20,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    goodTimeoutMs: 30_000,
    seed,
  };
}

// --- Fair sharing (issue 21): one address, or one kind of stall, against everyone else ---

/** The address the good clients of the `-fair` storms come from: another student. */
export const GOOD_PEER = "127.0.0.2";

/**
 * A TCP connection from `local` (Deno.connect cannot choose its source address: node:net
 * can), as the little of a Deno.Conn that pdc's exchange uses: read, write, close.
 */
export async function connectFrom(ep: Endpoint, local: string): Promise<Deno.Conn> {
  const { default: net } = await import("node:net");
  const s = net.connect({ host: ep.hostname, port: ep.port, localAddress: local });
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  const chunks: Uint8Array[] = [];
  let ended = false;
  let failed: Error | undefined;
  let wake = () => {};
  s.on("data", (d: Uint8Array) => {
    chunks.push(new Uint8Array(d));
    s.pause();
    wake();
  });
  s.on("end", () => {
    ended = true;
    wake();
  });
  s.on("error", (e: Error) => {
    failed = e;
    wake();
  });
  const read = async (p: Uint8Array): Promise<number | null> => {
    while (chunks.length === 0 && !ended && !failed) {
      s.resume();
      await new Promise<void>((r) => wake = r);
    }
    if (chunks.length === 0) {
      if (failed) throw failed;
      return null;
    }
    const c = chunks[0];
    const n = Math.min(c.length, p.length);
    p.set(c.subarray(0, n));
    if (n === c.length) chunks.shift();
    else chunks[0] = c.subarray(n);
    return n;
  };
  const write = (p: Uint8Array) =>
    new Promise<number>((resolve, reject) =>
      s.write(p, (e?: Error | null) => e ? reject(e) : resolve(p.length))
    );
  return { read, write, close: () => s.destroy() } as unknown as Deno.Conn;
}

/**
 * `pmu` with its defaults (512 connections, 64 per address) and a short --session-limit:
 * one address floods it with valid `CMD_short:60` sessions (each held until the session
 * limit ends it) and silent connections, while the class (on another address) is served
 * without ever being told `Server busy`.
 */
export function pmuFairStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "pmu-fair",
    argv: [
      "pmu",
      "--host",
      "0.0.0.0",
      "--idle-timeout",
      String(scale.idleTimeout),
      "--flood-bytes",
      String(STORM_FLOOD),
      "--session-limit",
      "3",
    ],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["CMD_short:60, 100 at once, one address", 6, connectionFlood(100, "CMD_short:60")],
      ["connect and stall, 100 at once", 2, connectionFlood(100)],
    ]),
    good: async (ep, i) => goodPdc(await connectFrom(ep, GOOD_PEER), i),
    handled: (s) =>
      `${s.match(/served (\d+) connection/)?.[1] ?? "?"} served, ${
        s.match(/(\d+) refused/)?.[1] ?? "0"
      } refused`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 4,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    seed,
  };
}

/**
 * `ws-pmu` with its defaults: one address opens WebSockets 100 at once and never sends a
 * command nor answers the close (each is told `Wrong command.` after the idle timeout and
 * cut 2 s after the close frame), while the class on another address is served.
 */
export function wsPmuFairStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "ws-pmu-fair",
    argv: [
      "ws-pmu",
      "--host",
      "0.0.0.0",
      "--idle-timeout",
      String(scale.idleTimeout),
      "--flood-bytes",
      String(STORM_FLOOD),
    ],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["idle WebSockets, 100 at once, one address", 6, connectionFlood(100, (ep) => wsUpgrade(ep))],
      [
        "half an upgrade, 100 at once",
        2,
        connectionFlood(100, (ep) => wsUpgrade(ep).subarray(0, 40)),
      ],
    ]),
    good: async (ep, i) => {
      // ws-pdc's client (npm:ws) from the other address.
      // @ts-types="@types/ws"
      const { WebSocket } = await import("ws");
      const command = goodCommand(i);
      const ws = new WebSocket(`ws://${ep.hostname}:${ep.port}/`, { localAddress: GOOD_PEER });
      const got: string[] = [];
      ws.on("open", () => ws.send(command));
      ws.on("message", (d: Uint8Array) => got.push(dec.decode(d)));
      const code = await new Promise<number>((resolve) => {
        ws.on("close", (c: number) => resolve(c));
        ws.on("error", () => {});
      });
      if (!NORMAL_CLOSES.includes(code)) return `closed with ${code}`;
      if (command === "CMD_floodme") {
        return got.length === 1 && got[0] === floodText(STORM_FLOOD) ? null : "flood differs";
      }
      return checkMessages(got);
    },
    handled: (s) =>
      `${s.match(/served (\d+) WebSocket/)?.[1] ?? "?"} WebSockets, ${
        s.match(/(\d+) refused/)?.[1] ?? "0"
      } refused`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 4,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    seed,
  };
}

/** A good PMU client that tries again 0.1 s after `Server busy`, up to 100 times. */
function retryingGood(connect: (ep: Endpoint) => Promise<Deno.Conn>) {
  return async (ep: Endpoint, i: number) => {
    for (let k = 0; k < 100; k++) {
      let busy = false;
      const why = await goodPdc(await connect(ep), i, () => busy = true);
      if (!busy) return why;
      await new Promise((r) => setTimeout(r, 100));
    }
    return "told 'Server busy' 100 times in a row";
  };
}

/**
 * `secure-pmu --max-connections 64` under floods of connections that stall in the TLS
 * handshake (Deno keeps each one's descriptor until the peer leaves): they count against
 * the limit, so the descriptors stay bounded (the server stops accepting at twice the
 * limit); good clients told `Server busy` try again, and are served once the stallers leave.
 */
export function securePmuStalledStorm(scale: Scale, seed = 1): StormSpec {
  const ca = Deno.readTextFileSync(CERTS + "ca.crt");
  return {
    name: "secure-pmu-stalled",
    argv: [
      "secure-pmu",
      CERTS + "localhost.crt",
      CERTS + "localhost.key",
      "--host",
      "127.0.0.1",
      ...pmuFlags(scale),
      "--max-connections",
      String(STORM_LIMIT),
    ],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["handshake header then stall, 100 at once", 3, connectionFlood(100, tlsHello)],
      ["connect and stall, 100 at once", 3, connectionFlood(100)],
    ]),
    good: retryingGood(async (ep) =>
      lenientClose(
        await connectSecure({
          address: ep.hostname,
          port: ep.port,
          name: "localhost",
          caCert: ca,
          caFile: CERTS + "ca.crt",
        }),
      )
    ),
    handled: (s) =>
      `${s.match(/served (\d+) connection/)?.[1] ?? "?"} served, ${
        s.match(/(\d+) refused/)?.[1] ?? "0"
      } refused`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 2,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    goodTimeoutMs: 30_000,
    seed,
  };
}

/** The first bytes of a TLS ClientHello record header: a handshake that never goes on. */
const tlsHello = () => new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00]);

/** The descriptor limit of the `pmu-emfile` storm (`prlimit --nofile`). */
export const STORM_NOFILE = 96;

/**
 * `pmu` with only 96 descriptors (`prlimit --nofile`) under floods of 100 connections at
 * once: accept fails with EMFILE, the server backs off (said once), and good clients,
 * waiting in the listen backlog or told `Server busy`, are served once descriptors free.
 */
export function pmuEmfileStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "pmu-emfile",
    argv: ["pmu", "--host", "127.0.0.1", ...pmuFlags(scale), "--session-limit", "3"],
    prefix: ["prlimit", `--nofile=${STORM_NOFILE}:${STORM_NOFILE}`, "--"],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["connection flood (100 at once)", 4, connectionFlood(100)],
      ["CMD_short:60, 100 at once", 2, connectionFlood(100, "CMD_short:60")],
    ]),
    good: retryingGood((ep) => Deno.connect(ep)),
    handled: (s) => `${s.match(/served (\d+) connection/)?.[1] ?? "?"} connections`,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 2,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    goodTimeoutMs: 30_000,
    seed,
  };
}
