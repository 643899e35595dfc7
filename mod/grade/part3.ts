/**
 * Grading part 3: the retransmitting dual-stack UDP PDC, given `localhost`.
 *
 * The server runs IPv4-only, then IPv6-only (as the course's alternating
 * server could be found), dropping half the answers and always the first
 * one, so that a script that never retransmits cannot pass by luck. At the
 * server we record when each RESET arrived, to check that retransmissions
 * were about 1 s apart.
 *
 * @module
 */
import { freeDualUdpPort } from "../net/ports.ts";
import { resolveHost } from "../net/address.ts";
import { Sandbox } from "../proc/sandbox.ts";
import { startPmuUdp, type UdpServerEvent } from "../udp/pmu_udp.ts";
import { checkOffset, printedOffsets } from "./checks.ts";
import {
  captureRun,
  describeEnd,
  type GradablePart,
  type GradeContext,
  keep,
  KEPT,
  programRun,
  showOutput,
  unflushedReason,
} from "./part.ts";
import type { TestResult } from "./report.ts";

/** Does `localhost` resolve to ::1 here (what a student's getaddrinfo sees)? */
export async function localhostHasIPv6(): Promise<boolean> {
  try {
    return (await resolveHost("localhost")).some((a) => a.address === "::1");
  } catch {
    return false;
  }
}

const HOSTS_FIX = "localhost has no IPv6 address on this machine: add the line '::1 localhost' " +
  "to /etc/hosts (as the handout says), then grade again";

/** Group arrival times (ms) into attempts: sends within 300 ms are one attempt. */
export function attemptTimes(times: number[]): number[] {
  const out: number[] = [];
  for (const t of [...times].sort((a, b) => a - b)) {
    if (out.length === 0 || t - out[out.length - 1] > 300) out.push(t);
  }
  return out;
}

interface RunOutcome {
  result: TestResult;
  /** Arrival times of this program's RESETs at the server. */
  arrivals: number[];
  /** Acknowledged, and the program exited by itself. */
  exited: boolean;
}

async function familyTest(ctx: GradeContext, family: 4 | 6, seed: number): Promise<RunOutcome> {
  const name = `IPv${family}-only server`;
  const port = freeDualUdpPort();
  const events: UdpServerEvent[] = [];
  const stopCapture = await captureRun(ctx, name, { proto: "udp", port, host: "localhost" });
  const server = await startPmuUdp({
    hosts: family === 4 ? { 4: "127.0.0.1" } : { 6: "::1" },
    port,
    family: family === 4 ? "4" : "6",
    drop: 0.5,
    dropFirst: 1,
    seed,
    observe: (e) => keep(events, () => ({ ...e, text: e.text.slice(0, KEPT.bytes) })),
  });
  try {
    await using sb = new Sandbox(programRun(ctx, ["localhost", String(port)]));
    const t0 = performance.now();
    let exited = false;
    void sb.result.then(() => exited = true);
    const deadline = t0 + ctx.timeLimitMs;
    // Stop early when the outcome is clear: exited; answered 2.5 s ago; silent for 2.5 s
    // (5 s before the first RESET).
    while (!exited && performance.now() < deadline) {
      const now = performance.now();
      const last = events.at(-1);
      const acked = events.find((e) => e.outcome === "acked");
      if (acked && now - acked.at > 2500) break;
      if (!last && now - t0 > 5000) break; // a slow start (a loaded machine) still gets through
      if (last && !acked && now - last.at > 2500) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await sb.stop();
    showOutput(ctx, name, r);
    const arrivals = events.filter((e) => e.outcome !== "ignored").map((e) => e.at);
    const sent = events.filter((e) => e.outcome === "acked").map((e) => e.offset!);
    const v = checkOffset(r.stdout, sent);
    if (!v.passed) {
      // Acknowledged, stopped, and no offset in what we read: it may be in Python's buffer.
      const unflushed = sent.length && !printedOffsets(r.stdout).length
        ? unflushedReason(ctx, r)
        : undefined;
      let detail = unflushed ? unprinted(events, sent, unflushed) : v.detail;
      if (events.length === 0) {
        detail = `no RESET:20 reached the IPv${family}-only server at localhost:${port}: ` +
          `send to every address of the server, IPv4 and IPv6`;
      } else if (sent.length === 0) {
        detail = `${attemptTimes(arrivals).length} RESET(s) arrived and the answer was lost; ` +
          `the program did not send again: retransmit after a 1 s timeout`;
      }
      if (!unflushed && (r.exitedByItself || r.timedOut)) {
        detail += `; the program ${describeEnd(r)}`;
      }
      return { result: { name, passed: false, scored: true, detail }, arrivals, exited: false };
    }
    return {
      result: {
        name,
        passed: true,
        scored: true,
        detail: `${v.detail} after ${attemptTimes(arrivals).length} attempts`,
      },
      arrivals,
      exited: r.exitedByItself,
    };
  } finally {
    await server.close();
    await stopCapture();
  }
}

/**
 * Why a program that was acknowledged, then stopped, printed no offset: `unflushed` (its
 * output was lost in Python's buffer); and when it went on sending RESET:20 after the
 * acknowledgement (twice or more: one retransmission may cross the answer), it was the
 * 60-run experiment, which the handout says not to send to the scoring system.
 */
function unprinted(events: UdpServerEvent[], sent: number[], unflushed: string): string {
  const acked = events.findIndex((e) => e.outcome === "acked");
  const more = events.slice(acked + 1).filter((e) => e.outcome !== "ignored").length;
  if (more < 2) return `the server sent ${sent.map((x) => `OFFSET:${x}`).join(", ")}; ${unflushed}`;
  return `the server acknowledged ${sent.length} RESET:20 and the program sent ${more} more ` +
    `after the first acknowledgement: it was still running: submit the single-run version, ` +
    `not the 60-run experiment (${unflushed})`;
}

/**
 * Scored: the program retransmitted, and not clearly faster than the
 * handout's 1 s timeout. Waiting 1 s on the IPv4 socket then 1 s on the IPv6
 * one (about 2 s between two RESETs to one family) follows the handout and
 * passes; only attempts well under 1 s apart, or none, fail.
 */
function retransmission(runs: RunOutcome[]): TestResult {
  const gaps: number[] = [];
  for (const run of runs) {
    const t = attemptTimes(run.arrivals);
    for (let i = 1; i < t.length; i++) gaps.push((t[i] - t[i - 1]) / 1000);
  }
  const name = "retransmits after a timeout";
  if (gaps.length === 0) {
    return {
      name,
      passed: false,
      scored: true,
      detail: "no retransmission reached the server (the first answer is always lost)",
    };
  }
  const shown = gaps.map((g) => g.toFixed(2)).join(", ");
  const fast = gaps.filter((g) => g < MIN_GAP_S);
  return fast.length === 0
    ? { name, passed: true, scored: true, detail: `attempts ${shown} s apart` }
    : {
      name,
      passed: false,
      scored: true,
      detail: `attempts ${shown} s apart: wait for the answer 1 s (the handout's timeout) ` +
        `before sending again`,
    };
}

/** Attempts closer than this (s) are clearly not a 1 s timeout. */
const MIN_GAP_S = 0.6;

export const part3: GradablePart = {
  name: "part3",
  prototype: "<server> <port> (localhost)",
  summary: "RESET:20 with retransmission over IPv4 and IPv6",
  async run(ctx) {
    const tests: TestResult[] = [];
    const v4 = await familyTest(ctx, 4, ctx.seed);
    tests.push(v4.result);
    let v6: RunOutcome;
    if (await localhostHasIPv6()) {
      v6 = await familyTest(ctx, 6, ctx.seed + 1);
    } else {
      ctx.log(`note: ${HOSTS_FIX}`);
      v6 = {
        result: { name: "IPv6-only server", passed: false, scored: true, detail: HOSTS_FIX },
        arrivals: [],
        exited: false,
      };
    }
    tests.push(v6.result);
    tests.push(retransmission([v4, v6]));
    const acked = [v4, v6].filter((r) => r.result.passed);
    tests.push({
      name: "exits after the acknowledgement",
      passed: acked.length > 0 && acked.every((r) => r.exited),
      scored: false,
      detail: acked.length === 0
        ? "no acknowledgement was printed"
        : acked.every((r) => r.exited)
        ? "the program printed the offset and exited"
        : "the program kept running after printing the offset: stop once acknowledged",
    });
    return tests;
  },
};
