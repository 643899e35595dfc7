/**
 * `socklab demo`: every part of the lab end to end, in one process, on free
 * loopback ports, with the servers' and clients' own functions. Multicast
 * uses TTL 0 with loopback on, so nothing leaves the host.
 *
 * @module
 */
import { parseDatagram } from "../multicast/datagram.ts";
import { startReceiver } from "../multicast/receiver.ts";
import { DEFAULT_SCRIPT } from "../multicast/script.ts";
import { openMulticastSender } from "../multicast/sender.ts";
import { startTv } from "../multicast/tv.ts";
import { echoExchange, startEchoServer } from "../tcp/echo.ts";
import { sendHello, startHelloReceiver } from "../udp/hello.ts";
import { pdcTargets, resetExchange } from "../udp/pdc_udp.ts";
import { startPmuUdp } from "../udp/pmu_udp.ts";

/** One step of the demo: a lab part, run end to end. */
export interface DemoStep {
  part: string;
  title: string;
  /** Runs the part; `say` adds a transcript line. Throws (or returns false) on failure. */
  run(say: (line: string) => void): Promise<boolean>;
}

/** Wait for `p`, failing after `ms` with `what`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(t);
  }
}

export const DEMO_STEPS: DemoStep[] = [
  {
    part: "1.1",
    title: "UDP datagram (Codes A and B)",
    async run(say) {
      let got!: (v: string) => void;
      const received = new Promise<string>((r) => got = r);
      const recv = startHelloReceiver({
        hostname: "127.0.0.1",
        port: 0,
        onDatagram: (from, text) => got(`From: ${from}  Received: ${text}`),
      });
      try {
        say(`hello-recv listening on ${recv.address}`);
        await sendHello("127.0.0.1", recv.port, "Hello, Romeo! ");
        say("hello-send: Message sent");
        say(`hello-recv: ${await within(received, 5000, "hello-recv")}`);
        return true;
      } finally {
        await recv.close();
      }
    },
  },
  {
    part: "1.2",
    title: "TCP echo, read 8 bytes at a time (Codes C and D)",
    async run(say) {
      const server = await startEchoServer({ hostname: "127.0.0.1", port: 0 });
      try {
        const msg = "Oh Romeo, Romeo! wherefore art thou Romeo?";
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        const reads: string[] = [];
        try {
          const echoed = await within(echoExchange(conn, msg, (c) => reads.push(c)), 5000, "echo");
          say(`echo-client sent ${msg.length} bytes, got them back in ${reads.length} reads:`);
          say(`  ${reads.map((r) => JSON.stringify(r)).join(" ")}`);
          return echoed === msg;
        } finally {
          conn.close();
        }
      } finally {
        await server.close();
      }
    },
  },
];

/** A UDP port that was free a moment ago. */
function freeUdpPort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** Part 3: an IPv6-only lossy server; the client, given localhost, retransmits on both families. */
const UDP_STEP: DemoStep = {
  part: "3",
  title: "UDP RESET with loss and retransmission, IPv4 and IPv6",
  async run(say) {
    const server = await startPmuUdp({
      hosts: { 6: "::1" },
      port: 0,
      family: "6",
      drop: 0.5,
      dropFirst: 1,
      seed: 20211104,
    });
    try {
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
    } finally {
      await server.close();
    }
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
    const receiver = await startReceiver({
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
    try {
      say(`receiver joined ${group}:${port} on 127.0.0.1`);
      const lines = DEFAULT_SCRIPT.split("\n").filter((l) => l.trim()).slice(0, 4);
      const tv = await startTv({
        group,
        port,
        id: "swcmTV",
        interval: 0.05,
        ttl: 0,
        iface: "127.0.0.1",
        lines,
      });
      try {
        await waitFor(() => got.length >= 3, "tv");
      } finally {
        await tv.close();
      }
      for (const l of got.slice(0, 3)) say(`receiver: ${l}`);
      const tvOk = got.slice(0, 3).every((l, i) => l === "swcmTV" + lines[i].trimEnd());
      const sender = await openMulticastSender({ group, port, ttl: 0, iface: "127.0.0.1" });
      const before = got.length;
      try {
        await sender.send(
          new TextEncoder().encode("123456What light through yonder socket breaks?"),
        );
      } finally {
        sender.close();
      }
      say("sender 123456: What light through yonder socket breaks?");
      await waitFor(() => got.slice(before).some((l) => l.startsWith("123456")), "sender");
      const mine = got.slice(before).find((l) => l.startsWith("123456"))!;
      say(`receiver: ${mine}`);
      return tvOk && mine === "123456What light through yonder socket breaks?";
    } finally {
      await receiver.close();
    }
  },
};

DEMO_STEPS.push(UDP_STEP, MULTICAST_STEP);

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
      out(`   error: ${e instanceof Error ? e.message : e}`);
    }
    const ms = Math.round(performance.now() - t0);
    out(`   ${passed ? "PASS" : "FAIL"} (${ms} ms)`);
    results.push({ part: step.part, title: step.title, passed, ms });
  }
  return results;
}
