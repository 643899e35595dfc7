/**
 * What a stream PDC (pdc, secure-pdc) makes of the server's answer, so that its exit code
 * can be trusted by scripts: PMU messages or a flood are data (stdout, exit 0); the PMU's
 * refusals, `Wrong command.` and `Server busy...`, are errors (stderr, exit 1); an answer
 * in another protocol (a TLS alert from a TLS port, HTTP from a WebSocket one, binary) is
 * not the PMU protocol (exit 1, nothing on stdout, the client to use named).
 *
 * @module
 */
import { foreignAnswer, refusalOf, REFUSALS } from "../pmu/mod.ts";
import { withRead } from "../net/conn.ts";

/** The answer is not the PMU protocol; the message says what it looks like. */
export class NotPmuProtocol extends Error {
  override name = "NotPmuProtocol";
}

/**
 * A conn whose reads are checked: the first bytes the server sends are given to
 * `foreignAnswer` (mod/pmu/foreign.ts), and a read of bytes that are not the PMU protocol
 * (a TLS record, HTTP, binary) throws {@link NotPmuProtocol} instead of returning them.
 */
export function checkedConn<C extends Deno.Conn>(conn: C): C {
  let checked = false;
  const read = async (p: Uint8Array): Promise<number | null> => {
    const n = await conn.read(p);
    if (!checked && n !== null && n > 0) {
      checked = true;
      const why = foreignAnswer(p.subarray(0, n), "pmu");
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
    const refusal = refusalOf(this.#held);
    if (!this.#open && refusal) return refusal;
    if (!this.#open) this.#release();
    return null;
  }
}
