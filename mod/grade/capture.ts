/**
 * `grade --capture`: the packets of every run of the program, one pcap per
 * run named after its test (`<slug>.pcap`), recorded by the clients' one
 * capture (mod/packets/capture.ts: tcpdump, a filter on the run's port on the
 * interface it uses, started before the program). Isolated, the engine runs
 * as root in its own network namespace, so tcpdump on its `lo` sees that job
 * only. The captures come back as bytes in the outcome (the isolated engine
 * answers in JSON: base64 there) and are capped: {@link CAPTURE_LIMITS}.
 * Without tcpdump or the privilege: one line says so, and grading goes on.
 *
 * @module
 */
import { type CaptureTarget, startCapture } from "../packets/capture.ts";
import { readPcap, writePcap } from "../packets/pcap.ts";

/** One run's packets. */
export interface GradeCapture {
  /** The test (run) it belongs to. */
  test: string;
  /** `<slug of the test>.pcap`, unique within the outcome. */
  name: string;
  bytes: Uint8Array;
}

/**
 * Bounds: packets tcpdump records per run (a runaway sender cannot fill the
 * engine's tmpfs), bytes kept per capture (the first packets, whole), bytes
 * kept in all (later captures are left out).
 */
export const CAPTURE_LIMITS = { packets: 2000, fileBytes: 4 * 2 ** 20, totalBytes: 16 * 2 ** 20 };

/** `CMD_short:0, few messages` -> `cmd_short-0-few-messages`. */
export function slug(test: string): string {
  return test.toLowerCase().replace(/[^a-z0-9_]+/g, "-").replace(/^-+|-+$/g, "") || "run";
}

/** The pcap `bytes` cut to its first whole packets within `max` bytes (unchanged if within). */
export function capPcap(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  const pcap = readPcap(bytes);
  const kept = [];
  let size = 24; // the file header
  for (const r of pcap.records) {
    size += 16 + r.data.length;
    if (size > max) break;
    kept.push(r);
  }
  return writePcap(pcap.linkType, kept, pcap.snapLen);
}

/** A stop function for one run's capture (a no-op when nothing records). */
export type StopCapture = () => Promise<void>;

/** The captures of one grading: files in `dir` while it runs, bytes at the end. */
export class RunCaptures {
  readonly #dir: string;
  readonly #log: (line: string) => void;
  #off = false;
  #total = 0;
  readonly #names = new Set<string>();
  readonly captures: GradeCapture[] = [];

  constructor(dir: string, log: (line: string) => void) {
    this.#dir = dir;
    this.#log = log;
  }

  /** Start recording `test`'s run; call the result once its exchange is over. */
  async start(test: string, target: CaptureTarget): Promise<StopCapture> {
    if (this.#off) return () => Promise.resolve();
    let name = `${slug(test)}.pcap`;
    for (let i = 2; this.#names.has(name); i++) name = `${slug(test)}-${i}.pcap`;
    this.#names.add(name);
    const file = `${this.#dir}/${name}`;
    const capture = await startCapture(
      file,
      { maxPackets: CAPTURE_LIMITS.packets, ...target },
      // Said once, also when runs at once start their captures together.
      (line) => {
        if (!this.#off) this.#log(`${line}; grading goes on without captures`);
        this.#off = true;
      },
    );
    if (!capture) {
      this.#off = true; // no tcpdump or no privilege: said once, not per run
      return () => Promise.resolve();
    }
    return async () => {
      await capture.stop();
      let bytes: Uint8Array = await Deno.readFile(file).catch(() => new Uint8Array());
      await Deno.remove(file).catch(() => {});
      if (bytes.length === 0) return;
      if (bytes.length > CAPTURE_LIMITS.fileBytes) {
        bytes = capPcap(bytes, CAPTURE_LIMITS.fileBytes);
        this.#log(`capture: ${name} cut to its first ${CAPTURE_LIMITS.fileBytes} bytes`);
      }
      if (this.#total + bytes.length > CAPTURE_LIMITS.totalBytes) {
        this.#log(
          `capture: ${name} left out (captures are kept up to ${CAPTURE_LIMITS.totalBytes} bytes in all)`,
        );
        return;
      }
      this.#total += bytes.length;
      this.captures.push({ test, name, bytes });
    };
  }
}
