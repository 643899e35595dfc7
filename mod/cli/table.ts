/**
 * The command table: every subcommand socklab has, in the order `--help`
 * lists them (the lab's order). A new command is one entry here, nowhere else
 * (main.ts never changes).
 *
 * Each entry is the command's name and a dynamic import of its module: a run
 * loads only the chosen command's modules (`socklab --version` loads none), so
 * start-up does not pay for node:http, npm:ws, the scoring service or the
 * grading engine unless the command uses them (issue 29). `--help` loads them
 * all; tests/cli_test.ts checks that each entry's name is its command's.
 *
 * @module
 */
import type { Command } from "./command.ts";

/** A command by name, loaded on demand. */
export interface CommandEntry {
  name: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: "hello-send", load: async () => (await import("./commands/udp.ts")).helloSend },
  { name: "hello-recv", load: async () => (await import("./commands/udp.ts")).helloRecv },
  { name: "echo-server", load: async () => (await import("./commands/tcp.ts")).echoServer },
  { name: "echo-client", load: async () => (await import("./commands/tcp.ts")).echoClient },
  { name: "sockets", load: async () => (await import("./commands/net.ts")).sockets },
  { name: "pmu", load: async () => (await import("./commands/tcp.ts")).pmu },
  { name: "pdc", load: async () => (await import("./commands/tcp.ts")).pdc },
  { name: "pmu-udp", load: async () => (await import("./commands/udp.ts")).pmuUdp },
  { name: "pdc-udp", load: async () => (await import("./commands/udp.ts")).pdcUdp },
  { name: "tv", load: async () => (await import("./commands/multicast.ts")).tv },
  { name: "receiver", load: async () => (await import("./commands/multicast.ts")).receiver },
  { name: "sender", load: async () => (await import("./commands/multicast.ts")).sender },
  { name: "ca", load: async () => (await import("./commands/tls.ts")).ca },
  { name: "secure-pmu", load: async () => (await import("./commands/tls.ts")).securePmu },
  { name: "secure-pdc", load: async () => (await import("./commands/tls.ts")).securePdc },
  { name: "ws-pmu", load: async () => (await import("./commands/ws.ts")).wsPmu },
  { name: "ws-pdc", load: async () => (await import("./commands/ws.ts")).wsPdc },
  { name: "lab", load: async () => (await import("./commands/lab.ts")).lab },
  { name: "demo", load: async () => (await import("./commands/lab.ts")).demo },
  { name: "grade", load: async () => (await import("./commands/grade.ts")).grade },
  { name: "packets", load: async () => (await import("./commands/packets.ts")).packets },
  { name: "serve", load: async () => (await import("./commands/service.ts")).serve },
  { name: "worker", load: async () => (await import("./commands/service.ts")).worker },
  { name: "course", load: async () => (await import("./commands/service.ts")).course },
  { name: "submit", load: async () => (await import("./commands/service.ts")).submit },
];

/** Every command, loaded (for `--help` and the tests). */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(COMMANDS.map((c) => c.load()));
}
