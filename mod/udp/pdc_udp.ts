/**
 * Part 3's client: the PDC that sends `RESET:20` over UDP to every IPv4 and
 * IPv6 address of the server at once and retransmits every `timeout` seconds
 * until an acknowledgement (`OFFSET:<x>` or `OFFSET=<x>`) comes back on
 * either socket; and the lab's experiment (Q20), N such exchanges in a row.
 *
 * Each exchange opens its own sockets (one per family that has addresses)
 * and closes them when it ends, so a late duplicate answer to an earlier
 * exchange lands on a closed port and can never be counted for the next.
 *
 * @module
 */
import { errorMessage, RunError, UsageError } from "../errors.ts";
import {
  formatAddr,
  hostPort,
  ipFamily,
  isHostName,
  type Resolved,
  resolveHost,
} from "../net/address.ts";

import { DatagramReader } from "./receiver.ts";
import { datagramText, parseAck, type RunResult, showData } from "./reset.ts";

/**
 * Every address of `server` to send to: `localhost` is always both
 * 127.0.0.1 and ::1 (whatever /etc/hosts lists), a literal is itself
 * (`[::1]` accepted), any other name is resolved by the system resolver.
 * A malformed name is a UsageError, an unresolvable one a RunError.
 */
export async function pdcTargets(server: string): Promise<Resolved[]> {
  const host = server.replace(/^\[(.*)\]$/, "$1");
  if (host.toLowerCase() === "localhost" || host.toLowerCase() === "localhost.") {
    return [{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }];
  }
  if (!ipFamily(host) && !isHostName(host)) {
    throw new UsageError(`<server>: '${server}' is not a host name or an IP address`);
  }
  try {
    return await resolveHost(host);
  } catch (e) {
    throw new RunError(errorMessage(e));
  }
}

/** An address in the form Deno reports a sender's (IPv6 compressed, lower case). */
function canonical(address: string): string {
  if (!address.includes(":")) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
}

export interface ExchangeOptions {
  targets: readonly Resolved[];
  port: number;
  /** What to send (`RESET:20`). */
  command: string;
  /** Seconds to wait for an acknowledgement before retransmitting. */
  timeout: number;
  /** Give up after this many unanswered attempts (default: never). */
  maxTries?: number;
  /** Log sink for each attempt and every non-acknowledgement (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface ExchangeResult {
  /** The acknowledgement as received (without a trailing newline), or null after maxTries. */
  answer: string | null;
  offset: number | null;
  attempts: number;
  /** Who acknowledged (`127.0.0.1:5004`), or null. */
  from: string | null;
  /** Seconds from the first send to the acknowledgement (or to giving up). */
  seconds: number;
}

function openSocket(family: 4 | 6): DatagramReader {
  const hostname = family === 4 ? "0.0.0.0" : "::";
  return new DatagramReader(Deno.listenDatagram({ transport: "udp", hostname, port: 0 }));
}

/** One exchange: send to every target each attempt until acknowledged. */
export async function resetExchange(opts: ExchangeOptions): Promise<ExchangeResult> {
  const log = opts.log ?? (() => {});
  const maxTries = opts.maxTries ?? Infinity;
  const readers = new Map<4 | 6, DatagramReader>();
  for (const family of [4, 6] as const) {
    if (!opts.targets.some((t) => t.family === family)) continue;
    try {
      readers.set(family, openSocket(family));
    } catch (e) {
      log(`no IPv${family} socket (${errorMessage(e)}); skipping the IPv${family} addresses`);
    }
  }
  const targets = opts.targets.filter((t) => readers.has(t.family));
  if (targets.length === 0) throw new RunError("cannot open a UDP socket for any address");
  const expected = new Set(targets.map((t) => canonical(t.address)));
  const where = targets.map((t) => hostPort(t.address, opts.port)).join(", ");
  const data = new TextEncoder().encode(opts.command);
  const failed = new Set<string>();
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  try {
    for (let attempt = 1; attempt <= maxTries; attempt++) {
      for (const t of targets) {
        try {
          await readers.get(t.family)!.conn.send(data, {
            transport: "udp",
            hostname: t.address,
            port: opts.port,
          });
        } catch (e) {
          const to = hostPort(t.address, opts.port);
          if (!failed.has(to)) log(`cannot send to ${to}: ${errorMessage(e)}`);
          failed.add(to);
        }
      }
      log(`attempt ${attempt}: sent ${opts.command} to ${where}`);
      const deadline = performance.now() + opts.timeout * 1000;
      while (true) {
        const got = await DatagramReader.any([...readers.values()], deadline - performance.now());
        if (!got) break;
        const { data: reply, from } = got.datagram;
        const who = formatAddr(from);
        if (from.port !== opts.port || !expected.has(canonical(from.hostname))) {
          log(`ignoring a datagram from ${who}, not the server`);
          continue;
        }
        const text = datagramText(reply);
        const offset = parseAck(text);
        if (offset === null) {
          log(`not an acknowledgement from ${who}: ${showData(reply)}`);
          continue;
        }
        log(`acknowledged by ${who}`);
        return { answer: text, offset, attempts: attempt, from: who, seconds: elapsed() };
      }
      log(`no acknowledgement within ${opts.timeout} s`);
    }
    return { answer: null, offset: null, attempts: maxTries, from: null, seconds: elapsed() };
  } finally {
    await Promise.all([...readers.values()].map((r) => r.close()));
  }
}

/**
 * The lab's experiment: `runs` exchanges in a row, each on fresh sockets.
 * `onRun` hears each result as it comes (for the progress line).
 */
export async function runExperiment(
  opts: ExchangeOptions & { runs: number; onRun?: (r: RunResult) => void },
): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    const r = await resetExchange(opts);
    const result: RunResult = {
      run,
      attempts: r.attempts,
      answer: r.answer,
      from: r.from,
      seconds: Math.round(r.seconds * 1000) / 1000,
    };
    results.push(result);
    opts.onRun?.(result);
  }
  return results;
}
