/**
 * The PDC's streaming splitter: TCP and TLS keep no message boundaries, so the client gets
 * `This is PMU data 0This is PMU data 1...` cut anywhere. Push every read's bytes; get back
 * pieces in order:
 * - `message`: one complete `This is PMU data <i>` (complete when a non-digit follows the
 *   number, e.g. the next message begins, when the stream ends, or when the reader says the
 *   stream has been idle (`idle()`, for a server that never closes); a cut inside the
 *   number is therefore safe). Whitespace between messages is dropped.
 * - `text`: anything else, passed through exactly (a flood, `Wrong command.`, stray text).
 *   If the stream does not start with a message (after leading whitespace), the whole
 *   stream is text, so a flood is reproduced byte for byte whatever it contains.
 *
 * Bytes are decoded as UTF-8 in streaming mode: a character cut between reads is kept
 * whole. A client prints a message with a line break after it and writes text as is.
 * @module
 */

import { MESSAGE_PREFIX } from "./protocol.ts";

/** One piece of a PMU stream, in stream order. */
export type PmuPiece =
  | { kind: "message"; index: number; text: string }
  | { kind: "text"; text: string };

const WS = /^\s*/;
const DIGITS = /^\d*/;

/** Splits a PMU byte stream into messages and pass-through text; see the module doc. */
export class PmuSplitter {
  #decoder = new TextDecoder("utf-8");
  #buf = "";
  #lastWasText = false;
  #mode: "undecided" | "messages" | "text" = "undecided";
  #clean = true;

  /**
   * True once the stream is known to be pass-through text and nothing is held back (no
   * text, no cut UTF-8 character): from then on a reader may copy the bytes to its output
   * as they are, without pushing them (no decoding and re-encoding of a flood).
   */
  get passthrough(): boolean {
    return this.#mode === "text" && this.#buf === "" && this.#clean;
  }

  /** Feeds one read's bytes; returns the pieces now complete (possibly none). */
  push(chunk: Uint8Array): PmuPiece[] {
    this.#clean = !cutCharacter(chunk);
    return this.#run(this.#decoder.decode(chunk, { stream: true }), false);
  }

  /** Feeds text directly (e.g. a WebSocket text message). */
  pushText(text: string): PmuPiece[] {
    return this.#run(text, false);
  }

  /** True while a message is held back only because its number might go on. */
  get holding(): boolean {
    return this.#mode === "messages" && this.#buf.trimStart().startsWith(MESSAGE_PREFIX);
  }

  /**
   * The stream has been idle for a while (the reader's choice, e.g. 0.5 s): a message held
   * back because its number might go on is complete. The stream goes on.
   */
  idle(): PmuPiece[] {
    if (!this.holding) return [];
    const out: PmuPiece[] = [];
    this.#messages(out, false, true);
    return out;
  }

  /** Ends the stream; returns the pieces held back (the last message, a cut character). */
  end(): PmuPiece[] {
    return this.#run(this.#decoder.decode(), true);
  }

  #run(more: string, ended: boolean): PmuPiece[] {
    const out: PmuPiece[] = [];
    this.#buf += more;
    if (this.#mode === "undecided") {
      const rest = this.#buf.slice(WS.exec(this.#buf)![0].length);
      if (rest.startsWith(MESSAGE_PREFIX)) this.#mode = "messages";
      else if (rest === "" || MESSAGE_PREFIX.startsWith(rest)) {
        if (!ended) return out;
        if (rest === "") {
          this.#buf = "";
          return out;
        }
        this.#mode = "text";
      } else this.#mode = "text";
    }
    if (this.#mode === "text") {
      if (this.#buf !== "") out.push({ kind: "text", text: this.#buf });
      this.#buf = "";
      return out;
    }
    this.#messages(out, ended);
    return out;
  }

  #messages(out: PmuPiece[], ended: boolean, idle = false): void {
    let buf = this.#buf;
    for (;;) {
      let ws = WS.exec(buf)![0];
      const rest = buf.slice(ws.length);
      const afterText = out.length > 0 ? out.at(-1)!.kind === "text" : this.#lastWasText;
      if (ws !== "" && afterText) {
        // Whitespace right after text belongs to the text, not between messages.
        out.push({ kind: "text", text: ws });
        ws = "";
        buf = rest;
      }
      if (rest === "") {
        buf = ended ? "" : buf; // whitespace between messages or at the end: dropped
        break;
      }
      if (rest.startsWith(MESSAGE_PREFIX)) {
        const digits = DIGITS.exec(rest.slice(MESSAGE_PREFIX.length))![0];
        const end = MESSAGE_PREFIX.length + digits.length;
        if (end === rest.length && !ended && !(idle && digits !== "")) {
          buf = rest; // the number may go on in the next read
          break;
        }
        if (digits === "") {
          out.push({ kind: "text", text: ws + MESSAGE_PREFIX });
        } else {
          out.push({ kind: "message", index: Number(digits), text: rest.slice(0, end) });
        }
        buf = rest.slice(end);
        continue;
      }
      if (MESSAGE_PREFIX.startsWith(rest) && !ended) break; // a message may be starting
      // Other text: pass it through up to the next message, keeping back a possible start.
      const next = rest.indexOf(MESSAGE_PREFIX);
      let upto = next >= 0 ? next : rest.length;
      if (next < 0 && !ended) upto -= heldBack(rest);
      out.push({ kind: "text", text: ws + rest.slice(0, upto) });
      buf = rest.slice(upto);
      if (next < 0) {
        if (ended && buf !== "") out.push({ kind: "text", text: buf });
        if (ended) buf = "";
        break;
      }
    }
    this.#buf = buf;
    if (out.length > 0) this.#lastWasText = out.at(-1)!.kind === "text";
  }
}

/**
 * True if `chunk` may end inside a UTF-8 character (a lead byte with fewer continuation
 * bytes than it announces), so that a streaming decoder could be holding bytes back.
 */
export function cutCharacter(chunk: Uint8Array): boolean {
  for (let k = 1; k <= Math.min(3, chunk.length); k++) {
    const b = chunk[chunk.length - k];
    if (b < 0x80) return false; // ASCII: complete
    if (b < 0xc0) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return k < need;
  }
  return false;
}

/** The length of the longest suffix of `s` that is a proper prefix of MESSAGE_PREFIX. */
function heldBack(s: string): number {
  for (let k = Math.min(s.length, MESSAGE_PREFIX.length - 1); k > 0; k--) {
    if (MESSAGE_PREFIX.startsWith(s.slice(-k))) return k;
  }
  return 0;
}

/** Splits a whole stream at once (tests, and clients that already hold everything). */
export function splitAll(chunks: Iterable<Uint8Array>): PmuPiece[] {
  const s = new PmuSplitter();
  const out: PmuPiece[] = [];
  for (const c of chunks) out.push(...s.push(c));
  out.push(...s.end());
  return out;
}

/**
 * The PDC's stdout rendering, shared by pdc, secure-pdc and ws-pdc: each message on its own
 * line, text written exactly as received (a flood byte for byte: nothing added, not even a
 * final line break), a line break before a message if text left a line open.
 */
export class PdcOutput {
  #lineOpen = false;

  /** The stdout text for these pieces (write it at once, for live output). */
  render(pieces: PmuPiece[]): string {
    let s = "";
    for (const p of pieces) {
      if (p.kind === "message") {
        s += (this.#lineOpen ? "\n" : "") + p.text + "\n";
        this.#lineOpen = false;
      } else if (p.text !== "") {
        s += p.text;
        this.#lineOpen = !p.text.endsWith("\n");
      }
    }
    return s;
  }

  /** Notes bytes copied to the output as they are (pass-through text); returns them. */
  raw(chunk: Uint8Array): Uint8Array {
    if (chunk.length > 0) this.#lineOpen = chunk[chunk.length - 1] !== 0x0a;
    return chunk;
  }

  /**
   * A line break if the last text left a line open (then it is closed), else "": for
   * ws-pdc, whose messages each start a line (text before a message never ends a stream).
   */
  endLine(): string {
    const s = this.#lineOpen ? "\n" : "";
    this.#lineOpen = false;
    return s;
  }
}
