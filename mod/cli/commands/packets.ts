/**
 * CLI of the lab's analysis half: `packets FILE`, a pcap file (from `--capture`, tcpdump
 * or Wireshark) shown in the lab's terms. The decoders are imported when the command runs
 * (node:crypto costs at every start otherwise).
 *
 * @module
 */
import { type Args, type Command, flag, str } from "../command.ts";
import { errorMessage, RunError } from "../../errors.ts";
import type { Io } from "../io.ts";
import { captureLine, type CaptureTarget, startCapture } from "../../packets/capture.ts";
import { readInput } from "../../net/files.ts";

/** `--capture FILE` and `--packets`, shared by every client that can record its exchange. */
export const CAPTURE_OPTIONS: Command["options"] = {
  capture: {
    type: "string",
    arg: "FILE",
    help:
      "record this exchange's packets into a pcap file for Wireshark (tcpdump; needs root or CAP_NET_RAW)",
  },
  packets: {
    type: "boolean",
    help: "after the exchange, show its packets on stderr like 'socklab packets'",
  },
};

/**
 * Start recording the exchange if `--capture` or `--packets` asks; disposing of the result
 * stops the capture, says where it went and, with `--packets`, shows it on stderr. Use as
 * `await using _capture = await captureExchange(args, io, target);` before connecting.
 * Without tcpdump or the privilege: one line, and the command runs without a capture.
 */
export async function captureExchange(
  args: Args,
  io: Io,
  target: CaptureTarget,
): Promise<AsyncDisposable> {
  const file = str(args, "capture");
  const show = flag(args, "packets");
  const none = { [Symbol.asyncDispose]: () => Promise.resolve() };
  if (file === undefined && !show) return none;
  const path = file ?? await Deno.makeTempFile({ prefix: "socklab-", suffix: ".pcap" });
  const removeTemp = async () => {
    if (file === undefined) await Deno.remove(path).catch(() => {});
  };
  const capture = await startCapture(path, target, io.log);
  if (!capture) {
    await removeTemp();
    return none;
  }
  if (file !== undefined) {
    io.log(`capture: recording '${capture.filter}' on ${capture.iface} into ${file}`);
  }
  return {
    async [Symbol.asyncDispose]() {
      const result = await capture.stop();
      try {
        if (file !== undefined) io.log(captureLine(result));
        else if (result.dropped) io.log(captureLine(result));
        if (show) await printPackets(io.log, await Deno.readFile(path), false, path);
      } catch (e) {
        io.log(`capture: ${errorMessage(e)}`);
      } finally {
        await removeTemp();
      }
    },
  };
}

/** Print the packet view of the pcap `bytes` (text, or JSON with `json`) line by line. */
export async function printPackets(
  print: (line: string) => void,
  bytes: Uint8Array,
  json: boolean,
  what: string,
): Promise<void> {
  const { readPcap, PcapError } = await import("../../packets/pcap.ts");
  const { analyze, formatAnalysis } = await import("../../packets/analyze.ts");
  let file;
  try {
    file = readPcap(bytes);
  } catch (e) {
    if (e instanceof PcapError) throw new RunError(`${what}: ${e.message}`);
    throw e;
  }
  const an = analyze(file);
  if (json) print(JSON.stringify(an, null, 2));
  else for (const line of formatAnalysis(an)) print(line);
}

export const packets: Command = {
  name: "packets",
  summary: "show a packet capture in the lab's terms (the Wireshark questions)",
  part: "2-6 analysis",
  positionals: [{
    name: "file",
    help: "pcap or pcapng file (from --capture, tcpdump -w or Wireshark)",
  }],
  options: {
    json: { type: "boolean", help: "print the packets and the summary as JSON" },
  },
  description: `One line per packet: time since the first, direction (client -> server),
TCP flags, relative seq and ack, window, payload length, and what the payload holds:
PMU messages ('This is PMU data 3 .. 5'), flood bytes, the command, RESET:20 /
OFFSET:7, a multicast datagram's ID and text, TLS records (handshake messages, version,
cipher suite; the certificate when TLS 1.2 shows it), WebSocket (the HTTP upgrade, each
frame's opcode, FIN, mask and length). Then a summary per conversation: sends vs data
segments, bytes per segment, ACKs, retransmissions, handshake round trips.
Reads pcap and pcapng files with Ethernet, Linux cooked (v1, v2), loopback or raw IP links.`,
  example: "socklab packets pdc.pcap",
  async run(args, io) {
    const path = args.positionals[0];
    const bytes = await readInput(path, "pcap file", 1 << 30);
    await printPackets(io.out, bytes, flag(args, "json"), path);
    return 0;
  },
};
