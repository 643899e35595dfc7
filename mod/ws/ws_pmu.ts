/**
 * Part 6 server: the PMU over WebSocket (the stand-in for ws://tcpip.epfl.ch:5006), on
 * npm:ws. Every PMU message is one WebSocket message, sent as a binary frame by default
 * (what the course's server sent: students' `recv().decode()` needs bytes) or as a text
 * frame. The protocol itself (commands, messages, the flood, `Wrong command.`, the message
 * count) is mod/pmu's.
 *
 * One node:http server carries it: a WebSocket handshake is upgraded by ws (noServer mode),
 * any other HTTP request gets `426 Upgrade Required`, a broken handshake `400`.
 *
 * @module
 */
import type http from "node:http";
import type { Socket } from "node:net";
// @ts-types="@types/ws"
import type { RawData, WebSocket } from "ws";
import { settledWithin } from "../deadline.ts";
import { hostPort } from "../net/address.ts";
import { listenError } from "../net/errors.ts";
import { type Server, serverHandle } from "../net/server.ts";
import {
  DEFAULT_FLOOD_BYTES,
  floodText,
  MAX_COMMAND_BYTES,
  messageCount,
  parseCommand,
  pmuMessage,
  WRONG_COMMAND,
} from "../pmu/mod.ts";
import { randomSeed, seededRandom } from "../random.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../tcp/pmu.ts";
import { closeCodeText } from "./close.ts";
import { asDenoError } from "./node_errors.ts";

/** Seconds a client may stay silent before it gets `Wrong command.`. */
export const DEFAULT_IDLE_TIMEOUT = 10;

export interface WsPmuOptions {
  hostname: string;
  port: number;
  /** Send text frames instead of binary ones. */
  text?: boolean;
  /** Messages per `CMD_short` (default: random 10..20 per connection). */
  count?: number;
  /** Seed of the per-connection message count (default: unseeded). */
  seed?: number;
  /** The `CMD_floodme` answer (default: the 57,344-byte flood text). */
  flood?: Uint8Array;
  /** Seconds to wait for the command (default {@link DEFAULT_IDLE_TIMEOUT}). */
  idleTimeout?: number;
  /** Largest incoming message in bytes; ws closes with 1009 above it (default 256). */
  maxCommandBytes?: number;
  /**
   * Most connections at once (default 512, as `pmu`); a client over the limit is answered
   * `503 Service Unavailable` (to its request or upgrade) and closed, and the refusal logged.
   */
  maxConnections?: number;
  log?: (line: string) => void;
}

const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
/** How long close() lets clients answer the closing handshake before cutting them off. */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * The close code ws sends after a protocol error (1009 for a message over maxPayload,
 * 1007 for invalid UTF-8...): ws keeps it under its own `status-code` symbol.
 */
function wsErrorStatus(e: Error): number | undefined {
  const key = Object.getOwnPropertySymbols(e).find((s) => s.description === "status-code");
  const code = key ? (e as unknown as Record<symbol, unknown>)[key] : undefined;
  return typeof code === "number" ? code : undefined;
}

function rawBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A short printable form of what a client sent, for the log. */
function shown(text: string): string {
  const t = text.length > 40 ? text.slice(0, 40) + "..." : text;
  return JSON.stringify(t);
}

/** Start the WebSocket PMU; resolves once it is listening. */
export async function startWsPmu(opts: WsPmuOptions): Promise<Server> {
  // node:http and ws are loaded here, not at start-up: they double the start-up time of
  // every socklab command (measured by `deno task bench`, 5b).
  const { default: nodeHttp } = await import("node:http");
  const { WebSocketServer } = await import("ws");
  const log = opts.log ?? (() => {});
  const binary = !opts.text;
  // Per-connection randomness as `pmu` draws it (mod/tcp/pmu.ts): one seeded generator per
  // connection from a seeded sequence, so `--seed S` gives the same counts as `pmu --seed S`.
  const seeds = seededRandom(opts.seed ?? randomSeed());
  const flood = opts.flood ?? new TextEncoder().encode(floodText(DEFAULT_FLOOD_BYTES));
  const idleMs = (opts.idleTimeout ?? DEFAULT_IDLE_TIMEOUT) * 1000;
  const sockets = new Set<Socket>();
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  /** Connections accepted over the limit: their request or upgrade gets a 503. */
  const overLimit = new WeakSet<Socket>();
  /** Answer 503 on a connection over the limit, close it, log it. */
  const busy = (s: Socket) => {
    stats.refused++;
    log(
      `${hostPort(s.remoteAddress ?? "?", s.remotePort ?? 0)}: refused, ${maxConnections} ` +
        `connections already open (--max-connections ${maxConnections}) -> 503`,
    );
    const body = "503 Service Unavailable: too many connections, try again later\n";
    if (s.writable) {
      s.end(
        `HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n` +
          `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    } else s.destroy();
  };
  /** Open connections: how to close each at shutdown, and a promise of its end. */
  const clients = new Map<WebSocket, { ended: Promise<void>; shutdown(): void }>();
  const stats = {
    connections: 0,
    short: 0,
    flood: 0,
    wrong: 0,
    http: 0,
    badHandshake: 0,
    silent: 0,
    refused: 0,
  };
  const stopping = new AbortController();

  const httpServer = nodeHttp.createServer((req, res) => {
    if (overLimit.has(req.socket)) return busy(req.socket);
    // A plain HTTP request: this is a WebSocket server.
    stats.http++;
    const peer = hostPort(req.socket.remoteAddress ?? "?", req.socket.remotePort ?? 0);
    log(`${peer}: ${req.method} ${req.url} without a WebSocket upgrade -> 426 Upgrade Required`);
    const body = "426 Upgrade Required: this is a WebSocket server (PMU, lab part 6); " +
      "connect with a WebSocket client to ws://<host>:<port>/\n";
    res.writeHead(426, {
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
      "Upgrade": "websocket",
      "Connection": "close",
    });
    res.end(body);
  });
  httpServer.on("connection", (s: Socket) => {
    if (sockets.size >= maxConnections) overLimit.add(s);
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    // Deno's node:http has no headersTimeout: drop a connection that sends no complete
    // request within the idle timeout. (ws clears this timeout when it upgrades the socket.)
    s.setTimeout(idleMs, () => {
      stats.silent++;
      log(
        `${hostPort(s.remoteAddress ?? "?", s.remotePort ?? 0)}: no WebSocket handshake ` +
          `within ${idleMs / 1000} s -> dropped`,
      );
      s.destroy();
    });
  });
  // Not HTTP at all: typically a plain TCP PDC (part 2) pointed at the WebSocket port.
  httpServer.on("clientError", (_e: Error, s: Socket) => {
    stats.badHandshake++;
    log(
      `${hostPort(s.remoteAddress ?? "?", s.remotePort ?? 0)}: not an HTTP request ` +
        `(a plain TCP client?) -> 400`,
    );
    const body = "400 Bad Request: this is a WebSocket server; plain TCP is not spoken here\n";
    if (s.writable) {
      s.end(
        `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
    } else s.destroy();
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxCommandBytes ?? MAX_COMMAND_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  // A handshake ws refuses (bad key, version, method): answer it ourselves, and log it.
  wss.on(
    "wsClientError",
    (e: Error & { code?: string }, s: Socket, req: http.IncomingMessage) => {
      stats.badHandshake++;
      const peer = hostPort(req.socket.remoteAddress ?? "?", req.socket.remotePort ?? 0);
      const status = e.message === "Invalid HTTP method" ? 405 : 400;
      log(`${peer}: bad WebSocket handshake (${e.message}) -> ${status}`);
      if (s.writable) {
        const reason = nodeHttp.STATUS_CODES[status];
        const body = `${status} ${reason}: ${e.message}\n`;
        const version = /Version/.test(e.message) ? "Sec-WebSocket-Version: 13, 8\r\n" : "";
        s.end(
          `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${version}` +
            `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      } else s.destroy();
    },
  );

  httpServer.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (stopping.signal.aborted) return socket.destroy();
    if (overLimit.has(socket)) return busy(socket);
    wss.handleUpgrade(req, socket, head, (ws) => session(ws, req));
  });

  function session(ws: WebSocket, req: http.IncomingMessage) {
    stats.connections++;
    const random = seededRandom(Math.floor(seeds() * 2 ** 32));
    const peer = hostPort(req.socket.remoteAddress ?? "?", req.socket.remotePort ?? 0);
    let what = "";
    let sent = 0;
    let planned = 0;
    let problem = "";
    let done = false;
    let wake: () => void = () => {};
    /** The close code this server sent, if it closed first. */
    let closedWith: number | undefined;
    const closeWith = (code: number, reason?: string) => {
      closedWith ??= code;
      ws.close(code, reason);
    };
    clients.set(ws, {
      ended: new Promise((resolve) => ws.once("close", () => resolve())),
      shutdown: () => closeWith(CLOSE_GOING_AWAY, "server shutting down"),
    });

    const send = (data: string | Uint8Array) => {
      ws.send(data, { binary }, (err) => {
        if (err && !problem) problem = err.message;
      });
      sent++;
    };
    const answerAndClose = (data: string | Uint8Array) => {
      send(data);
      closeWith(CLOSE_NORMAL);
    };
    const idle = setTimeout(() => {
      if (what) return;
      stats.wrong++;
      what = `no command within ${idleMs / 1000} s -> ${WRONG_COMMAND}`;
      answerAndClose(WRONG_COMMAND);
    }, idleMs);

    ws.on("error", (e) => {
      // A protocol error (e.g. a message over maxPayload): ws closes with the error's code.
      closedWith ??= wsErrorStatus(e);
      if (!problem) problem = e.message;
    });
    ws.once("message", async (data) => {
      clearTimeout(idle);
      if (what) return; // the idle timeout answered already
      const text = new TextDecoder().decode(rawBytes(data));
      const cmd = parseCommand(text);
      if (cmd.kind === "flood") {
        stats.flood++;
        what = `CMD_floodme -> flood of ${flood.length} bytes`;
        answerAndClose(flood);
        return;
      }
      if (cmd.kind === "wrong") {
        stats.wrong++;
        what = `${shown(text)} -> ${WRONG_COMMAND}`;
        answerAndClose(WRONG_COMMAND);
        return;
      }
      stats.short++;
      planned = opts.count ?? messageCount(random);
      what = `CMD_short:${cmd.delay} -> ${planned} message(s)`;
      for (let i = 0; i < planned && !done; i++) {
        if (i > 0 && cmd.delay > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, cmd.delay * 1000);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          if (done) break;
        }
        send(pmuMessage(i));
      }
      if (!done) closeWith(CLOSE_NORMAL);
    });
    ws.on("close", (code) => {
      done = true;
      clearTimeout(idle);
      wake();
      clients.delete(ws);
      let line = `${peer}: ${what || "no command"}`;
      if (planned && sent < planned) line += ` (${sent} sent)`;
      if (closedWith !== undefined) line += `, closed ${closeCodeText(closedWith)}`;
      else if (code === 1006) line += ", peer vanished (1006, no close frame)";
      else line += `, closed by the client ${closeCodeText(code)}`;
      if (problem && closedWith !== CLOSE_NORMAL) line += `: ${problem}`;
      log(line);
    });
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => {
      httpServer.off("listening", onListening);
      reject(listenError(asDenoError(e), opts.hostname, opts.port));
    };
    const onListening = () => {
      httpServer.off("error", onError);
      resolve();
    };
    httpServer.once("error", onError);
    httpServer.once("listening", onListening);
    httpServer.listen(opts.port, opts.hostname);
  });

  const closed = new Promise<void>((resolve) => httpServer.once("close", () => resolve()));
  const addr = httpServer.address() as { address: string; port: number };

  return serverHandle({
    name: "ws-pmu",
    address: hostPort(addr.address, addr.port),
    port: addr.port,
    closed,
    stopping,
    async stop() {
      httpServer.close();
      httpServer.closeIdleConnections?.();
      for (const c of clients.values()) c.shutdown();
      await settledWithin(
        Promise.all([...clients.values()].map((c) => c.ended)),
        SHUTDOWN_GRACE_MS,
      );
      for (const ws of clients.keys()) ws.terminate();
      for (const s of sockets) s.destroy();
    },
    summary: () =>
      `served ${stats.connections} WebSocket connection(s) (${stats.short} CMD_short, ` +
      `${stats.flood} CMD_floodme, ${stats.wrong} wrong), answered ${stats.http} plain HTTP ` +
      `request(s) with 426, ${stats.badHandshake} bad handshake(s) with 400, ${stats.silent} silent ` +
      `connection(s) dropped${stats.refused ? `, ${stats.refused} refused (busy, 503)` : ""}`,
  });
}
