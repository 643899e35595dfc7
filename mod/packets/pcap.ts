/**
 * Capture files with no I/O: classic pcap (what `tcpdump -w` writes), both byte orders and
 * both time resolutions (microseconds, magic `a1b2c3d4`; nanoseconds, `a1b23c4d`), and pcapng
 * (what Wireshark saves by default: section, interface, enhanced/simple/obsolete packet
 * blocks, any `if_tsresol`, several interfaces with their own link types). The writers make
 * little-endian files (pcap in microseconds; pcapng for tests). A file cut in the middle of a
 * record (a capture stopped hard) reads as the records that are complete, with `truncated`.
 *
 * Written here rather than taken from npm: the pure-JS pcap readers there are Node-stream
 * parsers of the record layer only (pcap-parser, unchanged for years) or native libpcap
 * bindings (pcap, node-gyp); the format is a 24-byte header and 16-byte record headers.
 * @module
 */

/** Link types this project decodes (LINKTYPE_* numbers of the pcap format). */
export const LINKTYPE = {
  /** BSD loopback / null: a 4-byte address family in host byte order. */
  NULL: 0,
  ETHERNET: 1,
  /** Raw IP: the packet starts with the IPv4 or IPv6 header. */
  RAW: 101,
  /** Linux cooked capture v1 (`tcpdump -i any`). */
  LINUX_SLL: 113,
  /** Linux cooked capture v2. */
  LINUX_SLL2: 276,
} as const;

/** One captured packet. */
export interface PcapRecord {
  /** Capture time in microseconds since the epoch (nanosecond files: rounded down). */
  timeUs: number;
  /** The packet's length on the wire (may exceed `data.length` when the snap length cut it). */
  origLen: number;
  /** The captured bytes, starting with the link-layer header. */
  data: Uint8Array;
  /** pcapng: this packet's interface's link type, when it differs from the file's. */
  linkType?: number;
}

export interface PcapFile {
  linkType: number;
  snapLen: number;
  records: PcapRecord[];
  /** True if the file ends inside a record (that partial record is left out). */
  truncated: boolean;
}

/** The file is not a pcap file (or not one this reader knows); the message says why. */
export class PcapError extends Error {
  override name = "PcapError";
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const PCAPNG = 0x0a0d0d0a;
const HEADER = 24;
const RECORD = 16;

/** Parse a whole pcap file. Throws {@link PcapError} for anything that is not one. */
export function readPcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < HEADER) {
    throw new PcapError(`too short for a pcap file (${bytes.length} bytes, the header is 24)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicBE = view.getUint32(0, false);
  const magicLE = view.getUint32(0, true);
  let little: boolean;
  let nanos: boolean;
  if (magicLE === MAGIC_US || magicLE === MAGIC_NS) {
    little = true;
    nanos = magicLE === MAGIC_NS;
  } else if (magicBE === MAGIC_US || magicBE === MAGIC_NS) {
    little = false;
    nanos = magicBE === MAGIC_NS;
  } else if (magicBE === PCAPNG) {
    return readPcapng(bytes);
  } else {
    throw new PcapError(`not a pcap file (magic number ${magicBE.toString(16).padStart(8, "0")})`);
  }
  const snapLen = view.getUint32(16, little);
  const linkType = view.getUint32(20, little) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let off = HEADER;
  let truncated = false;
  while (off < bytes.length) {
    if (off + RECORD > bytes.length) {
      truncated = true;
      break;
    }
    const sec = view.getUint32(off, little);
    const frac = view.getUint32(off + 4, little);
    const inclLen = view.getUint32(off + 8, little);
    const origLen = view.getUint32(off + 12, little);
    if (inclLen > 0x4000000) throw new PcapError(`record at byte ${off}: length ${inclLen}`);
    if (off + RECORD + inclLen > bytes.length) {
      truncated = true;
      break;
    }
    const data = bytes.slice(off + RECORD, off + RECORD + inclLen);
    records.push({ timeUs: sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac), origLen, data });
    off += RECORD + inclLen;
  }
  return { linkType, snapLen, records, truncated };
}

/** A little-endian microsecond pcap file of `records` (for tests and fixtures). */
export function writePcap(
  linkType: number,
  records: readonly PcapRecord[],
  snapLen = 262_144,
): Uint8Array {
  const size = HEADER + records.reduce((n, r) => n + RECORD + r.data.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC_US, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, snapLen, true);
  view.setUint32(20, linkType, true);
  let off = HEADER;
  for (const r of records) {
    const sec = Math.floor(r.timeUs / 1e6);
    view.setUint32(off, sec, true);
    view.setUint32(off + 4, r.timeUs - sec * 1e6, true);
    view.setUint32(off + 8, r.data.length, true);
    view.setUint32(off + 12, r.origLen, true);
    out.set(r.data, off + RECORD);
    off += RECORD + r.data.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// pcapng

const BOM = 0x1a2b3c4d;

/** Parse a pcapng file (called by {@link readPcap} for the pcapng magic). */
export function readPcapng(bytes: Uint8Array): PcapFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little = true;
  let ifaces: { linkType: number; snapLen: number; unitsPerSec: bigint }[] = [];
  const records: PcapRecord[] = [];
  let first: { linkType: number; snapLen: number } | undefined;
  let truncated = false;
  let off = 0;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) {
      truncated = true;
      break;
    }
    let type = view.getUint32(off, little);
    if (view.getUint32(off, false) === PCAPNG) {
      // A section header: its byte-order magic says how to read everything up to the next one.
      if (off + 28 > bytes.length) {
        truncated = true;
        break;
      }
      const bom = view.getUint32(off + 8, true);
      if (bom === BOM) little = true;
      else if (view.getUint32(off + 8, false) === BOM) little = false;
      else throw new PcapError(`pcapng section at byte ${off}: bad byte-order magic`);
      type = PCAPNG;
      ifaces = [];
    }
    const len = view.getUint32(off + 4, little);
    if (len < 12 || len % 4 !== 0) {
      throw new PcapError(`pcapng block at byte ${off}: length ${len}`);
    }
    if (off + len > bytes.length) {
      truncated = true;
      break;
    }
    const body = off + 8;
    const end = off + len - 4;
    if (type === 1 && end - body >= 8) {
      const linkType = view.getUint16(body, little);
      const snapLen = view.getUint32(body + 4, little);
      ifaces.push({ linkType, snapLen, unitsPerSec: tsResolution(view, body + 8, end, little) });
      first ??= { linkType, snapLen };
    } else if ((type === 6 || type === 2) && end - body >= 20) {
      const id = type === 6 ? view.getUint32(body, little) : view.getUint16(body, little);
      const iface = ifaces[id];
      if (!iface) throw new PcapError(`pcapng packet at byte ${off}: no interface ${id}`);
      const ts = (BigInt(view.getUint32(body + 4, little)) << 32n) |
        BigInt(view.getUint32(body + 8, little));
      const capLen = view.getUint32(body + 12, little);
      const origLen = view.getUint32(body + 16, little);
      if (body + 20 + capLen > end) throw new PcapError(`pcapng packet at byte ${off}: length`);
      records.push(record(
        Number(ts * 1_000_000n / iface.unitsPerSec),
        origLen,
        bytes.slice(body + 20, body + 20 + capLen),
        iface.linkType,
        first!.linkType,
      ));
    } else if (type === 3 && end - body >= 4) {
      const iface = ifaces[0];
      if (!iface) throw new PcapError(`pcapng packet at byte ${off}: no interface 0`);
      const origLen = view.getUint32(body, little);
      const capLen = Math.min(origLen, end - body - 4, iface.snapLen || Infinity);
      records.push(
        record(
          0,
          origLen,
          bytes.slice(body + 4, body + 4 + capLen),
          iface.linkType,
          first!.linkType,
        ),
      );
    }
    off += len;
  }
  return { linkType: first?.linkType ?? 0, snapLen: first?.snapLen ?? 0, records, truncated };
}

function record(
  timeUs: number,
  origLen: number,
  data: Uint8Array,
  linkType: number,
  fileLinkType: number,
): PcapRecord {
  return linkType === fileLinkType
    ? { timeUs, origLen, data }
    : { timeUs, origLen, data, linkType };
}

/** Timestamp units per second from an interface's `if_tsresol` option (default: 10^6). */
function tsResolution(view: DataView, off: number, end: number, little: boolean): bigint {
  while (off + 4 <= end) {
    const code = view.getUint16(off, little);
    const len = view.getUint16(off + 2, little);
    if (code === 0) break;
    if (code === 9 && len >= 1) {
      const v = view.getUint8(off + 4);
      return v & 0x80 ? 1n << BigInt(v & 0x7f) : 10n ** BigInt(v);
    }
    off += 4 + Math.ceil(len / 4) * 4;
  }
  return 1_000_000n;
}

/**
 * A little-endian pcapng file (for tests): one section, one interface per link type used
 * (`linkType` first), enhanced packet blocks, timestamps in units of 10^-`tsDigits` s.
 */
export function writePcapng(
  linkType: number,
  records: readonly PcapRecord[],
  tsDigits = 6,
): Uint8Array {
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array) => {
    const padded = Math.ceil(body.length / 4) * 4;
    const out = new Uint8Array(12 + padded);
    const v = new DataView(out.buffer);
    v.setUint32(0, type, true);
    v.setUint32(4, out.length, true);
    out.set(body, 8);
    v.setUint32(out.length - 4, out.length, true);
    blocks.push(out);
  };
  const shb = new Uint8Array(16);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, BOM, true);
  sv.setUint16(4, 1, true);
  sv.setBigInt64(8, -1n, true);
  block(PCAPNG, shb);
  const types = [linkType, ...new Set(records.map((r) => r.linkType ?? linkType))]
    .filter((t, i, all) => all.indexOf(t) === i);
  for (const t of types) {
    const idb = new Uint8Array(20);
    const iv = new DataView(idb.buffer);
    iv.setUint16(0, t, true);
    iv.setUint32(4, 262_144, true);
    iv.setUint16(8, 9, true); // if_tsresol
    iv.setUint16(10, 1, true);
    iv.setUint8(12, tsDigits);
    block(1, idb); // the option list ends with opt_endofopt (4 zero bytes)
  }
  const scale = 10n ** BigInt(tsDigits);
  for (const r of records) {
    const epb = new Uint8Array(20 + r.data.length);
    const ev = new DataView(epb.buffer);
    const ts = BigInt(r.timeUs) * scale / 1_000_000n;
    ev.setUint32(0, types.indexOf(r.linkType ?? linkType), true);
    ev.setUint32(4, Number(ts >> 32n), true);
    ev.setUint32(8, Number(ts & 0xffffffffn), true);
    ev.setUint32(12, r.data.length, true);
    ev.setUint32(16, r.origLen, true);
    epb.set(r.data, 20);
    block(6, epb);
  }
  const size = blocks.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(size);
  let off = 0;
  for (const b of blocks) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}
