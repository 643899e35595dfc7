/**
 * The contract every socklab server keeps, so that the CLI, `lab`, `demo`,
 * `grade` and the tests all start the same code: `start(options)` returns a
 * {@link Server} once it is ready to serve.
 *
 * @module
 */

export interface Server {
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
