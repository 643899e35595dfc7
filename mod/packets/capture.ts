/**
 * Recording the packets of one exchange with tcpdump (Debian's, the field's tool): a filter
 * on the exchange's port, on the interface it uses (`lo` for loopback), started and listening
 * before the first packet (tcpdump prints `listening on` on stderr once the capture is
 * active), written packet by packet (`-U`, `--immediate-mode`), and stopped with SIGINT so
 * the file is complete. tcpdump stops at SIGINT without reading what the kernel still holds
 * for it, so a loaded machine loses the exchange's last packets: on loopback, a marker
 * datagram (to a port of our own, in the filter) is sent after the exchange, tcpdump is
 * stopped once the marker is in the file, and the marker is then taken out of the file. Without tcpdump or without the privilege to capture, one line says
 * so and the command goes on without a capture.
 *
 * @module
 */
import { LineReader } from "../proc/lines.ts";
import { readPcap, writePcap } from "./pcap.ts";
import { errorMessage } from "../errors.ts";

/** What an exchange captures: its transport, the server's (or group's) port and address. */
export interface CaptureTarget {
  proto: "tcp" | "udp";
  port: number;
  /** The address the exchange goes to: picks the interface (loopback: `lo`). */
  host?: string;
  /** Stop recording after this many packets (tcpdump -c): bounds the file of a runaway sender. */
  maxPackets?: number;
}

/** A finished capture. */
export interface CaptureResult {
  file: string;
  iface: string;
  filter: string;
  /** tcpdump's own counts, when it printed them. */
  captured?: number;
  dropped?: number;
}

/** A running capture. */
export interface Capture {
  readonly file: string;
  /** The interface and the filter tcpdump was given (without the marker's part). */
  readonly iface: string;
  readonly filter: string;
  stop(): Promise<CaptureResult>;
}

/** The tcpdump to run: `$SOCKLAB_TCPDUMP`, else Debian's. */
export function tcpdumpPath(): string {
  return Deno.env.get("SOCKLAB_TCPDUMP") || "/usr/bin/tcpdump";
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  return host === "localhost" || host === "::1" || /^127\./.test(host) ||
    /^::ffff:127\./i.test(host);
}

/** The interface the kernel routes `host` through (`ip route get`), else `any`. */
async function interfaceFor(host: string | undefined): Promise<string> {
  if (host === undefined) return "any";
  if (isLoopback(host)) return "lo";
  try {
    const out = await new Deno.Command("ip", {
      args: ["-o", "route", "get", host],
      stdout: "piped",
      stderr: "null",
    }).output();
    const m = /\bdev (\S+)/.exec(new TextDecoder().decode(out.stdout));
    if (out.success && m) return m[1];
  } catch {
    // no ip(8): capture on every interface
  }
  return "any";
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** A tcpdump running for one capture. */
interface Tcpdump {
  file: string;
  iface: string;
  filter: string;
  child: Deno.ChildProcess;
  stderr: LineReader;
  /** The socket the marker datagram goes from and to (only where lo is captured). */
  marker?: Deno.DatagramConn;
}

/**
 * Start tcpdump writing the exchange's packets to `file`; resolves once it is listening.
 * Resolves null (after logging one line that says why) if it cannot capture.
 */
export async function startCapture(
  file: string,
  target: CaptureTarget,
  log: (line: string) => void,
): Promise<Capture | null> {
  const iface = await interfaceFor(target.host);
  const filter = `${target.proto} port ${target.port}`;
  // The marker goes 127.0.0.1 -> 127.0.0.1 (lo): only when lo is captured.
  const marker = iface === "lo" || iface === "any"
    ? Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 })
    : undefined;
  const fail = (why: string) => {
    log(`capture: not recording, ${why}`);
    marker?.close();
    return null;
  };
  const markerPort = (marker?.addr as Deno.NetAddr | undefined)?.port;
  const fullFilter = marker
    ? `(${filter}) or (udp and dst host 127.0.0.1 and dst port ${markerPort})`
    : filter;
  const child = await spawnTcpdump(tcpdumpArgs(iface, fullFilter, file, target.maxPackets));
  if (typeof child === "string") return fail(child);
  const stderr = new LineReader(child.stderr);
  const why = await untilListening(child, stderr);
  if (why !== null) return fail(why);
  const tcpdump: Tcpdump = { file, iface, filter, child, stderr, marker };
  let result: Promise<CaptureResult> | undefined;
  return { file, iface, filter, stop: () => result ??= stopCapture(tcpdump) };
}

/** tcpdump's arguments: live, unbuffered, a large ring, the packet cap, the file, the filter. */
function tcpdumpArgs(iface: string, filter: string, file: string, maxPackets?: number): string[] {
  // In immediate mode the kernel ring holds buffer/snaplen packets: with tcpdump's defaults
  // (2 MiB, 262144) only 8, and a burst on a loaded machine is dropped. A snap length just over
  // lo's MTU and a 32 MiB buffer hold about 500.
  const args = ["-i", iface, "-U", "--immediate-mode", "-n", "-s", "66000", "-B", "32768"];
  if (maxPackets !== undefined) args.push("-c", String(maxPackets));
  args.push("-w", file);
  // As root, Debian's tcpdump drops to the `tcpdump` user before opening the file: stay root
  // so it can write where the caller can.
  if (Deno.uid() === 0) args.push("-Z", "root");
  args.push(filter);
  return args;
}

/** tcpdump started (under setpriv where there is one), or why it cannot be. */
async function spawnTcpdump(args: string[]): Promise<Deno.ChildProcess | string> {
  const tool = tcpdumpPath();
  const missing = `${tool} is not installed (Debian: apt-get install tcpdump)`;
  if (tool.includes("/")) {
    try {
      await Deno.stat(tool);
    } catch {
      return missing;
    }
  }
  const spawn = (argv: string[]) =>
    new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  try {
    // setpriv --pdeathsig: tcpdump gets SIGINT (and completes its file) if socklab is killed
    // before it could stop it (SIGTERM, SIGKILL); the process spawns from its main thread.
    return spawn(["setpriv", "--pdeathsig", "INT", tool, ...args]);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return `cannot run setpriv: ${errorMessage(e)}`;
  }
  try {
    return spawn([tool, ...args]);
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? missing : `cannot run ${tool}: ${errorMessage(e)}`;
  }
}

function kill(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // already gone
  }
}

/** null once tcpdump says it is listening; else (it is stopped) its last words, in one line. */
async function untilListening(
  child: Deno.ChildProcess,
  stderr: LineReader,
): Promise<string | null> {
  const listening = await stderr.until(
    (lines) => lines.some((l) => /listening on/.test(l)),
    START_TIMEOUT_MS,
  );
  if (listening) return null;
  kill(child, "SIGKILL");
  await child.status;
  await stderr.done;
  const lines = stderr.lines.filter((l) => l.trim());
  const last = lines.filter((l) => l.startsWith("tcpdump:")).pop() ?? lines.pop() ?? "no output";
  const hint = /permission|not permitted/i.test(last)
    ? " (capturing needs root or CAP_NET_RAW, like Wireshark)"
    : "";
  return `${last}${hint}`;
}

/**
 * Stop tcpdump once the marker is in its file (so it wrote all before it), with SIGINT (it
 * completes the file), SIGKILL if it hangs; take the marker out; read tcpdump's counts.
 */
async function stopCapture(
  { file, iface, filter, child, stderr, marker }: Tcpdump,
): Promise<CaptureResult> {
  const tag = `socklab capture marker ${crypto.randomUUID()}`;
  let marked = false;
  if (marker) {
    try {
      await marker.send(new TextEncoder().encode(tag), marker.addr);
      marked = await fileHas(file, tag, child.status);
    } catch {
      // no marker: stop anyway
    }
    marker.close();
  }
  kill(child, "SIGINT");
  const timer = setTimeout(() => kill(child, "SIGKILL"), STOP_TIMEOUT_MS);
  await child.status;
  clearTimeout(timer);
  await stderr.done;
  if (marked) await dropMarker(file, tag);
  const count = (re: RegExp) => {
    const m = stderr.lines.map((l) => re.exec(l)).find((x) => x);
    return m ? Number(m[1]) : undefined;
  };
  const captured = count(/^(\d+) packets? captured/);
  return {
    file,
    iface,
    filter,
    captured: captured !== undefined && marked ? captured - 1 : captured,
    dropped: count(/^(\d+) packets? dropped by kernel/),
  };
}

const MARKER_TIMEOUT_MS = 3_000;
const latin1 = new TextDecoder("latin1");

/** Wait (bounded) until `file` holds `tag`: tcpdump has written everything sent before it. */
async function fileHas(file: string, tag: string, exited: Promise<unknown>): Promise<boolean> {
  let gone = false;
  exited.then(() => gone = true);
  const deadline = Date.now() + MARKER_TIMEOUT_MS;
  while (!gone && Date.now() < deadline) {
    const bytes = await Deno.readFile(file).catch(() => new Uint8Array());
    if (latin1.decode(bytes).includes(tag)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** Rewrite the capture without the marker datagram. */
async function dropMarker(file: string, tag: string): Promise<void> {
  try {
    const pcap = readPcap(await Deno.readFile(file));
    const kept = pcap.records.filter((r) => !latin1.decode(r.data).includes(tag));
    await Deno.writeFile(file, writePcap(pcap.linkType, kept, pcap.snapLen));
  } catch {
    // leave the file as tcpdump wrote it
  }
}

/** The one line that tells where a capture went. */
export function captureLine(r: CaptureResult): string {
  const dropped = r.dropped
    ? `; ${r.dropped} dropped by the kernel, so the capture misses packets`
    : "";
  return `capture: ${
    r.captured ?? "?"
  } packets of '${r.filter}' on ${r.iface} in ${r.file}${dropped}`;
}
