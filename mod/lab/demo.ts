/**
 * `socklab demo`: every part of the lab end to end, in one process, on free
 * loopback ports, with the servers' and clients' own functions. Multicast
 * uses TTL 0 with loopback on, so nothing leaves the host.
 *
 * @module
 */
import { within } from "../deadline.ts";
import { freeUdpPort } from "../net/ports.ts";
import { parseDatagram } from "../multicast/datagram.ts";
import { startReceiver } from "../multicast/receiver.ts";
import { DEFAULT_SCRIPT } from "../multicast/script.ts";
import { openMulticastSender } from "../multicast/sender.ts";
import { startTv } from "../multicast/tv.ts";
import { floodText } from "../pmu/flood.ts";
import { pmuMessages } from "../pmu/protocol.ts";
import { echoExchange, startEchoServer } from "../tcp/echo.ts";
import { pdcExchange } from "../tcp/pdc.ts";
import { startPmuServer } from "../tcp/pmu.ts";
import { makeTestIdentity } from "../tls/ca.ts";
import { connectSecure, lenientClose, loadCaCert } from "../tls/client.ts";
import { loadIdentity, startSecurePmu } from "../tls/server.ts";
import { runWsPdc, targetUrl } from "../ws/ws_pdc.ts";
import { startWsPmu } from "../ws/ws_pmu.ts";
import { sendHello, startHelloReceiver } from "../udp/hello.ts";
import { pdcTargets, resetExchange } from "../udp/pdc_udp.ts";
import { startPmuUdp } from "../udp/pmu_udp.ts";
import { errorMessage } from "../errors.ts";

/** The n messages of a `CMD_short` answer, in order, and nothing else? */
function isPmuAnswer(lines: string[], n: number): boolean {
  return lines.length === n && pmuMessages(n).every((m, i) => lines[i] === m);
}

/** One step of the demo: a lab part, run end to end. */
export interface DemoStep {
  part: string;
  title: string;
  /** Runs the part; `say` adds a transcript line. Throws (or returns false) on failure. */
  run(say: (line: string) => void): Promise<boolean>;
}

const HELLO_STEP: DemoStep = {
  part: "1.1",
  title: "UDP datagram (Codes A and B)",
  async run(say) {
    let got!: (v: string) => void;
    const received = new Promise<string>((r) => got = r);
    await using recv = startHelloReceiver({
      hostname: "127.0.0.1",
      port: 0,
      onDatagram: (from, text) => got(`From: ${from}  Received: ${text}`),
    });
    say(`hello-recv listening on ${recv.address}`);
    await sendHello("127.0.0.1", recv.port, "Hello, Romeo! ");
    say("hello-send: Message sent");
    say(`hello-recv: ${await within(received, 5000, "hello-recv")}`);
    return true;
  },
};

const ECHO_STEP: DemoStep = {
  part: "1.2",
  title: "TCP echo, read 8 bytes at a time (Codes C and D)",
  async run(say) {
    await using server = await startEchoServer({ hostname: "127.0.0.1", port: 0 });
    const msg = "Oh Romeo, Romeo! wherefore art thou Romeo?";
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const reads: string[] = [];
    const echoed = await within(echoExchange(conn, msg, (c) => reads.push(c)), 5000, "echo");
    say(`echo-client sent ${msg.length} bytes, got them back in ${reads.length} reads:`);
    say(`  ${reads.map((r) => JSON.stringify(r)).join(" ")}`);
    return echoed === msg;
  },
};

/** Part 2: n messages written separately arrive cut anywhere; the PDC re-frames them. */
const PMU_STEP: DemoStep = {
  part: "2",
  title: "PMU over TCP: a stream, re-framed into messages",
  async run(say) {
    await using server = await startPmuServer({
      hostname: "127.0.0.1",
      port: 0,
      count: 15,
      split: "random",
      seed: 3,
    });
    const exchange = async (command: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      let text = "";
      try {
        const stats = await within(pdcExchange(conn, command, (t) => text += t), 10_000, command);
        return { text, stats };
      } finally {
        try {
          conn.close();
        } catch { /* closed by the exchange */ }
      }
    };
    const short = await exchange("CMD_short:0");
    const lines = short.text.trimEnd().split("\n");
    say(`pmu --count 15 --split random; pdc ${server.address} CMD_short:0:`);
    say(`  ${lines[0]} | ${lines[1]} | ... | ${lines.at(-1)}`);
    say(
      `  ${short.stats.messages} messages from ${short.stats.reads} reads of ${short.stats.bytes} bytes`,
    );
    const flood = await exchange("CMD_floodme");
    const want = floodText();
    // pdc prints the flood as sent, byte for byte.
    const exact = flood.text === want;
    say(`CMD_floodme: ${flood.stats.bytes} bytes in ${flood.stats.reads} reads, exact: ${exact}`);
    return isPmuAnswer(lines, 15) && exact;
  },
};

/** Part 5: a lab CA and a certificate made on the fly; the client checks the chain and the name. */
const TLS_STEP: DemoStep = {
  part: "5",
  title: "secure PMU over TLS, certificate signed by the lab CA (openssl)",
  async run(say) {
    const dir = await Deno.makeTempDir({ prefix: "socklab-demo-" });
    try {
      const files = await makeTestIdentity(dir);
      say("ca init, ca request, ca sign: a lab CA and a certificate for localhost, 127.0.0.1, ::1");
      const identity = await loadIdentity(files.cert, files.key);
      await using server = await startSecurePmu({
        hostname: "127.0.0.1",
        port: 0,
        count: 10,
        identity,
      });
      const caCert = await loadCaCert(files.ca);
      const conn = await connectSecure({
        address: "127.0.0.1",
        port: server.port,
        name: "localhost",
        caCert,
        caFile: files.ca,
      });
      say(`secure-pdc: TLS to localhost:${server.port}, chain and name checked against the lab CA`);
      let text = "";
      const stats = await within(
        pdcExchange(lenientClose(conn), "CMD_short:0", (t) => text += t),
        10_000,
        "secure-pdc",
      );
      const lines = text.trimEnd().split("\n");
      say(`  ${lines[0]} | ... | ${lines.at(-1)} (${stats.messages} messages)`);
      return isPmuAnswer(lines, 10);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};

/** Part 6: the same commands over WebSocket; each PMU message is one WebSocket message. */
const WS_STEP: DemoStep = {
  part: "6",
  title: "PMU over WebSocket (npm ws): one message per WebSocket message",
  async run(say) {
    await using server = await startWsPmu({ hostname: "127.0.0.1", port: 0, count: 12, seed: 6 });
    const got: string[] = [];
    let binary = true;
    const url = targetUrl("127.0.0.1", server.port);
    const r = await within(
      runWsPdc(url, "CMD_short:0", (m) => {
        binary &&= m.binary;
        got.push(new TextDecoder().decode(m.data));
      }),
      10_000,
      "ws-pdc",
    );
    say(
      `ws-pdc ${url.href} CMD_short:0: ${r.messages} messages (${
        binary ? "binary" : "text"
      } frames), close ${r.code}`,
    );
    say(`  ${got[0]} | ${got[1]} | ... | ${got.at(-1)}`);
    return r.code === 1000 && isPmuAnswer(got, 12);
  },
};

/** Part 3: an IPv6-only lossy server; the client, given localhost, retransmits on both families. */
const UDP_STEP: DemoStep = {
  part: "3",
  title: "UDP RESET with loss and retransmission, IPv4 and IPv6",
  async run(say) {
    await using server = await startPmuUdp({
      hosts: { 6: "::1" },
      port: 0,
      family: "6",
      drop: 0.5,
      dropFirst: 1,
      seed: 20211104,
    });
    say(`pmu-udp serving IPv6 only on ${server.address}, the first answer lost, then half`);
    const targets = await pdcTargets("localhost");
    const r = await within(
      resetExchange({
        targets,
        port: server.port,
        command: "RESET:20",
        timeout: 0.2,
        maxTries: 20,
        log: (l) => say(`pdc-udp: ${l}`),
      }),
      10_000,
      "pdc-udp",
    );
    say(
      `pdc-udp localhost ${server.port}: ${r.answer} from ${r.from} after ${r.attempts} attempts`,
    );
    return r.offset !== null && r.offset >= 0 && r.offset <= 20 && r.attempts >= 2;
  },
};

/** Part 4 in the main namespace: TTL 0 from 127.0.0.1, loopback on; nothing reaches a wire. */
const MULTICAST_STEP: DemoStep = {
  part: "4",
  title: "multicast TV, receiver and sender (TTL 0: this host only)",
  async run(say) {
    const group = "224.1.1.1";
    const port = freeUdpPort();
    const got: string[] = [];
    let wake: (() => void) | undefined;
    await using _receiver = await startReceiver({
      group,
      port,
      iface: "127.0.0.1",
      onDatagram: (data) => {
        const d = parseDatagram(data);
        got.push(d.id + d.text);
        wake?.();
      },
    });
    const waitFor = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`${what}: not received within 5 s`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
      }
    };
    say(`receiver joined ${group}:${port} on 127.0.0.1`);
    const lines = DEFAULT_SCRIPT.split("\n").filter((l) => l.trim()).slice(0, 4);
    {
      const tvOptions = { group, port, id: "swcmTV", interval: 0.05, ttl: 0, iface: "127.0.0.1" };
      await using _tv = await startTv({ ...tvOptions, lines });
      await waitFor(() => got.length >= 3, "tv");
    }
    for (const l of got.slice(0, 3)) say(`receiver: ${l}`);
    const tvOk = got.slice(0, 3).every((l, i) => l === "swcmTV" + lines[i].trimEnd());
    const sender = await openMulticastSender({ group, port, ttl: 0, iface: "127.0.0.1" });
    const before = got.length;
    try {
      await sender.send(new TextEncoder().encode("123456What light through yonder socket breaks?"));
    } finally {
      sender.close();
    }
    say("sender 123456: What light through yonder socket breaks?");
    await waitFor(() => got.slice(before).some((l) => l.startsWith("123456")), "sender");
    const mine = got.slice(before).find((l) => l.startsWith("123456"))!;
    say(`receiver: ${mine}`);
    return tvOk && mine === "123456What light through yonder socket breaks?";
  },
};

/** Every part, in the lab's order. */
export const DEMO_STEPS: DemoStep[] = [
  HELLO_STEP,
  ECHO_STEP,
  PMU_STEP,
  UDP_STEP,
  MULTICAST_STEP,
  TLS_STEP,
  WS_STEP,
];

export interface DemoResult {
  part: string;
  title: string;
  passed: boolean;
  ms: number;
}

/** Run every step; `out` gets the transcript. */
export async function runDemo(out: (line: string) => void): Promise<DemoResult[]> {
  const results: DemoResult[] = [];
  for (const step of DEMO_STEPS) {
    out(`== Part ${step.part}: ${step.title}`);
    const t0 = performance.now();
    let passed = false;
    try {
      passed = await step.run((l) => out(`   ${l}`));
    } catch (e) {
      out(`   error: ${errorMessage(e)}`);
    }
    const ms = Math.round(performance.now() - t0);
    out(`   ${passed ? "PASS" : "FAIL"} (${ms} ms)`);
    results.push({ part: step.part, title: step.title, passed, ms });
  }
  return results;
}
