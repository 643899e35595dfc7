/**
 * What grading one job is: the submission's files in a fresh private
 * directory, `gradeProgram` in-process (or, for ca-sign, the course CA
 * signing the request), and the result row with the program's output.
 * Nothing here re-implements grading or the CA: it calls them. Every run's
 * packets are captured (tcpdump in the job's network namespace, capped by
 * the engine: mod/grade/capture.ts) and kept as `<test>.pcap` result files,
 * which the archive holds in `output/`.
 *
 * An exception thrown from here is a failure of the grader or the machine
 * (the job is retried and does not count); what the student's program did,
 * however badly, is a result: its output, however hostile, is judged (never
 * an engine failure), and a program that cannot be graded at all (a
 * ProgramFault: a file it names is refused) is a result with that reason.
 *
 * @module
 */
import { basename, join } from "node:path";
import { describeEnd } from "../grade/part.ts";
import { ProgramFault } from "../grade/program.ts";
import {
  gradeProgram,
  type GradeRequest,
  type Isolation,
  type ProgramRun,
} from "../grade/engine.ts";
import { describeCert, signRequest } from "../tls/ca.ts";
import { courseCa } from "./course.ts";
import type { LeasedJob, NewResult, Policy, StoredFile } from "./store/store.ts";

/** What a job needs besides its row and files. */
export interface JobContext {
  dataDir: string;
  policy: Policy;
  /** Random seed for the grader; fixed in tests. */
  seed?: number;
  /** How the student's program runs (default "required": students' code is untrusted). */
  isolation?: Isolation;
  /** Aborts grading (the service is shutting down): runJob then rejects. */
  signal?: AbortSignal;
}

/** The file names a kind's upload fields get (their order in `submit`). */
export const KIND_FILES: Record<string, readonly ("script" | "cert" | "key" | "csr")[]> = {
  "part2": ["script"],
  "part3": ["script"],
  "part4-receiver": ["script"],
  "part4-sender": ["script"],
  "part5": ["script", "cert", "key"],
  "part6": ["script"],
  "ca-sign": ["csr"],
};

/** A job's private directory: `<tmp>/socklab-job-<pid of the worker>-<job id>-<random>`. */
const JOB_DIR = "socklab-job-";

/**
 * Remove the job directories left by workers that died (kill -9, a crash):
 * those whose process is gone. Returns how many.
 */
export async function sweepJobDirs(): Promise<number> {
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  let n = 0;
  try {
    for await (const e of Deno.readDir(tmp)) {
      const pid = e.name.startsWith(JOB_DIR) ? e.name.slice(JOB_DIR.length).split("-")[0] : "";
      if (!e.isDirectory || !/^\d+$/.test(pid) || Number(pid) === Deno.pid) continue;
      if (await Deno.stat(`/proc/${pid}`).then(() => true, () => false)) continue;
      await Deno.remove(join(tmp, e.name), { recursive: true }).then(() => n++, () => {});
    }
  } catch { /* no tmp to read: nothing to sweep */ }
  return n;
}

/** Output of all runs kept in the result, per stream. */
const OUTPUT_KEPT = 1024 * 1024;

/**
 * THE place where a job becomes a GradeRequest: the files are written to
 * `dir` and the program is `python3 <dir>/<script>`; isolated, the engine
 * gives the program those files (the script and the files beside it: for
 * part 5 its certificate and key) at the same paths, and nothing else.
 */
export function gradeRequest(
  job: LeasedJob,
  dir: string,
  files: StoredFile[],
  ctx: JobContext,
): GradeRequest {
  const [script, cert, key] = files.map((f) => join(dir, f.name));
  return {
    part: job.kind,
    program: ["python3", script],
    isolation: ctx.isolation ?? "required",
    signal: ctx.signal,
    capture: true,
    timeLimitMs: ctx.policy.timeLimitSeconds * 1000,
    outputCapBytes: ctx.policy.outputLimitBytes,
    seed: ctx.seed ?? Math.floor(Math.random() * 2 ** 31),
    options: job.kind === "part5"
      ? { cert, key, ca: courseCa(ctx.dataDir).cert }
      : job.kind === "part4-sender"
      ? { sciper: job.sciper ?? undefined }
      : {},
  };
}

/** Output of one run kept per stream in `runs.json`, bytes (the page shows at most this). */
export const RUN_OUTPUT_KEPT = 64 * 1024;

/** The result file that holds each run's own output (the page shows it under its test). */
export const RUNS_FILE = "runs.json";

/** One run of the program as `runs.json` keeps it: its test, how it ended, what it printed. */
export interface RunOutput {
  test: string;
  /** The grader's words: "exited with code 1; its last stderr line: ..." */
  end: string;
  stdout: string;
  stderr: string;
}

function keep(text: string): string {
  return text.length > RUN_OUTPUT_KEPT
    ? text.slice(0, RUN_OUTPUT_KEPT) + "\n[... cut here: output/stdout.txt has more]\n"
    : text;
}

/** `runs.json`: each run's own output, apart from the grader's words. */
function runsFile(runs: ProgramRun[]): StoredFile {
  const out: RunOutput[] = runs.map((r) => ({
    test: r.test,
    end: describeEnd(r.result),
    stdout: keep(r.result.stdout),
    stderr: keep(r.result.stderr),
  }));
  return { name: RUNS_FILE, bytes: new TextEncoder().encode(JSON.stringify(out, null, 1) + "\n") };
}

/** The program's output across runs: one header per run, then what it printed. */
function joinRuns(runs: ProgramRun[], stream: "stdout" | "stderr"): string {
  let out = "";
  for (const r of runs) {
    out += `=== ${r.test}: the program ${describeEnd(r.result)}\n${r.result[stream]}`;
    if (out && !out.endsWith("\n")) out += "\n";
    if (out.length > OUTPUT_KEPT) return out.slice(0, OUTPUT_KEPT) + "\n[output cut]\n";
  }
  return out;
}

/** Grade one job. Throws on a grader or machine failure. */
export async function runJob(
  job: LeasedJob,
  files: StoredFile[],
  ctx: JobContext,
): Promise<NewResult> {
  const dir = await Deno.makeTempDir({ prefix: `${JOB_DIR}${Deno.pid}-${job.id}-` });
  await Deno.chmod(dir, 0o700);
  const started = performance.now();
  try {
    for (const f of files) await Deno.writeFile(join(dir, f.name), f.bytes, { mode: 0o600 });
    if (job.kind === "ca-sign") return await signJob(dir, files[0].name, ctx, started);
    const graded = await gradeProgram(gradeRequest(job, dir, files, ctx)).catch((e) => {
      if (e instanceof ProgramFault) return e;
      throw e;
    });
    if (graded instanceof ProgramFault) return unrunnable(graded, started);
    const { report, runs, captures } = graded;
    return {
      score: report.score,
      maxGrade: report.max_grade,
      success: report.success,
      tests: report.tests,
      stdout: joinRuns(runs, "stdout"),
      stderr: joinRuns(runs, "stderr"),
      files: [runsFile(runs), ...captures.map((c) => ({ name: c.name, bytes: c.bytes }))],
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The result of a program that could not be graded at all, for a reason of its own. */
function unrunnable(e: ProgramFault, started: number): NewResult {
  return {
    score: 0,
    maxGrade: 1,
    success: 0,
    tests: [{ name: "the program can be graded", passed: false, scored: true, detail: e.message }],
    stdout: "",
    stderr: "",
    files: [],
    durationMs: Math.round(performance.now() - started),
  };
}

/** The certificate's name for a request: `X.csr` -> `X.crt`. */
export function certName(csrName: string): string {
  return basename(csrName).replace(/\.(csr|req|pem)$/i, "") + ".crt";
}

/** ca-sign: the course CA signs the (already checked) request, as `ca sign` does. */
async function signJob(
  dir: string,
  csrName: string,
  ctx: JobContext,
  started: number,
): Promise<NewResult> {
  const out = join(dir, certName(csrName));
  await signRequest({ csr: join(dir, csrName), dir: courseCa(ctx.dataDir).dir, out });
  const detail = await describeCert(out);
  return {
    score: 1,
    maxGrade: 1,
    success: 1,
    tests: [{ name: "signed by the course CA", passed: true, scored: true, detail }],
    stdout: "",
    stderr: "",
    files: [{ name: certName(csrName), bytes: await Deno.readFile(out) }],
    durationMs: Math.round(performance.now() - started),
  };
}
