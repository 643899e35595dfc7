/**
 * CLI of part 1.2: `echo-server` (Code C) and `echo-client` (Code D); part 2: `pmu` and
 * `pdc`.
 *
 * @module
 */
import {
  type Args,
  type Command,
  flag,
  numOpt,
  type OptionSpec,
  parseNumber,
  parsePort,
  portOpt,
  RunError,
  str,
  UsageError,
} from "../cli/command.ts";
import type { Io } from "../cli/io.ts";
import { serveUntilStopped } from "../cli/serve.ts";
import { FAIR_OPTIONS, parseFairOptions } from "../cli/fair.ts";
import { readInput } from "../cli/files.ts";
import { eventLog, LOG_OPTIONS } from "../cli/log.ts";
import { hostPort, ipFamily, isValidHost, resolveHost } from "../net/address.ts";
import { connectError, isPeerGone, message as errMsg } from "../net/errors.ts";
import { DEFAULT_FLOOD_BYTES, floodText, MAX_COMMAND_BYTES } from "../pmu/mod.ts";
import { echoExchange, startEchoServer } from "./echo.ts";
import { pdcExchange, PdcStreamError, statsLine, traceLine } from "./pdc.ts";
import { checkedConn, NotPmuProtocol, RefusalGate } from "./answer.ts";
import {
  DEFAULT_MAX_CONNECTIONS,
  type PmuServerOptions,
  type Split,
  startPmuServer,
} from "./pmu.ts";

/** The IPv4 address of `host` for the lab's AF_INET sockets, or a RunError. */
export async function ipv4Of(host: string): Promise<string> {
  try {
    return (await resolveHost(host, 4))[0].address;
  } catch (e) {
    throw new RunError(errMsg(e));
  }
}

export const echoServer: Command = {
  name: "echo-server",
  summary: "TCP echo server with address reuse (Code C)",
  part: "1.2",
  positionals: [],
  options: {
    host: { type: "string", default: "localhost", arg: "HOST", help: "address to listen on" },
    port: { type: "string", default: "5002", arg: "PORT", help: "TCP port (0 picks a free one)" },
    ...LOG_OPTIONS,
  },
  description: `Reads what each client sends 16 bytes at a time, logs it on stderr as
'received: ...' and sends it back. Serves several clients at once.`,
  example: "socklab echo-server --port 5002",
  async run(args, io) {
    const port = portOpt(args);
    const host = await ipv4Of(str(args, "host")!);
    const events = eventLog(args, io.log);
    const server = await startEchoServer({ hostname: host, port, log: events.log });
    return serveUntilStopped(io, server, undefined, events);
  },
};

export const echoClient: Command = {
  name: "echo-client",
  summary: "TCP echo client reading 8 bytes at a time (Code D)",
  part: "1.2",
  positionals: [{
    name: "message",
    help: "text to send (default: Oh Romeo, Romeo! wherefore art thou Romeo?)",
    optional: true,
  }],
  options: {
    host: { type: "string", default: "localhost", arg: "HOST", help: "server address" },
    port: { type: "string", default: "5002", arg: "PORT", help: "server TCP port" },
    hold: {
      type: "boolean",
      help: "keep the connection open after the echo until Ctrl-C (for the ss questions)",
    },
  },
  description: `Prints each 8-byte read of the echo on its own line on stdout, as it arrives.`,
  example: "socklab echo-client --hold 'Oh Romeo, Romeo! wherefore art thou Romeo?'",
  async run(args, io) {
    const port = portOpt(args, "port", false);
    const message = args.positionals[0] ?? "Oh Romeo, Romeo! wherefore art thou Romeo?";
    const hostArg = str(args, "host")!;
    const host = await ipv4Of(hostArg);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: host, port });
    } catch (e) {
      throw connectError(e, hostArg, port);
    }
    try {
      io.log(`sending: ${message}`);
      try {
        await echoExchange(conn, message, (chunk) => io.out(chunk));
      } catch (e) {
        throw new RunError(`${hostPort(hostArg, port)}: ${errMsg(e)}`);
      }
      if (flag(args, "hold")) {
        io.log(
          `holding the connection ${hostPort(conn.localAddr.hostname, conn.localAddr.port)} -> ` +
            `${hostPort(host, port)} open; Ctrl-C to close it`,
        );
        await io.stopped;
      }
    } finally {
      conn.close();
    }
    return 0;
  },
};

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
export const pmuServerOptions: Command["options"] = {
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
};

/** Parses the {@link pmuServerOptions} of `args` (UsageError/RunError naming the bad value). */
export async function parsePmuServerOptions(
  args: Args,
): Promise<Omit<PmuServerOptions, "hostname" | "port">> {
  const count = str(args, "count") === undefined
    ? undefined
    : numOpt(args, "count", { min: 0, max: 1_000_000, integer: true });
  const seed = str(args, "seed") === undefined
    ? undefined
    : numOpt(args, "seed", { min: 0, max: 2 ** 32 - 1, integer: true });
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
    if (args.values["flood-bytes"] !== String(DEFAULT_FLOOD_BYTES)) {
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

/** The address a server binds: an IP literal as given, a name's IPv4 address. */
export async function bindAddress(host: string): Promise<string> {
  return ipFamily(host) ? host : await ipv4Of(host);
}

export const pmu: Command = {
  name: "pmu",
  summary: "PMU server over TCP (tcpip.epfl.ch:5003)",
  part: "2 server",
  positionals: [],
  options: {
    host: {
      type: "string",
      default: "0.0.0.0",
      arg: "HOST",
      help: "address to listen on (0.0.0.0: all IPv4 interfaces)",
    },
    port: { type: "string", default: "5003", arg: "PORT", help: "TCP port (0 picks a free one)" },
    ...pmuServerOptions,
  },
  description: `Answers one command per connection, then closes:
  CMD_short:<d>  n messages 'This is PMU data <i>' (i = 0..n-1), each with its own
                 write, d seconds apart (0 <= d <= 60); no separators between them
  CMD_floodme    one large text (57,344 bytes by default) in a single write
  anything else  'Wrong command.' (also when no command arrives in time)
Serves many clients at once; one log line per connection on stderr.`,
  example: "socklab pmu --port 5003 --count 15",
  async run(args, io) {
    const port = portOpt(args);
    const parsed = await parsePmuServerOptions(args);
    const hostname = await bindAddress(str(args, "host")!);
    const events = eventLog(args, io.log);
    const server = await startPmuServer({ hostname, port, ...parsed, log: events.log });
    return serveUntilStopped(io, server, undefined, events);
  },
};

/** Validates the server positional of an IPv4-only client; returns it. */
export function ipv4ServerArg(raw: string, what = "<server>"): string {
  if (ipFamily(raw) === 6) {
    throw new UsageError(`${what}: ${raw} is an IPv6 address; this client uses IPv4 only`);
  }
  if (!isValidHost(raw)) {
    throw new UsageError(`${what}: '${raw}' is not a valid host name or IPv4 address`);
  }
  return raw;
}

/**
 * Runs a PDC exchange on an open connection for the CLI: stdout gets the messages live,
 * `--trace` logs every read and the summary. Part 5's secure-pdc calls it with a TLS conn.
 * The PMU's refusals (`Wrong command.`, `Server busy...`) go to stderr with exit 1, and
 * an answer that is not the PMU protocol (binary, a TLS alert) is exit 1 (./answer.ts).
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
        : errMsg(e.cause);
      throw new RunError(`${where}: ${why} after ${e.stats.bytes} bytes`);
    }
    if (isPeerGone(e)) throw new RunError(`${where}: cannot send the command: ${errMsg(e)}`);
    throw e;
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** The options of every stream PDC (pdc, secure-pdc): --trace and --read-size. */
export const PDC_READ_OPTIONS: Record<string, OptionSpec> = {
  trace: {
    type: "boolean",
    help: "log every read's size and time on stderr, then '<reads> reads, <bytes> bytes, " +
      "<messages> messages'",
  },
  "read-size": {
    type: "string",
    arg: "BYTES",
    help: "bytes asked for per read (default: 1024 with --trace, like the handout's " +
      "recv(1024); 65536 otherwise, which prints the same, faster)",
  },
};

/** The read size of a stream PDC: --read-size, else 1024 with --trace, else 65536. */
export function pdcReadSize(args: Args): number {
  if (str(args, "read-size") === undefined) return flag(args, "trace") ? 1024 : 65536;
  return numOpt(args, "read-size", { min: 1, max: 1 << 20, integer: true });
}

export const pdc: Command = {
  name: "pdc",
  summary: "PDC over TCP, IPv4: prints each PMU message on its own line",
  part: "2 client",
  positionals: [
    { name: "server", help: "PMU server: IPv4 address or name (resolved to IPv4)" },
    { name: "port", help: "PMU server TCP port (the course's: 5003)" },
    { name: "command", help: "CMD_short:<d> or CMD_floodme (sent as is)" },
  ],
  options: PDC_READ_OPTIONS,
  description: `Sends the command, then prints every 'This is PMU data <i>' on its own line as
soon as it is complete, however TCP cut the stream into reads; anything else (a flood,
'Wrong command.') is printed exactly as received. Exits 0 when the server closes.`,
  example: "socklab pdc 127.0.0.1 5003 CMD_short:0",
  async run(args, io) {
    const [serverArg, portArg, command] = args.positionals;
    const server = ipv4ServerArg(serverArg);
    const port = parsePort(portArg, "<port>", false);
    const trace = flag(args, "trace");
    const readSize = pdcReadSize(args);
    const address = await ipv4Of(server);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: address, port });
    } catch (e) {
      throw connectError(e, server, port);
    }
    return await runPdc(io, conn, command, hostPort(server, port), {
      trace,
      readSize,
    });
  },
};
