/**
 * What the JSON API and the web pages both do with submissions, written
 * once: who may see one ({@link visible}), accepting an upload
 * ({@link acceptSubmission}: the one path of every submission), re-running
 * a part ({@link rerun}), the archive, the signed certificate and the grade
 * book (and their downloads), a submission as JSON with its queue position and estimated
 * wait, and the workers' state. The JSON shapes are documented in api.ts.
 *
 * @module
 */
import { zipSync } from "fflate";
import { gradeBook, gradeBookCsv } from "./course.ts";
import { download, type Handler, HttpError, type Who } from "./http.ts";
import { isGraded } from "./rules.ts";
import {
  isRefusal,
  type Job,
  type JobStatus,
  type Kind,
  KINDS,
  type Result,
  type Role,
  type Store,
  type StoredFile,
  type Submission,
  type TestRow,
  type WorkerInfo,
} from "./store/store.ts";
import { checkUpload, UploadError } from "./upload.ts";

/** What the API's and the pages' handlers need. */
export interface ServiceContext {
  store: Store;
  dataDir: string;
  /** Wake the in-process workers (a job was queued). */
  notify: () => void;
  /** Workers silent for longer than this are not counted in the estimates, ms. */
  workerTimeoutMs: number;
  log: (line: string) => void;
  /** Aborted when the service stops: uploads still arriving are refused (503). */
  stopping?: AbortSignal;
}

export interface CreatedJson {
  id: number;
  status: JobStatus;
  position: number | null;
  estimated_wait_s: number | null;
}

export interface SubmissionJson {
  id: number;
  kind: Kind;
  user: string;
  status: JobStatus;
  /** 1-based place in the queue while queued, else null. */
  position: number | null;
  /** Estimated seconds until the result, while queued or running. */
  estimated_wait_s: number | null;
  created_at: string;
  files: string[];
  /** The files saved under another name than the one given (`../x.py` -> `x.py`). */
  renamed: { from: string; to: string }[];
  /** The latest result, kept while a re-run is queued or running (null until the first). */
  max_grade: number | null;
  score: number | null;
  success: 0 | 1 | null;
  tests?: TestRow[];
  /** Why grading failed (status failed), or the last retried failure. */
  error: string | null;
}

export interface JobJson {
  id: number;
  submission: number;
  status: JobStatus;
  tries: number;
  worker: string | null;
  enqueued_at: string;
  started_at: string | null;
}

export const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/**
 * Seconds until the submission's result, from measured job durations: the
 * mean wall time of recent jobs (lease to result) times the rounds of work
 * until its own is through (position / the live workers' slots, its own
 * included), less what a running job has done. Null when finished or when
 * no worker is alive.
 */
export async function estimateWait(
  ctx: ServiceContext,
  sub: Submission,
  position: number | null,
): Promise<number | null> {
  const job = sub.job;
  if (job.status !== "queued" && job.status !== "running") return null;
  const now = Date.now();
  const slots = (await ctx.store.listWorkers())
    .filter((w) => w.lastSeen >= now - ctx.workerTimeoutMs)
    .reduce((n, w) => n + w.slots, 0);
  if (slots === 0) return null;
  const recent = await ctx.store.recentDurations(20);
  const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 30_000;
  return estimateSeconds(mean, slots, job.status === "running" ? null : position ?? 1, {
    elapsedMs: job.status === "running" ? now - (job.startedAt ?? now) : 0,
  });
}

/**
 * The arithmetic of {@link estimateWait}: a queued job at `position`
 * (null: running, `elapsedMs` into it) with `slots` slots that take
 * `meanMs` a job. Seconds, at least 1.
 */
export function estimateSeconds(
  meanMs: number,
  slots: number,
  position: number | null,
  { elapsedMs = 0 } = {},
): number {
  const ms = position === null
    ? meanMs - elapsedMs
    : meanMs * Math.max(1, (position + slots - 1) / slots);
  return Math.max(1, Math.round(ms / 1000));
}

/** A worker as the teaching assistant sees it: alive or lost, and its running jobs. */
export interface WorkerState extends WorkerInfo {
  /**
   * `lost` once silent for longer than `workerTimeoutMs`: its leases have
   * expired by then (its jobs are queued again), so it runs nothing.
   */
  state: "alive" | "lost";
  jobs: Job[];
}

/** Every registered worker's state (the API's and the course page's one source). */
export async function workerStates(ctx: ServiceContext, now: number): Promise<WorkerState[]> {
  // A worker's slots lease as `<id>/<slot>`: its current jobs are the running ones.
  const running = await ctx.store.listJobs("running");
  return (await ctx.store.listWorkers()).map((w) => {
    const lost = w.lastSeen < now - ctx.workerTimeoutMs;
    const mine = running.filter((j) => j.worker === w.id || j.worker?.startsWith(`${w.id}/`));
    return {
      ...w,
      state: lost ? "lost" : "alive",
      running: lost ? 0 : w.running,
      jobs: lost ? [] : mine,
    };
  });
}

/**
 * The result a submission shows: its latest job's, or while a re-run is
 * queued or running (or failed) the one it had, until the new one replaces it.
 */
export async function shownResult(store: Store, sub: Submission): Promise<Result | null> {
  return isGraded(sub) ? await store.getResult(sub.job.id) : await store.latestResult(sub.id);
}

/** A submission as the API shows it (`tests` only with `withTests`). */
export async function submissionJson(
  ctx: ServiceContext,
  sub: Submission,
  withTests: boolean,
): Promise<SubmissionJson> {
  const position = sub.job.status === "queued" ? await ctx.store.queuePosition(sub.job.id) : null;
  const result = await shownResult(ctx.store, sub);
  const out: SubmissionJson = {
    id: sub.id,
    kind: sub.kind,
    user: sub.userId,
    status: sub.job.status,
    position,
    estimated_wait_s: await estimateWait(ctx, sub, position),
    created_at: iso(sub.createdAt)!,
    files: sub.fileNames,
    renamed: sub.renamed,
    max_grade: result?.maxGrade ?? null,
    score: result?.score ?? null,
    success: result?.success ?? null,
    error: isGraded(sub) ? null : sub.job.error,
  };
  if (withTests) out.tests = result?.tests ?? [];
  return out;
}

export function jobJson(j: Job): JobJson {
  return {
    id: j.id,
    submission: j.submissionId,
    status: j.status,
    tries: j.tries,
    worker: j.worker,
    enqueued_at: iso(j.enqueuedAt)!,
    started_at: iso(j.startedAt),
  };
}

/** The kept score of each kind for one user (null: nothing graded yet). */
export async function keptScoresOf(
  store: Store,
  userId: string,
): Promise<Record<Kind, number | null>> {
  const course = await store.getCourse();
  const scores = Object.fromEntries(KINDS.map((k) => [k, null])) as Record<Kind, number | null>;
  for (const c of await store.keptScores(course?.policy.keep ?? "best")) {
    if (c.userId === userId) scores[c.kind] = c.score;
  }
  return scores;
}

/**
 * The submission `id` (as it came in the URL) if `who` may see it: their
 * own, or any for the teaching assistant; else a 404, as for an unknown id.
 */
export async function visible(
  store: Store,
  who: { id: string; role: Role },
  id: string | undefined,
): Promise<Submission> {
  const sub = id && /^\d{1,15}$/.test(id) ? await store.getSubmission(Number(id)) : null;
  if (!sub || (who.role !== "ta" && sub.userId !== who.id)) {
    throw new HttpError(404, "no such submission");
  }
  return sub;
}

/** The zip of a submission: its files and, once graded, `output/`. */
export async function submissionArchive(store: Store, sub: Submission): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const entries: Record<string, Uint8Array> = {};
  for (const f of await store.submissionFiles(sub.id)) entries[f.name] = f.bytes;
  const result = await store.latestResult(sub.id);
  if (result) {
    const { maxGrade, score, success, tests } = result;
    entries["output/result.json"] = enc.encode(
      JSON.stringify({ max_grade: maxGrade, score, success, tests }, null, 2) + "\n",
    );
    entries["output/stdout.txt"] = enc.encode(result.stdout);
    entries["output/stderr.txt"] = enc.encode(result.stderr);
    for (const f of result.files) entries[`output/${f.name}`] = f.bytes;
  }
  return zipSync(entries);
}

/** A ca-sign submission's signed certificate; 404 for another kind, 409 until it is done. */
export async function certificate(store: Store, sub: Submission): Promise<StoredFile> {
  if (sub.kind !== "ca-sign") throw new HttpError(404, `submission ${sub.id} is not a ca-sign`);
  const result = isGraded(sub) ? await store.getResult(sub.job.id) : null;
  const cert = result?.files.find((f) => f.name.endsWith(".crt"));
  if (!cert) throw new HttpError(409, `submission ${sub.id} is ${sub.job.status}: no certificate`);
  return cert;
}

/** GET .../submissions/:id/archive, for the API and the pages. */
export const archiveDownload: Handler<ServiceContext, Who> = async ({ ctx, who, params }) => {
  const sub = await visible(ctx.store, who, params.id);
  const zip = await submissionArchive(ctx.store, sub);
  return download(zip, "application/zip", `submission-${sub.id}.zip`);
};

/** GET .../submissions/:id/certificate, for the API and the pages. */
export const certificateDownload: Handler<ServiceContext, Who> = async ({ ctx, who, params }) => {
  const cert = await certificate(ctx.store, await visible(ctx.store, who, params.id));
  return download(cert.bytes, "application/x-pem-file", cert.name);
};

/** GET the grade book as CSV (the LMS imports it), for the API and the pages. */
export const gradeBookDownload: Handler<ServiceContext, Who> = async ({ ctx }) =>
  download(gradeBookCsv(await gradeBook(ctx.store)), "text/csv; charset=utf-8", "gradebook.csv");

/**
 * A new job for every graded submission of `kind` (of `userId` only, if
 * given): after a grader fix. Returns how many were queued.
 */
export async function rerun(ctx: ServiceContext, kind: Kind, userId?: string): Promise<number> {
  const subs = await ctx.store.listSubmissions({ kind, userId, status: "done" });
  for (const s of subs) await ctx.store.enqueue(s.id, Date.now());
  if (subs.length) ctx.notify();
  ctx.log(`re-run: ${subs.length} ${kind} submission(s) queued again`);
  return subs.length;
}

/**
 * Check an uploaded form and queue it for `userId`: the one path of every
 * submission, from the API and from the web form. A refusal is an
 * UploadError (with the field it is about, and Retry-After for a 429) and
 * queues nothing.
 */
export async function acceptSubmission(
  ctx: ServiceContext,
  form: FormData,
  userId: string,
): Promise<Submission> {
  const { policy } = (await ctx.store.getCourse())!;
  const sub = await checkUpload(form, userId, policy);
  const made = await ctx.store.createSubmission(sub, {
    now: Date.now(),
    cooldownMs: policy.cooldownSeconds * 1000,
  });
  if (!isRefusal(made)) {
    ctx.notify();
    return made;
  }
  if (made.refused === "active") {
    const other = await ctx.store.getSubmission(made.submissionId);
    const pos = other?.job.status === "queued" ? await ctx.store.queuePosition(other.job.id) : null;
    const wait = other ? await estimateWait(ctx, other, pos) : null;
    throw new UploadError(
      429,
      `your ${sub.kind} submission ${made.submissionId} is still ${
        other?.job.status ?? "queued"
      }: ` +
        `submit again once it is graded`,
      "kind",
      { "retry-after": String(wait ?? 10) },
    );
  }
  const secs = Math.ceil(made.retryAfterMs / 1000);
  throw new UploadError(
    429,
    `one ${sub.kind} submission every ${policy.cooldownSeconds} s: try again in ${secs} s`,
    "kind",
    { "retry-after": String(secs) },
  );
}
