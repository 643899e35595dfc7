/**
 * ws-pmu's HTTP answers to everything that is not a WebSocket session: a plain request
 * (426), bytes that are not HTTP (400), a handshake ws refuses (400/405), a client over a
 * limit (503). Each is one short response, then the connection closes.
 *
 * @module
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** `status reason` lines (no node:http needed here). */
const REASONS: Record<number, string> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  503: "Service Unavailable",
};

/** Writes one complete HTTP/1.1 response and ends the socket (destroys it if unwritable). */
export function reply(
  s: Socket,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (!s.writable) {
    s.destroy();
    return;
  }
  const head = Object.entries({
    "Connection": "close",
    ...headers,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(body)),
  }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  s.end(`HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n${head}\r\n${body}`);
}

/** A plain HTTP request (answered through node:http's response): this is a WebSocket server. */
export function upgradeRequired(res: ServerResponse): void {
  const body = "426 Upgrade Required: this is a WebSocket server (PMU, lab part 6); " +
    "connect with a WebSocket client to ws://<host>:<port>/\n";
  res.writeHead(426, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    "Upgrade": "websocket",
    "Connection": "close",
  });
  res.end(body);
}

/** Not HTTP at all (typically a plain TCP PDC pointed at the WebSocket port). */
export function notHttp(s: Socket): void {
  reply(s, 400, "400 Bad Request: this is a WebSocket server; plain TCP is not spoken here\n");
}

/** A handshake ws refused (bad key, version, method); returns the status sent. */
export function badHandshake(s: Socket, why: string): number {
  const status = why === "Invalid HTTP method" ? 405 : 400;
  const version: Record<string, string> = /Version/.test(why)
    ? { "Sec-WebSocket-Version": "13, 8" }
    : {};
  reply(s, status, `${status} ${REASONS[status]}: ${why}\n`, version);
  return status;
}

/** Over a connection limit. */
export function busy(s: Socket): void {
  reply(s, 503, "503 Service Unavailable: too many connections, try again later\n", {
    "Retry-After": "1",
  });
}
