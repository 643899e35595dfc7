/**
 * What a stream PDC (pdc, secure-pdc) makes of the server's answer, so that its exit code
 * can be trusted by scripts: PMU messages or a flood are data (stdout, exit 0); the PMU's
 * refusals, `Wrong command.` and `Server busy...`, are errors (stderr, exit 1); bytes that
 * are not text at all (a TLS alert from a TLS port, binary) are not the PMU protocol
 * (exit 1, nothing on stdout).
 *
 * @module
 */
import { WRONG_COMMAND } from "../pmu/mod.ts";
import { BUSY } from "./pmu.ts";
import { withRead } from "../net/conn.ts";

/** The answers that mean "no data for you". */
const REFUSALS = [WRONG_COMMAND, BUSY];
/** Bytes looked at for binary data: the start of the stream only (a flood is not scanned). */
const HEAD_BYTES = 64;

/** The answer is not the PMU protocol; the message says what it looks like. */
export class NotPmuProtocol extends Error {
  override name = "NotPmuProtocol";
}

/**
 * Why these first bytes of an answer are not the PMU protocol, or null if they may be:
 * a TLS record (the port speaks TLS), or control bytes / invalid UTF-8 (binary).
 */
export function notPmuReason(head: Uint8Array): string | null {
  if (head.length >= 3 && head[0] >= 0x14 && head[0] <= 0x17 && head[1] === 0x03) {
    return `the answer is a TLS record (${head[0] === 0x15 ? "an alert" : "TLS"}), not the ` +
      "PMU protocol: this port speaks TLS (use secure-pdc)";
  }
  const bytes = head.subarray(0, HEAD_BYTES);
  const control = bytes.findIndex((b) =>
    (b < 0x20 && b !== 9 && b !== 10 && b !== 13) || b === 0x7f
  );
  let bad = control >= 0;
  if (!bad) {
    try {
      // Tolerate a character cut at the end of the head.
      new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    } catch {
      bad = true;
    }
  }
  return bad ? "the answer is binary data, not the PMU protocol (not text)" : null;
}

/**
 * A conn whose reads are checked: the first bytes the server sends are given to
 * {@link notPmuReason}, and a read of bytes that are not the PMU protocol throws
 * {@link NotPmuProtocol} instead of returning them.
 */
export function checkedConn<C extends Deno.Conn>(conn: C): C {
  let checked = false;
  const read = async (p: Uint8Array): Promise<number | null> => {
    const n = await conn.read(p);
    if (!checked && n !== null && n > 0) {
      checked = true;
      const why = notPmuReason(p.subarray(0, n));
      if (why) throw new NotPmuProtocol(why);
    }
    return n;
  };
  return withRead(conn, read);
}

/**
 * Holds back the start of a PDC's output while it may still be one of the PMU's refusals,
 * and passes everything else through at once (a message or a flood is never held longer
 * than it takes to differ from `Wrong command.`).
 */
export class RefusalGate {
  #held = "";
  #open = false;

  constructor(
    readonly out: { text(t: string): void; bytes(b: Uint8Array): void },
  ) {}

  #couldBeRefusal(t: string): boolean {
    const s = t.replace(/\n$/, "");
    return REFUSALS.some((r) => r.startsWith(s)) && !/\n./.test(t);
  }

  #release() {
    this.#open = true;
    if (this.#held) this.out.text(this.#held);
    this.#held = "";
  }

  text(t: string): void {
    if (this.#open) return this.out.text(t);
    if (this.#couldBeRefusal(this.#held + t)) this.#held += t;
    else {
      this.#held += t;
      this.#release();
    }
  }

  bytes(b: Uint8Array): void {
    if (!this.#open) this.#release();
    this.out.bytes(b);
  }

  /** At the end of the stream: the refusal the whole answer was (not written), or null. */
  end(): string | null {
    const s = this.#held.replace(/\n$/, "");
    if (!this.#open && REFUSALS.includes(s)) return s;
    if (!this.#open) this.#release();
    return null;
  }
}
