/**
 * An IPv6-only UDP socket (IPV6_V6ONLY set), for the IPv6 phase of part 3's
 * server on `::`, as the course's p3server_v6 was.
 *
 * Measured in Deno 2.9.6: `Deno.listenDatagram` on `::` makes a dual-stack
 * socket (IPv4 senders arrive as `::ffff:a.b.c.d`; 0.0.0.0 on the same port
 * is then "address in use") and has no option to set IPV6_V6ONLY. Deno's
 * node:dgram honours `ipv6Only: true`: 0.0.0.0 can then bind the same port,
 * an IPv4 datagram is not delivered to the socket, and the kernel answers it
 * with port unreachable (a connected IPv4 client sees "connection refused"
 * at once, where a dual-stack socket that ignores it leaves it waiting).
 *
 * {@link listenUdp6Only} wraps such a socket in the part of the
 * `Deno.DatagramConn` interface that {@link DatagramReader} and the servers use.
 *
 * @module
 */
import type dgram from "node:dgram";
import { asDenoError } from "../net/node_errors.ts";
import type { UdpConn } from "./receiver.ts";

/** Datagrams kept while nobody receives (more are dropped, as a full socket buffer would). */
const QUEUE_MAX = 1024;

type Item = [Uint8Array<ArrayBuffer>, Deno.NetAddr];

class NodeUdpConn implements UdpConn {
  readonly #sock: dgram.Socket;
  #queue: Item[] = [];
  #waiters: { resolve: (i: Item) => void; reject: (e: unknown) => void }[] = [];
  #closed = false;
  readonly addr: Deno.NetAddr;

  constructor(sock: dgram.Socket) {
    this.#sock = sock;
    const a = sock.address();
    this.addr = { transport: "udp", hostname: a.address, port: a.port };
    sock.on("message", (msg: Uint8Array, r: dgram.RemoteInfo) => {
      const item: Item = [
        new Uint8Array(msg),
        { transport: "udp", hostname: r.address, port: r.port },
      ];
      const w = this.#waiters.shift();
      if (w) w.resolve(item);
      else if (this.#queue.length < QUEUE_MAX) this.#queue.push(item);
    });
    sock.on("close", () => this.#end(new Deno.errors.BadResource("the socket is closed")));
    sock.on("error", (e: unknown) => this.#end(asDenoError(e)));
  }

  #end(e: unknown) {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  receive(): Promise<[Uint8Array<ArrayBuffer>, Deno.Addr]> {
    const item = this.#queue.shift();
    if (item) return Promise.resolve(item);
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("the socket is closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  send(data: Uint8Array, addr: Deno.Addr): Promise<number> {
    const to = addr as Deno.NetAddr;
    return new Promise((resolve, reject) =>
      this.#sock.send(data, to.port, to.hostname, (e: unknown, n: number) => {
        if (e) reject(asDenoError(e));
        else resolve(n);
      })
    );
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the socket is closed");
    this.#closed = true;
    this.#sock.close();
  }
}

/**
 * Bind an IPv6-only UDP socket on `hostname` (an IPv6 address, usually `::`)
 * and `port` (0: any). Rejects with the `Deno.errors` class of the failure
 * (`AddrInUse`...), for `listenError`.
 */
export async function listenUdp6Only(hostname: string, port: number): Promise<UdpConn> {
  // Loaded here: node:dgram costs ~5 ms at every start of every UDP command (issue 29).
  const { createSocket } = await import("node:dgram");
  const sock = createSocket({ type: "udp6", ipv6Only: true });
  return await new Promise((resolve, reject) => {
    const failed = (e: unknown) => {
      try {
        sock.close();
      } catch { /* never bound */ }
      reject(asDenoError(e));
    };
    sock.once("error", failed);
    sock.bind(port, hostname, () => {
      sock.off("error", failed);
      resolve(new NodeUdpConn(sock));
    });
  });
}
