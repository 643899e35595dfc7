/**
 * A gate in front of an HTTP/1.1 server that cannot time out its own
 * clients. Deno.serve keeps a connection whose request head never ends for
 * ever (measured, Deno 2.9.6: a half-sent head was still open after 45 s),
 * and 1,500 such clients held 330 MB. The gate accepts the TCP connections
 * itself ({@link acceptLoop}: a cap in all and per address), wants the
 * request head within {@link HEAD_TIMEOUT_MS}, then a body that keeps
 * arriving at {@link MIN_BODY_RATE} bytes/s or more (measured over windows
 * of {@link RATE_WINDOW_MS}, while the server reads), and a client that
 * reads its answer; else it cuts the connection (408 when a request had
 * begun; a connection that never sent a byte, such as a browser's
 * preconnect, is closed without a word). Each admitted request goes to the
 * real server over its own connection (a Unix socket only this process
 * can reach) with `connection: close` in its head: one request per
 * connection, so the gate only ever reads one head. TLS ends in the gate;
 * an HTTP/2 connection (ALPN h2) is passed through whole ({@link tunnel}).
 *
 * @module
 */
import { acceptLoop, type Acceptor } from "./accept.ts";
import type { ConnectionLimits } from "./limits.ts";
import { settledWithin, within } from "../deadline.ts";
import { errorMessage } from "../errors.ts";

/** A request head must have arrived this long after the connection, ms. */
export const HEAD_TIMEOUT_MS = 10_000;
/** A body must arrive at least this fast, bytes/s (a 1 MiB upload: 17 min at most). */
export const MIN_BODY_RATE = 1024;
/** The body's rate is measured over windows this long, ms. */
export const RATE_WINDOW_MS = 10_000;
/** A request head is at most this long, bytes (else 431). */
export const MAX_HEAD_BYTES = 32 * 1024;
/** A client must take each piece of its answer within this time, ms. */
export const WRITE_STALL_MS = 30_000;

/** How a request's body ends, as its head says. */
export type BodyFraming = { kind: "none" } | { kind: "length"; length: number } | {
  kind: "chunked";
};

/**
 * The header in which the gate tells the server who the client is
 * (`host:port`, `[v6]:port`); one a client sends is dropped.
 */
export const PEER_HEADER = "x-socklab-peer";

/** Headers the gate replaces: its own `connection: close` and peer go in their place. */
const HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "upgrade",
  PEER_HEADER,
]);

/** Bytes <-> a string of the same code units (a head is ISO-8859-1 at most). */
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/**
 * A request head (up to and without its blank line) made for the server:
 * hop-by-hop headers out, `connection: close` and the client's address
 * (`peer`, if given) in; with how its body ends. A string when the head is
 * not HTTP/1.x or its framing is ambiguous.
 */
export function rewriteHead(
  head: string,
  peer?: string,
): { head: string; framing: BodyFraming } | string {
  const lines = head.split("\r\n");
  if (!/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(lines[0])) return "not an HTTP/1.x request";
  const kept = [lines[0]];
  let length: number | null = null;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return "a malformed header line";
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (HOP_HEADERS.has(name)) continue;
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value) || (length !== null && Number(value) !== length)) {
        return "a bad content-length";
      }
      length = Number(value);
    }
    if (name === "transfer-encoding") chunked = /(^|,)\s*chunked\s*$/i.test(value);
    kept.push(line);
  }
  if (chunked && length !== null) return "both content-length and chunked";
  kept.push("connection: close");
  if (peer) kept.push(`${PEER_HEADER}: ${peer}`);
  const framing: BodyFraming = chunked
    ? { kind: "chunked" }
    : length
    ? { kind: "length", length }
    : { kind: "none" };
  return { head: kept.join("\r\n") + "\r\n\r\n", framing };
}

/** The end of a chunked body as it may show in the last bytes seen. */
const LAST_CHUNK = "0\r\n\r\n";

/** Follows a body's bytes to its end (by its framing). */
export class BodyEnd {
  #framing: BodyFraming;
  #seen = 0;
  #tail = "";

  constructor(framing: BodyFraming) {
    this.#framing = framing;
  }

  /** Count `chunk`; whether the body has all arrived. */
  add(chunk: Uint8Array): boolean {
    this.#seen += chunk.length;
    if (this.#framing.kind === "chunked") {
      this.#tail = (this.#tail + latin1(chunk.subarray(-LAST_CHUNK.length - 2))).slice(-7);
    }
    return this.done;
  }

  get done(): boolean {
    const f = this.#framing;
    if (f.kind === "none") return true;
    if (f.kind === "length") return this.#seen >= f.length;
    return this.#tail.endsWith(`\r\n${LAST_CHUNK}`) || this.#tail === LAST_CHUNK;
  }
}

export interface HttpGateOptions {
  /** TCP, or TLS (the gate ends it: the server behind sees plain HTTP). */
  listener: Deno.Listener<Deno.Conn>;
  /** A new connection to the real server. */
  upstream: () => Promise<Deno.Conn>;
  limits: ConnectionLimits;
  log: (line: string) => void;
  headTimeoutMs?: number;
  minBodyRate?: number;
  rateWindowMs?: number;
  /** How the gate's own answers are worded (default {@link PLAIN}). */
  wording?: Wording;
}

/**
 * The gate's own answer in words, for a request to `path` (null: not known
 * yet): its content type and body. The service says JSON under /api/.
 */
export type Wording = (
  path: string | null,
  status: number,
  sentence: string,
) => { type: string; body: string };

/** One line of text. */
export const PLAIN: Wording = (_path, _status, sentence) => ({
  type: "text/plain; charset=utf-8",
  body: `${sentence}\n`,
});

/** One of the gate's own answers: `408 Request Timeout`, one sentence, the request's path. */
interface GateAnswer {
  status: string;
  sentence: string;
  path: string | null;
  /** More header lines, each ending in CRLF. */
  extra?: string;
}

/** The path of a request line, once the head has one. */
function pathOf(head: string): string | null {
  const line = head.split("\r\n", 1)[0];
  return head.includes("\r\n") ? line.split(" ")[1] ?? null : null;
}

/** An answer's bytes, worded by `wording`. */
function answer(a: GateAnswer, wording: Wording): Uint8Array {
  const { type, body } = wording(a.path, Number(a.status.slice(0, 3)), a.sentence);
  const length = new TextEncoder().encode(body).length;
  return new TextEncoder().encode(
    `HTTP/1.1 ${a.status}\r\ncontent-type: ${type}\r\ncontent-length: ${length}\r\n` +
      `${a.extra ?? ""}cache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Write all of `bytes`, each write within {@link WRITE_STALL_MS}; false if the peer stalled. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  let off = 0;
  while (off < bytes.length) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<null>((r) => timer = setTimeout(() => r(null), WRITE_STALL_MS));
    try {
      const n = await Promise.race([conn.write(bytes.subarray(off)), stalled]);
      if (n === null) return false;
      off += n;
    } finally {
      clearTimeout(timer);
    }
  }
  return true;
}

/** Close quietly (it may be closed already). */
function shut(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed */ }
}

/** Give `conn` an answer, within a second at most, and close it. */
async function refuseWith(conn: Deno.Conn, a: GateAnswer, wording: Wording): Promise<void> {
  await settledWithin(writeAll(conn, answer(a, wording)).catch(() => false), 1000);
  shut(conn);
}

/**
 * The request head of a new connection, read within `timeoutMs`: the head
 * (without its blank line) and the bytes after it; or why not (the
 * connection is closed then, with an answer if a request had begun).
 */
async function readHead(
  conn: Deno.Conn,
  timeoutMs: number,
  wording: Wording,
): Promise<{ head: string; rest: Uint8Array } | string> {
  let buf = new Uint8Array(2048);
  let got = 0;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    if (got === 0) return shut(conn);
    const path = pathOf(latin1(buf.subarray(0, got)));
    const sentence = "the request did not arrive in time: send it again";
    void refuseWith(conn, { status: "408 Request Timeout", sentence, path }, wording);
  }, timeoutMs);
  try {
    for (;;) {
      if (got === buf.length) {
        if (got > MAX_HEAD_BYTES) {
          const status = "431 Request Header Fields Too Large";
          const path = pathOf(latin1(buf.subarray(0, got)));
          await refuseWith(
            conn,
            { status, sentence: "the request's head is too large", path },
            wording,
          );
          return "a request head too large";
        }
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(got)).catch(() => null);
      if (late) return `no request head within ${timeoutMs / 1000} s`;
      if (n === null) return "closed before its request";
      const from = Math.max(0, got - 3);
      got += n;
      const end = latin1(buf.subarray(from, got)).indexOf("\r\n\r\n");
      if (end >= 0) {
        return { head: latin1(buf.subarray(0, from + end)), rest: buf.slice(from + end + 4, got) };
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A write to the server slower than this means it is not reading: the window is excused, ms. */
const SERVER_SLOW_MS = 500;
/**
 * After an answer given before the body's end, the rest of the body is read
 * (and dropped) this long at most, ms, so that closing does not reset the
 * answer away.
 */
const LINGER_MS = 2000;
/**
 * A body is gathered in the gate up to this many bytes before the server
 * sees the request: a slow client never holds the server's resources; a
 * larger body (an upload) is passed on as it comes.
 */
export const GATHER_BYTES = 64 * 1024;

/**
 * Cuts a body that arrives slower than its floor: bytes are counted per
 * window; a window in which the server was slow to take them is excused.
 */
class RateWatch {
  #inWindow = 0;
  #busy = false;
  #excused = false;
  #timer: ReturnType<typeof setInterval>;

  constructor(floor: number, windowMs: number, done: () => boolean, slow: () => void) {
    this.#timer = setInterval(() => {
      if (!done() && !this.#busy && !this.#excused && this.#inWindow < floor) {
        this.stop();
        slow();
      }
      this.#inWindow = 0;
      this.#excused = false;
    }, windowMs);
  }

  count(n: number): void {
    this.#inWindow += n;
  }

  /** Pass `bytes` to `server`, the time it takes excused. */
  async pass(server: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
    this.#busy = true;
    const t0 = performance.now();
    try {
      return await writeAll(server, bytes).catch(() => false);
    } finally {
      this.#busy = false;
      if (performance.now() - t0 > SERVER_SLOW_MS) this.#excused = true;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * The body's first bytes (chunks), read in the gate until it is whole or
 * {@link GATHER_BYTES} are in; null if the client left or was cut.
 */
async function gather(
  client: Deno.Conn,
  body: BodyEnd,
  rest: Uint8Array,
  watch: RateWatch,
): Promise<Uint8Array[] | null> {
  const chunks = [rest];
  let size = rest.length;
  body.add(rest);
  const buf = new Uint8Array(16 * 1024);
  while (!body.done && size < GATHER_BYTES) {
    const n = await client.read(buf).catch(() => null);
    if (n === null) return null;
    const chunk = buf.slice(0, n);
    chunks.push(chunk);
    size += n;
    watch.count(n);
    body.add(chunk);
  }
  return chunks;
}

/**
 * Pass the rest of the body from the client to the server (under `watch`)
 * and the answer back; both connections are closed when the answer is
 * through. Returns why the client was cut, or null.
 */
async function relay(
  client: Deno.Conn,
  server: Deno.Conn,
  body: BodyEnd,
  watch: RateWatch,
): Promise<string | null> {
  let cut: string | null = null;
  let answered = false;
  const up = (async () => {
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await client.read(buf).catch(() => null);
      if (n === null) break;
      watch.count(n);
      body.add(buf.subarray(0, n));
      if (answered) continue; // lingering: read and drop
      if (!(await watch.pass(server, buf.subarray(0, n))) && !answered) break;
    }
    if (!body.done && !answered) shut(server);
  })();
  try {
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await server.read(buf).catch(() => null);
      if (n === null) break;
      if (!(await writeAll(client, buf.subarray(0, n)).catch(() => false))) {
        cut = "a client that does not read its answer";
        break;
      }
    }
  } finally {
    answered = true;
    watch.stop();
    shut(server);
    if (!body.done && cut === null) {
      // Answered before the whole body came (413...): let the client read the answer.
      await client.closeWrite().catch(() => {});
      await settledWithin(up, LINGER_MS);
    }
    shut(client);
    await up;
  }
  return cut;
}

/**
 * An HTTP/2 connection (TLS with ALPN h2) passed to the server as it is
 * (Deno.serve speaks HTTP/2 with prior knowledge): the gate cannot read its
 * frames, so only the caps and the handshake's deadline apply to it.
 */
async function tunnel(
  client: Deno.Conn,
  upstream: () => Promise<Deno.Conn>,
  open: Set<Deno.Conn>,
): Promise<void> {
  const server = await upstream();
  open.add(server);
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await from.read(buf).catch(() => null);
      if (n === null || !(await writeAll(to, buf.subarray(0, n)).catch(() => false))) break;
    }
    shut(client);
    shut(server);
  };
  try {
    await Promise.all([pipe(client, server), pipe(server, client)]);
  } finally {
    open.delete(server);
  }
}

/** A running gate: how many connections it holds, and its shutdown. */
export interface HttpGate {
  readonly held: number;
  /** Stop accepting; wait up to `graceMs` for the requests in flight, then cut them. */
  close(graceMs: number): Promise<void>;
}

/** A refused connection's request is awaited this long at most before the 503, ms. */
const REFUSE_WAIT_MS = 1000;

/** How often the gate says what it cut or refused, at most, ms (one line per reason). */
const TALLY_MS = 10_000;

/** Counts cut and refused connections by reason; says them at most once per {@link TALLY_MS}. */
class Tally {
  #counts = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  constructor(readonly log: (line: string) => void) {}

  note(why: string): void {
    this.#counts.set(why, (this.#counts.get(why) ?? 0) + 1);
    this.#timer ??= setTimeout(() => this.flush(), TALLY_MS);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [why, n] of this.#counts) {
      this.log(`http: ${n} connection(s) cut or refused: ${why}`);
    }
    this.#counts.clear();
  }
}

/** One gate's state: its options and clocks, the connections it holds and where. */
interface Gate {
  opts: HttpGateOptions;
  stopping: AbortController;
  /** Connections whose request head (or TLS handshake) has not come yet. */
  waiting: Set<Deno.Conn>;
  /** Connections whose body the gate gathers, and their request's path. */
  gathering: Map<Deno.Conn, string | null>;
  /** Connections in an exchange, the client's and the server's. */
  open: Set<Deno.Conn>;
  tally: Tally;
  wording: Wording;
  headTimeoutMs: number;
  minBodyRate: number;
  rateWindowMs: number;
}

/** One request: its body gathered under the rate, passed to the server, the answer back. */
async function exchange(g: Gate, client: Deno.Conn, got: { head: string; rest: Uint8Array }) {
  const path = pathOf(got.head + "\r\n");
  const made = rewriteHead(got.head, peer(client));
  if (typeof made === "string") {
    g.tally.note(made);
    const sentence = `this is not an HTTP request the service reads (${made})`;
    return await refuseWith(client, { status: "400 Bad Request", sentence, path }, g.wording);
  }
  const body = new BodyEnd(made.framing);
  let slow = false;
  let server: Deno.Conn | undefined;
  const floor = g.minBodyRate * g.rateWindowMs / 1000;
  const watch = new RateWatch(floor, g.rateWindowMs, () => body.done, () => {
    slow = true;
    if (server) shut(server);
    const sentence = "the upload came too slowly: send it again";
    void refuseWith(client, { status: "408 Request Timeout", sentence, path }, g.wording);
  });
  try {
    g.gathering.set(client, path);
    const first = await gather(client, body, got.rest, watch).finally(() =>
      g.gathering.delete(client)
    );
    if (!first) return;
    server = await g.opts.upstream();
    g.open.add(server);
    for (const bytes of [bytesOf(made.head), ...first]) {
      if (!(await watch.pass(server, bytes))) return;
    }
    const cut = await relay(client, server, body, watch);
    if (cut) g.tally.note(cut);
  } finally {
    watch.stop();
    if (slow) g.tally.note(`a body slower than ${g.minBodyRate} bytes/s`);
    if (server) {
      g.open.delete(server);
      shut(server);
    }
  }
}

/** An accepted connection: its TLS handshake and request head in time, then the exchange. */
async function serveClient(g: Gate, client: Deno.Conn): Promise<void> {
  try {
    if ("handshake" in client) {
      g.waiting.add(client);
      const tls = client as Deno.TlsConn;
      const alpn = await within(tls.handshake(), g.headTimeoutMs, "a TLS handshake")
        .then((h) => h.alpnProtocol, () => undefined).finally(() => g.waiting.delete(client));
      if (alpn === undefined) {
        return g.tally.note(`no TLS handshake within ${g.headTimeoutMs / 1000} s`);
      }
      if (alpn === "h2") {
        g.open.add(client);
        return await tunnel(client, g.opts.upstream, g.open);
      }
    }
    g.waiting.add(client);
    const got = await readHead(client, g.headTimeoutMs, g.wording).finally(() =>
      g.waiting.delete(client)
    );
    if (typeof got === "string") {
      if (got !== "closed before its request") g.tally.note(got);
      return;
    }
    g.open.add(client);
    await exchange(g, client, got);
  } catch (e) {
    if (!g.stopping.signal.aborted) g.opts.log(`http: ${peer(client)}: ${errorMessage(e)}`);
  } finally {
    g.open.delete(client);
    shut(client);
  }
}

/** A connection past a cap: 503 once its request came (or a moment passed). */
async function refuseOver(g: Gate, conn: Deno.Conn, why: string): Promise<void> {
  g.tally.note(why);
  // An answer before the request is an error to an HTTP client: wait a moment for it.
  const buf = new Uint8Array(2048);
  const n = await within(conn.read(buf), REFUSE_WAIT_MS, "a request").catch(() => null);
  const path = n ? pathOf(latin1(buf.subarray(0, n))) : null;
  const sentence = "the service has too many connections open (from your address?): " +
    "try again in a few seconds";
  const status = "503 Service Unavailable";
  await refuseWith(conn, { status, sentence, path, extra: "retry-after: 10\r\n" }, g.wording);
}

/** Stop accepting; the exchanges in flight have `graceMs`, the rest are cut or answered 503. */
async function closeGate(g: Gate, acceptor: Acceptor, graceMs: number): Promise<void> {
  g.stopping.abort();
  try {
    g.opts.listener.close();
  } catch { /* closed */ }
  await acceptor.done;
  // No request yet: nothing to finish. A body not passed on yet: it will not be.
  for (const c of g.waiting) shut(c);
  const sentence = "the service is stopping: send it again in a minute";
  for (const [c, path] of g.gathering) {
    void refuseWith(c, { status: "503 Service Unavailable", sentence, path }, g.wording);
  }
  if (!(await settledWithin(acceptor.drain(), graceMs))) {
    g.opts.log(`http: ${g.open.size} connection(s) still open after ${graceMs} ms: cut`);
  }
  for (const c of g.open) shut(c);
  await settledWithin(acceptor.drain(), 1000);
  g.tally.flush();
}

/** Start the gate's accept loop on `opts.listener`; see the module doc. */
export function startHttpGate(opts: HttpGateOptions): HttpGate {
  const g: Gate = {
    opts,
    stopping: new AbortController(),
    waiting: new Set(),
    gathering: new Map(),
    open: new Set(),
    tally: new Tally(opts.log),
    wording: opts.wording ?? PLAIN,
    headTimeoutMs: opts.headTimeoutMs ?? HEAD_TIMEOUT_MS,
    minBodyRate: opts.minBodyRate ?? MIN_BODY_RATE,
    rateWindowMs: opts.rateWindowMs ?? RATE_WINDOW_MS,
  };
  const acceptor: Acceptor = acceptLoop({
    listener: opts.listener,
    limits: opts.limits,
    signal: g.stopping.signal,
    log: opts.log,
    serve: (conn) => serveClient(g, conn),
    refuse: (conn, why) => refuseOver(g, conn, why),
  });
  return {
    get held() {
      return acceptor.held;
    },
    close: (graceMs: number) => closeGate(g, acceptor, graceMs),
  };
}

/** `host:port` of a connection's peer, for the log. */
function peer(conn: Deno.Conn): string {
  const a = conn.remoteAddr as Deno.NetAddr;
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}
