/**
 * The command table: every subcommand socklab has, in the order `--help`
 * lists them (the lab's order). A new command is one import and one entry here,
 * nowhere else (main.ts never changes).
 *
 * @module
 */
import type { Command } from "./command.ts";
import { grade } from "./commands/grade.ts";
import { demo, lab } from "./commands/lab.ts";
import { receiver, sender, tv } from "./commands/multicast.ts";
import { sockets } from "./commands/net.ts";
import { packets } from "./commands/packets.ts";
import { course, serve, submit, worker } from "./commands/service.ts";
import { echoClient, echoServer, pdc, pmu } from "./commands/tcp.ts";
import { ca, securePdc, securePmu } from "./commands/tls.ts";
import { helloRecv, helloSend, pdcUdp, pmuUdp } from "./commands/udp.ts";
import { wsPdc, wsPmu } from "./commands/ws.ts";

export const COMMANDS: readonly Command[] = [
  helloSend,
  helloRecv,
  echoServer,
  echoClient,
  sockets,
  pmu,
  pdc,
  pmuUdp,
  pdcUdp,
  tv,
  receiver,
  sender,
  ca,
  securePmu,
  securePdc,
  wsPmu,
  wsPdc,
  lab,
  demo,
  grade,
  packets,
  serve,
  worker,
  course,
  submit,
];
