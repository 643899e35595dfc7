/**
 * WebSocket (RFC 6455) in one direction's stream, with no I/O: the HTTP upgrade request or
 * response, then each frame's opcode, FIN, mask and payload length (a short text or PMU
 * payload is shown, unmasked).
 * @module
 */
import { byteText, type Item, quote } from "./items.ts";

const OPCODES: Record<number, string> = {
  0: "continuation",
  1: "text",
  2: "binary",
  8: "close",
  9: "ping",
  10: "pong",
};

/** True if the stream starts with an HTTP request or response. */
export function looksLikeHttp(b: Uint8Array): boolean {
  const head = byteText(b.subarray(0, 8));
  return /^(GET|POST|PUT|HEAD) /.test(head) || head.startsWith("HTTP/1.");
}

/** What the upgrade told, for the summary. */
export interface WsFacts {
  request?: string;
  status?: string;
  frames: Record<string, number>;
}

/** The HTTP head then the WebSocket frames of one direction. */
export function wsItems(stream: Uint8Array, facts: WsFacts): Item[] {
  const text = byteText(stream.subarray(0, 16_384));
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) {
    return [{ start: 0, end: stream.length, label: "HTTP (incomplete)", kind: "http" }];
  }
  const lines = text.slice(0, headEnd).split("\r\n");
  const upgrade = lines.find((l) => /^upgrade:/i.test(l));
  const label = `HTTP ${lines[0]}${upgrade ? ` (${upgrade.trim()})` : ""}`;
  if (lines[0].startsWith("HTTP/")) facts.status = lines[0];
  else facts.request = lines[0];
  const items: Item[] = [{ start: 0, end: headEnd + 4, label, kind: "http" }];
  let off = headEnd + 4;
  while (off + 2 <= stream.length) {
    const b0 = stream[off];
    const b1 = stream[off + 1];
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (p + 2 > stream.length) break;
      len = (stream[p] << 8) | stream[p + 1];
      p += 2;
    } else if (len === 127) {
      if (p + 8 > stream.length) break;
      len = 0;
      for (let i = 0; i < 8; i++) len = len * 256 + stream[p + i];
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? stream.subarray(p, p + 4) : undefined;
    if (masked) p += 4;
    const end = p + len;
    const opcode = OPCODES[b0 & 0x0f] ?? `opcode ${b0 & 0x0f}`;
    facts.frames[opcode] = (facts.frames[opcode] ?? 0) + 1;
    const shown = stream.slice(p, Math.min(end, stream.length, p + 64));
    if (key && key.length === 4) { for (let i = 0; i < shown.length; i++) shown[i] ^= key[i % 4]; }
    let what = "";
    if ((b0 & 0x0f) === 8 && shown.length >= 2) what = ` code ${(shown[0] << 8) | shown[1]}`;
    else if ((b0 & 0x0f) <= 2 && len > 0) what = ` ${quote(byteText(shown), 32)}`;
    items.push({
      start: off,
      end: Math.min(end, stream.length),
      label: `WS ${opcode}${b0 & 0x80 ? " FIN" : ""}${masked ? " masked" : ""} len=${len}${what}`,
      kind: "ws",
    });
    off = end;
  }
  return items;
}
