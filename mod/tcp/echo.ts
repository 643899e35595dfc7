/**
 * Part 1.2, Codes C and D: the TCP echo server (reads 16 bytes at a time,
 * echoes them back) and the echo exchange of the client (reads the echo 8
 * bytes at a time).
 *
 * @module
 */
import { formatAddr } from "../net/address.ts";
import { isPeerGone, listenError } from "../net/errors.ts";
import { closeQuietly, type Server, serverHandle } from "../net/server.ts";
import { acceptLoop } from "../net/accept.ts";
import { ConnectionLimits, DEFAULT_MAX_CONNECTIONS } from "../net/limits.ts";

export interface EchoServerOptions {
  hostname: string;
  port: number;
  /** Most connections at once (default 512); one over it is logged and closed. */
  maxConnections?: number;
  /** Most connections from one address at once (default: see mod/net/limits.ts; 0: none). */
  maxPerPeer?: number;
  /** Bytes per read, like Code C's recv(16). */
  readSize?: number;
  /** Log sink (stderr in the CLI). */
  log?: (line: string) => void;
}

/** Start the echo server; resolves once it is listening. Serves clients concurrently. */
export function startEchoServer(opts: EchoServerOptions): Promise<Server> {
  const log = opts.log ?? (() => {});
  const readSize = opts.readSize ?? 16;
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: opts.hostname, port: opts.port });
  } catch (e) {
    throw listenError(e, opts.hostname, opts.port);
  }
  const conns = new Set<Deno.TcpConn>();
  let served = 0;
  let refused = 0;
  let bytes = 0;
  const stopping = new AbortController();

  async function session(conn: Deno.TcpConn) {
    served++;
    conns.add(conn);
    const peer = formatAddr(conn.remoteAddr);
    const decoder = new TextDecoder();
    const buf = new Uint8Array(readSize);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          log(`received: `);
          log(`No more data from ${peer}`);
          break;
        }
        bytes += n;
        log(`received: ${decoder.decode(buf.subarray(0, n), { stream: true })}`);
        let off = 0;
        while (off < n) off += await conn.write(buf.subarray(off, n));
      }
    } catch (e) {
      if (!stopping.signal.aborted) {
        log(`connection from ${peer} ended: ${isPeerGone(e) ? "peer vanished" : e}`);
      }
    } finally {
      conns.delete(conn);
      closeQuietly([conn]);
    }
  }

  const acceptor = acceptLoop({
    listener,
    limits: new ConnectionLimits(opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, opts.maxPerPeer),
    signal: stopping.signal,
    log,
    serve: session,
    refuse: (conn, why) => {
      // The echo protocol has no way to say "busy": log it and close.
      refused++;
      log(`connection from ${formatAddr(conn.remoteAddr)} refused: ${why}`);
      closeQuietly([conn]);
      return Promise.resolve();
    },
  });

  const addr = listener.addr;
  return Promise.resolve(serverHandle({
    name: "echo-server",
    address: formatAddr(addr),
    port: addr.port,
    closed: acceptor.done,
    stopping,
    stop: () => closeQuietly([listener], conns),
    drain: () => acceptor.drain(),
    summary: () =>
      `served ${served} connection(s), echoed ${bytes} byte(s)` +
      (refused ? `, ${refused} refused (over a limit)` : ""),
  }));
}

/**
 * Code D's exchange on an open connection: send `message`, then read the echo
 * `readSize` bytes at a time until as many bytes came back as were sent.
 * `onChunk` gets each read's text as it arrives. Returns the echoed text.
 */
export async function echoExchange(
  conn: Deno.Conn,
  message: string,
  onChunk: (text: string) => void,
  readSize = 8,
): Promise<string> {
  const data = new TextEncoder().encode(message);
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
  const decoder = new TextDecoder();
  const buf = new Uint8Array(readSize);
  let received = 0;
  let text = "";
  while (received < data.length) {
    const n = await conn.read(buf);
    if (n === null) {
      throw new Error(
        `the server closed the connection after echoing ${received} of ${data.length} bytes`,
      );
    }
    received += n;
    const chunk = decoder.decode(buf.subarray(0, n), { stream: true });
    text += chunk;
    onChunk(chunk);
  }
  return text;
}
