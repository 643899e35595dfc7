/**
 * Running `socklab grade` in tests: the student-style fixture scripts,
 * socklab's own clients as graded programs, and the JSON report.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeFrame, type Packet, TCP } from "../../mod/packets/decode.ts";
import { readPcap } from "../../mod/packets/pcap.ts";
import { DEFAULT_FLOOD_BYTES, floodText } from "../../mod/pmu/flood.ts";
import { runSocklab, socklabArgv } from "../../scripts/lib/proc.ts";

export const STUDENTS = new URL("../fixtures/students/", import.meta.url).pathname;
export const py = (name: string) => ["python3", STUDENTS + name];
/** `socklab <client>` as a graded program, exactly as the binary would run it. */
export const socklab = (...args: string[]) => socklabArgv(args);

export interface Report {
  part: string;
  max_grade: number;
  score: number;
  success: 0 | 1;
  tests: { name: string; passed: boolean; scored: boolean; detail: string }[];
  /** `grade --unbuffered` only. */
  unbuffered?: true;
  note?: string;
}

/** `env`: added to grade's own environment (e.g. PYTHONUNBUFFERED, to show it is not passed on). */
export async function grade(
  part: string,
  program: string[],
  opts: { prefix?: string[]; extra?: string[]; env?: Record<string, string> } = {},
): Promise<Report> {
  // socklab's own clients need the checkout and Deno's cache, which a sandbox does not show:
  // they run unisolated. Students' scripts run isolated where the machine allows (root, bwrap).
  const isolation = program[0] === Deno.execPath() ? ["--isolation", "off"] : [];
  const args = ["grade", part, "--json", ...isolation, ...(opts.extra ?? []), "--", ...program];
  const r = await runSocklab(args, {
    prefix: opts.prefix,
    env: opts.env,
    timeoutMs: 90_000,
  });
  assert.ok(r.code === 0 || r.code === 1, `grade exit ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(r.code, report.success ? 0 : 1);
  const scored = report.tests.filter((t) => t.scored);
  assert.equal(report.max_grade, scored.length, "max_grade counts the scored tests only");
  assert.equal(report.score, scored.filter((t) => t.passed).length);
  return report;
}

/** The names of the failed scored tests. */
export const failed = (r: Report) =>
  r.tests.filter((t) => t.scored && !t.passed).map((t) => t.name);
export const detail = (r: Report, name: string) => r.tests.find((t) => t.name === name)!.detail;
/** The names of the advice tests (not scored), and of those the program did not pass. */
export const advice = (r: Report) => r.tests.filter((t) => !t.scored).map((t) => t.name);
export const failedAdvice = (r: Report) =>
  r.tests.filter((t) => !t.scored && !t.passed).map((t) => t.name);

/**
 * Is `text` a flood of one grading run: the flood's length, and the play of
 * `floodText()` once the run's tags (` [k3x9qa]` after each speech, the last
 * one maybe cut) are taken out?
 */
export function isRunFlood(text: string): boolean {
  const play = text.replace(/ \[[a-z2-9]{6}\]/g, "").replace(/ \[[a-z2-9]{0,6}$/, "");
  return text.length === DEFAULT_FLOOD_BYTES && play !== text && floodText().startsWith(play);
}

/**
 * What the PMU server of a captured TCP exchange sent (`pcap`: one run's
 * capture): its payload bytes in sequence order, each byte once (retransmissions
 * aside), as text. The server is the side that answered the SYN.
 */
export function serverBytes(pcap: Uint8Array): string {
  const file = readPcap(pcap);
  const packets = file.records.map((r, i) => decodeFrame(file.linkType, r, i + 1))
    .filter((p): p is Packet => "tcp" in p && p.tcp !== undefined);
  const synAck = packets.find((p) => (p.tcp!.flags & TCP.SYN) && (p.tcp!.flags & TCP.ACK));
  assert.ok(synAck, "the capture holds the handshake");
  const data = new Map<number, Uint8Array>();
  for (const p of packets) {
    if (p.sport !== synAck.sport || p.payload.length === 0) continue;
    data.set(p.tcp!.seq - synAck.tcp!.seq - 1, p.payload);
  }
  let out = new Uint8Array();
  for (const [at, b] of [...data].sort((x, y) => x[0] - y[0])) {
    assert.ok(at <= out.length, `a hole in the server's bytes at ${out.length}`);
    const grown = new Uint8Array(Math.max(out.length, at + b.length));
    grown.set(out);
    grown.set(b, at);
    out = grown;
  }
  return new TextDecoder().decode(out);
}
