/**
 * Part 6 client: the PDC over WebSocket, on npm:ws. Connects to ws://server:port, sends
 * one command, hands every message received to the caller as it arrives, and returns how
 * the server closed. Every failure before the connection is open is a one-line RunError
 * naming host:port (refused, unresolvable, handshake refused with its HTTP status).
 *
 * @module
 */
// @ts-types="@types/ws"
import type { ClientOptions, RawData } from "ws";
import type { IncomingMessage } from "node:http";
import type { NetConnectOpts } from "node:net";
import { foreignAnswer } from "../pmu/mod.ts";
import { RunError, UsageError } from "../errors.ts";
import { hostPort, isValidHost } from "../net/address.ts";
import { connectError } from "../net/errors.ts";
import { asDenoError, nodeCode } from "../net/node_errors.ts";

/** The server's first bytes kept to name a protocol that is not HTTP. */
const HEAD_BYTES = 64;

/** One WebSocket message as received. */
export interface WsMessage {
  data: Uint8Array;
  /** Binary frame (true) or text frame (false). */
  binary: boolean;
  /** Milliseconds since the connection opened. */
  atMs: number;
}

export interface WsPdcResult {
  /** The close code (1000 normal, 1005 no status, 1006 abnormal...). */
  code: number;
  reason: string;
  messages: number;
  bytes: number;
}

/**
 * The URL of `<server> <port>`: `ws://server:port/` (an IPv6 literal is bracketed), or
 * `server` itself when it is a full `ws://` URL (then `port`, if given, must agree with
 * it or fill it in). Throws UsageError.
 */
export function targetUrl(server: string, port?: number): URL {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(server)) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new UsageError(`'${server}' is not a valid URL`);
    }
    if (url.protocol !== "ws:") {
      throw new UsageError(`'${server}': only ws:// URLs are supported`);
    }
    if (port !== undefined) {
      if (url.port === "") url.port = String(port);
      else if (Number(url.port) !== port) {
        throw new UsageError(`the URL ${server} says port ${url.port} but <port> is ${port}`);
      }
    }
    return url;
  }
  if (port === undefined) throw new UsageError("missing <port>");
  if (!isValidHost(server)) {
    throw new UsageError(`'${server}' is not a host name or address`);
  }
  try {
    return new URL(`ws://${hostPort(server, port)}/`);
  } catch {
    throw new UsageError(`'${server}' is not a host name or address`);
  }
}

/** host and port of a ws:// URL, for messages. */
export function urlHostPort(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || 80) };
}

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Connect to `url`, send `command`, call `onMessage` for each message as it arrives and
 * resolve with how the connection closed. Rejects with a RunError if the connection or
 * the handshake fails (a server that is not HTTP: what it speaks and the client to use).
 */
export async function runWsPdc(
  url: URL,
  command: string,
  onMessage: (m: WsMessage) => void,
  opts: { handshakeTimeoutMs?: number } = {},
): Promise<WsPdcResult> {
  // Loaded here, not at start-up: npm:ws doubles the start-up time of every command.
  const { WebSocket } = await import("ws");
  const net = await import("node:net");
  const { host, port } = urlHostPort(url);
  const where = hostPort(host, port);
  return await new Promise((resolve, reject) => {
    let opened = false;
    let settled = false;
    let start = 0;
    let messages = 0;
    let bytes = 0;
    const fail = (e: RunError) => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    // The server's first bytes, kept to name what a server that is not HTTP speaks.
    let head = new Uint8Array();
    const ws = new WebSocket(url, {
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
      createConnection: (o: NetConnectOpts & { socketPath?: string }) => {
        const socket = net.connect({ ...o, path: o.socketPath } as NetConnectOpts);
        const keep = (d: Uint8Array) => {
          head = new Uint8Array([...head, ...d.subarray(0, HEAD_BYTES - head.length)]);
          if (head.length >= HEAD_BYTES) socket.off("data", keep);
        };
        socket.on("data", keep); // off once it holds HEAD_BYTES (a 101 answer is longer)
        return socket;
      },
    } as ClientOptions);
    ws.on("unexpected-response", (_req, res: IncomingMessage) => {
      fail(
        new RunError(
          `WebSocket handshake with ${where} failed: HTTP ${res.statusCode} ${
            res.statusMessage ?? ""
          }`.trimEnd() + " (is it a WebSocket server?)",
        ),
      );
      res.resume();
      ws.terminate();
    });
    ws.on("error", (e) => {
      if (opened || settled) return; // after the open, 'close' tells how it ended
      const code = nodeCode(e);
      if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
        fail(new RunError(`cannot resolve '${host}'`));
      } else if (code?.startsWith("HPE_")) {
        // node:http could not parse the answer: not an HTTP server (a plain or TLS PMU?).
        const why = foreignAnswer(head, "http") ??
          `the answer is not HTTP (${e.message}); is it a WebSocket server?`;
        fail(new RunError(`WebSocket handshake with ${where} failed: ${why}`));
      } else if (code) {
        fail(connectError(asDenoError(e), host, port));
      } else {
        fail(new RunError(`WebSocket connection to ${where} failed: ${e.message}`));
      }
    });
    ws.on("open", () => {
      opened = true;
      start = performance.now();
      ws.send(command);
    });
    ws.on("message", (data, isBinary) => {
      const d = bytesOf(data);
      messages++;
      bytes += d.length;
      try {
        onMessage({ data: d, binary: isBinary, atMs: performance.now() - start });
      } catch (e) {
        ws.terminate();
        if (!settled) {
          settled = true;
          reject(e);
        }
      }
    });
    ws.on("close", (code, reason) => {
      if (!opened) {
        fail(new RunError(`WebSocket connection to ${where} closed before it opened`));
        return;
      }
      if (settled) return;
      settled = true;
      resolve({ code, reason: reason.toString(), messages, bytes });
    });
  });
}
