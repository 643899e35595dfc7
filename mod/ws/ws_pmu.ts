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
import { wsPmuSession, type WsSession, type WsSessionContext } from "./session.ts";

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

/** What the server's handlers share: options, counts, the open sockets and sessions, limits. */
interface WsPmuState {
  opts: WsPmuOptions;
  log: (line: string) => void;
  idleMs: number;
  /** Seeds the per-connection generators. */
  seeds: () => number;
  stats: WsStats;
  context: WsSessionContext;
  /** Every TCP connection open, upgraded or not (destroyed at shutdown). */
  sockets: Set<Socket>;
  limits: ConnectionLimits;
  /** Connections accepted over a limit, and why: their request or upgrade gets a 503. */
  overLimit: WeakMap<Socket, string>;
  /** Connections already answered 503 (node:http may report one again as it ends). */
  refused: WeakSet<Socket>;
  /** Open sessions: how to close each at shutdown, and a promise of its end. */
  clients: Map<WebSocket, WsSession>;
  stopping: AbortController;
}

interface WsStats {
  connections: number;
  short: number;
  flood: number;
  wrong: number;
  http: number;
  badHandshake: number;
  silent: number;
  refused: number;
}

/** Start the WebSocket PMU; resolves once it is listening. */
export async function startWsPmu(opts: WsPmuOptions): Promise<Server> {
  // node:http and ws are loaded here, not at start-up: they double the start-up time of
  // every socklab command (measured by `deno task bench`, 5b).
  const { default: nodeHttp } = await import("node:http");
  const { WebSocketServer } = await import("ws");
  const st = wsPmuState(opts);
  const httpServer = nodeHttp.createServer((req, res) => {
    if (st.overLimit.has(req.socket)) return refuse(st, req.socket);
    // A plain HTTP request: this is a WebSocket server.
    st.stats.http++;
    st.log(
      `${peerOf(req.socket)}: ${req.method} ${req.url} without a WebSocket upgrade -> ` +
        `426 Upgrade Required`,
    );
    upgradeRequired(res);
  });
  capConnections(httpServer, st);
  httpServer.on("connection", (s: Socket) => admit(st, s));
  // Not HTTP at all: typically a plain TCP PDC (part 2) pointed at the WebSocket port.
  httpServer.on("clientError", (_e: Error, s: Socket) => {
    if (st.overLimit.has(s)) return refuse(st, s);
    st.stats.badHandshake++;
    st.log(`${peerOf(s)}: not an HTTP request (a plain TCP client?) -> 400`);
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
    st.stats.badHandshake++;
    const status = badHandshake(s, e.message);
    st.log(`${peerOf(req.socket)}: bad WebSocket handshake (${e.message}) -> ${status}`);
  });
  httpServer.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (st.stopping.signal.aborted) return socket.destroy();
    if (st.overLimit.has(socket)) return refuse(st, socket);
    wss.handleUpgrade(req, socket, head, (ws) => startSession(st, ws, peerOf(req.socket)));
  });
  await listen(httpServer, opts);
  const closed = new Promise<void>((resolve) => httpServer.once("close", () => resolve()));
  const addr = httpServer.address() as { address: string; port: number };
  return serverHandle({
    name: "ws-pmu",
    address: hostPort(addr.address, addr.port),
    port: addr.port,
    closed,
    stopping: st.stopping,
    stop: () => stopWsPmu(httpServer, st),
    summary: () => summary(st.stats),
  });
}

function wsPmuState(opts: WsPmuOptions): WsPmuState {
  const log = opts.log ?? (() => {});
  const idleMs = (opts.idleTimeout ?? DEFAULT_IDLE_TIMEOUT) * 1000;
  const stats: WsStats = {
    connections: 0,
    short: 0,
    flood: 0,
    wrong: 0,
    http: 0,
    badHandshake: 0,
    silent: 0,
    refused: 0,
  };
  return {
    opts,
    log,
    idleMs,
    // Per-connection randomness as `pmu` draws it (mod/tcp/pmu.ts): one seeded generator per
    // connection from a seeded sequence, so `--seed S` gives the same counts as `pmu --seed S`.
    seeds: seededRandom(opts.seed ?? randomSeed()),
    stats,
    context: {
      binary: !opts.text,
      idleMs,
      flood: opts.flood ?? new TextEncoder().encode(floodText(DEFAULT_FLOOD_BYTES)),
      count: opts.count,
      sessionLimit: opts.sessionLimit,
      closeTimeoutMs: opts.closeTimeoutMs,
      stats,
      log,
    },
    sockets: new Set(),
    limits: new ConnectionLimits(opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, opts.maxPerPeer),
    overLimit: new WeakMap(),
    refused: new WeakSet(),
    clients: new Map(),
    stopping: new AbortController(),
  };
}

/**
 * Out of descriptors, Deno's node:http stops accepting for good, silently (measured under
 * `prlimit --nofile`): never let it get there. Connections past twice the limit (or what
 * the descriptor limit leaves) are closed as they come, before any answer.
 */
function capConnections(httpServer: http.Server, { limits, log }: WsPmuState): void {
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
}

/** A new TCP connection: it takes a slot from its accept to its close, or is marked over. */
function admit(st: WsPmuState, s: Socket): void {
  st.sockets.add(s);
  const slot = st.limits.admit(s.remoteAddress ?? "?");
  if (typeof slot === "string") {
    st.overLimit.set(s, slot);
    // Not counted, so not held: cut after a short grace, silent or not.
    s.setTimeout(REFUSED_GRACE_MS, () => s.destroy());
  } else {
    // Deno's node:http has no headersTimeout: drop a connection that sends no complete
    // request within the idle timeout. (ws clears this timeout when it upgrades the socket.)
    s.setTimeout(st.idleMs, () => {
      st.stats.silent++;
      st.log(`${peerOf(s)}: no WebSocket handshake within ${st.idleMs / 1000} s -> dropped`);
      s.destroy();
    });
  }
  s.on("close", () => {
    st.sockets.delete(s);
    if (typeof slot !== "string") slot.release();
  });
}

/** Answer 503 on a connection over a limit, log it; it is cut soon if the client lingers. */
function refuse(st: WsPmuState, s: Socket): void {
  // Once per connection: node:http may report the same socket again as it ends.
  if (st.refused.has(s)) return;
  st.refused.add(s);
  st.stats.refused++;
  st.log(`${peerOf(s)}: refused, ${st.overLimit.get(s)} -> 503`);
  busy(s);
}

/** An upgraded connection: its PMU session, with its own seeded generator. */
function startSession(st: WsPmuState, ws: WebSocket, peer: string): void {
  st.stats.connections++;
  const random = seededRandom(Math.floor(st.seeds() * 2 ** 32));
  const session = wsPmuSession(ws, peer, random, st.context);
  st.clients.set(ws, session);
  session.ended.then(() => st.clients.delete(ws));
}

/** Listen on the options' address; a failure is the listenError every server gives. */
function listen(httpServer: http.Server, opts: WsPmuOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
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
}

/** Shutdown: no new connections, every session closed (a grace to answer), all cut. */
async function stopWsPmu(httpServer: http.Server, { clients, sockets }: WsPmuState) {
  httpServer.close();
  httpServer.closeIdleConnections?.();
  for (const c of clients.values()) c.shutdown();
  await settledWithin(
    Promise.all([...clients.values()].map((c) => c.ended)),
    SHUTDOWN_GRACE_MS,
  );
  for (const ws of clients.keys()) ws.terminate();
  for (const s of sockets) s.destroy();
}

function summary(stats: WsStats): string {
  return `served ${stats.connections} WebSocket connection(s) (${stats.short} CMD_short, ` +
    `${stats.flood} CMD_floodme, ${stats.wrong} wrong), answered ${stats.http} plain HTTP ` +
    `request(s) with 426, ${stats.badHandshake} bad handshake(s) with 400, ${stats.silent} silent ` +
    `connection(s) dropped${stats.refused ? `, ${stats.refused} refused (busy, 503)` : ""}`;
}
