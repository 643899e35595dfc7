/**
 * What a stream holds in the lab's terms, as items at byte offsets of one direction's
 * reassembled stream (PMU messages, a flood, a command; TLS records and WebSocket frames come
 * from tls.ts and websocket.ts), and the label of one segment: the items it carries.
 * @module
 */
import { oneLine } from "../multicast/datagram.ts";
import { MESSAGE_PREFIX } from "../pmu/protocol.ts";

/** A span `[start, end)` of one direction's stream and what it is. */
export interface Item {
  start: number;
  end: number;
  label: string;
  /** For grouping: `message` (a PMU message), `flood`, or the protocol's own kind. */
  kind: string;
  /** A PMU message's index. */
  index?: number;
}

const latin1 = new TextDecoder("latin1");

/** The stream as text, one character per byte (offsets stay byte offsets). */
export function byteText(b: Uint8Array): string {
  return latin1.decode(b);
}

/** A short printable quote of `text`: `"..."`, control characters escaped, cut at `max`. */
export function quote(text: string, max = 40): string {
  const esc = oneLine(text);
  return `"${esc.length > max ? esc.slice(0, max) + "..." : esc}"`;
}

/**
 * A PMU server's stream: `This is PMU data <i>` messages (each from its prefix to the next
 * one), else one item for the whole text (`Wrong command.`...). `flood` makes it one
 * flood item.
 */
export function pmuItems(stream: Uint8Array, flood: boolean): Item[] {
  if (stream.length === 0) return [];
  if (flood) return [{ start: 0, end: stream.length, label: "flood", kind: "flood" }];
  const text = byteText(stream);
  const starts: number[] = [];
  for (let i = text.indexOf(MESSAGE_PREFIX); i >= 0; i = text.indexOf(MESSAGE_PREFIX, i + 1)) {
    starts.push(i);
  }
  if (starts.length === 0 || text.slice(0, starts[0]).trim() !== "") {
    return [{ start: 0, end: stream.length, label: quote(text), kind: "text" }];
  }
  return starts.map((s, k) => {
    const end = k + 1 < starts.length ? starts[k + 1] : stream.length;
    const digits = /^\d+/.exec(text.slice(s + MESSAGE_PREFIX.length, end));
    const index = digits ? Number(digits[0]) : undefined;
    return {
      start: s,
      end,
      label: `${MESSAGE_PREFIX}${index ?? "?"}`,
      kind: "message",
      index,
    };
  });
}

/** The whole stream as one quoted item (a command, a datagram's text). */
export function textItems(stream: Uint8Array, kind = "text"): Item[] {
  if (stream.length === 0) return [];
  return [{ start: 0, end: stream.length, label: quote(byteText(stream)), kind }];
}

/** The label of the segment carrying stream bytes `[a, b)`. */
export function segmentLabel(items: readonly Item[], a: number, b: number): string {
  const hit = items.filter((it) => it.start < b && it.end > a);
  if (hit.length === 0) return "";
  if (hit.length === 1 && hit[0].kind === "flood") return `flood bytes ${a}..${b - 1}`;
  const first = hit[0];
  const last = hit[hit.length - 1];
  const cont = first.start < a;
  const cut = last.end > b;
  if (hit.every((it) => it.kind === "message")) {
    const range = hit.length === 1 ? first.label : `${first.label} .. ${last.index ?? "?"}`;
    const notes = [
      cont ? `${first.index ?? "?"} continued` : "",
      cut ? `${last.index ?? "?"} cut` : "",
    ].filter(Boolean);
    return `${range}${notes.length ? ` (${notes.join(", ")})` : ""}`;
  }
  const starting = hit.filter((it) => it.start >= a);
  const parts: string[] = [];
  if (cont) parts.push(`(rest of ${first.label.split(":")[0]})`);
  const shown = starting.slice(0, 4).map((it) => it.label);
  if (starting.length > 4) shown.push(`+${starting.length - 4} more`);
  parts.push(...shown);
  if (cut && last.start >= a) parts[parts.length - 1] += " (continues)";
  return parts.join("; ");
}
