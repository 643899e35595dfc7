/**
 * From one captured frame to an IP packet with its TCP or UDP header, with no I/O: the link
 * layers of {@link LINKTYPE} (Ethernet with VLAN tags, Linux cooked v1 and v2, BSD
 * loopback, raw IP), IPv4 (options skipped, fragments named), IPv6 (hop-by-hop, routing,
 * destination-options, fragment and AH extension headers skipped), TCP (flags, seq/ack,
 * window; MSS and window scale read from the options, the rest skipped) and UDP.
 * @module
 */
import { ipv6String } from "../net/address.ts";
import { LINKTYPE, type PcapRecord } from "./pcap.ts";

/** TCP flag bits. */
export const TCP = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export interface TcpHeader {
  seq: number;
  ack: number;
  flags: number;
  /** The window field as sent (not scaled). */
  window: number;
  /** The MSS option (SYN segments). */
  mss?: number;
  /** The window-scale option's shift (SYN segments). */
  wscale?: number;
}

/** One decoded packet. */
export interface Packet {
  /** Position in the capture, from 1 (Wireshark's "No."). */
  no: number;
  timeUs: number;
  family: 4 | 6;
  src: string;
  dst: string;
  /** IP protocol name for TCP/UDP; otherwise `ip-proto-N`. */
  proto: "tcp" | "udp" | string;
  sport: number;
  dport: number;
  tcp?: TcpHeader;
  payload: Uint8Array;
}

/** A frame that is not an IPv4/IPv6 packet this reader decodes, and why. */
export interface Skipped {
  no: number;
  timeUs: number;
  skipped: string;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = [0x8100, 0x88a8, 0x9100];

/** The IP packet inside a frame of link type `linkType`, or a reason it has none. */
export function linkPayload(linkType: number, frame: Uint8Array): Uint8Array | string {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const need = (n: number) => frame.length >= n;
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      let off = 12;
      if (!need(14)) return "short Ethernet frame";
      let type = view.getUint16(off);
      while (ETH_VLAN.includes(type)) {
        off += 4;
        if (!need(off + 2)) return "short VLAN header";
        type = view.getUint16(off);
      }
      return ipByEtherType(type, frame.subarray(off + 2));
    }
    case LINKTYPE.LINUX_SLL:
      if (!need(16)) return "short Linux cooked header";
      return ipByEtherType(view.getUint16(14), frame.subarray(16));
    case LINKTYPE.LINUX_SLL2:
      if (!need(20)) return "short Linux cooked v2 header";
      return ipByEtherType(view.getUint16(0), frame.subarray(20));
    case LINKTYPE.NULL: {
      if (!need(4)) return "short loopback header";
      // The address family in the capturing host's byte order.
      let af = view.getUint32(0, true);
      if (af > 0xffff) af = view.getUint32(0, false);
      if (af === 2) return frame.subarray(4);
      if (af === 10 || af === 24 || af === 28 || af === 30) return frame.subarray(4);
      return `loopback family ${af}`;
    }
    case LINKTYPE.RAW:
      return frame;
    default:
      return `link type ${linkType} is not decoded`;
  }
}

function ipByEtherType(type: number, rest: Uint8Array): Uint8Array | string {
  if (type === ETH_IPV4 || type === ETH_IPV6) return rest;
  if (type === 0x0806) return "ARP";
  return `ethertype 0x${type.toString(16).padStart(4, "0")}`;
}

/** `a.b.c.d`. */
export function ipv4String(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

const IPV6_EXTENSIONS = new Set([0, 43, 44, 51, 60]);

/** Decode one frame. */
export function decodeFrame(linkType: number, rec: PcapRecord, no: number): Packet | Skipped {
  const ip = linkPayload(linkType, rec.data);
  const skip = (why: string): Skipped => ({ no, timeUs: rec.timeUs, skipped: why });
  if (typeof ip === "string") return skip(ip);
  if (ip.length < 1) return skip("empty packet");
  const view = new DataView(ip.buffer, ip.byteOffset, ip.byteLength);
  const version = ip[0] >> 4;
  let family: 4 | 6;
  let src: string;
  let dst: string;
  let proto: number;
  let body: Uint8Array;
  if (version === 4) {
    if (ip.length < 20) return skip("short IPv4 header");
    const ihl = (ip[0] & 0x0f) * 4;
    const total = view.getUint16(2);
    if (ihl < 20 || ip.length < ihl) return skip("bad IPv4 header length");
    const frag = view.getUint16(6);
    if ((frag & 0x1fff) !== 0) return skip("IPv4 fragment (not the first)");
    family = 4;
    proto = ip[9];
    src = ipv4String(ip.subarray(12, 16));
    dst = ipv4String(ip.subarray(16, 20));
    // total 0: TCP segmentation offload on the capturing host; take what was captured.
    body = ip.subarray(ihl, total >= ihl ? Math.min(total, ip.length) : ip.length);
  } else if (version === 6) {
    if (ip.length < 40) return skip("short IPv6 header");
    family = 6;
    src = ipv6String(ip.subarray(8, 24));
    dst = ipv6String(ip.subarray(24, 40));
    const payloadLen = view.getUint16(4);
    const end = payloadLen === 0 ? ip.length : Math.min(ip.length, 40 + payloadLen);
    let next = ip[6];
    let off = 40;
    while (IPV6_EXTENSIONS.has(next)) {
      if (off + 8 > end) return skip("short IPv6 extension header");
      const len = next === 44 ? 8 : next === 51 ? (ip[off + 1] + 2) * 4 : (ip[off + 1] + 1) * 8;
      if (next === 44 && (view.getUint16(off + 2) & 0xfff8) !== 0) {
        return skip("IPv6 fragment (not the first)");
      }
      next = ip[off];
      off += len;
    }
    if (off > end) return skip("short IPv6 extension header");
    proto = next;
    body = ip.subarray(off, end);
  } else {
    return skip(`IP version ${version}`);
  }
  const base = { no, timeUs: rec.timeUs, family, src, dst };
  const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (proto === 6) {
    if (body.length < 20) return skip("short TCP header");
    const hlen = (body[12] >> 4) * 4;
    if (hlen < 20 || body.length < hlen) return skip("bad TCP header length");
    const tcp: TcpHeader = {
      seq: bv.getUint32(4),
      ack: bv.getUint32(8),
      flags: body[13],
      window: bv.getUint16(14),
    };
    readTcpOptions(body.subarray(20, hlen), tcp);
    return {
      ...base,
      proto: "tcp",
      sport: bv.getUint16(0),
      dport: bv.getUint16(2),
      tcp,
      payload: body.subarray(hlen),
    };
  }
  if (proto === 17) {
    if (body.length < 8) return skip("short UDP header");
    const len = bv.getUint16(4);
    const end = len >= 8 ? Math.min(len, body.length) : body.length;
    return {
      ...base,
      proto: "udp",
      sport: bv.getUint16(0),
      dport: bv.getUint16(2),
      payload: body.subarray(8, end),
    };
  }
  return { ...base, proto: `ip-proto-${proto}`, sport: 0, dport: 0, payload: body };
}

function readTcpOptions(opts: Uint8Array, tcp: TcpHeader): void {
  for (let i = 0; i < opts.length;) {
    const kind = opts[i];
    if (kind === 0) return;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = opts[i + 1];
    if (len === undefined || len < 2 || i + len > opts.length) return;
    if (kind === 2 && len === 4) tcp.mss = (opts[i + 2] << 8) | opts[i + 3];
    if (kind === 3 && len === 3) tcp.wscale = opts[i + 2];
    i += len;
  }
}

/** `SYN,ACK`-style names of the flags set, in Wireshark's order. */
export function flagNames(flags: number): string {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(TCP)) if (flags & bit) names.push(name);
  return names.join(",") || "none";
}
