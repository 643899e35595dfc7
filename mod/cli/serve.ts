/**
 * Running a server from the command line: announce it, serve until SIGINT or
 * SIGTERM, close it, print its summary, exit 0. `serveLogged` is the path of every
 * server command that logs per event (its `--quiet` and `--log-every`).
 *
 * @module
 */
import type { Args } from "./command.ts";
import type { Io } from "./io.ts";
import type { EventSink, Server } from "../net/server.ts";
import { type EventLog, eventLog } from "./log.ts";

/**
 * Serve until stopped. The `listening on <addr>` line is what scripts wait for. `events`,
 * the server's rate-bounded log, gets its last count out before the summary.
 */
export async function serveUntilStopped(
  io: Io,
  server: Server,
  announce = `listening on ${server.address}`,
  events?: EventLog,
): Promise<number> {
  // Install the SIGINT/SIGTERM handlers before announcing: a script that signals the server
  // as soon as it reads `listening on` must get a clean stop, not the default kill.
  const stopped = io.stopped;
  io.log(announce);
  const why = await Promise.race([stopped, server.closed.then(() => "closed")]);
  await server.close();
  events?.flush();
  const failed = io.logFailures();
  const dropped = failed.dropped
    ? `; ${failed.dropped} log line(s) dropped (writing them failed: ${failed.reason})`
    : "";
  io.log(
    `${server.name}: stopped${why === "closed" ? "" : ` (${why})`}; ${server.summary()}${dropped}`,
  );
  return 0;
}

/**
 * A server command's run once its options are parsed: `start` gets the per-event log that
 * `--quiet` and `--log-every` (LOG_OPTIONS) shape, and the server is served until stopped.
 */
export async function serveLogged(
  args: Args,
  io: Io,
  start: (log: EventSink) => Promise<Server>,
): Promise<number> {
  const events = eventLog(args, io.log);
  return serveUntilStopped(io, await start(events.log), undefined, events);
}
