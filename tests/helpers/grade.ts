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
  tests: { name: string; passed: boolean; detail: string }[];
}

export async function grade(
  part: string,
  program: string[],
  opts: { prefix?: string[]; extra?: string[] } = {},
): Promise<Report> {
  const r = await runSocklab(["grade", part, "--json", ...(opts.extra ?? []), "--", ...program], {
    prefix: opts.prefix,
    timeoutMs: 90_000,
  });
  assert.ok(r.code === 0 || r.code === 1, `grade exit ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(r.code, report.success ? 0 : 1);
  return report;
}

/** The names of the failed tests. */
export const failed = (r: Report) => r.tests.filter((t) => !t.passed).map((t) => t.name);
export const detail = (r: Report, name: string) => r.tests.find((t) => t.name === name)!.detail;
