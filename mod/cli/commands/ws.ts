/**
 * CLI of part 6: `ws-pmu` (the PMU over WebSocket, ws://tcpip.epfl.ch:5006) and `ws-pdc`
 * (the PDC over WebSocket).
 *
 * @module
 */
import { defineCommand, flag, parsePort } from "../command.ts";
import { errorMessage, RunError, UsageError } from "../../errors.ts";
import { listenOptions } from "../options.ts";
import { CAPTURE_OPTIONS, captureExchange } from "../capture.ts";
import { hostPort, resolveHost } from "../../net/address.ts";
import { MESSAGE_PREFIX, PdcOutput, type PmuPiece, refusalOf } from "../../pmu/mod.ts";
import { pmuServerOptions, servePmu } from "../pmu.ts";
import { startWsPmu } from "../../ws/ws_pmu.ts";
import { closeCodeText, NORMAL_CLOSES } from "../../ws/close.ts";
import { runWsPdc, targetUrl, urlHostPort } from "../../ws/ws_pdc.ts";

/** `pmu`'s option table for ws-pmu: no --split; --max-command is the WebSocket message cap. */
function wsPmuOptions() {
  const { split: _split, ...options } = pmuServerOptions;
  return {
    ...options,
    "idle-timeout": {
      ...options["idle-timeout"],
      help: "answer 'Wrong command.' to a client that sends no command within this time; drop " +
        "a connection that completes no WebSocket handshake within it",
    },
    "max-connections": {
      ...options["max-connections"],
      help: "most connections at once; one more is answered 503 Service Unavailable (logged)",
    },
    "max-command": {
      ...options["max-command"],
      help: "largest message a client may send; a larger one is closed with 1009 (message too big)",
    },
  };
}

/** ws-pmu's address: the first of `host`'s, IPv4 or IPv6 (node:http listens on either). */
async function firstAddress(host: string): Promise<string> {
  try {
    return (await resolveHost(host))[0].address;
  } catch (e) {
    throw new RunError(errorMessage(e));
  }
}

export const wsPmu = defineCommand({
  name: "ws-pmu",
  summary: "PMU server over WebSocket (ws://tcpip.epfl.ch:5006)",
  part: "6 server",
  positionals: [],
  options: {
    ...listenOptions("0.0.0.0", 5006, "TCP"),
    text: {
      type: "boolean",
      help: "send text frames (default: binary frames, as the course's server did)",
    },
    // The PMU options of `pmu` (part 2), less the TCP-only --split.
    ...wsPmuOptions(),
  },
  description: `Each client sends one command as a WebSocket message:
  CMD_short:<d>  n messages 'This is PMU data <i>' (i = 0..n-1), one WebSocket message
                 each, d seconds apart, then a normal close (1000)
  CMD_floodme    the flood text as one message, then close
  anything else  'Wrong command.', then close
A plain HTTP request is answered 426 Upgrade Required. One log line per connection.`,
  example: "socklab ws-pmu --port 5006",
  run: (args, io) =>
    servePmu(
      args,
      io,
      firstAddress,
      (options) => startWsPmu({ ...options, text: flag(args, "text") }),
    ),
});

const PMU_MESSAGE = new RegExp(`^${MESSAGE_PREFIX}\\d+$`);

export const wsPdc = defineCommand({
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
    ...CAPTURE_OPTIONS,
  },
  description: `Connects to ws://<server>:<port>/, sends <command>, prints every message on its
own line as it arrives (binary frames decoded as UTF-8; the flood whole, byte for byte, with
nothing added), and exits 0 when the server closes normally. 'Wrong command.', or a server
that speaks another protocol (the plain PMU, TLS), is one line on stderr and exit 1.
Also: socklab ws-pdc ws://<server>:<port>/ <command>`,
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
    parsePort(String(port), "<port>", false); // a ws:// URL's port 0 is refused like <port>'s
    await using _capture = await captureExchange(args, io, { proto: "tcp", port, host });
    const trace = flag(args, "trace");
    const out = new PdcOutput();
    const decoder = new TextDecoder();
    let received = 0;
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
      // A refusal as the first message is an error (stderr, exit 1), as for pdc.
      const refusal = received++ === 0 ? refusalOf(text) : null;
      if (refusal) throw new RunError(`${hostPort(host, port)}: the server answered '${refusal}'`);
      const piece: PmuPiece = PMU_MESSAGE.test(text)
        ? { kind: "message", index: Number(text.slice(MESSAGE_PREFIX.length)), text }
        : { kind: "text", text };
      // Each message starts a line; the last one is printed as it is (a flood byte for byte).
      io.write((piece.kind === "text" ? out.endLine() : "") + out.render([piece]));
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
});
