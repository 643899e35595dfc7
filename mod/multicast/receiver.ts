/**
 * Part 4.1: the multicast receiver. It joins the group (any-source) and hands
 * every datagram over, whatever its size or content.
 *
 * The socket binds the group address itself, not 0.0.0.0: on Linux a socket
 * bound to 0.0.0.0:port also gets the datagrams of every other group joined
 * on the host for that port (IP_MULTICAST_ALL), so a receiver of 224.1.1.2
 * would print the TV of 224.1.1.1. Address reuse lets several receivers (and
 * students' scripts) share the port.
 *
 * @module
 */
import { errorMessage, RunError } from "../errors.ts";
import { formatAddr, hostPort } from "../net/address.ts";
import { listenError } from "../net/errors.ts";
import { closeQuietly, type Server, serverHandle } from "../net/server.ts";
import { NO_ROUTE_HINT } from "./datagram.ts";

export interface ReceiverOptions {
  group: string;
  port: number;
  /** IPv4 address of the interface to join on; default 0.0.0.0 (the kernel chooses). */
  iface?: string;
  /** Called for every datagram with its bytes and sender. */
  onDatagram: (data: Uint8Array, from: string) => void;
}

/** Join the group and receive until closed. */
export async function startReceiver(opts: ReceiverOptions): Promise<Server> {
  const iface = opts.iface ?? "0.0.0.0";
  let sock: Deno.DatagramConn;
  try {
    sock = Deno.listenDatagram({
      transport: "udp",
      hostname: opts.group,
      port: opts.port,
      reuseAddress: true,
    });
  } catch (e) {
    throw listenError(e, opts.group, opts.port, "udp");
  }
  try {
    await sock.joinMulticastV4(opts.group, iface);
  } catch (e) {
    sock.close();
    // Joining on any interface (0.0.0.0) picks the one the group's route leaves by.
    const hint = opts.iface === undefined && /no such device/i.test(errorMessage(e))
      ? ` (${NO_ROUTE_HINT})`
      : "";
    throw new RunError(
      `cannot join ${opts.group} on interface ${iface}: ${errorMessage(e)}${hint}`,
    );
  }
  let count = 0;
  let bytes = 0;
  const stopping = new AbortController();
  const closed = (async () => {
    try {
      for await (const [data, from] of sock) {
        count++;
        bytes += data.length;
        opts.onDatagram(data, formatAddr(from));
      }
    } catch (e) {
      if (!stopping.signal.aborted) throw e;
    }
  })();
  const port = (sock.addr as Deno.NetAddr).port;
  return serverHandle({
    name: "receiver",
    address: hostPort(opts.group, port),
    port,
    closed,
    stopping,
    stop: () => closeQuietly([sock]),
    summary: () => `received ${count} datagram(s), ${bytes} byte(s)`,
  });
}
