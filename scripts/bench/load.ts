/**
 * The load generator of `deno task bench`, run as its own process so that it
 * never shares an event loop with the harness. Every mode is bounded in count
 * and in time and stops by itself; it talks to loopback only (the harness
 * passes 127.0.0.1). It prints one JSON document on stdout.
 *
 *   tcp-short <host> <port> --conc C --seconds T --max N --count n
 *       C lanes, each: connect, send CMD_short:0, read to EOF, check the bytes
 *       are exactly "This is PMU data 0" .. "This is PMU data n-1".
 * (UDP load is bench/udp_load.py: a blocking Python loop costs less per datagram than
 * Deno's async datagram ops, so the server stays the bottleneck.)
 *
 *   rtt <host> <port> --max N --seconds T
 *       N RESET:20 exchanges one after the other with pdc-udp's own code
 *       (resetExchange: fresh sockets each, as the CLI does), each timed.
 *   hold <host> <port> --conns N --seconds T
 *       open N idle TCP connections, print `held N` on stderr, keep them until
 *       stdin closes or T seconds pass.
 *
 * Usage: deno run -A --unstable-net scripts/bench/load.ts <mode> ...
 *
 * @module
 */
import { parseArgs } from "node:util";
import { settledWithin } from "../../mod/deadline.ts";
import { resetExchange } from "../../mod/udp/pdc_udp.ts";

const enc = new TextEncoder();

/** The exact bytes of a correct CMD_short:0 answer with `n` messages. */
export function shortExpected(n: number): Uint8Array {
  let s = "";
  for (let i = 0; i < n; i++) s += `This is PMU data ${i}`;
  return enc.encode(s);
}

function equalBytes(a: Uint8Array, b: Uint8Array, len: number): boolean {
  if (len !== b.length) return false;
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface TcpShortResult {
  ok: number;
  bad: number;
  errors: number;
  elapsedMs: number;
  rate: number;
  firstProblem?: string;
}

/** Many concurrent CMD_short:0 exchanges, each verified byte for byte. */
export async function tcpShort(
  hostname: string,
  port: number,
  conc: number,
  seconds: number,
  max: number,
  count: number,
): Promise<TcpShortResult> {
  const want = shortExpected(count);
  const cmd = enc.encode("CMD_short:0");
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let started = 0;
  let ok = 0;
  let bad = 0;
  let errors = 0;
  let firstProblem: string | undefined;
  async function lane() {
    const buf = new Uint8Array(want.length + 64);
    while (started < max && performance.now() < deadline) {
      started++;
      let conn: Deno.TcpConn | undefined;
      try {
        conn = await Deno.connect({ hostname, port });
        await conn.write(cmd);
        let len = 0;
        while (true) {
          const n = await conn.read(buf.subarray(len));
          if (n === null) break;
          len += n;
          if (len === buf.length) break;
        }
        if (equalBytes(buf, want, len)) ok++;
        else {
          bad++;
          firstProblem ??= `got ${len} bytes: ${
            new TextDecoder().decode(buf.subarray(0, Math.min(len, 80)))
          }`;
        }
      } catch (e) {
        errors++;
        firstProblem ??= String(e);
      } finally {
        try {
          conn?.close();
        } catch { /* closed */ }
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, lane));
  const elapsedMs = performance.now() - start;
  return { ok, bad, errors, elapsedMs, rate: ok / (elapsedMs / 1000), firstProblem };
}

/** `max` pdc-udp exchanges in a row (at most `seconds`); the round trip of each, in ms. */
export async function rtt(hostname: string, port: number, max: number, seconds: number) {
  const deadline = performance.now() + seconds * 1000;
  const ms: number[] = [];
  let attempts = 0;
  while (ms.length < max && performance.now() < deadline) {
    const t0 = performance.now();
    const r = await resetExchange({
      targets: [{ address: hostname, family: hostname.includes(":") ? 6 : 4 }],
      port,
      command: "RESET:20",
      timeout: 1,
      maxTries: 5,
    });
    if (r.answer === null) throw new Error(`no answer from ${hostname}:${port} in 5 tries`);
    ms.push(performance.now() - t0);
    attempts += r.attempts;
  }
  return { ms, attempts };
}

/** Hold `n` idle connections until stdin closes or `seconds` pass. */
export async function hold(hostname: string, port: number, n: number, seconds: number) {
  const conns: Deno.TcpConn[] = [];
  let errors = 0;
  let firstProblem: string | undefined;
  const start = performance.now();
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(50, n - i) }, () => Deno.connect({ hostname, port })),
      );
      for (const r of batch) {
        if (r.status === "fulfilled") conns.push(r.value);
        else {
          errors++;
          firstProblem ??= String(r.reason);
        }
      }
      if (performance.now() - start > seconds * 1000) break;
    }
    console.error(`held ${conns.length}`);
    const stdinClosed = (async () => {
      const buf = new Uint8Array(16);
      while ((await Deno.stdin.read(buf)) !== null) { /* wait for EOF */ }
    })();
    await settledWithin(stdinClosed, seconds * 1000);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
  return { held: conns.length, errors, firstProblem };
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      conc: { type: "string", default: "32" },
      seconds: { type: "string", default: "3" },
      max: { type: "string", default: "100000" },
      count: { type: "string", default: "15" },
      conns: { type: "string", default: "1000" },
    },
  });
  const [mode, host, portText] = positionals;
  const port = Number(portText);
  const num = (k: keyof typeof values) => Number(values[k]);
  let result: unknown;
  if (mode === "tcp-short") {
    result = await tcpShort(
      host,
      port,
      num("conc"),
      num("seconds"),
      num("max"),
      num("count"),
    );
  } else if (mode === "rtt") {
    result = await rtt(host, port, num("max"), num("seconds"));
  } else if (mode === "hold") {
    result = await hold(host, port, num("conns"), num("seconds"));
  } else {
    console.error("usage: load.ts tcp-short|rtt|hold <host> <port> [options]");
    Deno.exit(2);
  }
  console.log(JSON.stringify(result));
}
