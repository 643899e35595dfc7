/**
 * What a client's first bytes from a server say about the server's protocol, for the PDCs
 * of parts 2, 5 and 6 (pdc, secure-pdc, ws-pdc) that each reached a port speaking another:
 * the PMU's refusals, an answer in another protocol (a TLS record, HTTP, the plain PMU, or
 * binary data) and the client that speaks it, in one line. Pure: no I/O.
 *
 * @module
 */
import { MESSAGE_PREFIX, WRONG_COMMAND } from "./protocol.ts";

/** What a PMU answers a client beyond its `--max-connections`, then closes. */
export const BUSY = "Server busy: too many connections, try again later.";

/** The PMU's answers that mean "no data for you". */
export const REFUSALS: readonly string[] = [WRONG_COMMAND, BUSY];

/** The refusal `text` is (a trailing line break allowed), or null. */
export function refusalOf(text: string): string | null {
  const s = text.replace(/\r?\n$/, "");
  return REFUSALS.includes(s) ? s : null;
}

/** The protocols a PDC expects: the PMU's (pdc), HTTP (ws-pdc's handshake), TLS (secure-pdc). */
export type Expected = "pmu" | "http" | "tls";

const EXPECTED_NAME: Record<Expected, string> = {
  pmu: "the PMU protocol",
  http: "HTTP (a WebSocket server's handshake)",
  tls: "TLS",
};

/** Bytes looked at for binary data: the start of the stream only (a flood is not scanned). */
const HEAD_BYTES = 64;

/** Control bytes (tab, CR, LF aside) or invalid UTF-8 in the head (a character cut at its end is fine). */
function isBinary(head: Uint8Array): boolean {
  const bytes = head.subarray(0, HEAD_BYTES);
  if (bytes.some((b) => (b < 0x20 && b !== 9 && b !== 10 && b !== 13) || b === 0x7f)) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return false;
  } catch {
    return true;
  }
}

/** The first line of a text head, quoted and cut for a message. */
function firstLine(head: Uint8Array): string {
  const line = new TextDecoder().decode(head.subarray(0, HEAD_BYTES)).split(/\r?\n/)[0];
  return JSON.stringify(line.length > 40 ? `${line.slice(0, 40)}...` : line);
}

/** What these first bytes are, when they are one of the protocols a PDC knows. */
function protocolOf(head: Uint8Array): { is: Expected; what: string; hint: string } | null {
  if (head.length >= 2 && head[0] >= 0x14 && head[0] <= 0x17 && head[1] === 0x03) {
    const what = head[0] === 0x15 ? "a TLS alert" : "a TLS record";
    return { is: "tls", what, hint: "this port speaks TLS (use secure-pdc)" };
  }
  if (isBinary(head)) return null;
  const text = new TextDecoder().decode(head.subarray(0, HEAD_BYTES));
  if (/^HTTP\/\d/.test(text)) {
    const hint = "this port speaks HTTP, e.g. a WebSocket PMU (use ws-pdc)";
    return { is: "http", what: `HTTP (${firstLine(head)})`, hint };
  }
  const pmu = text.startsWith(MESSAGE_PREFIX) ||
    REFUSALS.some((r) => text.startsWith(r) || (text.length >= 5 && r.startsWith(text)));
  if (!pmu) return null;
  const hint = "this port speaks the PMU protocol without TLS or WebSocket (use pdc)";
  return { is: "pmu", what: `the plain PMU's ${firstLine(head)}`, hint };
}

/**
 * Why these first bytes a server sent are not the `expected` protocol, naming what they
 * are and the client to use (`the answer is a TLS alert, not the PMU protocol: this port
 * speaks TLS (use secure-pdc)`), or null when they may be it, or are nothing known (the
 * caller then keeps its own words). For the PMU, binary data is never it.
 */
export function foreignAnswer(head: Uint8Array, expected: Expected): string | null {
  const found = protocolOf(head);
  if (found && found.is !== expected) {
    return `the answer is ${found.what}, not ${EXPECTED_NAME[expected]}: ${found.hint}`;
  }
  if (!found && expected === "pmu" && head.length > 0 && isBinary(head)) {
    return "the answer is binary data, not the PMU protocol (not text)";
  }
  return null;
}
