/**
 * CLI of part 6: `ws-pmu` (the PMU over WebSocket, ws://tcpip.epfl.ch:5006) and `ws-pdc`
 * (the PDC over WebSocket).
 *
 * @module
 */
import {
  type Args,
  type Command,
  flag,
  numOpt,
  parsePort,
  portOpt,
  RunError,
  str,
  UsageError,
} from "../cli/command.ts";
import { serveUntilStopped } from "../cli/serve.ts";
import { hostPort, resolveHost } from "../net/address.ts";
import { message as errMsg } from "../net/errors.ts";
import {
  DEFAULT_FLOOD_BYTES,
  floodText,
  MESSAGE_PREFIX,
  PdcOutput,
  type PmuPiece,
} from "../pmu/mod.ts";
import { DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_MESSAGE, startWsPmu } from "./ws_pmu.ts";
import { closeCodeText, NORMAL_CLOSES, runWsPdc, targetUrl, urlHostPort } from "./ws_pdc.ts";

/** The flood of `--flood-file` or `--flood-bytes`. */
async function floodOf(args: Args): Promise<Uint8Array> {
  const file = str(args, "flood-file");
  if (file !== undefined) {
    if (str(args, "flood-bytes") !== String(DEFAULT_FLOOD_BYTES)) {
      throw new UsageError("give --flood-file or --flood-bytes, not both");
    }
    try {
      return await Deno.readFile(file);
    } catch (e) {
      throw new RunError(`cannot read --flood-file ${file}: ${errMsg(e)}`);
    }
  }
  const n = numOpt(args, "flood-bytes", { min: 0, max: 64 * 1024 * 1024, integer: true });
  return new TextEncoder().encode(floodText(n));
}

export const wsPmu: Command = {
  name: "ws-pmu",
  summary: "PMU server over WebSocket (ws://tcpip.epfl.ch:5006)",
  part: "6 server",
  positionals: [],
  options: {
    host: { type: "string", default: "0.0.0.0", arg: "HOST", help: "address to listen on" },
    port: { type: "string", default: "5006", arg: "PORT", help: "TCP port (0 picks a free one)" },
    text: {
      type: "boolean",
      help: "send text frames (default: binary frames, as the course's server did)",
    },
    count: {
      type: "string",
      arg: "N",
      help: "messages per CMD_short (default: random 10..20 per connection)",
    },
    seed: { type: "string", arg: "S", help: "seed of the random message count (repeatable runs)" },
    "flood-bytes": {
      type: "string",
      default: String(DEFAULT_FLOOD_BYTES),
      arg: "N",
      help: "size of the CMD_floodme text",
    },
    "flood-file": { type: "string", arg: "FILE", help: "send this file as the flood instead" },
    "idle-timeout": {
      type: "string",
      default: String(DEFAULT_IDLE_TIMEOUT),
      arg: "SECONDS",
      help: "answer 'Wrong command.' to a client silent this long",
    },
    "max-message": {
      type: "string",
      default: String(DEFAULT_MAX_MESSAGE),
      arg: "BYTES",
      help: "largest message a client may send (above it: close 1009)",
    },
  },
  description: `Each client sends one command as a WebSocket message:
  CMD_short:<d>  n messages 'This is PMU data <i>' (i = 0..n-1), one WebSocket message
                 each, d seconds apart, then a normal close (1000)
  CMD_floodme    the flood text as one message, then close
  anything else  'Wrong command.', then close
A plain HTTP request is answered 426 Upgrade Required. One log line per connection.`,
  example: "socklab ws-pmu --port 5006",
  async run(args, io) {
    const port = portOpt(args);
    const count = str(args, "count") === undefined
      ? undefined
      : numOpt(args, "count", { min: 0, max: 100_000, integer: true });
    const seed = str(args, "seed") === undefined
      ? undefined
      : numOpt(args, "seed", { min: 0, max: 2 ** 32 - 1, integer: true });
    const idleTimeout = numOpt(args, "idle-timeout", { min: 0.01, max: 3600 });
    const maxMessage = numOpt(args, "max-message", { min: 16, max: 2 ** 30, integer: true });
    const flood = await floodOf(args);
    const hostArg = str(args, "host")!;
    let hostname: string;
    try {
      hostname = (await resolveHost(hostArg))[0].address;
    } catch (e) {
      throw new RunError(errMsg(e));
    }
    const server = await startWsPmu({
      hostname,
      port,
      text: flag(args, "text"),
      count,
      seed,
      flood,
      idleTimeout,
      maxMessage,
      log: io.log,
    });
    return serveUntilStopped(io, server);
  },
};

const PMU_MESSAGE = new RegExp(`^${MESSAGE_PREFIX}\\d+$`);

export const wsPdc: Command = {
  name: "ws-pdc",
  summary: "PDC over WebSocket: sends a command, prints each message",
  part: "6 client",
  positionals: [
    { name: "server", help: "server name or address, or a full ws:// URL" },
    { name: "port", help: "server port (leave out after a ws:// URL that has one)" },
    { name: "command", help: "CMD_short:<d> or CMD_floodme", optional: true },
  ],
  options: {
    trace: {
      type: "boolean",
      help: "print each message's size, frame type and time on stderr, then totals",
    },
  },
  description: `Connects to ws://<server>:<port>/, sends <command>, prints every message on its
own line as it arrives (binary frames decoded as UTF-8; the flood whole), and exits 0 when
the server closes normally. Also: socklab ws-pdc ws://<server>:<port>/ <command>`,
  example: "socklab ws-pdc 127.0.0.1 5006 CMD_short:0",
  async run(args, io) {
    const [server, second, third] = args.positionals;
    let url: URL;
    let command: string;
    if (third === undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(server)) {
      url = targetUrl(server);
      command = second;
    } else {
      if (third === undefined) throw new UsageError("missing <command>");
      url = targetUrl(server, parsePort(second, "<port>", false));
      command = third;
    }
    const { host, port } = urlHostPort(url);
    if (port === 0) throw new UsageError("<port>: 0 is out of range (1-65535)");
    const trace = flag(args, "trace");
    const out = new PdcOutput();
    const decoder = new TextDecoder();
    if (trace) io.log(`connecting to ${url.href}, command ${JSON.stringify(command)}`);
    const result = await runWsPdc(url, command, (m) => {
      const text = decoder.decode(m.data);
      if (trace) {
        io.log(
          `message ${m.data.length} bytes (${m.binary ? "binary" : "text"}) at ${
            (m.atMs / 1000).toFixed(3)
          } s`,
        );
      }
      const piece: PmuPiece = PMU_MESSAGE.test(text)
        ? { kind: "message", index: Number(text.slice(MESSAGE_PREFIX.length)), text }
        : { kind: "text", text };
      io.write(out.render([piece]) + out.finish());
    });
    if (trace) {
      io.log(`closed by ${hostPort(host, port)}: ${closeCodeText(result.code)}`);
      io.log(`${result.messages} reads, ${result.bytes} bytes, ${result.messages} messages`);
    }
    if (!NORMAL_CLOSES.includes(result.code)) {
      throw new RunError(
        `the connection to ${hostPort(host, port)} ended with close code ${
          closeCodeText(result.code)
        } after ${result.messages} message(s)`,
      );
    }
    return 0;
  },
};
