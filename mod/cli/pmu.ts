/**
 * The PMU's command-line pieces shared by the stream PMUs and PDCs of parts 2, 5 and 6
 * (`pmu`, `secure-pmu`, `ws-pmu`; `pdc`, `secure-pdc`): the server options and their
 * parsing, the PDC's read options, and the PDC run that prints to the terminal. The
 * protocol itself (mod/pmu/) stays pure; this is its command-line face.
 *
 * @module
 */
import {
  type Args,
  flag,
  given,
  numOpt,
  optionalNum,
  type Options,
  parseNumber,
  portOpt,
  str,
} from "./command.ts";
import type { Io } from "./io.ts";
import { FAIR_OPTIONS, parseFairOptions } from "./fair.ts";
import { LOG_OPTIONS } from "./log.ts";
import { serveLogged } from "./serve.ts";
import { CAPTURE_OPTIONS } from "./capture.ts";
import type { Server } from "../net/server.ts";
import { readInput } from "../net/files.ts";
import { checkedConn, NotPmuProtocol, RefusalGate } from "../tcp/answer.ts";
import { errorMessage, RunError, UsageError } from "../errors.ts";
import { isPeerGone } from "../net/errors.ts";
import { pdcExchange, PdcStreamError, statsLine, traceLine } from "../tcp/pdc.ts";
import { DEFAULT_MAX_CONNECTIONS, type PmuServerOptions, type Split } from "../tcp/pmu.ts";
import { DEFAULT_FLOOD_BYTES, floodText, MAX_COMMAND_BYTES } from "../pmu/mod.ts";
import { MAX_SEED } from "../random.ts";

/** The `--split` value: `random`, or a piece size k >= 1. */
function parseSplit(raw: string | undefined): Split {
  if (raw === undefined) return "none";
  if (raw === "random") return "random";
  return parseNumber(raw, "--split", { min: 1, integer: true });
}

/**
 * The PMU options shared by `pmu` and `secure-pmu` (part 5 spreads {@link pmuServerOptions}
 * into its own option table and passes the parsed result to startPmuServer with `tls`).
 */
export const pmuServerOptions = {
  count: {
    type: "string",
    arg: "N",
    help: "messages per CMD_short (default: random 10..20 per connection)",
  },
  seed: { type: "string", arg: "N", help: "seed of the randomness, for repeatable runs" },
  "idle-timeout": {
    type: "string",
    default: "10",
    arg: "SECONDS",
    help: "answer 'Wrong command.' if no command arrives within this time; hang up on a " +
      "client that reads nothing of its answer for this long",
  },
  split: {
    type: "string",
    arg: "random|K",
    help: "write every message in random-sized or K-byte pieces (framing demo; off by default)",
  },
  "flood-bytes": {
    type: "string",
    default: String(DEFAULT_FLOOD_BYTES),
    arg: "N",
    help: "size of the CMD_floodme text",
  },
  "flood-file": { type: "string", arg: "FILE", help: "send this file's bytes as the flood" },
  "max-connections": {
    type: "string",
    default: String(DEFAULT_MAX_CONNECTIONS),
    arg: "N",
    help: "most clients served at once; one more is told 'Server busy...' and closed (logged)",
  },
  "max-command": {
    type: "string",
    default: String(MAX_COMMAND_BYTES),
    arg: "BYTES",
    help: "longest command accepted; a longer one gets 'Wrong command.'",
  },
  ...FAIR_OPTIONS,
  ...LOG_OPTIONS,
} satisfies Options;

/** Parses the {@link pmuServerOptions} of `args` (UsageError/RunError naming the bad value). */
export async function parsePmuServerOptions(
  args: Args,
): Promise<Omit<PmuServerOptions, "hostname" | "port">> {
  const count = optionalNum(args, "count", { min: 0, max: 1_000_000, integer: true });
  const seed = optionalNum(args, "seed", { min: 0, max: MAX_SEED, integer: true });
  const idleTimeout = numOpt(args, "idle-timeout", { min: 0.001, max: 86_400 });
  const split = parseSplit(str(args, "split"));
  const maxCommandBytes = numOpt(args, "max-command", { min: 1, max: 1 << 20, integer: true });
  const maxConnections = numOpt(args, "max-connections", {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const file = str(args, "flood-file");
  const floodBytes = numOpt(args, "flood-bytes", { min: 0, max: 1 << 30, integer: true });
  let flood: Uint8Array;
  if (file !== undefined) {
    if (given(args, "flood-bytes")) {
      throw new UsageError("--flood-file and --flood-bytes cannot be used together");
    }
    flood = await readInput(file, "cannot read --flood-file", 1 << 30);
  } else {
    flood = new TextEncoder().encode(floodText(floodBytes));
  }
  return {
    count,
    seed,
    idleTimeout,
    split,
    maxCommandBytes,
    maxConnections,
    flood,
    ...parseFairOptions(args),
  };
}

/**
 * The run of a stream PMU command (pmu, secure-pmu, ws-pmu): `--port`, the PMU options,
 * `--host` through `bindTo` (in that order: the first bad one is the error), then `start`
 * with all of them and the per-event log, served until stopped.
 */
export async function servePmu(
  args: Args,
  io: Io,
  bindTo: (host: string) => Promise<string>,
  start: (options: PmuServerOptions) => Promise<Server>,
): Promise<number> {
  const port = portOpt(args);
  const parsed = await parsePmuServerOptions(args);
  const hostname = await bindTo(str(args, "host") ?? "");
  return serveLogged(args, io, (log) => start({ hostname, port, ...parsed, log }));
}

/**
 * Runs a PDC exchange on an open connection for the CLI: stdout gets the messages live,
 * `--trace` logs every read and the summary. Part 5's secure-pdc calls it with a TLS conn.
 * The PMU's refusals (`Wrong command.`, `Server busy...`) go to stderr with exit 1, and
 * an answer that is not the PMU protocol (binary, a TLS alert) is exit 1 (tcp/answer.ts).
 */
export async function runPdc(
  io: Io,
  conn: Deno.Conn,
  command: string,
  where: string,
  opts: { trace: boolean; readSize?: number },
): Promise<number> {
  let reads = 0;
  const onRead = opts.trace
    ? (n: number, ms: number) => io.log(traceLine(++reads, n, ms))
    : undefined;
  const gate = new RefusalGate({ text: (t) => io.write(t), bytes: (b) => io.write(b) });
  try {
    const stats = await pdcExchange(checkedConn(conn), command, (t) => gate.text(t), {
      onRead,
      writeBytes: (b) => gate.bytes(b),
      readSize: opts.readSize,
    });
    if (opts.trace) io.log(statsLine(stats));
    const refusal = gate.end();
    if (refusal) throw new RunError(`${where}: the server answered '${refusal}'`);
    return 0;
  } catch (e) {
    if (e instanceof PdcStreamError) {
      if (opts.trace) io.log(statsLine(e.stats));
      if (e.cause instanceof NotPmuProtocol) throw new RunError(`${where}: ${e.cause.message}`);
      const why = e.cause instanceof Deno.errors.ConnectionReset
        ? "connection reset"
        : errorMessage(e.cause);
      throw new RunError(`${where}: ${why} after ${e.stats.bytes} bytes`);
    }
    if (isPeerGone(e)) throw new RunError(`${where}: cannot send the command: ${errorMessage(e)}`);
    throw e;
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** The options of every stream PDC (pdc, secure-pdc): --trace and --read-size. */
export const PDC_READ_OPTIONS = {
  trace: {
    type: "boolean",
    help: "log every read's size and time on stderr, then '<reads> reads, <bytes> bytes, " +
      "<messages> messages'",
  },
  "read-size": {
    type: "string",
    arg: "BYTES",
    help: "bytes asked for per read (default: 1024 with --trace, like the handout's " +
      "recv(1024); 131072 otherwise, like socat -b 131072: it prints the same, faster)",
  },
  ...CAPTURE_OPTIONS,
} satisfies Options;

/**
 * The read size of a stream PDC: --read-size, else 1024 with --trace, else 128 KiB (a 256 MiB
 * flood: 2,048 reads instead of 4,096 at 64 KiB, ~8% faster, bench 1).
 */
export function pdcReadSize(args: Args): number {
  return optionalNum(args, "read-size", { min: 1, max: 1 << 20, integer: true }) ??
    (flag(args, "trace") ? 1024 : 131072);
}
