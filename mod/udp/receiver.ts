/**
 * Receiving datagrams with a timeout. Deno's `DatagramConn.receive()` cannot
 * be cancelled, and a second receive() while one is pending is an error: so a
 * {@link DatagramReader} keeps exactly one pending receive per socket and
 * races it with a timer. When the timer wins, the receive stays pending and
 * the next call reuses it, so no datagram is ever lost between calls.
 *
 * - `reader.next(ms)`: the next datagram on one socket, or null after `ms`;
 * - `DatagramReader.any(readers, ms)`: the first datagram on any of several
 *   sockets (one per address family), or null after `ms`; the sockets that
 *   did not win keep their pending receive (and a datagram that arrived on
 *   them meanwhile is returned by the next call);
 * - `await reader.close()`: closes the socket; the pending receive then ends,
 *   and `next` returns null from then on. Measured in Deno 2.9: the port is
 *   released only once the pending receive has settled (binding it again
 *   right after close() fails with "address in use"), so close() resolves
 *   only then.
 *
 * A receive that fails for another reason (not because we closed the socket)
 * is thrown by `next`/`any`.
 *
 * @module
 */

/** One received datagram. */
export interface Datagram {
  data: Uint8Array;
  from: Deno.NetAddr;
}

type Outcome = { ok: true; datagram: Datagram } | { ok: false; error: unknown };

/** What a reader and the servers use of a UDP socket: Deno's, or an IPv6-only one (v6only.ts). */
export type UdpConn = Pick<Deno.DatagramConn, "receive" | "send" | "close" | "addr">;

/**
 * The largest UDP payload: each reader receives into one buffer of this size and copies the
 * datagram out, where Deno's receive() without a buffer allocates (and zeroes) 64 KiB per
 * datagram (issue 29: a third of pmu-udp's time, with the garbage collection it made).
 */
const MAX_DATAGRAM = 65_535;

export class DatagramReader {
  readonly conn: UdpConn;
  #pending?: Promise<Outcome>;
  /** The receive of {@link wait}, when one is pending. */
  #waiting?: Promise<unknown>;
  #closed = false;
  #buf?: Uint8Array;

  constructor(conn: UdpConn) {
    this.conn = conn;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The one pending receive, started if there is none. Never rejects. */
  #arm(): Promise<Outcome> {
    if (this.#waiting) throw new Error("a receive of wait() is pending on this socket");
    this.#buf ??= new Uint8Array(MAX_DATAGRAM);
    return this.#pending ??= this.conn.receive(this.#buf).then(
      ([data, from]) => ({
        ok: true,
        datagram: { data: data.slice(), from: from as Deno.NetAddr },
      }),
      (error) => ({ ok: false, error }),
    );
  }

  /** Take the settled outcome: the next call starts a new receive. */
  #take(outcome: Outcome): Datagram | null {
    this.#pending = undefined;
    if (outcome.ok) return outcome.datagram;
    if (this.#closed) return null;
    throw outcome.error;
  }

  /**
   * The next datagram, however long it takes (a server's wait); null once the reader is
   * closed. The shortest way to a datagram (no timer, no race: pmu-udp's loop, issue 29); not
   * to be mixed with {@link next} or {@link any} on the same reader.
   */
  async wait(): Promise<Datagram | null> {
    if (this.#pending) return this.#take(await this.#pending);
    if (this.#closed) return null;
    const receiving = this.conn.receive(this.#buf ??= new Uint8Array(MAX_DATAGRAM));
    this.#waiting = receiving;
    try {
      const [data, from] = await receiving;
      return { data: data.slice(), from: from as Deno.NetAddr };
    } catch (e) {
      if (this.#closed) return null;
      throw e;
    } finally {
      this.#waiting = undefined;
    }
  }

  /** The next datagram, or null if none came within `timeoutMs` (or the reader is closed). */
  next(timeoutMs: number): Promise<Datagram | null> {
    return DatagramReader.any([this], timeoutMs).then((r) => r?.datagram ?? null);
  }

  /**
   * The first datagram on any of `readers` within `timeoutMs` (Infinity: no
   * timeout), with the reader it came on; null on timeout or when every reader
   * is closed.
   */
  static async any(
    readers: readonly DatagramReader[],
    timeoutMs: number,
  ): Promise<{ reader: DatagramReader; datagram: Datagram } | null> {
    const open = readers.filter((r) => !r.#closed);
    if (open.length === 0) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = timeoutMs === Infinity ? new Promise<null>(() => {}) : new Promise<null>(
      (resolve) => timer = setTimeout(() => resolve(null), Math.max(0, timeoutMs)),
    );
    try {
      const first = await Promise.race([
        timeout,
        ...open.map((reader) => reader.#arm().then((outcome) => ({ reader, outcome }))),
      ]);
      if (first === null) return null;
      const datagram = first.reader.#take(first.outcome);
      return datagram ? { reader: first.reader, datagram } : null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Close the socket. The pending receive ends; `next` returns null from then
   * on. Resolves once the port is free again (the pending receive settled).
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.conn.close();
      } catch { /* already closed */ }
    }
    await this.#pending;
    await this.#waiting?.catch(() => {});
  }
}
