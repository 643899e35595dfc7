/**
 * The course's servers as `lab` starts them: each with its lab part, its
 * protocol, its lab port and the server module's own start function.
 *
 * @module
 */
import type { Server } from "../net/server.ts";
import { startEchoServer } from "../tcp/echo.ts";
import { startHelloReceiver } from "../udp/hello.ts";

export interface ServiceContext {
  /** IPv4 address to listen on (0.0.0.0: all). */
  host: string;
  /** stderr log of the service, prefixed with its name. */
  log: (line: string) => void;
}

export interface Service {
  /** The name used with --only / --skip. */
  name: string;
  part: string;
  protocol: string;
  /** The lab's port. */
  port: number;
  start(ctx: ServiceContext, port: number): Promise<Server>;
}

export const SERVICES: Service[] = [
  {
    name: "hello",
    part: "1.1",
    protocol: "UDP",
    port: 50007,
    start: (ctx, port) =>
      Promise.resolve(startHelloReceiver({
        hostname: ctx.host,
        port,
        onDatagram: (from, text) => ctx.log(`From: ${from} Received: ${text}`),
      })),
  },
  {
    name: "echo",
    part: "1.2",
    protocol: "TCP",
    port: 5002,
    start: (ctx, port) => startEchoServer({ hostname: ctx.host, port, log: ctx.log }),
  },
];
