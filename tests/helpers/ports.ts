/**
 * Ports for tests. Servers under test bind port 0 and report their port;
 * these helpers are for the other cases (a port nobody listens on, a port
 * that is taken).
 *
 * @module
 */

/** A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it now). */
export function closedTcpPort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Hold a TCP port on `hostname` (so a server started on it must fail). Close it after. */
export function holdTcpPort(hostname = "127.0.0.1"): Deno.TcpListener {
  return Deno.listen({ hostname, port: 0 });
}

export { freeUdpPort } from "../../mod/net/ports.ts";
