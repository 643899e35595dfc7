/**
 * The accept loop of the stream servers (echo-server, pmu, secure-pmu): every accepted
 * connection takes a slot of the {@link ConnectionLimits} (in all, per address) for as long
 * as its session runs, or is refused; a failed accept (out of descriptors: EMFILE) backs off
 * instead of spinning, said once a minute at most; past `maxHeld` connections held (sessions and
 * refusals not yet gone) the loop stops accepting until one ends, so that refusing cannot
 * itself exhaust the descriptors.
 *
 * @module
 */

import type { ConnectionLimits, Slot } from "./limits.ts";
import { errorMessage } from "../errors.ts";
import { pause } from "../deadline.ts";

/** Accept failures back off from this delay, doubling up to {@link BACKOFF_MAX_MS}. */
export const BACKOFF_MS = 50;
export const BACKOFF_MAX_MS = 1000;
/** A new episode of accept failures is said at most once in this time. */
const SAY_EVERY_MS = 60_000;

export interface AcceptOptions<C extends Deno.Conn> {
  listener: Deno.Listener<C>;
  limits: ConnectionLimits;
  /** Stops the loop (the listener is closed by its owner). */
  signal: AbortSignal;
  log: (line: string) => void;
  /** Serves an admitted connection; its slot is released when this settles. */
  serve: (conn: C) => Promise<void>;
  /** Answers a connection over a limit (`why` is one line for the log). */
  refuse: (conn: C, why: string) => Promise<void>;
  /** Connections held past which accepting pauses (default: twice the limit). */
  maxHeld?: number;
}

/** A running accept loop: `done` when the listener is closed, `drain()` for the sessions. */
export interface Acceptor {
  readonly done: Promise<void>;
  /** Sessions and refusals now. */
  readonly held: number;
  /** Resolves when every session and refusal started so far has ended. */
  drain(): Promise<void>;
}

/** The peer's address without its port: what the per-address cap counts. */
export function hostOf(conn: Deno.Conn): string {
  try {
    return (conn.remoteAddr as Deno.NetAddr).hostname;
  } catch {
    return "?";
  }
}

/** Starts the accept loop; see the module doc. */
export function acceptLoop<C extends Deno.Conn>(opts: AcceptOptions<C>): Acceptor {
  const { listener, limits, signal, log } = opts;
  const maxHeld = opts.maxHeld ?? 2 * limits.max;
  const running = new Set<Promise<void>>();
  const stopping = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve());
  });
  const track = (p: Promise<void>, slot?: Slot) => {
    const end = () => {
      slot?.release();
      running.delete(q);
    };
    const q = p.then(end, end);
    running.add(q);
  };

  const done = (async () => {
    let backoff = 0;
    let failures = 0;
    let said = false;
    let lastSaid = -Infinity;
    let full = false;
    while (!signal.aborted) {
      if (running.size >= maxHeld) {
        if (!full) {
          log(
            `${running.size} connections held: not accepting until one ends ` +
              `(twice --max-connections ${limits.max})`,
          );
        }
        full = true;
        await Promise.race([...running, stopping]);
        continue;
      }
      full = false;
      let conn: C;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (signal.aborted || e instanceof Deno.errors.BadResource) break;
        // A failed accept (out of file descriptors: EMFILE) must not stop the server, nor
        // spin: log the first failure, retry after a delay that doubles up to 1 s.
        failures++;
        if (failures === 1 && performance.now() - lastSaid >= SAY_EVERY_MS) {
          log(`accept failed: ${errorMessage(e)}; retrying, backing off up to 1 s`);
          said = true;
          lastSaid = performance.now();
        }
        backoff = Math.min(Math.max(backoff * 2, BACKOFF_MS), BACKOFF_MAX_MS);
        await pause(backoff, signal);
        continue;
      }
      if (failures > 0) {
        if (said) log(`accepting again after ${failures} failed accept(s)`);
        failures = 0;
        backoff = 0;
        said = false;
      }
      const slot = limits.admit(hostOf(conn));
      if (typeof slot === "string") track(opts.refuse(conn, slot));
      else track(opts.serve(conn), slot);
    }
  })();

  return {
    done,
    get held() {
      return running.size;
    },
    async drain() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
