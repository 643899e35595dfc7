/**
 * One ws-pmu session on an upgraded WebSocket: the command (the first message, or nothing
 * within the idle timeout), its answer as WebSocket messages, the close, and the one log
 * line. The protocol itself is mod/pmu's.
 *
 * @module
 */
// @ts-types="@types/ws"
import type { RawData, WebSocket } from "ws";
import { messageCount, parseCommand, pmuMessageBytes, WRONG_COMMAND } from "../pmu/mod.ts";
import { DEFAULT_SESSION_LIMIT } from "../tcp/pmu.ts";
import { closeCodeText } from "./close.ts";

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;

/**
 * Milliseconds a client has to answer the server's close frame before the connection is
 * cut (ws's own default is 30 s: 512 clients that never answer locked the server 40 s).
 */
export const CLOSE_TIMEOUT_MS = 2000;

/** What every session of a server shares. */
export interface WsSessionContext {
  binary: boolean;
  idleMs: number;
  flood: Uint8Array;
  /** Messages per `CMD_short` (default: random 10..20 per connection). */
  count?: number;
  /** Seconds a `CMD_short` session may last (default {@link DEFAULT_SESSION_LIMIT}). */
  sessionLimit?: number;
  /** Milliseconds to wait for the client's close frame (default {@link CLOSE_TIMEOUT_MS}). */
  closeTimeoutMs?: number;
  stats: { short: number; flood: number; wrong: number };
  log: (line: string) => void;
}

/** A running session: how to end it at shutdown, and when it has ended. */
export interface WsSession {
  ended: Promise<void>;
  shutdown(): void;
}

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

/** Serves the PMU protocol on `ws` from `peer` (host:port, for the log). */
export function wsPmuSession(
  ws: WebSocket,
  peer: string,
  random: () => number,
  ctx: WsSessionContext,
): WsSession {
  const started = performance.now();
  let what = "";
  let sent = 0;
  let planned = 0;
  let problem = "";
  let done = false;
  let wake: () => void = () => {};
  /** The close code this server sent, if it closed first. */
  let closedWith: number | undefined;
  let cut: ReturnType<typeof setTimeout> | undefined;
  const closeWith = (code: number, reason?: string) => {
    closedWith ??= code;
    ws.close(code, reason);
    // A client that never answers the close frame is cut off, soon.
    cut ??= setTimeout(() => {
      if (!problem) problem = "no close frame from the client: connection cut";
      ws.terminate();
    }, ctx.closeTimeoutMs ?? CLOSE_TIMEOUT_MS);
  };
  const ended = new Promise<void>((resolve) => ws.once("close", () => resolve()));

  // One options object and one callback for every message of the session (issue 29: 20,000
  // messages made 40,000 objects).
  const options = { binary: ctx.binary };
  const sentCallback = (err?: Error) => {
    if (err && !problem) problem = err.message;
  };
  const send = (data: string | Uint8Array) => {
    ws.send(data, options, sentCallback);
    sent++;
  };
  const answerAndClose = (data: string | Uint8Array) => {
    send(data);
    closeWith(CLOSE_NORMAL);
  };
  const idle = setTimeout(() => {
    if (what) return;
    ctx.stats.wrong++;
    what = `no command within ${ctx.idleMs / 1000} s -> ${WRONG_COMMAND}`;
    answerAndClose(WRONG_COMMAND);
  }, ctx.idleMs);

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
      ctx.stats.flood++;
      what = `CMD_floodme -> flood of ${ctx.flood.length} bytes`;
      answerAndClose(ctx.flood);
      return;
    }
    if (cmd.kind === "wrong") {
      ctx.stats.wrong++;
      what = `${shown(text)} -> ${WRONG_COMMAND}`;
      answerAndClose(WRONG_COMMAND);
      return;
    }
    ctx.stats.short++;
    planned = ctx.count ?? messageCount(random);
    what = `CMD_short:${cmd.delay} -> ${planned} message(s)`;
    const limit = ctx.sessionLimit ?? DEFAULT_SESSION_LIMIT;
    for (let i = 0; i < planned && !done; i++) {
      if (i > 0 && cmd.delay > 0) {
        if (performance.now() + cmd.delay * 1000 > started + limit * 1000) {
          problem = `session limit of ${limit} s reached`;
          break;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, cmd.delay * 1000);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        if (done) break;
      }
      send(pmuMessageBytes(i)); // bytes encoded once (ws encodes a string at every send)
    }
    if (!done) closeWith(CLOSE_NORMAL);
  });
  ws.on("close", (code) => {
    done = true;
    clearTimeout(idle);
    clearTimeout(cut);
    wake();
    let line = `${peer}: ${what || "no command"}`;
    if (planned && sent < planned) line += ` (${sent} sent)`;
    if (closedWith !== undefined) line += `, closed ${closeCodeText(closedWith)}`;
    else if (code === 1006) line += ", peer vanished (1006, no close frame)";
    else line += `, closed by the client ${closeCodeText(code)}`;
    if (problem && (closedWith !== CLOSE_NORMAL || /^(session limit|no close)/.test(problem))) {
      line += `: ${problem}`;
    }
    ctx.log(line);
  });

  return { ended, shutdown: () => closeWith(CLOSE_GOING_AWAY, "server shutting down") };
}
