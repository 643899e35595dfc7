/**
 * Part 1.1, Codes A and B: send one UDP datagram; receive datagrams and show
 * where each came from.
 *
 * @module
 */
import { formatAddr, resolveHost } from "../net/address.ts";
import { listenError } from "../net/errors.ts";
import { closeQuietly, type Server, serverHandle } from "../net/server.ts";

/** Code A: one datagram to host:port over IPv4. Throws an Error naming the cause. */
export async function sendHello(host: string, port: number, message: string): Promise<void> {
  const [target] = await resolveHost(host, 4);
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  try {
    await sock.send(new TextEncoder().encode(message), {
      transport: "udp",
      hostname: target.address,
      port,
    });
  } finally {
    sock.close();
  }
}

export interface HelloReceiverOptions {
  hostname: string;
  port: number;
  /** Called for every datagram with the sender and its text (invalid UTF-8 replaced). */
  onDatagram: (from: string, text: string, bytes: Uint8Array) => void;
}

/** Code B: receive datagrams until closed. */
export function startHelloReceiver(opts: HelloReceiverOptions): Server {
  let sock: Deno.DatagramConn;
  try {
    sock = Deno.listenDatagram({ transport: "udp", hostname: opts.hostname, port: opts.port });
  } catch (e) {
    throw listenError(e, opts.hostname, opts.port, "udp");
  }
  let count = 0;
  const stopping = new AbortController();
  const decoder = new TextDecoder();
  const closed = (async () => {
    try {
      for await (const [data, from] of sock) {
        count++;
        opts.onDatagram(formatAddr(from), decoder.decode(data), data);
      }
    } catch (e) {
      if (!stopping.signal.aborted) throw e;
    }
  })();
  const addr = sock.addr as Deno.NetAddr;
  return serverHandle({
    name: "hello-recv",
    address: formatAddr(addr),
    port: addr.port,
    closed,
    stopping,
    stop: () => closeQuietly([sock]),
    summary: () => `received ${count} datagram(s)`,
  });
}
