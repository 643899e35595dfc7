/**
 * Hostile peers for the chaos storm: each kind is one small function that
 * misbehaves once against a server and reports what the server did about it.
 * Every peer is bounded in time (`holdMs`, and the storm's abort signal) and
 * closes everything it opened. Loopback (or a private namespace) only: the
 * endpoints come from the storm, which gets them from the server it started.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type Random, randomInt } from "../../mod/random.ts";
import { openMulticastSender } from "../../mod/multicast/sender.ts";
import { pause } from "../../mod/deadline.ts";

export interface Endpoint {
  hostname: string;
  port: number;
}

/**
 * What became of a hostile peer:
 * - `closed`: the server closed the connection (EOF) on its own;
 * - `reset`: the server (or the kernel for it) reset the connection;
 * - `held`: the peer gave up first (the server kept it open for `holdMs`);
 * - `refused`: the connection was refused, or the server said it is busy;
 * - `sent`: fire-and-forget peers (datagrams, close-right-after-connect).
 */
/** What a peer sends: text, or bytes made for the endpoint (a WebSocket upgrade names it). */
export type Payload = string | ((ep: Endpoint) => Uint8Array);

function bytesOf(p: Payload, ep: Endpoint): Uint8Array {
  return typeof p === "string" ? enc.encode(p) : p(ep);
}

const enc = new TextEncoder();

export type Outcome = "closed" | "reset" | "held" | "refused" | "sent";
export const OUTCOMES: readonly Outcome[] = ["closed", "reset", "held", "refused", "sent"];

export interface PeerCtx {
  ep: Endpoint;
  random: Random;
  /** Aborted when the storm's time is up: every peer closes at once. */
  signal: AbortSignal;
  /** How long a stalling peer holds its connection before giving up, ms. */
  holdMs: number;
}

/** A peer runs once; a batch peer may stand for several (outcome -> count). */
export type Peer = (ctx: PeerCtx) => Promise<Outcome | Partial<Record<Outcome, number>>>;

export function randomBytes(random: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (random() * 256) | 0;
  return b;
}

function close(c: { close(): void }) {
  try {
    c.close();
  } catch { /* already closed */ }
}

async function dial(ctx: PeerCtx): Promise<Deno.TcpConn | "refused"> {
  try {
    return await Deno.connect({ ...ctx.ep, signal: ctx.signal });
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused || ctx.signal.aborted) return "refused";
    throw e;
  }
}

/** Run `fn` with a timer and the storm's signal that both close `conn` (cancelling its I/O). */
async function bounded<T>(
  conn: Deno.Conn,
  ms: number,
  signal: AbortSignal,
  fn: () => Promise<T>,
  onExpiry: (e: unknown) => T,
): Promise<T> {
  let expired = false;
  const stop = () => {
    expired = true;
    close(conn);
  };
  const timer = setTimeout(stop, ms);
  signal.addEventListener("abort", stop, { once: true });
  try {
    return await fn();
  } catch (e) {
    if (expired) return onExpiry(e);
    throw e;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", stop);
  }
}

function gone(e: unknown): Outcome | null {
  if (e instanceof Deno.errors.ConnectionReset) return "reset";
  if (
    e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionAborted ||
    e instanceof Deno.errors.NotConnected || e instanceof Deno.errors.UnexpectedEof
  ) return "closed";
  return null;
}

/**
 * How the servers refuse a client over their connection limit (`pmu`,
 * `secure-pmu`: a line; `ws-pmu`: an HTTP status): such a peer counts as `refused`.
 */
export const BUSY_REPLIES = ["Server busy", "HTTP/1.1 503"];

/** Read and discard until the server closes (`closed`/`reset`) or `ms` pass (`held`). */
export function drain(conn: Deno.Conn, ms: number, signal: AbortSignal): Promise<Outcome> {
  const buf = new Uint8Array(64 * 1024);
  return bounded(conn, ms, signal, async (): Promise<Outcome> => {
    try {
      let first = "";
      for (let n; (n = await conn.read(buf)) !== null;) {
        if (first.length < 32) first += new TextDecoder().decode(buf.subarray(0, n));
      }
      return BUSY_REPLIES.some((b) => first.startsWith(b)) ? "refused" : "closed";
    } catch (e) {
      const g = gone(e);
      if (g) return g;
      throw e;
    }
  }, () => "held");
}

/** Write all of `data` within `ms`; `null` when written, else what stopped it. */
export function writeAll(
  conn: Deno.Conn,
  data: Uint8Array,
  ms: number,
  signal: AbortSignal,
): Promise<Outcome | null> {
  return bounded(conn, ms, signal, async (): Promise<Outcome | null> => {
    try {
      let off = 0;
      while (off < data.length) off += await conn.write(data.subarray(off));
      return null;
    } catch (e) {
      const g = gone(e);
      if (g) return g;
      throw e;
    }
  }, () => "held");
}

/** Connect, send `payload` (if any), then read until the server closes or `holdMs` pass. */
export function sendThenWatch(payload: (ctx: PeerCtx) => Uint8Array | null): Peer {
  return async (ctx) => {
    const conn = await dial(ctx);
    if (conn === "refused") return "refused";
    try {
      const data = payload(ctx);
      if (data && data.length) {
        const stopped = await writeAll(conn, data, ctx.holdMs, ctx.signal);
        if (stopped) return stopped;
      }
      return await drain(conn, ctx.holdMs, ctx.signal);
    } finally {
      close(conn);
    }
  };
}

// --- plain TCP ----------------------------------------------------------------

/** Each run sends the next text of `list`, then waits for the server's verdict. */
export function sendEachOf(list: readonly string[]): Peer {
  let k = 0;
  return sendThenWatch(() => enc.encode(list[k++ % list.length]));
}

/** Random bytes (1 to 4 KiB), then wait for the server's verdict. */
export const randomGarbage: Peer = sendThenWatch((ctx) =>
  randomBytes(ctx.random, randomInt(ctx.random, 1, 4096))
);

/** 1 MiB of printable text with no terminator: the server must not wait for the end of it. */
export const mebibyteNoTerminator: Peer = sendThenWatch(() => new Uint8Array(1 << 20).fill(0x41));

/** Connect and say nothing: only an idle timeout ends it before the peer gives up. */
export const connectAndStall: Peer = sendThenWatch(() => null);

/** The first bytes of a valid command, then nothing. */
export function stallMidCommand(partial: string): Peer {
  return sendThenWatch(() => enc.encode(partial));
}

/**
 * `n` connections at once, each silent until the server closes it or `holdMs`
 * pass (a connection flood: what a limit on concurrent connections is for).
 * With `payload`, each sends it first (e.g. a WebSocket upgrade).
 */
export function connectionFlood(n: number, payload?: Payload): Peer {
  return async (ctx) => {
    const out: Partial<Record<Outcome, number>> = {};
    const one = sendThenWatch((c) => payload === undefined ? null : bytesOf(payload, c.ep));
    const results = await Promise.all(Array.from({ length: n }, () => one(ctx)));
    for (const r of results) {
      if (typeof r === "string") out[r] = (out[r] ?? 0) + 1;
    }
    return out;
  };
}

/** Connect and close at once, before sending anything. */
export const closeAfterConnect: Peer = async (ctx) => {
  const conn = await dial(ctx);
  if (conn === "refused") return "refused";
  close(conn);
  return "sent";
};

/**
 * Send a command that makes the server talk a lot, then never read: the
 * server's writes block on a full window; it must neither buffer without
 * bound nor stop serving others. With `keepSending`, also keep writing the
 * command bytes for the whole hold (an echo server answers everything).
 */
export function neverRead(command: Payload, keepSending = false): Peer {
  return async (ctx) => {
    const conn = await dial(ctx);
    if (conn === "refused") return "refused";
    try {
      const data = bytesOf(command, ctx.ep);
      if (!keepSending) {
        const stopped = await writeAll(conn, data, ctx.holdMs, ctx.signal);
        if (stopped) return stopped;
        // Wait without reading: a closed socket shows as a failing write probe at the end.
        await pause(ctx.holdMs, ctx.signal);
        return "held";
      }
      const chunk = new Uint8Array(64 * 1024).fill(0x61);
      return await bounded(conn, ctx.holdMs, ctx.signal, async (): Promise<Outcome> => {
        try {
          for (let i = 0; i < 128; i++) await conn.write(chunk); // at most 8 MiB
          return "held";
        } catch (e) {
          const g = gone(e);
          if (g) return g;
          throw e;
        }
      }, () => "held");
    } finally {
      close(conn);
    }
  };
}

const RST_PEER = fileURLToPath(new URL("./rst_peer.py", import.meta.url));

/**
 * The interpreter for the helper. Measured: the pyenv shim `python3` on PATH
 * took 43 s to start 40 trivial scripts at once (1 s each alone), Debian's
 * /usr/bin/python3 5 s; so the real binary, and at most two helpers at once.
 */
const PYTHON = (() => {
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
})();
let pythons = 0;
const pythonQueue: (() => void)[] = [];
async function withPython<T>(fn: () => Promise<T>): Promise<T> {
  if (pythons >= 2) await new Promise<void>((r) => pythonQueue.push(r));
  pythons++;
  try {
    return await fn();
  } finally {
    pythons--;
    pythonQueue.shift()?.();
  }
}

/**
 * Resets in the middle of the server's stream: connect, send `command`, read
 * `readBytes`, then close with SO_LINGER 0 so the kernel sends a RST. Deno
 * cannot set SO_LINGER (measured: closing a Deno socket with unread data gave
 * the server an EOF, then EPIPE, not a reset), so a python3 helper does it,
 * `batch` resets per process.
 */
export function resetMidStream(
  command: Payload,
  readBytes = 1,
  opts: { batch?: number; tls?: boolean } = {},
): Peer {
  return (ctx) =>
    withPython(() => resetBatch(ctx, command, readBytes, opts.batch ?? 20, opts.tls ?? false));
}

async function resetBatch(
  ctx: PeerCtx,
  command: Payload,
  readBytes: number,
  batch: number,
  tls: boolean,
): Promise<Partial<Record<Outcome, number>>> {
  {
    if (ctx.signal.aborted) return {};
    const hex = [...bytesOf(command, ctx.ep)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const child = new Deno.Command(PYTHON, {
      args: [
        RST_PEER,
        ctx.ep.hostname,
        String(ctx.ep.port),
        String(batch),
        hex,
        String(readBytes),
        ...(tls ? ["tls"] : []),
      ],
      stdout: "piped",
      stderr: "null",
      signal: ctx.signal,
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 20_000 + ctx.holdMs * 2);
    try {
      const lines = new TextDecoder().decode((await child.output()).stdout).split("\n");
      const reset = lines.filter((l) => l === "reset").length;
      const failed = lines.filter((l) => l.startsWith("error")).length;
      // Attempts the storm's end cut short count as held: the server had them until then.
      return { reset, refused: failed, held: batch - reset - failed };
    } finally {
      clearTimeout(timer);
    }
  }
}

// --- TLS port -----------------------------------------------------------------

/** Plain text where a TLS ClientHello is expected. */
export function plainOnTls(command: string): Peer {
  return sendThenWatch(() => enc.encode(command));
}

/** A TLS record header announcing a handshake, then silence: only a handshake timeout helps. */
export const tlsHandshakeStall: Peer = sendThenWatch(() =>
  new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
);

/** A handshake record full of random bytes. */
export const tlsGarbage: Peer = sendThenWatch((ctx) => {
  const body = randomBytes(ctx.random, randomInt(ctx.random, 16, 2048));
  const rec = new Uint8Array(5 + body.length);
  rec.set([0x16, 0x03, 0x01, body.length >> 8, body.length & 0xff]);
  rec.set(body, 5);
  return rec;
});

/**
 * Over TLS (trusting the CA `caCert`): the handshake, then `payload` (if any),
 * then nothing: `read` says whether to read (and discard) the answer.
 * `never read` with a flood leaves the server's writes blocked on a full window.
 */
export function tlsThen(caCert: string, payload: string | null, read: boolean): Peer {
  return async (ctx) => {
    let conn: Deno.TlsConn;
    try {
      conn = await Deno.connectTls({ ...ctx.ep, hostname: ctx.ep.hostname, caCerts: [caCert] });
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionRefused || ctx.signal.aborted) return "refused";
      throw e;
    }
    try {
      const hs = await bounded(conn, ctx.holdMs, ctx.signal, async () => {
        await conn.handshake();
        return null;
      }, () => "held" as const).catch((e) => gone(e) ?? "closed");
      if (hs) return hs;
      if (payload) {
        const stopped = await writeAll(conn, enc.encode(payload), ctx.holdMs, ctx.signal);
        if (stopped) return stopped;
      }
      if (read) {
        return await drain(conn, ctx.holdMs, ctx.signal).catch((e) => gone(e) ?? "closed");
      }
      await pause(ctx.holdMs, ctx.signal);
      return "held";
    } finally {
      close(conn);
    }
  };
}

// --- WebSocket ----------------------------------------------------------------

/** A client frame (masked, as RFC 6455 requires), optionally lying about its length. */
export function wsFrame(
  opcode: number,
  payload: Uint8Array,
  opts: { fin?: boolean; declaredLength?: number; mask?: boolean } = {},
): Uint8Array {
  const len = opts.declaredLength ?? payload.length;
  const mask = opts.mask ?? true;
  const head: number[] = [((opts.fin ?? true) ? 0x80 : 0) | (opcode & 0x0f)];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const big = BigInt(len);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(8 * i)) & 0xffn));
  }
  const key = [0x12, 0x34, 0x56, 0x78];
  if (mask) head.push(...key);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  for (let i = 0; i < payload.length; i++) {
    out[head.length + i] = mask ? payload[i] ^ key[i & 3] : payload[i];
  }
  return out;
}

/** A WebSocket upgrade request for `path`. */
export function wsUpgrade(ep: Endpoint, path = "/"): Uint8Array {
  return enc.encode(
    `GET ${path} HTTP/1.1\r\nHost: ${ep.hostname}:${ep.port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\n\r\n`,
  );
}

/** Open a WebSocket at the byte level (upgrade, read the 101), then send `frames`. */
export function wsThen(frames: (ctx: PeerCtx) => Uint8Array): Peer {
  return async (ctx) => {
    const conn = await dial(ctx);
    if (conn === "refused") return "refused";
    try {
      const stopped = await writeAll(conn, wsUpgrade(ctx.ep), ctx.holdMs, ctx.signal);
      if (stopped) return stopped;
      // Read the response head (bounded): the server may refuse the upgrade.
      const head = await bounded(conn, ctx.holdMs, ctx.signal, async () => {
        const buf = new Uint8Array(4096);
        let text = "";
        while (!text.includes("\r\n\r\n") && text.length < 16_384) {
          const n = await conn.read(buf);
          if (n === null) return null;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        return text;
      }, () => undefined).catch((e) => gone(e) ? null : Promise.reject(e));
      if (head === undefined) return "held";
      if (head === null || !/^HTTP\/1\.1 101/.test(head)) return "closed";
      const more = await writeAll(conn, frames(ctx), ctx.holdMs, ctx.signal);
      if (more) return more;
      return await drainWs(conn, ctx.holdMs, ctx.signal);
    } finally {
      close(conn);
    }
  };
}

/**
 * Like {@link drain} on an open WebSocket, but a close frame from the server
 * counts as `closed`: the server ended the session even if this peer never
 * answers the closing handshake (the server then waits for the answer; npm
 * ws gives up after 30 s).
 */
export function drainWs(conn: Deno.Conn, ms: number, signal: AbortSignal): Promise<Outcome> {
  const buf = new Uint8Array(64 * 1024);
  let pending = new Uint8Array(0);
  return bounded(conn, ms, signal, async (): Promise<Outcome> => {
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) return "closed";
        const all = new Uint8Array(pending.length + n);
        all.set(pending);
        all.set(buf.subarray(0, n), pending.length);
        // Walk the server's (unmasked) frames; stop at a close frame.
        let at = 0;
        while (at + 2 <= all.length) {
          const op = all[at] & 0x0f;
          let len = all[at + 1] & 0x7f;
          let head = 2;
          if (len === 126) {
            if (at + 4 > all.length) break;
            len = (all[at + 2] << 8) | all[at + 3];
            head = 4;
          } else if (len === 127) {
            if (at + 10 > all.length) break;
            len = Number(new DataView(all.buffer, at + 2, 8).getBigUint64(0));
            head = 10;
          }
          if (op === 0x8) return "closed";
          if (at + head + len > all.length) break;
          at += head + len;
        }
        pending = all.slice(at);
      }
    } catch (e) {
      const g = gone(e);
      if (g) return g;
      throw e;
    }
  }, () => "held");
}

/** Random bytes after a valid upgrade. */
export const wsGarbageFrames: Peer = wsThen((ctx) =>
  randomBytes(ctx.random, randomInt(ctx.random, 2, 2048))
);

/** A frame announcing 2^40 bytes, followed by 64 KiB of them. */
export const wsOversize: Peer = wsThen(() =>
  wsFrame(0x2, new Uint8Array(64 * 1024), { declaredLength: 2 ** 40 }).subarray(0, 14 + 64 * 1024)
);

/** A real message of `bytes` bytes (over the server's maximum message size). */
export function wsBigMessage(bytes: number): Peer {
  return wsThen(() => wsFrame(0x2, new Uint8Array(bytes).fill(0x41)));
}

/** Reserved opcodes (3-7, 0xB-0xF). */
export const wsInvalidOpcode: Peer = wsThen((ctx) =>
  wsFrame([3, 4, 5, 6, 7, 11, 12, 13, 14, 15][randomInt(ctx.random, 0, 9)], enc.encode("CMD"))
);

/** An unmasked client frame (a protocol error for a server). */
export const wsUnmasked: Peer = wsThen(() =>
  wsFrame(0x1, enc.encode("CMD_short:0"), { mask: false })
);

/** A plain HTTP request to the WebSocket port. */
export const plainHttp: Peer = sendThenWatch((ctx) =>
  enc.encode(`GET / HTTP/1.1\r\nHost: ${ctx.ep.hostname}:${ctx.ep.port}\r\n\r\n`)
);

/** Half of an upgrade request, then silence. */
export const wsHalfUpgrade: Peer = sendThenWatch((ctx) => wsUpgrade(ctx.ep).subarray(0, 40));

// --- UDP ----------------------------------------------------------------------

/** Largest UDP payload: IPv4 65,507 bytes, IPv6 65,527 bytes. */
export function maxDatagram(hostname: string): number {
  return hostname.includes(":") ? 65_527 : 65_507;
}

/** Datagrams are sent in bursts of this many at full rate, with a 1 ms breath between bursts. */
export const BURST = 32;

async function burst(
  ctx: PeerCtx,
  count: number,
  send: (i: number) => Promise<void>,
): Promise<number> {
  const until = Date.now() + ctx.holdMs;
  let sent = 0;
  for (let i = 0; i < count && Date.now() < until && !ctx.signal.aborted; i++) {
    try {
      await send(i);
      sent++;
    } catch { /* ENOBUFS, or ECONNREFUSED from an earlier datagram: keep going */ }
    if (i % BURST === BURST - 1) await new Promise((r) => setTimeout(r, 1));
  }
  return sent;
}

/**
 * `count` datagrams from one socket at full rate (bursts of {@link BURST}),
 * bounded in count and by `holdMs`: each `make(i)` is one datagram.
 */
export function datagrams(count: number, make: (ctx: PeerCtx, i: number) => Uint8Array): Peer {
  return async (ctx) => {
    const v6 = ctx.ep.hostname.includes(":");
    const sock = Deno.listenDatagram({
      transport: "udp",
      hostname: v6 ? "::1" : "127.0.0.1",
      port: 0,
    });
    const to = { transport: "udp" as const, ...ctx.ep };
    try {
      return { sent: await burst(ctx, count, (i) => sock.send(make(ctx, i), to).then(() => {})) };
    } finally {
      close(sock);
    }
  };
}

/**
 * `count` datagrams to a multicast group as fast as the kernel takes them,
 * from socklab's own multicast socket (mod/multicast/sender.ts) with TTL 0:
 * even outside a private namespace nothing would leave the host.
 */
export function multicastDatagrams(
  count: number,
  make: (ctx: PeerCtx, i: number) => Uint8Array,
): Peer {
  return async (ctx) => {
    const sock = await openMulticastSender({ group: ctx.ep.hostname, port: ctx.ep.port, ttl: 0 });
    try {
      return { sent: await burst(ctx, count, (i) => sock.send(make(ctx, i))) };
    } finally {
      sock.close();
    }
  };
}

/** Random datagrams of 0 to 1,500 bytes. */
export function udpGarbage(count: number): Peer {
  return datagrams(count, (ctx) => randomBytes(ctx.random, randomInt(ctx.random, 0, 1500)));
}

/** Maximum-size datagrams of random bytes. */
export function udpMaxSize(count: number): Peer {
  return datagrams(count, (ctx) => randomBytes(ctx.random, maxDatagram(ctx.ep.hostname)));
}
