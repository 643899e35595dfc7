/**
 * Running a server from the command line: announce it, serve until SIGINT or
 * SIGTERM, close it, print its summary, exit 0.
 *
 * @module
 */
import type { Io } from "./io.ts";
import type { Server } from "../net/server.ts";

/** Serve until stopped. The `listening on <addr>` line is what scripts wait for. */
export async function serveUntilStopped(
  io: Io,
  server: Server,
  announce = `listening on ${server.address}`,
): Promise<number> {
  // Install the SIGINT/SIGTERM handlers before announcing: a script that signals the server
  // as soon as it reads `listening on` must get a clean stop, not the default kill.
  const stopped = io.stopped;
  io.log(announce);
  const why = await Promise.race([stopped, server.closed.then(() => "closed")]);
  await server.close();
  io.log(`${server.name}: stopped${why === "closed" ? "" : ` (${why})`}; ${server.summary()}`);
  return 0;
}
