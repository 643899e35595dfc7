/**
 * A grading run's result: one line per test and a score, or the JSON the
 * course's scorer wrote (`{"max_grade", "score", "success"}`) with the tests.
 *
 * @module
 */

export interface TestResult {
  name: string;
  passed: boolean;
  /** One line: what was expected and what came. */
  detail: string;
}

export interface GradeReport {
  part: string;
  max_grade: number;
  score: number;
  success: 0 | 1;
  tests: TestResult[];
}

export function makeReport(part: string, tests: TestResult[]): GradeReport {
  const score = tests.filter((t) => t.passed).length;
  return {
    part,
    max_grade: tests.length,
    score,
    success: score === tests.length && tests.length > 0 ? 1 : 0,
    tests,
  };
}

/** The human form: `PASS name: detail` per test, then the score. */
export function formatReport(r: GradeReport, color = false): string[] {
  const paint = (ok: boolean, s: string) => color ? `\x1b[${ok ? 32 : 31}m${s}\x1b[0m` : s;
  const width = Math.max(...r.tests.map((t) => t.name.length));
  const lines = r.tests.map((t) =>
    `${paint(t.passed, t.passed ? "PASS" : "FAIL")}  ${t.name.padEnd(width)}  ${t.detail}`
  );
  lines.push(`score: ${r.score}/${r.max_grade}${r.success ? " (full marks)" : ""}`);
  return lines;
}
