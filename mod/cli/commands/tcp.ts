/**
 * CLI of part 1.2: `echo-server` (Code C) and `echo-client` (Code D); part 2: `pmu` and
 * `pdc`.
 *
 * @module
 */
import { defineCommand, flag, parsePort, portOpt, str } from "../command.ts";
import { errorMessage, RunError, UsageError } from "../../errors.ts";
import { serveLogged } from "../serve.ts";
import { LOG_OPTIONS } from "../log.ts";
import { LIMIT_OPTIONS, parseLimitOptions } from "../fair.ts";
import { listenOptions, peerOptions } from "../options.ts";
import { captureExchange } from "../capture.ts";
import { bindAddress, hostPort, ipFamily, ipv4Of, isValidHost } from "../../net/address.ts";
import { connectError } from "../../net/errors.ts";
import { PDC_READ_OPTIONS, pdcReadSize, pmuServerOptions, runPdc, servePmu } from "../pmu.ts";
import { echoExchange, startEchoServer } from "../../tcp/echo.ts";

/** A TCP connection to `address` (shown as `host` in its error). */
async function connectTcp(address: string, port: number, host: string): Promise<Deno.TcpConn> {
  try {
    return await Deno.connect({ hostname: address, port });
  } catch (e) {
    throw connectError(e, host, port);
  }
}

export const echoServer = defineCommand({
  name: "echo-server",
  summary: "TCP echo server with address reuse (Code C)",
  part: "1.2",
  positionals: [],
  options: {
    ...listenOptions("localhost", 5002, "TCP"),
    ...LIMIT_OPTIONS,
    ...LOG_OPTIONS,
  },
  description: `Reads what each client sends 16 bytes at a time, logs it on stderr as
'received: ...' and sends it back. Serves several clients at once.`,
  example: "socklab echo-server --port 5002",
  async run(args, io) {
    const port = portOpt(args);
    const hostname = await ipv4Of(str(args, "host"));
    const limits = parseLimitOptions(args);
    return serveLogged(args, io, (log) => startEchoServer({ hostname, port, ...limits, log }));
  },
});

export const echoClient = defineCommand({
  name: "echo-client",
  summary: "TCP echo client reading 8 bytes at a time (Code D)",
  part: "1.2",
  positionals: [{
    name: "message",
    help: "text to send (default: Oh Romeo, Romeo! wherefore art thou Romeo?)",
    optional: true,
  }],
  options: {
    ...peerOptions("localhost", 5002, "TCP"),
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
    const hostArg = str(args, "host");
    const host = await ipv4Of(hostArg);
    const conn = await connectTcp(host, port, hostArg);
    try {
      io.log(`sending: ${message}`);
      try {
        await echoExchange(conn, message, (chunk) => io.out(chunk));
      } catch (e) {
        throw new RunError(`${hostPort(hostArg, port)}: ${errorMessage(e)}`);
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
});

export const pmu = defineCommand({
  name: "pmu",
  summary: "PMU server over TCP (tcpip.epfl.ch:5003)",
  part: "2 server",
  positionals: [],
  options: {
    ...listenOptions("0.0.0.0", 5003, "TCP"),
    ...pmuServerOptions,
  },
  description: `Answers one command per connection, then closes:
  CMD_short:<d>  n messages 'This is PMU data <i>' (i = 0..n-1), each with its own
                 write, d seconds apart (0 <= d <= 60); no separators between them
  CMD_floodme    one large text (57,344 bytes by default) in a single write
  anything else  'Wrong command.' (also when no command arrives in time)
Serves many clients at once; one log line per connection on stderr.`,
  example: "socklab pmu --port 5003 --count 15",
  // The server's modules load when it runs: pdc, in this module too, starts without them.
  run: async (args, io) =>
    servePmu(args, io, bindAddress, (await import("../../tcp/pmu.ts")).startPmuServer),
});

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

export const pdc = defineCommand({
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
    await using _capture = await captureExchange(args, io, { proto: "tcp", port, host: address });
    const conn = await connectTcp(address, port, server);
    return await runPdc(io, conn, command, hostPort(server, port), { trace, readSize });
  },
});
