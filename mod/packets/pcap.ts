/**
 * The classic pcap file format (what `tcpdump -w` writes and Wireshark opens), read and
 * written with no I/O. Both byte orders and both time resolutions (microseconds, magic
 * `a1b2c3d4`; nanoseconds, `a1b23c4d`) are read; the writer makes little-endian microsecond
 * files. A file cut in the middle of a record (a capture stopped hard) reads as the records
 * that are complete, with `truncated` set.
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
    throw new PcapError("this is a pcapng file; save it as pcap (Wireshark: File > Save As)");
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
