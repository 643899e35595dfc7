/**
 * The contract every socklab server keeps, so that the CLI, `lab`, `demo`,
 * `grade` and the tests all start the same code: `start(options)` returns a
 * {@link Server} once it is ready to serve. Every server builds its handle
 * with {@link serverHandle}, which owns the shutdown sequence (stop once,
 * then wait), so `close()` is idempotent and `await using` works everywhere.
 *
 * @module
 */

/**
 * A line of a server's per-event log, or the function that makes it: a function is called
 * only if the line is shown (the CLI's log is rate-bounded, and --quiet shows none), so a
 * line that is dropped costs no formatting (issue 29: pmu-udp's two lines per datagram).
 */
export type LogLine = string | (() => string);

/**
 * Where a server's per-event log goes: `log` of every server's options. `lines` says how many
 * lines the entry holds (default 1), for a log that counts them without making them.
 */
export type EventSink = (line: LogLine, lines?: number) => void;

/** The text of a {@link LogLine}. */
export function lineText(line: LogLine): string {
  return typeof line === "string" ? line : line();
}

export interface Server extends AsyncDisposable {
  /** What it serves, for logs: `pmu`, `echo-server`... */
  readonly name: string;
  /** Where it listens, as printed after `listening on` (e.g. `127.0.0.1:5003`). */
  readonly address: string;
  /** The bound port (useful after port 0). */
  readonly port: number;
  /** Resolves when the server has stopped (by close() or by a fatal error). */
  readonly closed: Promise<void>;
  /** Stop accepting, end every session, release every socket. Idempotent. */
  close(): Promise<void>;
  /** One line for the log at shutdown, e.g. `served 12 connections`. */
  summary(): string;
}

/** What a server's start function hands to {@link serverHandle}. */
export interface ServerParts {
  name: string;
  address: string;
  port: number;
  /** The serving loop: settles when the server has stopped. */
  closed: Promise<void>;
  /**
   * Aborted by the first close(), before `stop`: the serving loop reads
   * `stopping.signal.aborted` to tell a shutdown from a failure.
   */
  stopping: AbortController;
  /** Run once, by the first close(): release the listening socket(s) so the loop ends. */
  stop(): void | Promise<void>;
  /** Awaited after the loop has ended: what still winds down (open sessions). */
  drain?(): Promise<unknown>;
  summary(): string;
}

/** The one Server handle: close() aborts, stops and waits once; every later call waits too. */
export function serverHandle(parts: ServerParts): Server {
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      parts.stopping.abort();
      await parts.stop();
      await parts.closed;
      await parts.drain?.();
    })();
  return {
    name: parts.name,
    address: parts.address,
    port: parts.port,
    closed: parts.closed,
    close,
    summary: parts.summary,
    [Symbol.asyncDispose]: close,
  };
}

/** Close every resource, ignoring the ones already closed. */
export function closeQuietly(...resources: Iterable<{ close(): void }>[]): void {
  for (const list of resources) {
    for (const r of list) {
      try {
        r.close();
      } catch { /* already closed */ }
    }
  }
}
