/**
 * A server's per-event log (one line per connection or datagram) at a bounded rate: under a
 * flood, at most `burst` lines per period of `every` seconds reach stderr, and the rest is
 * told as one line per period (`... 12,345 more line(s) in the last 10 s`), so that a
 * 20-second flood cannot write 20 MB of log and fill a small disk. `--quiet` shows none of
 * the lines, only those summaries. The servers' options `--quiet` and `--log-every` set it.
 *
 * @module
 */
import type { Args, Options } from "./command.ts";
import { flag, numOpt } from "./command.ts";
import { lineText, type LogLine } from "../net/server.ts";

/** Seconds per period by default. */
export const DEFAULT_LOG_EVERY = 10;
/** Lines shown per period by default: a class of 200 at a few connections each fits. */
export const DEFAULT_LOG_BURST = 500;

export interface EventLogOptions {
  /** Show no event line, only the periodic counts. */
  quiet?: boolean;
  /** Seconds per period (default {@link DEFAULT_LOG_EVERY}). */
  every?: number;
  /** Lines shown per period (default {@link DEFAULT_LOG_BURST}). */
  burst?: number;
}

/** The rate-bounded log of one server; see the module doc. */
export class EventLog {
  readonly #sink: (line: string) => void;
  readonly #quiet: boolean;
  readonly #everyMs: number;
  readonly #burst: number;
  #windowEnd = 0;
  #shown = 0;
  #hidden = 0;
  #timer?: ReturnType<typeof setTimeout>;

  constructor(sink: (line: string) => void, opts: EventLogOptions = {}) {
    this.#sink = sink;
    this.#quiet = opts.quiet ?? false;
    this.#everyMs = (opts.every ?? DEFAULT_LOG_EVERY) * 1000;
    this.#burst = opts.burst ?? DEFAULT_LOG_BURST;
  }

  /**
   * One event's line (or `lines` lines): written, or counted for the period's summary (and
   * never made).
   */
  readonly log = (line: LogLine, lines = 1): void => {
    const now = performance.now();
    if (now >= this.#windowEnd) {
      this.flush();
      this.#windowEnd = now + this.#everyMs;
      this.#shown = 0;
    }
    if (!this.#quiet && this.#shown < this.#burst) {
      this.#shown += lines;
      this.#sink(lineText(line));
      return;
    }
    this.#hidden += lines;
    if (this.#timer === undefined) {
      // The summary comes at the end of the period even if no other line does; the timer
      // never keeps the process alive.
      const timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, Math.max(0, this.#windowEnd - now));
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  };

  /** Writes the pending summary, if any lines were held back. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#hidden === 0) return;
    const n = this.#hidden.toLocaleString("en-US");
    const why = this.#quiet ? "--quiet" : `more than ${this.#burst} per ${this.#everyMs / 1000} s`;
    this.#hidden = 0;
    this.#sink(`... ${n} more line(s) in the last ${this.#everyMs / 1000} s (not shown: ${why})`);
  }
}

/** The options of every server that logs per event. */
export const LOG_OPTIONS = {
  quiet: {
    type: "boolean",
    help: "no line per connection or datagram, only a count every --log-every seconds",
  },
  "log-every": {
    type: "string",
    arg: "SECONDS",
    default: String(DEFAULT_LOG_EVERY),
    help: `log at most ${DEFAULT_LOG_BURST} lines per this many seconds, then one line with ` +
      "the count of the others",
  },
} satisfies Options;

/** The EventLog of a server command, from `--quiet` and `--log-every`. */
export function eventLog(args: Args, sink: (line: string) => void): EventLog {
  return new EventLog(sink, {
    quiet: flag(args, "quiet"),
    every: numOpt(args, "log-every", { min: 0.1, max: 3600 }),
  });
}
