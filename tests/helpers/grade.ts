/**
 * Running `socklab grade` in tests: the student-style fixture scripts,
 * socklab's own clients as graded programs, and the JSON report.
 *
 * @module
 */
import assert from "node:assert/strict";
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
}

export async function grade(
  part: string,
  program: string[],
  opts: { prefix?: string[]; extra?: string[] } = {},
): Promise<Report> {
  // socklab's own clients need the checkout and Deno's cache, which a sandbox does not show:
  // they run unisolated. Students' scripts run isolated where the machine allows (root, bwrap).
  const isolation = program[0] === Deno.execPath() ? ["--isolation", "off"] : [];
  const args = ["grade", part, "--json", ...isolation, ...(opts.extra ?? []), "--", ...program];
  const r = await runSocklab(args, {
    prefix: opts.prefix,
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
