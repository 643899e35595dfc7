/**
 * Part 4's datagrams, without sockets: a datagram is a 6-byte ASCII ID
 * followed by UTF-8 text. Validating groups, IDs and SCIPER numbers, building
 * datagrams, splitting stdin into lines as bytes, printing any datagram
 * (short, non-UTF-8, 65 KB, with newlines inside) as exactly one line, and
 * the TV's programme (every line, then `RWND` and a pause).
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { ipFamily } from "../net/address.ts";

/** Bytes of the ID at the start of every datagram. */
export const ID_LENGTH = 6;

/**
 * What to do where the host has no multicast route (sending: "network unreachable";
 * joining on any interface: "no such device"), for tv, sender and receiver alike.
 */
export const NO_ROUTE_HINT = "no route for multicast on this host: add one, e.g. " +
  "'ip route add 224.0.0.0/4 dev eth0', or use one interface with --iface, " +
  "e.g. --iface 127.0.0.1 to stay on this host";

/** The largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP). */
export const MAX_DATAGRAM = 65_507;

/** The marker the TV sends after the last line of its script. */
export const RWND = "RWND";

/** Intervals the TV pauses after `RWND` before it starts the script again. */
export const RWND_PAUSE = 3;

const encoder = new TextEncoder();

/** True for an IPv4 address in 224.0.0.0/4 (224.0.0.0 to 239.255.255.255). */
export function isMulticastV4(addr: string): boolean {
  if (ipFamily(addr) !== 4) return false;
  const first = Number(addr.split(".")[0]);
  return first >= 224 && first <= 239;
}

/** A multicast group argument, or a UsageError naming it. */
export function parseGroup(raw: string, what = "<group>"): string {
  if (!isMulticastV4(raw)) {
    throw new UsageError(
      `${what}: '${raw}' is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)`,
    );
  }
  return raw;
}

/** An interface given by its IPv4 address (`0.0.0.0`: any), or a UsageError. */
export function parseIface(raw: string, what = "--iface"): string {
  if (ipFamily(raw) !== 4 || isMulticastV4(raw)) {
    throw new UsageError(`${what}: '${raw}' is not the IPv4 address of an interface`);
  }
  return raw;
}

/** A SCIPER (CAMIPRO) number: exactly 6 digits, else a UsageError. */
export function parseSciper(raw: string, what = "<sciper>"): string {
  if (!/^[0-9]{6}$/.test(raw)) {
    throw new UsageError(`${what}: '${raw}' is not a SCIPER number (exactly 6 digits)`);
  }
  return raw;
}

/** A datagram ID: exactly 6 printable ASCII characters, else a UsageError. */
export function parseId(raw: string, what = "--id"): string {
  if (!/^[\x20-\x7e]{6}$/.test(raw)) {
    throw new UsageError(`${what}: '${raw}' is not 6 printable ASCII characters`);
  }
  return raw;
}

/** `id` followed by `text` (a string is UTF-8 encoded; bytes go as they are). */
export function encodeDatagram(id: string, text: string | Uint8Array): Uint8Array {
  const head = encoder.encode(id);
  const body = typeof text === "string" ? encoder.encode(text) : text;
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

// ---------------------------------------------------------------------------
// Printing received datagrams

export type Format = "raw" | "split" | "json";
export const FORMATS: readonly Format[] = ["raw", "split", "json"];

/** UTF-8 decoding that never throws: invalid bytes become U+FFFD. */
function decode(bytes: Uint8Array): { text: string; utf8: boolean } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), utf8: true };
  } catch {
    return { text: new TextDecoder().decode(bytes), utf8: false };
  }
}

/**
 * Text made safe for one line of a terminal or a pipe: line breaks become
 * `\n` / `\r`, other control characters (C0, DEL, C1, U+2028/9) `\xNN` or
 * `\uNNNN`; tabs and everything printable stay as they are.
 */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** A received datagram cut into its ID (up to 6 bytes) and its text. */
export interface Parsed {
  id: string;
  text: string;
  /** Bytes in the datagram. */
  size: number;
  /** False if the datagram is not valid UTF-8 (the text then holds U+FFFD). */
  utf8: boolean;
}

/** Split a datagram into ID and text; a datagram shorter than 6 bytes is all ID. */
export function parseDatagram(data: Uint8Array): Parsed {
  const id = decode(data.subarray(0, ID_LENGTH));
  const text = decode(data.subarray(ID_LENGTH));
  return { id: id.text, text: text.text, size: data.length, utf8: decode(data).utf8 };
}

/**
 * One datagram as one line (no newline at the end):
 * - `raw`: the whole datagram, ID then text (`swcmTVBut soft!...`);
 * - `split`: `<id> | <text>`;
 * - `json`: `{"from","id","text","size","utf8"}`.
 */
export function formatDatagram(data: Uint8Array, format: Format, from = ""): string {
  if (format === "raw") return oneLine(decode(data).text);
  const p = parseDatagram(data);
  if (format === "split") return `${oneLine(p.id)} | ${oneLine(p.text)}`;
  return JSON.stringify({ from, id: p.id, text: p.text, size: p.size, utf8: p.utf8 });
}

// ---------------------------------------------------------------------------
// Lines of stdin, as bytes

/**
 * Cuts a byte stream into lines at `\n` (a `\r` before it is dropped too),
 * keeping the bytes exactly as they came. A last line without `\n` comes out
 * of `end()`.
 */
export class LineSplitter {
  #buf = new Uint8Array(0);

  /** Add bytes; returns the lines they complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    const buf = new Uint8Array(this.#buf.length + chunk.length);
    buf.set(this.#buf);
    buf.set(chunk, this.#buf.length);
    const lines: Uint8Array[] = [];
    let start = 0;
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
      const end = i > start && buf[i - 1] === 13 ? i - 1 : i;
      lines.push(buf.slice(start, end));
      start = i + 1;
    }
    this.#buf = buf.slice(start);
    return lines;
  }

  /** The unterminated last line, if any. */
  end(): Uint8Array | null {
    const rest = this.#buf;
    this.#buf = new Uint8Array(0);
    if (rest.length === 0) return null;
    return rest[rest.length - 1] === 13 ? rest.slice(0, -1) : rest;
  }
}

// ---------------------------------------------------------------------------
// The TV's programme

/** One datagram of the programme and how many intervals to wait after it. */
export interface Emission {
  text: string;
  wait: number;
}

/**
 * The lines of a script: split at line breaks, trailing whitespace removed,
 * blank lines kept (they go out as the bare ID); the empty piece after a
 * final newline is not a line.
 */
export function parseScript(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd());
  if (lines.length > 0 && lines[lines.length - 1] === "" && /\n$/.test(text)) lines.pop();
  return lines;
}

/** One loop of the TV: each line, one interval apart, then `RWND` and a pause of 3 intervals. */
export function programme(lines: readonly string[]): Emission[] {
  return [...lines.map((text) => ({ text, wait: 1 })), { text: RWND, wait: RWND_PAUSE }];
}

/** Line numbers (1-based) of script lines too long for one datagram after `id`. */
export function oversizedLines(lines: readonly string[], id: string): number[] {
  const room = MAX_DATAGRAM - encoder.encode(id).length;
  return lines.flatMap((l, i) => (encoder.encode(l).length > room ? [i + 1] : []));
}
