/**
 * A grading run's result: one line per test and a score, or the JSON the
 * course's scorer wrote (`{"max_grade", "score", "success"}`) with the tests.
 *
 * A test is either scored (what the course's scorer checked: it makes the
 * score) or advice (socklab's extra robustness checks the course never ran:
 * shown, never counted).
 *
 * @module
 */
import { escapeControls } from "../escape.ts";

export interface TestResult {
  name: string;
  passed: boolean;
  /** Counted in score/max_grade (the course checked it); false: advice only. */
  scored: boolean;
  /** One line: what was expected and what came. */
  detail: string;
}

export interface GradeReport {
  part: string;
  max_grade: number;
  score: number;
  success: 0 | 1;
  tests: TestResult[];
  /** `grade --unbuffered`: Python ran unbuffered, unlike the course's scorer. */
  unbuffered?: true;
  /** Why this verdict is not the course's (with `unbuffered`). */
  note?: string;
}

/** The report's note under `grade --unbuffered`. */
export const UNBUFFERED_NOTE = "--unbuffered: Python's output was unbuffered, which the course's " +
  "scorer did not do, so this verdict is not the course's: a print() without flush=True that " +
  "passes here may show nothing there";

/** Score and max_grade count the scored tests only; advice never changes them. */
export function makeReport(
  part: string,
  tests: TestResult[],
  opts: { unbuffered?: boolean } = {},
): GradeReport {
  const scored = tests.filter((t) => t.scored);
  const score = scored.filter((t) => t.passed).length;
  return {
    part,
    max_grade: scored.length,
    score,
    success: score === scored.length && scored.length > 0 ? 1 : 0,
    tests,
    ...(opts.unbuffered ? { unbuffered: true, note: UNBUFFERED_NOTE } : {}),
  };
}

/**
 * The human form: `PASS name: detail` per scored test, `advice` lines for
 * the others (`ok` or `TIP`), then the score, which counts scored tests only, and the
 * report's note if any.
 */
export function formatReport(r: GradeReport, color = false): string[] {
  const paint = (code: number, s: string) => color ? `\x1b[${code}m${s}\x1b[0m` : s;
  const width = Math.max(0, ...r.tests.map((t) => t.name.length));
  const line = (t: TestResult, mark: string) =>
    `${mark}  ${t.name.padEnd(width)}  ${escapeControls(t.detail)}`;
  const lines: string[] = [];
  for (const t of r.tests.filter((t) => t.scored)) {
    lines.push(line(t, paint(t.passed ? 32 : 31, t.passed ? "PASS" : "FAIL")));
  }
  const advice = r.tests.filter((t) => !t.scored);
  if (advice.length) {
    lines.push("advice (checks the course's scorer did not run; they do not change the score):");
    for (const t of advice) {
      lines.push(line(t, paint(t.passed ? 32 : 33, t.passed ? "  ok" : " TIP")));
    }
  }
  lines.push(`score: ${r.score}/${r.max_grade}${r.success ? " (full marks)" : ""}`);
  if (r.note) lines.push(`note: ${r.note}`);
  return lines;
}
