/**
 * Part 2: the PDC's exchange (the handout's PDC.py). Sends one command, then reads until the
 * server closes, re-framing the stream into `This is PMU data <i>` messages with the PMU
 * core's splitter. Works on any Deno.Conn, so part 5's secure-pdc reuses it over TLS.
 *
 * @module
 */
import { settledWithin } from "../deadline.ts";
import { PdcOutput, PmuSplitter } from "../pmu/mod.ts";
import { errorMessage } from "../errors.ts";

/** What a PDC saw: the `--trace` summary. */
export interface PdcStats {
  reads: number;
  bytes: number;
  messages: number;
}

/** Options of {@link pdcReceive} and {@link pdcExchange}. */
export interface PdcOptions {
  /** Bytes per read, like the handout's recv(1024) (default 1024). */
  readSize?: number;
  /** Called after every read with its size and the milliseconds since the exchange began. */
  onRead?: (size: number, ms: number) => void;
  /**
   * Where a flood (text that is not PMU messages) may go as raw bytes, written before the
   * next read (the buffer is reused). Given, a flood is copied as received instead of being
   * decoded and re-encoded (4x less CPU on a large flood, found by `deno task bench`);
   * absent, everything goes through `write` as text.
   */
  writeBytes?: (data: Uint8Array) => void;
  /**
   * A message held back (its number might go on) is printed after this many ms without
   * data (default 500): a server that sends its messages and keeps the connection open
   * (many real part 5 servers did) still shows every message.
   */
  idleMs?: number;
}

/** A read failed mid-stream; what arrived before was already written. */
export class PdcStreamError extends Error {
  override name = "PdcStreamError";
  constructor(override readonly cause: unknown, readonly stats: PdcStats) {
    super(errorMessage(cause));
  }
}

/**
 * Reads `conn` until the server closes it and writes, live, what a PDC prints: each message
 * on its own line (complete when the next begins, the server closes, or the stream is idle
 * for `idleMs`), any other text (a flood, `Wrong command.`) exactly, byte for byte (no line
 * break added at the end). `write` gets stdout text. Throws {@link PdcStreamError} if a read fails (after
 * writing what arrived).
 */
export async function pdcReceive(
  conn: Deno.Conn,
  write: (text: string) => void,
  opts: PdcOptions = {},
): Promise<PdcStats> {
  const started = performance.now();
  const buf = new Uint8Array(opts.readSize ?? 1024);
  const splitter = new PmuSplitter();
  const output = new PdcOutput();
  const stats: PdcStats = { reads: 0, bytes: 0, messages: 0 };
  const emit = (pieces: ReturnType<PmuSplitter["push"]>) => {
    stats.messages += pieces.filter((p) => p.kind === "message").length;
    const text = output.render(pieces);
    if (text) write(text);
  };
  let failure: unknown;
  const idleMs = opts.idleMs ?? 500;
  // One read at a time; while a message is held back, an idle timer races it (the read
  // stays pending and is awaited again: `buf` is reused only once it has completed).
  let pending: Promise<number | null> | undefined;
  while (true) {
    let n: number | null;
    try {
      pending ??= conn.read(buf);
      if (splitter.holding && !(await settledWithin(pending, idleMs))) {
        emit(splitter.idle());
        continue;
      }
      n = await pending;
    } catch (e) {
      failure = e;
      break;
    }
    pending = undefined;
    if (n === null) break;
    stats.reads++;
    stats.bytes += n;
    opts.onRead?.(n, performance.now() - started);
    if (opts.writeBytes && splitter.passthrough) opts.writeBytes(output.raw(buf.subarray(0, n)));
    else emit(splitter.push(buf.subarray(0, n)));
  }
  emit(splitter.end());
  if (failure !== undefined) throw new PdcStreamError(failure, stats);
  return stats;
}

/** Sends `command` as is (one write, no terminator), then {@link pdcReceive}. */
export async function pdcExchange(
  conn: Deno.Conn,
  command: string,
  write: (text: string) => void,
  opts: PdcOptions = {},
): Promise<PdcStats> {
  const data = new TextEncoder().encode(command);
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
  return await pdcReceive(conn, write, opts);
}

/** The `--trace` line of one read. */
export function traceLine(index: number, size: number, ms: number): string {
  return `read ${index}: ${size} bytes at +${ms.toFixed(1)} ms`;
}

/** The `--trace` summary: `<reads> reads, <bytes> bytes, <messages> messages`. */
export function statsLine(s: PdcStats): string {
  return `${s.reads} reads, ${s.bytes} bytes, ${s.messages} messages`;
}
