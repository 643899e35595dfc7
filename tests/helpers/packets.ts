/**
 * Building frames byte by byte: the inverse of mod/packets/decode.ts, for fixtures and
 * property tests (checksums are left zero: the decoder does not verify them, like Wireshark
 * by default). Tests only: nothing in mod/ or scripts/ builds frames.
 * @module
 */
import { LINKTYPE } from "../../mod/packets/pcap.ts";

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function parseV4(a: string): number[] {
  return a.split(".").map(Number);
}

function parseV6(a: string): number[] {
  const [head, tail] = a.includes("::") ? a.split("::") : [a, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return words.flatMap((w) => {
    const n = parseInt(w, 16);
    return [n >> 8, n & 0xff];
  });
}

export interface TcpFields {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  mss?: number;
  wscale?: number;
  payload?: Uint8Array;
}

/** A TCP segment (header with the options asked for, padded, then the payload). */
export function tcpSegment(f: TcpFields): Uint8Array {
  const opts: number[] = [];
  if (f.mss !== undefined) opts.push(2, 4, f.mss >> 8, f.mss & 0xff);
  if (f.wscale !== undefined) opts.push(1, 3, 3, f.wscale);
  opts.push(...[1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]); // NOP + a timestamp: an option to skip
  while (opts.length % 4) opts.push(0);
  const h = new Uint8Array(20 + opts.length);
  const v = new DataView(h.buffer);
  v.setUint16(0, f.sport);
  v.setUint16(2, f.dport);
  v.setUint32(4, f.seq >>> 0);
  v.setUint32(8, (f.ack ?? 0) >>> 0);
  h[12] = (h.length / 4) << 4;
  h[13] = f.flags;
  v.setUint16(14, f.window ?? 65535);
  h.set(opts, 20);
  return concat(h, f.payload ?? new Uint8Array());
}

/** A UDP datagram. */
export function udpDatagram(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(8);
  const v = new DataView(h.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, 8 + payload.length);
  return concat(h, payload);
}

/** An IPv4 packet (with a 4-byte option, to be skipped) or an IPv6 packet (with a
 * hop-by-hop and a destination-options extension header, to be skipped). */
export function ipPacket(src: string, dst: string, proto: 6 | 17, body: Uint8Array): Uint8Array {
  if (!src.includes(":")) {
    const h = new Uint8Array(24);
    const v = new DataView(h.buffer);
    h[0] = 0x46;
    v.setUint16(2, 24 + body.length);
    h[8] = 64;
    h[9] = proto;
    h.set(parseV4(src), 12);
    h.set(parseV4(dst), 16);
    h.set([1, 1, 1, 0], 20);
    return concat(h, body);
  }
  const hopByHop = new Uint8Array([60, 0, 1, 4, 0, 0, 0, 0]);
  const destOpts = new Uint8Array([proto, 1, 1, 12, ...Array(12).fill(0)]);
  const h = new Uint8Array(40);
  const v = new DataView(h.buffer);
  h[0] = 0x60;
  v.setUint16(4, hopByHop.length + destOpts.length + body.length);
  h[6] = 0;
  h[7] = 64;
  h.set(parseV6(src), 8);
  h.set(parseV6(dst), 24);
  return concat(h, hopByHop, destOpts, body);
}

/** The frame carrying `ip` on link type `linkType`. */
export function frame(linkType: number, ip: Uint8Array): Uint8Array {
  const v6 = ip[0] >> 4 === 6;
  const etherType = v6 ? [0x86, 0xdd] : [0x08, 0x00];
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      // With a VLAN tag, and padding after a short packet (Ethernet's 60-byte minimum).
      return concat(
        new Uint8Array([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0, 5, ...etherType]),
        ip,
        new Uint8Array(Math.max(0, 46 - ip.length)),
      );
    case LINKTYPE.LINUX_SLL:
      return concat(new Uint8Array([0, 0, 3, 4, 0, 6, ...Array(8).fill(0), ...etherType]), ip);
    case LINKTYPE.LINUX_SLL2:
      return concat(
        new Uint8Array([...etherType, 0, 0, 0, 0, 0, 1, 3, 4, 0, 6, ...Array(8).fill(0)]),
        ip,
      );
    case LINKTYPE.NULL:
      return concat(new Uint8Array([v6 ? 10 : 2, 0, 0, 0]), ip);
    case LINKTYPE.RAW:
      return ip;
    default:
      throw new RangeError(`no builder for link type ${linkType}`);
  }
}
