/**
 * CLI of part 4: `tv` (the multicast TV server), `receiver` (4.1) and
 * `sender` (4.2).
 *
 * @module
 */
import { readInputText } from "../../net/files.ts";
import { defineCommand, numOpt, parseChoice, parsePort, portOpt, str } from "../command.ts";
import { RunError, UsageError } from "../../errors.ts";
import { serveUntilStopped } from "../serve.ts";
import { CAPTURE_OPTIONS, captureExchange } from "../capture.ts";
import { hostPort } from "../../net/address.ts";
import {
  type Format,
  formatDatagram,
  FORMATS,
  oneLine,
  oversizedLines,
  parseGroup,
  parseId,
  parseIface,
  parseSciper,
  parseScript,
} from "../../multicast/datagram.ts";
import { startReceiver } from "../../multicast/receiver.ts";
import { DEFAULT_SCRIPT } from "../../multicast/script.ts";
import { sendLines } from "../../multicast/sender.ts";
import { startTv } from "../../multicast/tv.ts";

const TTL_HELP = "multicast TTL, 0-255 (0: this host only; each router on the way takes 1)";

function ifaceOpt(raw: string | undefined): string | undefined {
  return raw === undefined ? undefined : parseIface(raw);
}

async function readScript(path: string | undefined): Promise<string[]> {
  if (path === undefined) return parseScript(DEFAULT_SCRIPT);
  const text = await readInputText(path, "cannot read script");
  const lines = parseScript(text);
  if (lines.length === 0) throw new RunError(`script ${path} is empty`);
  return lines;
}

export const tv = defineCommand({
  name: "tv",
  summary: "multicast TV: a play, one line per datagram (the Swisscom TV server)",
  part: "4 server",
  positionals: [],
  options: {
    group: { type: "string", default: "224.1.1.1", arg: "GROUP", help: "multicast group" },
    port: { type: "string", default: "10505", arg: "PORT", help: "UDP port of the group" },
    id: { type: "string", default: "swcmTV", arg: "ID", help: "6-character ID of every datagram" },
    interval: {
      type: "string",
      default: "3",
      arg: "SECONDS",
      help: "seconds between two lines (fractions allowed)",
    },
    ttl: { type: "string", default: "1", arg: "TTL", help: TTL_HELP },
    script: {
      type: "string",
      arg: "FILE",
      help: "the play to send, one line per datagram (default: a built-in scene)",
    },
    iface: {
      type: "string",
      arg: "IPv4",
      help: "send from the interface with this address (default: the routing table decides)",
    },
  },
  description: `Every interval sends <id><line> to the group (e.g. 'swcmTVBut soft! what
packet...'); a blank line goes out as the bare ID. After the last line it sends
<id>RWND, waits 3 intervals and starts again. Multicast loopback is on, so
receivers on this host hear it. Prints 'sending to <group>:<port>' on stderr
once it runs, and every datagram sent.`,
  example: "socklab tv --group 224.1.1.1 --port 10505 --interval 3",
  async run(args, io) {
    const group = parseGroup(str(args, "group"), "--group");
    const port = portOpt(args, "port", false);
    const id = parseId(str(args, "id"));
    const interval = numOpt(args, "interval", { min: 0, max: 3600 });
    if (interval <= 0) throw new UsageError(`--interval: must be more than 0 seconds`);
    const ttl = numOpt(args, "ttl", { min: 0, max: 255, integer: true });
    const iface = ifaceOpt(str(args, "iface"));
    const lines = await readScript(str(args, "script"));
    const tooLong = oversizedLines(lines, id);
    if (tooLong.length) {
      throw new RunError(`script line ${tooLong[0]} is too long for one datagram`);
    }
    const server = await startTv({
      group,
      port,
      id,
      interval,
      ttl,
      lines,
      iface,
      log: (l) => io.log(oneLine(l)),
    });
    return serveUntilStopped(io, server, `sending to ${server.address} (TTL ${ttl})`);
  },
});

export const receiver = defineCommand({
  name: "receiver",
  summary: "join a multicast group and print every datagram",
  part: "4.1",
  positionals: [
    { name: "group", help: "multicast group to join, e.g. 224.1.1.1" },
    { name: "port", help: "UDP port to listen on, e.g. 10505" },
  ],
  options: {
    format: {
      type: "string",
      default: "raw",
      arg: FORMATS.join("|"),
      help: "raw: ID then text; split: '<id> | <text>'; json: one object a line with the sender",
    },
    iface: {
      type: "string",
      arg: "IPv4",
      help: "join on the interface with this address (default: any, the kernel chooses)",
    },
    ...CAPTURE_OPTIONS,
  },
  description: `Prints each datagram on one line as it arrives ('swcmTVBut soft! what
packet...'). Shares the port with other receivers on this host. A datagram that
is short, not UTF-8, or holds line breaks is still one line: invalid bytes show
as U+FFFD, line breaks as \\n, other control characters as \\xNN.`,
  example: "socklab receiver 224.1.1.1 10505",
  async run(args, io) {
    const group = parseGroup(args.positionals[0]);
    const port = parsePort(args.positionals[1], "<port>", false);
    const format = parseChoice(str(args, "format"), "--format", FORMATS) as Format;
    const iface = ifaceOpt(str(args, "iface"));
    const host = iface && iface !== "0.0.0.0" ? iface : group;
    await using _capture = await captureExchange(args, io, { proto: "udp", port, host });
    const server = await startReceiver({
      group,
      port,
      iface,
      onDatagram: (data, from) => io.out(formatDatagram(data, format, from)),
    });
    return serveUntilStopped(io, server);
  },
});

export const sender = defineCommand({
  name: "sender",
  summary: "send each line of stdin to a multicast group as <sciper><line>",
  part: "4.2",
  positionals: [
    { name: "group", help: "multicast group, e.g. 224.1.1.1" },
    { name: "port", help: "UDP port of the group, e.g. 10505" },
    { name: "sciper", help: "your SCIPER (CAMIPRO) number, exactly 6 digits" },
  ],
  options: {
    ttl: { type: "string", default: "1", arg: "TTL", help: TTL_HELP },
    iface: {
      type: "string",
      arg: "IPv4",
      help: "send from the interface with this address (default: the routing table decides)",
    },
    ...CAPTURE_OPTIONS,
  },
  description: `Reads stdin until EOF (Ctrl-D) and sends one datagram per line: the 6-digit
SCIPER, then the line's bytes as typed (without the line break). Multicast
loopback is on, so receivers on this host (yours, socklab's) hear it.`,
  example: "socklab sender 224.1.1.1 10505 123456",
  async run(args, io) {
    const group = parseGroup(args.positionals[0]);
    const port = parsePort(args.positionals[1], "<port>", false);
    const sciper = parseSciper(args.positionals[2]);
    const ttl = numOpt(args, "ttl", { min: 0, max: 255, integer: true });
    const iface = ifaceOpt(str(args, "iface"));
    const host = iface && iface !== "0.0.0.0" ? iface : group;
    await using _capture = await captureExchange(args, io, { proto: "udp", port, host });
    io.log(
      `sending to ${hostPort(group, port)} as ${sciper} (TTL ${ttl}): one datagram per line, ` +
        `Ctrl-D to end`,
    );
    const decoder = new TextDecoder();
    let skipped = 0;
    const count = await sendLines({
      group,
      port,
      ttl,
      iface,
      sciper,
      input: Deno.stdin.readable,
      onSent: (d) => io.log(`sent: ${oneLine(decoder.decode(d))}`),
      onSkipped: (why) => {
        skipped++;
        io.log(`socklab sender: error: ${why}`);
      },
    });
    io.log(`sent ${count} datagram(s)${skipped ? `, skipped ${skipped} line(s) too long` : ""}`);
    // A skipped line is a failure a script must see, once every other line is sent.
    return skipped ? 1 : 0;
  },
});
