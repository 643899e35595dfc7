/**
 * CLI of the lab's analysis half: `packets FILE`, a pcap file (from `--capture`, tcpdump
 * or Wireshark) shown in the lab's terms (printPackets, in ../capture.ts).
 *
 * @module
 */
import { defineCommand, flag } from "../command.ts";
import { printPackets } from "../capture.ts";
import { readInput } from "../../net/files.ts";

export const packets = defineCommand({
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
});
