/**
 * The command table: every subcommand socklab has, in the order `--help`
 * lists them (the lab's order). A new command is one import and one entry here,
 * nowhere else (main.ts never changes).
 *
 * @module
 */
import type { Command } from "./command.ts";
import { grade } from "../grade/commands.ts";
import { demo, lab } from "../lab/commands.ts";
import { receiver, sender, tv } from "../multicast/commands.ts";
import { sockets } from "../net/commands.ts";
import { packets } from "../packets/commands.ts";
import { course, serve, submit } from "../service/commands.ts";
import { echoClient, echoServer, pdc, pmu } from "../tcp/commands.ts";
import { ca, securePdc, securePmu } from "../tls/commands.ts";
import { helloRecv, helloSend, pdcUdp, pmuUdp } from "../udp/commands.ts";
import { wsPdc, wsPmu } from "../ws/commands.ts";

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
  course,
  submit,
];
