/**
 * CLI of the lab's analysis half: `packets FILE`, a pcap file (from `--capture`, tcpdump
 * or Wireshark) shown in the lab's terms. The decoders are imported when the command runs
 * (node:crypto costs at every start otherwise).
 *
 * @module
 */
import { type Command, flag, RunError } from "../cli/command.ts";
import type { Io } from "../cli/io.ts";

/** Print the packet view of the pcap `bytes` (text, or JSON with `json`). */
export async function printPackets(io: Io, bytes: Uint8Array, json: boolean, what: string) {
  const { readPcap, PcapError } = await import("./pcap.ts");
  const { analyze, formatAnalysis } = await import("./analyze.ts");
  let file;
  try {
    file = readPcap(bytes);
  } catch (e) {
    if (e instanceof PcapError) throw new RunError(`${what}: ${e.message}`);
    throw e;
  }
  const an = analyze(file);
  if (json) io.out(JSON.stringify(an, null, 2));
  else for (const line of formatAnalysis(an)) io.out(line);
}

export const packets: Command = {
  name: "packets",
  summary: "show a packet capture in the lab's terms (the Wireshark questions)",
  part: "2-6 analysis",
  positionals: [{ name: "file", help: "pcap file (from --capture, tcpdump -w or Wireshark)" }],
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
Reads pcap (not pcapng) with Ethernet, Linux cooked (v1, v2), loopback or raw IP links.`,
  example: "socklab packets pdc.pcap",
  async run(args, io) {
    const path = args.positionals[0];
    const { mustReadBytes } = await import("../tls/ca.ts");
    const bytes = await mustReadBytes(path, "pcap file");
    await printPackets(io, bytes, flag(args, "json"), path);
    return 0;
  },
};
