/**
 * CLI of the part 1.2 analysis: `sockets`, a socket table from the kernel.
 *
 * @module
 */
import { defineCommand, flag, parsePort, str } from "../command.ts";
import { UsageError } from "../../errors.ts";
import { formatSocketTable, readSockets } from "../../net/sockets.ts";

export const sockets = defineCommand({
  name: "sockets",
  summary: "TCP/UDP socket table from the kernel, like ss -tuan",
  part: "1.2",
  positionals: [],
  options: {
    port: { type: "string", arg: "PORT", help: "only sockets with this local or peer port" },
    proto: { type: "string", arg: "tcp|udp", help: "only this protocol" },
    json: { type: "boolean", help: "print a JSON array instead of the table" },
  },
  description: `Reads /proc/net/tcp, tcp6, udp and udp6 and shows each socket's state
(LISTEN, ESTABLISHED, TIME_WAIT...), local and peer address: the part 1.2
questions on any Linux VM, without ss or netstat.`,
  example: "socklab sockets --port 5002",
  async run(args, io) {
    const portRaw = str(args, "port");
    const port = portRaw === undefined ? undefined : parsePort(portRaw, "--port");
    const proto = str(args, "proto");
    if (proto !== undefined && proto !== "tcp" && proto !== "udp") {
      throw new UsageError(`--proto: '${proto}' is not one of tcp, udp`);
    }
    const rows = (await readSockets()).filter((r) =>
      (port === undefined || r.localPort === port || r.peerPort === port) &&
      (proto === undefined || r.proto === proto)
    );
    if (flag(args, "json")) io.out(JSON.stringify(rows, null, 2));
    else for (const line of formatSocketTable(rows)) io.out(line);
    return 0;
  },
});
