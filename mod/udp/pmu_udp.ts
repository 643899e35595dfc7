/**
 * Part 3's server: the lossy dual-stack UDP PMU, socklab's run_dual_server.
 * To `RESET:<n>` it answers `OFFSET:<x>` (x uniform in 0..n), to anything
 * else `Wrong command.`, and it loses each answer with probability `drop`.
 *
 * Families (`family`):
 * - `alternate`: like the course's run_dual_server, an IPv4-only socket for
 *   `period` seconds, then an IPv6-only one, and so on;
 * - `4`, `6`: one family for good;
 * - `dual`: both at once.
 *
 * The IPv6-only phases on `::` serve from an IPV6_V6ONLY socket (v6only.ts:
 * Deno's own `listenDatagram` on `::` is always dual-stack), as the course's
 * server did: an IPv4 datagram gets the kernel's port unreachable (a
 * connected IPv4 socket sees "connection refused"), not silence. Should an
 * IPv4-mapped sender reach an IPv6-only phase anyway, it is ignored
 * (`Ignoring message from ...`).
 *
 * @module
 */
import { settledWithin } from "../deadline.ts";
import { formatAddr, hostPort } from "../net/address.ts";
import { listenError } from "../net/errors.ts";
import { seededRandom } from "../random.ts";
import { type EventSink, type Server, serverHandle } from "../net/server.ts";
import { DatagramReader } from "./receiver.ts";
import { listenUdp6Only } from "./v6only.ts";
import { type AckSeparator, answerFor, datagramText, parseAck, showData } from "./reset.ts";
import { errorMessage } from "../errors.ts";

export type UdpFamily = "alternate" | "4" | "6" | "dual";
export const UDP_FAMILIES: readonly UdpFamily[] = ["alternate", "4", "6", "dual"];

export interface PmuUdpOptions {
  /** Addresses to bind per family (default: the wildcards 0.0.0.0 and ::). */
  hosts?: { 4?: string; 6?: string };
  port: number;
  family: UdpFamily;
  /** Seconds per phase with `alternate`. */
  period?: number;
  /** Probability that an answer is lost (0..1). */
  drop?: number;
  /** Seed of the losses and offsets. */
  seed: number;
  ackSep?: AckSeparator;
  /** Log sink (stderr in the CLI): per datagram, lines made only if shown. */
  log?: EventSink;
  /** Drop the answers to the first N datagrams whatever --drop says (forces retransmission). */
  dropFirst?: number;
  /** Called for every datagram with what became of it (for the grader). */
  observe?: (e: UdpServerEvent) => void;
}

/** What the server did with one datagram. */
export interface UdpServerEvent {
  /** performance.now() at arrival. */
  at: number;
  from: string;
  family: 4 | 6;
  text: string;
  outcome: "acked" | "wrong" | "dropped" | "ignored";
  /** The offset sent, for "acked". */
  offset?: number;
}

const encoder = new TextEncoder();

function isMapped(addr: Deno.NetAddr): boolean {
  return addr.hostname.toLowerCase().startsWith("::ffff:");
}

/** The IPv6 wildcard address (`::`), where a Deno socket would be dual-stack. */
function isV6Any(hostname: string): boolean {
  return /^[0:]+$/.test(hostname) && hostname.includes("::");
}

/** The wildcards, IPv4 and IPv6. */
const DEFAULT_HOSTS = { 4: "0.0.0.0", 6: "::" };

/** What the server's phases share: options, randomness, counts, the sockets in use. */
interface UdpPmu {
  opts: PmuUdpOptions;
  log: EventSink;
  drop: number;
  sep: AckSeparator;
  /** Seconds per phase with `alternate`. */
  period: number;
  random: () => number;
  count: { received: number; acked: number; wrong: number; dropped: number; ignored: number };
  stopping: AbortController;
  /** Resolves when the server is stopping. */
  stopped: Promise<unknown>;
  /** The sockets of the phase being served. */
  readers: DatagramReader[];
}

/** Bound sockets, the address they make, and the serving loop over them. */
interface Bound {
  address: string;
  port: number;
  run: () => Promise<void>;
}

/** Start the UDP PMU; resolves once its first socket is bound. */
export async function startPmuUdp(opts: PmuUdpOptions): Promise<Server> {
  const stopping = new AbortController();
  const st: UdpPmu = {
    opts,
    log: opts.log ?? (() => {}),
    drop: opts.drop ?? 0.5,
    sep: opts.ackSep ?? ":",
    period: opts.period ?? 10,
    random: seededRandom(opts.seed),
    count: { received: 0, acked: 0, wrong: 0, dropped: 0, ignored: 0 },
    stopping,
    stopped: new Promise((resolve) => stopping.signal.addEventListener("abort", resolve)),
    readers: [],
  };
  // Bind what the first phase needs now, so that a bad address or a taken port fails at startup.
  const { address, port, run } = opts.family === "alternate"
    ? await bindAlternate(st)
    : await bindFixed(st);
  st.log(
    `pmu-udp: family ${opts.family}${
      opts.family === "alternate" ? ` (period ${st.period} s)` : ""
    }, drop ${st.drop}, seed ${opts.seed}, answers OFFSET${st.sep}<x>`,
  );
  const closed = (async () => {
    try {
      await run();
    } finally {
      await closeReaders(st);
    }
  })();
  const count = st.count;
  return serverHandle({
    name: "pmu-udp",
    address,
    port,
    closed,
    stopping,
    stop: () => closeReaders(st),
    summary: () =>
      `received ${count.received} datagram(s): ${count.acked} acknowledged, ${count.wrong} wrong, ` +
      `${count.dropped} dropped, ${count.ignored} ignored (IPv4-mapped)`,
  });
}

/** A socket on hostname:port; IPv6-only (IPV6_V6ONLY) on `::` when `v6only`. */
async function bind(hostname: string, port: number, v6only = false): Promise<DatagramReader> {
  try {
    return new DatagramReader(
      v6only && isV6Any(hostname)
        ? await listenUdp6Only(hostname, port)
        : Deno.listenDatagram({ transport: "udp", hostname, port }),
    );
  } catch (e) {
    throw listenError(e, hostname, port, "udp");
  }
}

async function closeReaders(st: UdpPmu): Promise<void> {
  const rs = st.readers;
  st.readers = [];
  await Promise.all(rs.map((r) => r.close()));
}

/** `alternate`: IPv4 bound now; then each phase binds its family, serves `period` s, closes. */
async function bindAlternate(st: UdpPmu): Promise<Bound> {
  const { 4: h4, 6: h6 } = st.opts.hosts ?? DEFAULT_HOSTS;
  if (!h4 || !h6) throw new Error("alternate needs an IPv4 and an IPv6 address");
  st.readers = [await bind(h4, st.opts.port)];
  const port = (st.readers[0].conn.addr as Deno.NetAddr).port;
  const run = async () => {
    let phase: 4 | 6 = 4;
    while (!st.stopping.signal.aborted) {
      const host = phase === 4 ? h4 : h6;
      if (st.readers.length === 0) {
        try {
          st.readers = [await bind(host, port, phase === 6)];
        } catch (e) {
          st.log(`cannot serve IPv${phase} on ${hostPort(host, port)}: ${errorMessage(e)}`);
        }
      }
      if (st.readers.length) {
        st.log(`serving IPv${phase} only on ${hostPort(host, port)} for ${st.period} s`);
        await serve(st, st.readers, phase === 6, Date.now() + st.period * 1000);
      } else {
        await settledWithin(st.stopped, st.period * 1000);
      }
      await closeReaders(st);
      phase = phase === 4 ? 6 : 4;
    }
  };
  return { address: hostPort(h4, port), port, run };
}

/** `4`, `6`, `dual`: every socket bound now, on one port, served until closed. */
async function bindFixed(st: UdpPmu): Promise<Bound> {
  const { family, port: wantedPort } = st.opts;
  const { 4: h4, 6: h6 } = st.opts.hosts ?? DEFAULT_HOSTS;
  const wanted = family === "4" ? [h4] : family === "6" ? [h6] : h6 === "::"
    ? [h6] // one dual-stack socket serves both families
    : [h4, h6];
  const list = wanted.filter((h): h is string => h !== undefined);
  if (list.length === 0) throw new Error(`no address to serve IPv${family} on`);
  let port = wantedPort;
  for (let tries = 0;; tries++) {
    try {
      st.readers = [await bind(list[0], port, family === "6")];
      const p = (st.readers[0].conn.addr as Deno.NetAddr).port;
      for (const h of list.slice(1)) st.readers.push(await bind(h, p));
      port = p;
      break;
    } catch (e) {
      for (const r of st.readers) r.close();
      st.readers = [];
      // Port 0: the port the first family got may be taken in the other; try another.
      if (wantedPort !== 0 || tries >= 10) throw e;
    }
  }
  return {
    address: list.map((h) => hostPort(h, port)).join(" and "),
    port,
    run: () => serve(st, st.readers, family === "6", null),
  };
}

/** Serve on `rs` until `until` (ms since epoch; null: until closed). */
async function serve(st: UdpPmu, rs: DatagramReader[], v6only: boolean, until: number | null) {
  if (until === null && rs.length === 1) {
    // One socket for good (`4`, `6`, `dual` on ::): the shortest loop, until it is closed.
    const [r] = rs;
    for (let d = await r.wait(); d !== null; d = await r.wait()) {
      await handle(st, r, d.data, d.from, v6only);
    }
    return;
  }
  while (!st.stopping.signal.aborted) {
    const left = until === null ? Infinity : until - Date.now();
    if (left <= 0) return;
    const got = await DatagramReader.any(rs, left);
    if (got) await handle(st, got.reader, got.datagram.data, got.datagram.from, v6only);
  }
}

/**
 * One datagram: ignored (mapped, v6-only phase), its answer dropped, or answered; logged as
 * the course server did, `Received ...` then what became of it, in one entry made only if the
 * log shows it (the two lines per datagram were pmu-udp's main cost beside the send, issue 29).
 */
async function handle(
  st: UdpPmu,
  reader: DatagramReader,
  data: Uint8Array,
  from: Deno.NetAddr,
  v6only: boolean,
) {
  const observe = st.opts.observe;
  const at = observe ? performance.now() : 0;
  st.count.received++;
  const { outcome, line, answer } = await respond(st, reader, data, from, v6only);
  st.log(() => {
    const received = `Received ${showData(data)} from ${formatAddr(from)}`;
    return line ? `${received}\n${line()}` : received;
  }, line ? 2 : 1);
  if (outcome === undefined) return;
  observe?.({
    at,
    from: formatAddr(from),
    family: from.hostname.includes(":") && !isMapped(from) ? 6 : 4,
    text: datagramText(data),
    outcome,
    offset: outcome === "acked" ? parseAck(answer!) ?? undefined : undefined,
  });
}

/** What became of one datagram, and the log line that says so (none: the server is stopping). */
async function respond(
  st: UdpPmu,
  reader: DatagramReader,
  data: Uint8Array,
  from: Deno.NetAddr,
  v6only: boolean,
): Promise<{ outcome?: UdpServerEvent["outcome"]; line?: () => string; answer?: string }> {
  const { count } = st;
  if (v6only && isMapped(from)) {
    count.ignored++;
    const line = () =>
      `Ignoring message from ${formatAddr(from)} (IPv4-mapped sender; this server is IPv6 only)`;
    return { outcome: "ignored", line };
  }
  const forced = count.received <= (st.opts.dropFirst ?? 0);
  const { answer, reset } = answerFor(data, st.random, forced ? 1 : st.drop, st.sep);
  if (answer === null) {
    count.dropped++;
    const why = forced ? "--drop-first" : `--drop ${st.drop}`;
    const line = () =>
      `Ignoring message from ${formatAddr(from)} (answer dropped on purpose, ${why})`;
    return { outcome: "dropped", line };
  }
  try {
    await reader.conn.send(encoder.encode(answer), from);
  } catch (e) {
    // Not answered (no outcome: the observer hears nothing); the log says why, unless the
    // server is stopping.
    const line = st.stopping.signal.aborted
      ? undefined
      : () => `cannot answer ${formatAddr(from)}: ${errorMessage(e)}`;
    return { line };
  }
  if (reset) count.acked++;
  else count.wrong++;
  const line = reset ? () => `Ack sent! (${answer})` : () => `Sent ${answer}`;
  return { outcome: reset ? "acked" : "wrong", line, answer };
}
