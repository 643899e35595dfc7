/**
 * Ports that were free a moment ago, for `demo`, `grade` and the tests (a
 * server that can bind port 0 itself should; these are for the cases where
 * the port must be known before the socket that uses it exists, or where
 * nothing must listen on it: a refused connection).
 *
 * @module
 */

/** A TCP port on `hostname` that was free a moment ago (nothing listens on it now). */
export function freeTcpPort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** A UDP port free on `hostname` a moment ago. */
export function freeUdpPort(hostname = "127.0.0.1"): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** A UDP port free on both 127.0.0.1 and ::1 a moment ago, none of `except`. */
export function freeDualUdpPort(except: number[] = []): number {
  for (let i = 0; i < 20; i++) {
    const a = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (a.addr as Deno.NetAddr).port;
    try {
      if (except.includes(port)) continue;
      Deno.listenDatagram({ transport: "udp", hostname: "::1", port }).close();
      return port;
    } catch {
      /* taken in IPv6: try another */
    } finally {
      a.close();
    }
  }
  throw new Error("no UDP port free on both 127.0.0.1 and ::1");
}
