/**
 * CLI of part 1.1: `hello-send` (Code A) and `hello-recv` (Code B).
 *
 * @module
 */
import { type Command, portOpt, RunError, str } from "../cli/command.ts";
import { serveUntilStopped } from "../cli/serve.ts";
import { hostPort } from "../net/address.ts";
import { message } from "../net/errors.ts";
import { sendHello, startHelloReceiver } from "./hello.ts";

export const helloSend: Command = {
  name: "hello-send",
  summary: "send one UDP datagram (Code A)",
  part: "1.1",
  positionals: [{
    name: "message",
    help: "text to send (default: 'Hello, Romeo! ')",
    optional: true,
  }],
  options: {
    host: { type: "string", default: "localhost", arg: "HOST", help: "receiver address" },
    port: { type: "string", default: "50007", arg: "PORT", help: "receiver UDP port" },
  },
  example: "socklab hello-send 'Hello, Romeo! '",
  async run(args, io) {
    const port = portOpt(args, "port", false);
    const host = str(args, "host")!;
    try {
      await sendHello(host, port, args.positionals[0] ?? "Hello, Romeo! ");
    } catch (e) {
      throw new RunError(`cannot send to ${hostPort(host, port)}: ${message(e)}`);
    }
    io.out("Message sent");
    return 0;
  },
};

export const helloRecv: Command = {
  name: "hello-recv",
  summary: "receive UDP datagrams and show their sender (Code B)",
  part: "1.1",
  positionals: [],
  options: {
    host: {
      type: "string",
      default: "0.0.0.0",
      arg: "HOST",
      help: "address to listen on (0.0.0.0: all IPv4 interfaces)",
    },
    port: { type: "string", default: "50007", arg: "PORT", help: "UDP port (0 picks a free one)" },
  },
  description:
    `For every datagram prints 'From: <address>:<port>' and 'Received: <text>' on stdout.`,
  example: "socklab hello-recv --port 50007",
  run(args, io) {
    const port = portOpt(args);
    const server = startHelloReceiver({
      hostname: str(args, "host")!,
      port,
      onDatagram: (from, text) => {
        io.out(`From: ${from}`);
        io.out(`Received: ${text}`);
      },
    });
    return serveUntilStopped(io, server);
  },
};
