/**
 * Grading hostile programs in tests (tests/fixtures/hostile/): tests that
 * need grade's isolation (skipped, saying why, without root; failing in one
 * line as root or in CI when a piece is missing), a request with isolation
 * required, and the grading engines' peak memory while it runs.
 *
 * @module
 */
import { type GradeOutcome, gradeProgram, type GradeRequest } from "../../mod/grade/engine.ts";
import { programFiles } from "../../mod/grade/program.ts";
import { isolationProblem } from "../../mod/proc/sandbox.ts";

export const HOSTILE = new URL("../fixtures/hostile/", import.meta.url).pathname;

// Isolation needs root: without it (a developer's laptop) these tests are skipped, saying why;
// as root (and always in CI) a missing piece (bubblewrap, cgroups) fails each of them in one line.
const why = await isolationProblem();
const ignore = why !== null && Deno.uid() !== 0 && !Deno.env.get("CI");
if (ignore) console.error(`isolation tests skipped: ${why}`);

/** A test of the sandbox: fails at once, naming the missing piece, where isolation is unavailable. */
export function isolationTest(name: string, fn: () => Promise<void>) {
  Deno.test({
    name,
    ignore,
    async fn() {
      if (why !== null) {
        const e = new Error(`requires grade's isolation: ${why} (scripts/setup.sh installs it)`);
        e.stack = e.message;
        throw e;
      }
      await fn();
    },
  });
}

export function job(
  part: string,
  program: string[],
  extra: Partial<GradeRequest> = {},
): GradeRequest {
  return {
    part,
    program,
    timeLimitMs: 5000,
    outputCapBytes: 1 << 20,
    seed: 7,
    isolation: "required",
    files: programFiles(program),
    ...extra,
  };
}

/** Processes (anywhere on this machine) whose command line holds every one of `marks`. */
export function withMarker(...marks: string[]): number[] {
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (marks.every((m) => cmd.includes(m))) found.push(+e.name);
    } catch { /* gone */ }
  }
  return found;
}

/** Run `work`; also the peak memory (VmHWM, KiB) of the grading engines seen meanwhile. */
export async function enginePeakDuring<T>(work: () => Promise<T>): Promise<[T, number]> {
  let peakKiB = 0;
  let sampling = true;
  const sampler = (async () => {
    for (let i = 0; sampling && i < 6000; i++) {
      for (const pid of withMarker("grade-engine")) {
        try {
          const hwm = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmHWM:\s+(\d+)/m);
          if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
        } catch { /* gone */ }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return [await work(), peakKiB];
  } finally {
    sampling = false;
    await sampler;
  }
}

/** Grade `req`; also the peak memory (VmHWM, KiB) of the grading engines seen meanwhile. */
export function withEnginePeak(req: GradeRequest): Promise<[GradeOutcome, number]> {
  return enginePeakDuring(() => gradeProgram(req));
}

export const stdoutOf = (o: GradeOutcome) => o.runs.map((r) => r.result.stdout).join("");
