/**
 * Part 6 server: the PMU over WebSocket (the stand-in for ws://tcpip.epfl.ch:5006), on
 * npm:ws. Every PMU message is one WebSocket message, sent as a binary frame by default
 * (what the course's server sent: students' `recv().decode()` needs bytes) or as a text
 * frame. The protocol itself (commands, messages, the flood, `Wrong command.`, the message
 * count) is mod/pmu's.
 *
 * One node:http server carries it: a WebSocket handshake is upgraded by ws (noServer mode),
 * any other HTTP request gets `426 Upgrade Required`, a broken handshake `400`
 * (./replies.ts). Every TCP connection takes a slot of the connection limits (in all, per
 * address: mod/net/limits.ts) from its accept to its close, upgrade included; one over a
 * limit is answered 503. The session on an upgraded connection is ./session.ts.
 *
 * @module
 */
import type http from "node:http";
import type { Socket } from "node:net";
// @ts-types="@types/ws"
import type { WebSocket } from "ws";
import { hostPort } from "../net/address.ts";
import { listenError } from "../net/errors.ts";
import { ConnectionLimits, DEFAULT_MAX_CONNECTIONS, descriptorLimit } from "../net/limits.ts";
import { type Server, serverHandle } from "../net/server.ts";
import { DEFAULT_FLOOD_BYTES, floodText, MAX_COMMAND_BYTES } from "../pmu/mod.ts";
import { randomSeed, seededRandom } from "../random.ts";
import { settledWithin } from "../deadline.ts";
import { asDenoError } from "../net/node_errors.ts";
import { badHandshake, busy, notHttp, upgradeRequired } from "./replies.ts";
import { wsPmuSession, type WsSession } from "./session.ts";

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
  /** Most connections from one address at once (default: see mod/net/limits.ts; 0: none). */
  maxPerPeer?: number;
  /** Seconds a `CMD_short` session may last (default: as `pmu`). */
  sessionLimit?: number;
  /** Milliseconds a client has to answer the close frame (default 2 s). */
  closeTimeoutMs?: number;
  log?: (line: string) => void;
}

/** How long close() lets clients answer the closing handshake before cutting them off. */
const SHUTDOWN_GRACE_MS = 1000;
/** How long a refused client has to read its 503 before the connection is cut. */
const REFUSED_GRACE_MS = 2000;
/** Descriptors kept free of connections: Deno's own, node:http's, the log's. */
const RESERVED_FDS = 64;

function peerOf(s: Socket): string {
  return hostPort(s.remoteAddress ?? "?", s.remotePort ?? 0);
}

/** Start the WebSocket PMU; resolves once it is listening. */
export async function startWsPmu(opts: WsPmuOptions): Promise<Server> {
  // node:http and ws are loaded here, not at start-up: they double the start-up time of
  // every socklab command (measured by `deno task bench`, 5b).
  const { default: nodeHttp } = await import("node:http");
  const { WebSocketServer } = await import("ws");
  const log = opts.log ?? (() => {});
  // Per-connection randomness as `pmu` draws it (mod/tcp/pmu.ts): one seeded generator per
  // connection from a seeded sequence, so `--seed S` gives the same counts as `pmu --seed S`.
  const seeds = seededRandom(opts.seed ?? randomSeed());
  const idleMs = (opts.idleTimeout ?? DEFAULT_IDLE_TIMEOUT) * 1000;
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
  const context = {
    binary: !opts.text,
    idleMs,
    flood: opts.flood ?? new TextEncoder().encode(floodText(DEFAULT_FLOOD_BYTES)),
    count: opts.count,
    sessionLimit: opts.sessionLimit,
    closeTimeoutMs: opts.closeTimeoutMs,
    stats,
    log,
  };
  const sockets = new Set<Socket>();
  const limits = new ConnectionLimits(
    opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    opts.maxPerPeer,
  );
  /** Connections accepted over a limit, and why: their request or upgrade gets a 503. */
  const overLimit = new WeakMap<Socket, string>();
  /** Answer 503 on a connection over a limit, log it; it is cut soon if the client lingers. */
  const refused = new WeakSet<Socket>();
  const refuse = (s: Socket) => {
    // Once per connection: node:http may report the same socket again as it ends.
    if (refused.has(s)) return;
    refused.add(s);
    stats.refused++;
    log(`${peerOf(s)}: refused, ${overLimit.get(s)} -> 503`);
    busy(s);
  };
  /** Open sessions: how to close each at shutdown, and a promise of its end. */
  const clients = new Map<WebSocket, WsSession>();
  const stopping = new AbortController();

  const httpServer = nodeHttp.createServer((req, res) => {
    if (overLimit.has(req.socket)) return refuse(req.socket);
    // A plain HTTP request: this is a WebSocket server.
    stats.http++;
    log(
      `${peerOf(req.socket)}: ${req.method} ${req.url} without a WebSocket upgrade -> ` +
        `426 Upgrade Required`,
    );
    upgradeRequired(res);
  });
  // Out of descriptors, Deno's node:http stops accepting for good, silently (measured under
  // `prlimit --nofile`): never let it get there. Connections past twice the limit (or what
  // the descriptor limit leaves) are closed as they come, before any answer.
  const nofile = descriptorLimit();
  httpServer.maxConnections = Math.max(
    1,
    Math.min(2 * limits.max, nofile === null ? Infinity : nofile - RESERVED_FDS),
  );
  if (httpServer.maxConnections < limits.max) {
    log(
      `only ${nofile} descriptors (ulimit -n): connections past ${httpServer.maxConnections} ` +
        `are closed at once`,
    );
  }
  httpServer.on("connection", (s: Socket) => {
    sockets.add(s);
    const slot = limits.admit(s.remoteAddress ?? "?");
    if (typeof slot === "string") {
      overLimit.set(s, slot);
      // Not counted, so not held: cut after a short grace, silent or not.
      s.setTimeout(REFUSED_GRACE_MS, () => s.destroy());
    } else {
      // Deno's node:http has no headersTimeout: drop a connection that sends no complete
      // request within the idle timeout. (ws clears this timeout when it upgrades the socket.)
      s.setTimeout(idleMs, () => {
        stats.silent++;
        log(`${peerOf(s)}: no WebSocket handshake within ${idleMs / 1000} s -> dropped`);
        s.destroy();
      });
    }
    s.on("close", () => {
      sockets.delete(s);
      if (typeof slot !== "string") slot.release();
    });
  });
  // Not HTTP at all: typically a plain TCP PDC (part 2) pointed at the WebSocket port.
  httpServer.on("clientError", (_e: Error, s: Socket) => {
    if (overLimit.has(s)) return refuse(s);
    stats.badHandshake++;
    log(`${peerOf(s)}: not an HTTP request (a plain TCP client?) -> 400`);
    notHttp(s);
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxCommandBytes ?? MAX_COMMAND_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  // A handshake ws refuses (bad key, version, method): answer it ourselves, and log it.
  wss.on("wsClientError", (e: Error, s: Socket, req: http.IncomingMessage) => {
    stats.badHandshake++;
    const status = badHandshake(s, e.message);
    log(`${peerOf(req.socket)}: bad WebSocket handshake (${e.message}) -> ${status}`);
  });

  httpServer.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (stopping.signal.aborted) return socket.destroy();
    if (overLimit.has(socket)) return refuse(socket);
    wss.handleUpgrade(req, socket, head, (ws) => {
      stats.connections++;
      const random = seededRandom(Math.floor(seeds() * 2 ** 32));
      const session = wsPmuSession(ws, peerOf(req.socket), random, context);
      clients.set(ws, session);
      session.ended.then(() => clients.delete(ws));
    });
  });

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
