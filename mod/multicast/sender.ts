/**
 * Part 4.2: the multicast sender (one datagram `<sciper><line>` per line of
 * input), and the one way socklab opens a socket that sends to a group
 * (the TV uses it too).
 *
 * Deno (2.9.6) turns IP_MULTICAST_LOOP off on every UDP socket; the
 * `loopback: true` listen option turns it back on. The TTL can only be set
 * through the membership object of a joined group: the socket joins the group
 * on the loopback interface (no IGMP report leaves the host), sets the TTL,
 * and leaves again; the TTL stays on the socket.
 *
 * @module
 */
import { hostPort } from "../net/address.ts";

import { errorMessage, RunError } from "../errors.ts";
import { encodeDatagram, LineSplitter, MAX_DATAGRAM, NO_ROUTE_HINT } from "./datagram.ts";

export interface MulticastSendOptions {
  group: string;
  port: number;
  /** Multicast TTL, 0..255 (0: this host only). */
  ttl: number;
  /** Local IPv4 address to send from (its interface); default 0.0.0.0, the routing table decides. */
  iface?: string;
}

/** A socket that sends to one group: TTL set, multicast loopback on. */
export interface MulticastSender {
  /** Send one datagram; throws a RunError naming the group on failure. */
  send(data: Uint8Array): Promise<void>;
  close(): void;
}

/** Open a socket for sending to `group:port`. Throws a RunError naming the cause. */
export async function openMulticastSender(opts: MulticastSendOptions): Promise<MulticastSender> {
  const where = hostPort(opts.group, opts.port);
  const local = opts.iface ?? "0.0.0.0";
  let sock: Deno.DatagramConn;
  try {
    sock = Deno.listenDatagram({ transport: "udp", hostname: local, port: 0, loopback: true });
  } catch (e) {
    throw new RunError(`cannot open a UDP socket on ${local}: ${errorMessage(e)}`);
  }
  try {
    // Loopback interface first (nothing leaves the host); any interface as a fallback.
    let membership: Deno.MulticastV4Membership | undefined;
    let lastError: unknown;
    for (const via of ["127.0.0.1", "0.0.0.0"]) {
      try {
        membership = await sock.joinMulticastV4(opts.group, via);
        break;
      } catch (e) {
        lastError = e;
      }
    }
    if (!membership) throw lastError;
    await membership.setTTL(opts.ttl);
    await membership.leave();
  } catch (e) {
    sock.close();
    throw new RunError(`cannot set TTL ${opts.ttl} for ${where}: ${errorMessage(e)}`);
  }
  const to: Deno.NetAddr = { transport: "udp", hostname: opts.group, port: opts.port };
  return {
    async send(data) {
      try {
        await sock.send(data, to);
      } catch (e) {
        const hint = e instanceof Deno.errors.NetworkUnreachable ? ` (${NO_ROUTE_HINT})` : "";
        throw new RunError(`cannot send to ${where}: ${errorMessage(e)}${hint}`);
      }
    },
    close() {
      try {
        sock.close();
      } catch { /* already closed */ }
    },
  };
}

export interface SendLinesOptions extends MulticastSendOptions {
  /** The 6-digit SCIPER that starts every datagram. */
  sciper: string;
  input: ReadableStream<Uint8Array>;
  /** Called after each datagram went out. */
  onSent?: (datagram: Uint8Array) => void;
  /**
   * Called for a line too long for one datagram, which is skipped (the next lines are
   * sent); the message names the line. Absent: such a line is a RunError.
   */
  onSkipped?: (message: string) => void;
}

/**
 * Send `<sciper><line>` for every line of `input` until its end (the bytes of
 * the line exactly, without its `\n` or `\r\n`). Returns the datagram count.
 * Throws a RunError on a send failure, or on a line too long for one datagram unless
 * `onSkipped` is given.
 */
export async function sendLines(opts: SendLinesOptions): Promise<number> {
  const sender = await openMulticastSender(opts);
  const splitter = new LineSplitter();
  let count = 0;
  let lines = 0;
  const sendOne = async (line: Uint8Array) => {
    lines++;
    const datagram = encodeDatagram(opts.sciper, line);
    if (datagram.length > MAX_DATAGRAM) {
      const why = `line ${lines} is ${line.length} bytes: one datagram holds at most ` +
        `${MAX_DATAGRAM - opts.sciper.length} after the SCIPER`;
      if (!opts.onSkipped) throw new RunError(why);
      opts.onSkipped(`${why}; skipped`);
      return;
    }
    await sender.send(datagram);
    count++;
    opts.onSent?.(datagram);
  };
  try {
    for await (const chunk of opts.input) {
      for (const line of splitter.push(chunk)) await sendOne(line);
    }
    const last = splitter.end();
    if (last) await sendOne(last);
  } finally {
    sender.close();
  }
  return count;
}
