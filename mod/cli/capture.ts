/**
 * `--capture FILE` and `--packets` of every client that can record its exchange: tcpdump
 * (mod/packets/capture.ts) runs around the exchange, and the recording is shown in the
 * lab's terms like `socklab packets` (printPackets, which that command uses too). The
 * capture is imported when asked for, the decoders when a recording is shown (every module
 * loaded costs at every start of every client: node:crypto most).
 *
 * @module
 */
import { type Args, flag, type Options, str } from "./command.ts";
import { errorMessage, RunError } from "../errors.ts";
import type { Io } from "./io.ts";
import type { CaptureTarget } from "../packets/capture.ts";

/** `--capture FILE` and `--packets`, shared by every client that can record its exchange. */
export const CAPTURE_OPTIONS = {
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
} satisfies Options;

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
  const { captureLine, startCapture } = await import("../packets/capture.ts");
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
  const { readPcap, PcapError } = await import("../packets/pcap.ts");
  const { analyze, formatAnalysis } = await import("../packets/analyze.ts");
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
