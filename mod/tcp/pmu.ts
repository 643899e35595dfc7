/**
 * Part 2: the PMU server (the course's tcpip.epfl.ch:5003). One command per connection:
 * `CMD_short:<d>` gets n messages as n separate writes d seconds apart, `CMD_floodme` one
 * large write, anything else (or nothing within the idle timeout) `Wrong command.`; then the
 * server closes. The session works on any Deno.Conn, so part 5 (TLS) serves the same
 * protocol by passing `tls` to {@link startPmuServer}.
 *
 * @module
 */
import {
  BUSY,
  commandSoFar,
  DEFAULT_FLOOD_BYTES,
  floodText,
  MAX_COMMAND_BYTES,
  messageCount,
  parseCommand,
  type PmuCommand,
  pmuMessageBytes,
  WRONG_COMMAND,
} from "../pmu/mod.ts";
import { randomInt, randomSeed, seededRandom } from "../random.ts";
import { errorMessage, RunError } from "../errors.ts";
import { formatAddr } from "../net/address.ts";
import { isPeerGone, listenError } from "../net/errors.ts";
import { closeQuietly, type EventSink, type Server, serverHandle } from "../net/server.ts";
import { ConnectionLimits, DEFAULT_MAX_CONNECTIONS } from "../net/limits.ts";
import { acceptLoop } from "../net/accept.ts";
import { pause, SessionClock } from "../deadline.ts";

/** How each write is cut: whole (default), random-sized pieces, or pieces of k bytes. */
export type Split = "none" | "random" | number;

/** What one session does; shared by every connection of a server. */
export interface PmuSessionOptions {
  /** Messages per `CMD_short` (default: random 10..20 per connection). */
  count?: number;
  /** Seconds to wait for a command before answering `Wrong command.` (default 10). */
  idleTimeout?: number;
  /** Write pieces (default: each message in one write). */
  split?: Split;
  /** The `CMD_floodme` payload (default: the 57,344-byte flood text). */
  flood?: Uint8Array;
  /** The longest command accepted, in bytes (default 256). */
  maxCommandBytes?: number;
  /** Per-connection randomness (message count, random splits). */
  random?: () => number;
  /** Ends the session early (server shutdown): pending waits stop, the connection closes. */
  signal?: AbortSignal;
  /**
   * Longest a `CMD_short` session may last, in seconds (default
   * {@link DEFAULT_SESSION_LIMIT}): a message that would go out later is not sent, and the
   * server closes. `CMD_short:60` asks for up to 19 minutes otherwise.
   */
  sessionLimit?: number;
}

/** Seconds a `CMD_short` session may last by default: 5 minutes (`CMD_short:15` x 20 fits). */
export const DEFAULT_SESSION_LIMIT = 300;

/** What a session did, for the one log line per connection. */
export interface PmuSessionReport {
  peer: string;
  /** The command as received (`CMD_short:0`), or why there was none. */
  command: string;
  kind: PmuCommand["kind"] | "none";
  /** Messages written (`CMD_short`), or 1 for a flood or `Wrong command.`. */
  sent: number;
  /** Messages planned (n). */
  planned: number;
  bytes: number;
  seconds: number;
  /** Set when the session ended on an error (peer vanished, TLS failure...). */
  error?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const WRONG_BYTES = encoder.encode(WRONG_COMMAND);

/**
 * Read buffers of sessions that ended, for the next ones: making an ArrayBuffer costs ~2 us, a
 * tenth of a CMD_short:0 session's own work (issue 29, deno --cpu-prof).
 */
const SPARE_BUFFERS: Uint8Array[] = [];

/**
 * Keeps at most one read pending on a connection (a timed-out read is reused later). Its
 * buffer holds a command (256 bytes by default) with room: 1 KiB.
 */
class ConnReader {
  #pending?: Promise<number | null>;
  readonly buf = SPARE_BUFFERS.pop() ?? new Uint8Array(1024);
  constructor(readonly conn: Deno.Conn, readonly clock: SessionClock) {}

  /** The session is over: the buffer serves another, unless a read may still fill it. */
  release(): void {
    if (this.#pending === undefined && SPARE_BUFFERS.length < 256) SPARE_BUFFERS.push(this.buf);
    this.#pending = Promise.resolve(null); // released: never read into again
  }

  /**
   * The next read's size (null at EOF), or "timeout" after `ms`. A shutdown closes the
   * connection (the session's hangUp), which ends a pending read.
   */
  async read(ms: number, signal?: AbortSignal): Promise<number | null | "timeout"> {
    if (signal?.aborted) return "timeout";
    this.#pending ??= this.conn.read(this.buf);
    const p = this.#pending;
    p.catch(() => {}); // observed below or abandoned when the connection closes
    const late = new Promise<"timeout">((resolve) => this.clock.set(ms, () => resolve("timeout")));
    try {
      const r = await Promise.race([p, late]);
      if (r !== "timeout") this.#pending = undefined;
      return r;
    } finally {
      this.clock.clear();
    }
  }
}

/**
 * Waits `ms` between two messages while watching the connection: a peer that resets it
 * (its process is gone) ends the session now, not at the next write a minute later. Bytes
 * or an EOF (a client may half-close after its command) change nothing.
 */
async function pauseWatching(reader: ConnReader, ms: number, signal?: AbortSignal) {
  const end = performance.now() + ms;
  let eof = false;
  while (!eof && !signal?.aborted && performance.now() < end) {
    const r = await reader.read(end - performance.now(), signal);
    if (r === "timeout") return;
    eof = r === null;
  }
  await pause(end - performance.now(), signal);
}

/**
 * Writes all of `data`; `progress` hears of every write that took bytes and left some (the
 * last one is the caller's to see: it is done).
 */
async function writeAll(conn: Deno.Conn, data: Uint8Array, progress?: () => void): Promise<void> {
  if (data.length === 0) return;
  let off = await conn.write(data);
  while (off < data.length) {
    progress?.();
    off += await conn.write(data.subarray(off));
  }
}

/**
 * Writes `data` as one write, or cut into pieces per `split`, each its own write. Whole, it is
 * writeAll's own promise (no async layer more per message: 15 a CMD_short:0 session).
 */
function send(
  conn: Deno.Conn,
  data: Uint8Array,
  split: Split,
  random: () => number,
  progress?: () => void,
): Promise<void> {
  if (split === "none" || data.length <= 1) return writeAll(conn, data, progress);
  return sendPieces(conn, data, split, random, progress);
}

async function sendPieces(
  conn: Deno.Conn,
  data: Uint8Array,
  split: "random" | number,
  random: () => number,
  progress?: () => void,
) {
  for (let off = 0; off < data.length;) {
    const k = split === "random" ? randomInt(random, 1, Math.min(data.length, 64)) : split;
    await writeAll(conn, data.subarray(off, off + k), progress);
    off += k;
    if (off < data.length) progress?.();
  }
}

/** A command for the log: quoted and cut short when it is not a valid one. */
function show(text: string, valid: boolean, whole = true): string {
  const t = text.replace(/\r?\n$/, "");
  if (valid) return t;
  if (t.length <= 40) return JSON.stringify(t);
  const q = `${JSON.stringify(t.slice(0, 40))}...`;
  return whole ? `${q} (${encoder.encode(text).length} bytes)` : q;
}

/** One session's state, shared by its steps: command, answer, close. */
interface Session {
  conn: Deno.Conn;
  reader: ConnReader;
  report: PmuSessionReport;
  opts: PmuSessionOptions;
  random: () => number;
  signal?: AbortSignal;
  started: number;
  idleMs: number;
  /** How long the end may take: the last answer's write, the drain after FIN. */
  lingerMs: number;
  clock: SessionClock;
  /**
   * Write `data` (cut per `split`), hanging up on a client that takes nothing for `ms`
   * (default idleMs), with `why` as the report's error; `at` is now, if the caller has it.
   */
  write(data: Uint8Array, at?: number, ms?: number, why?: string): Promise<void>;
  /** Close the connection now (shutdown, a stalled client); closing twice is harmless. */
  hangUp(): void;
}

/**
 * Serves one PMU connection on any Deno.Conn (TCP or TLS): reads the command, answers it,
 * closes the connection. Never throws: what went wrong is in the report.
 */
export async function pmuSession(
  conn: Deno.Conn,
  opts: PmuSessionOptions = {},
): Promise<PmuSessionReport> {
  const s = openSession(conn, opts);
  const { report, signal } = s;
  signal?.addEventListener("abort", s.hangUp);
  try {
    const cmd = await readCommand(s);
    report.kind = cmd.kind;
    await answer(s, cmd);
    await closeGracefully(s);
  } catch (e) {
    report.error ??= signal?.aborted
      ? "server shutting down"
      : isPeerGone(e)
      ? "peer vanished"
      : errorMessage(e);
  } finally {
    signal?.removeEventListener("abort", s.hangUp);
    s.clock.dispose();
    s.hangUp();
    s.reader.release();
    report.seconds = (performance.now() - s.started) / 1000;
  }
  return report;
}

function openSession(conn: Deno.Conn, opts: PmuSessionOptions): Session {
  const random = opts.random ?? Math.random;
  const split = opts.split ?? "none";
  const idleMs = (opts.idleTimeout ?? 10) * 1000;
  const report: PmuSessionReport = {
    peer: peerOf(conn),
    command: "",
    kind: "none",
    sent: 0,
    planned: 0,
    bytes: 0,
    seconds: 0,
  };
  // Shutdown ends the session at once, even in the middle of a blocked write.
  const hangUp = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  // A client that stops reading blocks the writes (the kernel's buffers are full; nothing is
  // buffered here): once it has taken nothing for the idle timeout, it is hung up on.
  const clock = new SessionClock();
  const stalled = `hung up: the client read nothing for ${idleMs / 1000} s`;
  let writeMs = idleMs;
  let why = stalled;
  const hangUpStalled = () => {
    report.error = why;
    hangUp();
  };
  const progress = () => clock.set(writeMs, hangUpStalled);
  const write = async (data: Uint8Array, at?: number, ms = idleMs, reason = stalled) => {
    writeMs = ms;
    why = reason;
    clock.set(ms, hangUpStalled, at);
    try {
      await send(conn, data, split, random, progress);
    } finally {
      clock.clear();
    }
    report.bytes += data.length;
  };
  return {
    conn,
    reader: new ConnReader(conn, clock),
    report,
    opts,
    random,
    signal: opts.signal,
    started: performance.now(),
    idleMs,
    lingerMs: Math.min(idleMs, 2000),
    clock,
    write,
    hangUp,
  };
}

/** The command: bytes until they make a decision, the cap, EOF or the idle timeout. */
async function readCommand(
  { reader, report, opts, signal, started, idleMs }: Session,
): Promise<PmuCommand> {
  const cap = opts.maxCommandBytes ?? MAX_COMMAND_BYTES;
  let received: Uint8Array = new Uint8Array(0);
  const deadline = started + idleMs;
  for (;;) {
    const n = await reader.read(deadline - performance.now(), signal);
    if (signal?.aborted) throw new Error("server shutting down");
    if (n === "timeout") {
      report.command = `(no command within ${idleMs / 1000} s)`;
      return { kind: "wrong", text: "" };
    }
    if (n === null) {
      const text = decoder.decode(received);
      const cmd = parseCommand(text);
      report.command = received.length ? show(text, cmd.kind !== "wrong") : "(no command, EOF)";
      return cmd;
    }
    // The first read is decoded where it is (the command is nearly always all of it).
    const fresh = reader.buf.subarray(0, n);
    let bytes: Uint8Array = fresh;
    if (received.length > 0) {
      bytes = new Uint8Array(received.length + n);
      bytes.set(received);
      bytes.set(fresh, received.length);
    }
    const text = decoder.decode(bytes);
    if (bytes.length > cap) {
      report.command = `${show(text, false, false)} (longer than ${cap} bytes)`;
      return { kind: "wrong", text };
    }
    const cmd = commandSoFar(text);
    if (cmd) {
      report.command = show(text, cmd.kind !== "wrong");
      return cmd;
    }
    // Undecided: keep the bytes, out of the buffer that the next read fills.
    received = bytes === fresh ? fresh.slice() : bytes;
  }
}

/** The answer: n messages d seconds apart (within the session limit), the flood, or wrong. */
async function answer(s: Session, cmd: PmuCommand): Promise<void> {
  const { report, opts, signal } = s;
  if (cmd.kind === "short") {
    report.planned = opts.count ?? messageCount(s.random);
    const limit = opts.sessionLimit ?? DEFAULT_SESSION_LIMIT;
    const deadline = s.started + limit * 1000;
    const delayMs = cmd.delay * 1000;
    for (let i = 0; i < report.planned; i++) {
      let now = performance.now();
      if (i > 0) {
        if (now + delayMs > deadline) {
          report.error = `session limit of ${limit} s reached`;
          break;
        }
        // CMD_short:0 goes on at once (pausing 0 ms took 3 clock reads and a turn each).
        if (delayMs > 0) {
          await pauseWatching(s.reader, delayMs, signal);
          now = performance.now();
        }
      }
      if (signal?.aborted) throw new Error("server shutting down");
      await s.write(pmuMessageBytes(i), now);
      report.sent++;
    }
    return;
  }
  report.planned = 1;
  if (cmd.kind === "flood") await s.write(opts.flood ?? encoder.encode(floodText()));
  else {
    // A peer that cannot take 14 bytes (e.g. a TLS client that never finished its
    // handshake) is hung up on instead of holding the session.
    await s.write(WRONG_BYTES, undefined, s.lingerMs, "hung up: the peer did not take the answer");
  }
  report.sent = 1;
}

/**
 * Close gracefully: FIN first, then drain what the client still sends (so closing with
 * unread bytes does not reset the connection under the client's last reads).
 */
async function closeGracefully({ conn, reader, signal, lingerMs }: Session): Promise<void> {
  try {
    await conn.closeWrite();
  } catch { /* already gone */ }
  const lingerEnd = performance.now() + lingerMs;
  try {
    while (performance.now() < lingerEnd) {
      const n = await reader.read(lingerEnd - performance.now(), signal);
      if (n === null || n === "timeout" || signal?.aborted) break;
    }
  } catch {
    // The answer is complete: a client that leaves now (a TLS client closing without
    // close_notify is seen as an unexpected EOF) has done nothing wrong.
  }
}

/** The one log line of a connection. */
export function reportLine(r: PmuSessionReport): string {
  let what: string;
  if (r.kind === "short") {
    what = r.sent === r.planned ? `${r.sent} message(s)` : `${r.sent} of ${r.planned} message(s)`;
  } else if (r.kind === "flood") what = r.sent ? `flood of ${r.bytes} bytes` : "no flood";
  else if (r.kind === "none") what = "nothing";
  else what = r.sent ? WRONG_COMMAND : `no answer`;
  const err = r.error ? ` (${r.error})` : "";
  return `${r.peer} ${r.command || "(no command)"} -> ${what}${err}, ${r.seconds.toFixed(2)} s`;
}

export { DEFAULT_MAX_CONNECTIONS };

/** Options of {@link startPmuServer}. */
export interface PmuServerOptions extends Omit<PmuSessionOptions, "random" | "signal"> {
  /**
   * Most connections served at once (default {@link DEFAULT_MAX_CONNECTIONS}); a client over
   * the limit gets {@link BUSY} and is closed, and the refusal is logged.
   */
  maxConnections?: number;
  /**
   * Most connections from one address at once (default: an eighth of maxConnections; 0: no
   * cap); over it, a client is refused as over the limit.
   */
  maxPerPeer?: number;
  hostname: string;
  port: number;
  /** Serve over TLS with this PEM certificate chain and key (part 5). */
  tls?: { cert: string; key: string };
  /** Name in logs and the summary (default `pmu`, or `secure-pmu` with tls). */
  name?: string;
  /** Seed of the per-connection randomness (default: random). */
  seed?: number;
  /** Log sink (stderr in the CLI): one line per connection, made only if shown. */
  log?: EventSink;
  /**
   * Runs on each accepted connection before its session (part 5: the TLS handshake, bounded
   * in time). A rejection is logged as `<peer> <message>` and closes the connection; the
   * server goes on. A rejection with a `settled` promise (a {@link PendingConnection}: a
   * TLS handshake that timed out, which Deno cannot cut short) keeps the connection's slot
   * until it settles.
   */
  prepare?: (conn: Deno.Conn, signal: AbortSignal) => Promise<void>;
}

/**
 * A connection the server gave up on but cannot release yet: Deno keeps a TLS connection
 * (and its descriptor) open until its handshake ends, whatever `close()` says. `settled`
 * resolves when the peer finishes the handshake or leaves; until then it counts against
 * the limits, so that stalled handshakes cannot pile up beyond them.
 */
export class PendingConnection extends Error {
  override name = "PendingConnection";
  constructor(message: string, readonly settled: Promise<unknown>) {
    super(message);
  }
}

/** Start the PMU server (TCP, or TLS with `tls`); resolves once it listens. */
export function startPmuServer(opts: PmuServerOptions): Promise<Server> {
  const log = opts.log ?? (() => {});
  const name = opts.name ?? (opts.tls ? "secure-pmu" : "pmu");
  let listener: Deno.Listener;
  try {
    listener = opts.tls
      ? Deno.listenTls({ hostname: opts.hostname, port: opts.port, ...opts.tls })
      : Deno.listen({ hostname: opts.hostname, port: opts.port });
  } catch (e) {
    if (opts.tls && !isAddrError(e)) {
      return Promise.reject(new RunError(`cannot use the certificate or key: ${errorMessage(e)}`));
    }
    return Promise.reject(listenError(e, opts.hostname, opts.port));
  }
  const seeds = seededRandom(opts.seed ?? randomSeed());
  const flood = opts.flood ?? encoder.encode(floodText(DEFAULT_FLOOD_BYTES));
  const abort = new AbortController();
  const stopping = new Promise<void>((resolve) =>
    abort.signal.addEventListener("abort", () => resolve())
  );
  const counts = { short: 0, flood: 0, wrong: 0, none: 0 };
  let served = 0;
  let refused = 0;

  /** Over a limit: say so in one write, close, log. Bounded in time over TCP. */
  async function refuse(conn: Deno.Conn, why: string) {
    refused++;
    log(`${peerOf(conn)} refused: ${why}`);
    const hangUp = () => closeQuietly([conn]);
    // Over TLS the write waits for the handshake, and closing before it ends frees nothing
    // (Deno): wait until the peer finishes it or leaves, or the server stops.
    const guard = opts.tls ? undefined : setTimeout(hangUp, 2000);
    abort.signal.addEventListener("abort", hangUp);
    try {
      await conn.write(encoder.encode(BUSY));
    } catch { /* gone already: nothing to be polite to */ }
    clearTimeout(guard);
    abort.signal.removeEventListener("abort", hangUp);
    hangUp();
  }

  /** The session of an admitted connection (after `prepare`: the TLS handshake). */
  async function serve(conn: Deno.Conn) {
    served++;
    const random = seededRandom(Math.floor(seeds() * 2 ** 32));
    if (opts.prepare) {
      try {
        await opts.prepare(conn, abort.signal);
      } catch (e) {
        counts.none++;
        log(`${peerOf(conn)} ${errorMessage(e)}`);
        if (e instanceof PendingConnection && !abort.signal.aborted) {
          const how = await Promise.race([
            e.settled.then(() => "finished its handshake late", () => "left"),
            stopping,
          ]);
          if (how) log(`${peerOf(conn)} ${how}: its slot is free again`);
        }
        closeQuietly([conn]);
        return;
      }
    }
    const r = await pmuSession(conn, { ...opts, flood, random, signal: abort.signal });
    counts[r.kind]++;
    log(() => reportLine(r));
  }

  const acceptor = acceptLoop({
    listener,
    limits: new ConnectionLimits(opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, opts.maxPerPeer),
    signal: abort.signal,
    log,
    serve,
    refuse,
  });

  const addr = listener.addr as Deno.NetAddr;
  return Promise.resolve(serverHandle({
    name,
    address: formatAddr(addr),
    port: addr.port,
    closed: acceptor.done,
    stopping: abort,
    stop: () => closeQuietly([listener]),
    drain: () => acceptor.drain(),
    summary: () =>
      `served ${served} connection(s): ${counts.short} CMD_short, ${counts.flood} CMD_floodme, ` +
      `${counts.wrong} wrong${counts.none ? `, ${counts.none} failed before a command` : ""}` +
      (refused ? `, ${refused} refused (busy)` : ""),
  }));
}

function peerOf(conn: Deno.Conn): string {
  try {
    return formatAddr(conn.remoteAddr);
  } catch {
    return "?";
  }
}

function isAddrError(e: unknown): boolean {
  return e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.AddrNotAvailable ||
    e instanceof Deno.errors.PermissionDenied;
}
