/**
 * The course's servers as `lab` starts them: each with its lab part, its
 * protocol, its lab port and the server module's own start function.
 *
 * @module
 */
import { DEFAULT_SCRIPT } from "../multicast/script.ts";
import { startTv } from "../multicast/tv.ts";
import { parseScript } from "../multicast/datagram.ts";
import { randomSeed } from "../random.ts";
import type { EventSink, Server } from "../net/server.ts";
import { startPmuServer } from "../tcp/pmu.ts";
import { startPmuUdp } from "../udp/pmu_udp.ts";
import { startWsPmu } from "../ws/ws_pmu.ts";
import { startEchoServer } from "../tcp/echo.ts";
import { startHelloReceiver } from "../udp/hello.ts";

export interface ServiceContext {
  /** IPv4 address to listen on (0.0.0.0: all). */
  host: string;
  /** stderr log of the service, prefixed with its name. */
  log: EventSink;
  /** Multicast TTL of the TV (0: this host only). */
  ttl: number;
  /** Most connections from one address per stream server (default theirs; 0: no cap). */
  maxPerPeer?: number;
}

/** The IPv6 address that goes with an IPv4 listening address (wildcard, loopback), if any. */
function ipv6Twin(host: string): string | undefined {
  return host === "0.0.0.0" ? "::" : host === "127.0.0.1" ? "::1" : undefined;
}

/** What every stream server (echo, pmu, ws-pmu) is started with. */
function streamOptions(ctx: ServiceContext, port: number) {
  return { hostname: ctx.host, port, maxPerPeer: ctx.maxPerPeer, log: ctx.log };
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
    start: (ctx, port) => startEchoServer(streamOptions(ctx, port)),
  },
  {
    name: "pmu",
    part: "2",
    protocol: "TCP",
    port: 5003,
    start: (ctx, port) => startPmuServer(streamOptions(ctx, port)),
  },
  {
    name: "pmu-udp",
    part: "3",
    protocol: "UDP, IPv4/IPv6 alternating",
    port: 5004,
    start: (ctx, port) => {
      const v6 = ipv6Twin(ctx.host);
      return startPmuUdp({
        hosts: v6 ? { 4: ctx.host, 6: v6 } : { 4: ctx.host },
        port,
        family: v6 ? "alternate" : "4",
        period: 10,
        drop: 0.5,
        seed: randomSeed(),
        log: ctx.log,
      });
    },
  },
  {
    name: "tv",
    part: "4",
    protocol: "UDP multicast",
    port: 10505,
    start: (ctx, port) =>
      startTv({
        group: "224.1.1.1",
        port,
        id: "swcmTV",
        interval: 3,
        ttl: ctx.ttl,
        lines: parseScript(DEFAULT_SCRIPT),
        log: ctx.log,
      }),
  },
  {
    name: "ws-pmu",
    part: "6",
    protocol: "WebSocket",
    port: 5006,
    start: (ctx, port) => startWsPmu(streamOptions(ctx, port)),
  },
];
