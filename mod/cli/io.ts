/**
 * Where a command's output goes. stdout carries the protocol's data only, one
 * message a line, written synchronously as it arrives (graders and pipes read
 * it live, and a process may be killed at any moment). stderr carries logs,
 * progress and traces.
 *
 * @module
 */

const encoder = new TextEncoder();
import { errorMessage } from "../errors.ts";

/** A byte sink written synchronously and completely. */
export interface Sink {
  writeSync(p: Uint8Array): number;
}

/** Output of one command run. */
export interface Io {
  /** Write one line of data to stdout (a newline is added). */
  out(line: string): void;
  /** Write raw data to stdout, as is. */
  write(data: Uint8Array | string): void;
  /** Write one line to stderr (a newline is added). */
  log(line: string): void;
  /**
   * Resolves when the user asks the command to stop (SIGINT, SIGTERM). The
   * handlers are installed on first access only: a command that never asks
   * keeps the default (Ctrl-C ends it at once).
   */
  readonly stopped: Promise<string>;
  /**
   * Log lines dropped because stderr failed (disk full, I/O error) and why; a failed log
   * write never throws (a server must not die of its log).
   */
  logFailures(): { dropped: number; reason: string };
}

/** Thrown when stdout's reader went away (e.g. `| head`). */
export class OutputClosed extends Error {
  override name = "OutputClosed";
}

/**
 * Writing to stdout failed for another reason than its reader leaving (disk full, I/O
 * error): the command stops with one line and exit 1.
 */
export class OutputFailed extends Error {
  override name = "OutputFailed";
}

function writeAll(sink: Sink, data: Uint8Array, what = "stdout"): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += sink.writeSync(data.subarray(off));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) throw new OutputClosed(`${what} closed`);
      throw new OutputFailed(
        `cannot write to ${what}: ${errorMessage(e)}`,
      );
    }
  }
}

/** An Io that writes to the given sinks. */
export function makeIo(stdout: Sink, stderr: Sink, stopped: () => Promise<string>): Io {
  let stop: Promise<string> | undefined;
  const failures = { dropped: 0, reason: "" };
  let reported = 0;
  return {
    get stopped() {
      return stop ??= stopped();
    },
    out: (line) => writeAll(stdout, encoder.encode(line + "\n")),
    write: (data) => writeAll(stdout, typeof data === "string" ? encoder.encode(data) : data),
    log: (line) => {
      try {
        if (reported < failures.dropped) {
          // Said once, as soon as the log works again.
          const n = failures.dropped - reported;
          writeAll(
            stderr,
            encoder.encode(`log: ${n} line(s) dropped (writing them failed: ${failures.reason})\n`),
            "stderr",
          );
          reported = failures.dropped;
        }
        writeAll(stderr, encoder.encode(line + "\n"), "stderr");
      } catch (e) {
        // EPIPE: nobody reads the log any more, nothing to count. Anything else (ENOSPC,
        // EIO): the line is dropped and counted; the summary says so if it can be written.
        if (e instanceof OutputClosed) return;
        failures.dropped++;
        failures.reason ||= (e as Error).message.replace(/^cannot write to stderr: /, "");
      }
    },
    logFailures: () => ({ ...failures }),
  };
}

/**
 * A promise that resolves with the signal's name on the first SIGINT or
 * SIGTERM. The listeners stay for the life of the process: a second Ctrl-C
 * while shutting down is ignored rather than killing the process half-way.
 */
export function shutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(sig, () => resolve(sig));
    }
  });
}

/** The process's own Io: real stdout and stderr, stopped by SIGINT/SIGTERM. */
export function processIo(): Io {
  return makeIo(Deno.stdout, Deno.stderr, shutdownSignal);
}
