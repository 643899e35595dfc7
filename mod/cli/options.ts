/**
 * The option builders the servers and clients share: where a server listens (`--host`,
 * `--port`) and which server a client talks to. The other shared tables sit beside what
 * they set: LOG_OPTIONS (log.ts), FAIR_OPTIONS and LIMIT_OPTIONS (fair.ts), CAPTURE_OPTIONS
 * (capture.ts), the PMU's server and PDC options (pmu.ts).
 *
 * @module
 */
import type { OptionSpec } from "./command.ts";

/** A string option with a default (its value is typed `string`, never undefined). */
type Defaulted = OptionSpec & { type: "string"; default: string };

export type Transport = "TCP" | "UDP";

/** `--port` of a server: its port by default, 0 picks a free one. */
export function portOption(port: number, transport: Transport) {
  return {
    type: "string",
    default: String(port),
    arg: "PORT",
    help: `${transport} port (0 picks a free one)`,
  } satisfies Defaulted;
}

/** `--host` and `--port` of a server: the address it listens on and its port. */
export function listenOptions(
  host: string,
  port: number,
  transport: Transport,
  hostHelp = host === "0.0.0.0"
    ? "address to listen on (0.0.0.0: all IPv4 interfaces)"
    : "address to listen on",
) {
  return {
    host: { type: "string", default: host, arg: "HOST", help: hostHelp },
    port: portOption(port, transport),
  } satisfies Record<string, Defaulted>;
}

/** `--host` and `--port` of a client: the `peer` it talks to (read with `portOpt(args,
 * "port", false)`: a client cannot talk to port 0). */
export function peerOptions(
  host: string,
  port: number,
  transport: Transport,
  peer = "server",
  hostHelp = `${peer} address`,
) {
  return {
    host: { type: "string", default: host, arg: "HOST", help: hostHelp },
    port: { type: "string", default: String(port), arg: "PORT", help: `${peer} ${transport} port` },
  } satisfies Record<string, Defaulted>;
}
