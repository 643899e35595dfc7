/**
 * `socklab demo`: every part of the lab end to end, in one process, on free
 * loopback ports, with the servers' and clients' own functions. Multicast
 * uses TTL 0 with loopback on, so nothing leaves the host.
 *
 * @module
 */
import { echoExchange, startEchoServer } from "../tcp/echo.ts";
import { sendHello, startHelloReceiver } from "../udp/hello.ts";

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
