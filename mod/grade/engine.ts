/**
 * The scoring engine's one entry point: grade one program for one part and
 * return the report and what the program printed. `socklab grade` and the
 * scoring service's workers both call it (the service in-process).
 *
 * @module
 */
import type { SandboxResult } from "../proc/sandbox.ts";
import type { GradeContext } from "./part.ts";
import { PARTS } from "./parts.ts";
import { type GradeReport, makeReport } from "./report.ts";

export interface GradeRequest {
  /** part2, part3, part4-receiver, part4-sender, part5, part6. */
  part: string;
  /** The student's program, e.g. ["python3", "PDC.py"]; prototype arguments are appended. */
  program: string[];
  /** Wall-clock limit of one run of the program, ms. */
  timeLimitMs: number;
  /** Output kept per run before the program is stopped. */
  outputCapBytes: number;
  /** Random seed for what the program must not guess. */
  seed: number;
  /** Part-specific options: sciper (part4-sender); cert, key, ca (part5). */
  options?: { sciper?: string; cert?: string; key?: string; ca?: string };
  /** Progress lines (and the program's output with `verbose`). */
  log?: (line: string) => void;
  verbose?: boolean;
}

/** One run of the program during grading: which test, and how it ended. */
export interface ProgramRun {
  test: string;
  result: SandboxResult;
}

export interface GradeOutcome {
  report: GradeReport;
  /** Every run of the program, in order (for the service's output/ folder). */
  runs: ProgramRun[];
}

/** The names of the gradable parts. */
export const PART_NAMES: readonly string[] = PARTS.map((p) => p.name);

/** Grades `req.program` for `req.part`; throws a plain Error for an unknown part. */
export async function gradeProgram(req: GradeRequest): Promise<GradeOutcome> {
  const part = PARTS.find((p) => p.name === req.part);
  if (!part) throw new Error(`'${req.part}' is not a gradable part (${PART_NAMES.join(", ")})`);
  const runs: ProgramRun[] = [];
  const ctx: GradeContext = {
    program: req.program,
    timeLimitMs: req.timeLimitMs,
    outputCapBytes: req.outputCapBytes,
    log: req.log ?? (() => {}),
    verbose: req.verbose ?? false,
    seed: req.seed,
    options: { ...req.options },
    prefix: [],
    record: (test, result) => runs.push({ test, result }),
  };
  const tests = await part.run(ctx);
  return { report: makeReport(part.name, tests), runs };
}
