/**
 * Where a command's output goes. stdout carries the protocol's data only, one
 * message a line, written synchronously as it arrives (graders and pipes read
 * it live, and a process may be killed at any moment). stderr carries logs,
 * progress and traces.
 *
 * @module
 */

const encoder = new TextEncoder();

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
}

/** Thrown when stdout's reader went away (e.g. `| head`). */
export class OutputClosed extends Error {
  override name = "OutputClosed";
}

function writeAll(sink: Sink, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += sink.writeSync(data.subarray(off));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) throw new OutputClosed("stdout closed");
      throw e;
    }
  }
}

/** An Io that writes to the given sinks. */
export function makeIo(stdout: Sink, stderr: Sink, stopped: () => Promise<string>): Io {
  let stop: Promise<string> | undefined;
  return {
    get stopped() {
      return stop ??= stopped();
    },
    out: (line) => writeAll(stdout, encoder.encode(line + "\n")),
    write: (data) => writeAll(stdout, typeof data === "string" ? encoder.encode(data) : data),
    log: (line) => {
      try {
        writeAll(stderr, encoder.encode(line + "\n"));
      } catch (e) {
        if (!(e instanceof OutputClosed)) throw e;
      }
    },
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
