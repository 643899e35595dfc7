/**
 * CLI of part 1.2: `echo-server` (Code C) and `echo-client` (Code D).
 *
 * @module
 */
import { type Command, flag, portOpt, RunError, str } from "../cli/command.ts";
import { serveUntilStopped } from "../cli/serve.ts";
import { hostPort, resolveHost } from "../net/address.ts";
import { connectError, message as errMsg } from "../net/errors.ts";
import { echoExchange, startEchoServer } from "./echo.ts";

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
  },
  description: `Reads what each client sends 16 bytes at a time, logs it on stderr as
'received: ...' and sends it back. Serves several clients at once.`,
  example: "socklab echo-server --port 5002",
  async run(args, io) {
    const port = portOpt(args);
    const host = await ipv4Of(str(args, "host")!);
    const server = await startEchoServer({ hostname: host, port, log: io.log });
    return serveUntilStopped(io, server);
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
