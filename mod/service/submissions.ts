/**
 * What the JSON API and the web pages both do with submissions, written
 * once: who may see one ({@link visible}), accepting an upload
 * ({@link acceptSubmission}: the one path of every submission), re-running
 * a part ({@link rerun}), the archive and the signed certificate (and their
 * downloads), a submission as JSON with its queue position, estimated wait,
 * attempt number and whether it is the one that counts ({@link history}),
 * each part's calendar for a student ({@link partsOf}), and the workers'
 * state. The JSON shapes are documented in api.ts.
 *
 * @module
 */
import { zipSync } from "fflate";
import { errorMessage, RunError } from "../errors.ts";
import {
  calendarSentence,
  extensionFor,
  isoInZone,
  parseTime,
  windowOf,
  windowState,
} from "./calendar.ts";
import { countedScores, extend } from "./course.ts";
import { download, type Handler, HttpError, type Who } from "./http.ts";
import type { ServiceLog } from "./log.ts";
import type { ServiceCounters } from "./metrics.ts";
import { attemptNumbers, countsAsAttempt, isGraded, outsideWindow } from "./rules.ts";
import {
  type Course,
  type Extension,
  isKind,
  isRefusal,
  type Job,
  type JobStatus,
  type Kind,
  KINDS,
  type Refusal,
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
  log: ServiceLog;
  /** What this process counts for /metrics (submissions accepted, refused by reason). */
  counters?: ServiceCounters;
  /** Aborted when the service stops: uploads still arriving are refused (503). */
  stopping?: AbortSignal;
  /** The course's clock (epoch ms): the calendar and accepted times; tests set it. */
  now: () => number;
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
  /** When it was accepted (committed), ISO 8601 in the course's zone with its offset. */
  created_at: string;
  /** When its upload had all arrived (what the close is checked against). */
  received_at: string;
  /** Its attempt number for its part, or null: the grader failed, not counted. */
  attempt: number | null;
  /** Whether its score is the one kept for its part (best or last, before the close). */
  kept: boolean;
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

/** How fast the queue goes: the live workers' slots and the mean of recent gradings, ms. */
async function pace(ctx: ServiceContext, now: number): Promise<{ slots: number; meanMs: number }> {
  const slots = (await ctx.store.listWorkers())
    .filter((w) => w.lastSeen >= now - ctx.workerTimeoutMs)
    .reduce((n, w) => n + w.slots, 0);
  const recent = slots ? await ctx.store.recentDurations(20) : [];
  const meanMs = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 30_000;
  return { slots, meanMs };
}

/**
 * Seconds until the submission's result, from measured job durations: the
 * mean wall time of recent jobs (lease to result) times position / the live
 * workers' slots (one grading at least), less what a running job has done. Null when finished or when
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
  const p = await pace(ctx, now);
  if (p.slots === 0) return null;
  if (job.status === "running") {
    return estimateSeconds(p.meanMs, p.slots, null, { elapsedMs: now - (job.startedAt ?? now) });
  }
  return estimateSeconds(p.meanMs, p.slots, position ?? 1);
}

/** Seconds until the result of a submission sent now (behind every queued one), or null. */
export async function currentWait(ctx: ServiceContext): Promise<number | null> {
  const p = await pace(ctx, Date.now());
  if (p.slots === 0) return null;
  return estimateSeconds(p.meanMs, p.slots, (await ctx.store.listJobs("queued")).length + 1);
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
  const ms = position === null ? meanMs - elapsedMs : meanMs * Math.max(1, position / slots);
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

/** What a submission is among its student's of its part: its attempt number, whether it counts. */
export interface AttemptFacts {
  attempt: number | null;
  kept: boolean;
}

/**
 * Each submission's {@link AttemptFacts}, counted among all of its student's
 * submissions of its part (`subs` may be any of anyone's).
 */
export async function attemptFacts(
  ctx: ServiceContext,
  subs: readonly Submission[],
): Promise<Map<number, AttemptFacts>> {
  const users = new Set(subs.map((s) => s.userId));
  const cells = await countedScores(
    ctx.store,
    ctx.now(),
    users.size === 1 ? [...users][0] : undefined,
  );
  const kept = new Set(cells.map((c) => c.submissionId));
  const numbers = new Map<number, number>();
  const groups = new Map(subs.map((s) => [`${s.userId}\0${s.kind}`, s]));
  for (const { userId, kind } of groups.values()) {
    const all = await ctx.store.listSubmissions({ userId, kind });
    for (const [id, n] of attemptNumbers(all)) numbers.set(id, n);
  }
  return new Map(
    subs.map((s) => [s.id, { attempt: numbers.get(s.id) ?? null, kept: kept.has(s.id) }]),
  );
}

/** Submissions as the API lists them (no tests), with their attempt numbers. */
export async function submissionsJson(
  ctx: ServiceContext,
  subs: readonly Submission[],
): Promise<SubmissionJson[]> {
  const facts = await attemptFacts(ctx, subs);
  return await Promise.all(subs.map((s) => submissionJson(ctx, s, false, facts.get(s.id))));
}

/** A submission as the API shows it (`tests` only with `withTests`). */
export async function submissionJson(
  ctx: ServiceContext,
  sub: Submission,
  withTests: boolean,
  facts?: AttemptFacts,
): Promise<SubmissionJson> {
  const { attempt, kept } = facts ?? (await attemptFacts(ctx, [sub])).get(sub.id)!;
  const zone = (await ctx.store.getCourse())!.calendar.timezone;
  const position = sub.job.status === "queued" ? await ctx.store.queuePosition(sub.job.id) : null;
  const result = await shownResult(ctx.store, sub);
  const out: SubmissionJson = {
    id: sub.id,
    kind: sub.kind,
    user: sub.userId,
    status: sub.job.status,
    position,
    estimated_wait_s: await estimateWait(ctx, sub, position),
    created_at: isoInZone(sub.createdAt, zone),
    received_at: isoInZone(sub.receivedAt, zone),
    attempt,
    kept,
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
  ctx: ServiceContext,
  userId: string,
): Promise<Record<Kind, number | null>> {
  const scores = Object.fromEntries(KINDS.map((k) => [k, null])) as Record<Kind, number | null>;
  for (const c of await countedScores(ctx.store, ctx.now(), userId)) scores[c.kind] = c.score;
  return scores;
}

/** A student's part as the API and the pages show it: calendar, attempts, kept score. */
export interface PartJson {
  kind: Kind;
  /** `not-open`, `open` or `closed` for this student now. */
  state: "not-open" | "open" | "closed";
  /** ISO 8601 in the course's zone, or null (no limit). */
  opens: string | null;
  closes: string | null;
  attempt_limit: number;
  /** Attempts used (graded or on their way; grader failures are none). */
  attempts: number;
  kept_score: number | null;
  max_grade: number | null;
  /** The student's extension for this part, if one applies. */
  extension: { until: string | null; attempts: number } | null;
}

/** What {@link partsOf} gives: the course, and each part as the student sees it. */
export interface StudentParts {
  course: Course;
  parts: PartJson[];
}

/** Every part for `userId`: their window now, attempts used, kept score, extension. */
export async function partsOf(ctx: ServiceContext, userId: string): Promise<StudentParts> {
  const course = (await ctx.store.getCourse())!;
  const zone = course.calendar.timezone;
  const iso = (t: number | null) => (t === null ? null : isoInZone(t, zone));
  const now = ctx.now();
  const extensions = await ctx.store.listExtensions(userId);
  const subs = await ctx.store.listSubmissions({ userId });
  const cells = await countedScores(ctx.store, now, userId);
  const parts = KINDS.map((kind): PartJson => {
    const w = windowOf(course.calendar, kind, extensions);
    const ext = extensionFor(extensions, kind);
    const cell = cells.find((c) => c.kind === kind);
    return {
      kind,
      state: windowState(w, now).state,
      opens: iso(w.opens),
      closes: iso(w.closes),
      attempt_limit: w.attemptLimit,
      attempts: subs.filter((s) => s.kind === kind && countsAsAttempt(s)).length,
      kept_score: cell?.score ?? null,
      max_grade: cell?.maxGrade ?? null,
      extension: ext && { until: iso(ext.until), attempts: ext.attempts },
    };
  });
  return { course, parts };
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
  // Which it was: graded (the result is about the program), or a failure of the grader or
  // the machine (not counted, retried up to MAX_TRIES), or not graded yet.
  entries["output/job.json"] = enc.encode(
    JSON.stringify(
      {
        status: sub.job.status,
        tries: sub.job.tries,
        outcome: sub.job.status === "done"
          ? "graded: the result is what the program did"
          : sub.job.status === "failed"
          ? "the grader or the machine failed, not the program: it does not count"
          : "not graded yet",
        ...(sub.job.error ? { grader_error: sub.job.error } : {}),
      },
      null,
      2,
    ) + "\n",
  );
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

/**
 * A new job for every graded submission of `kind` (of `userId` only, if
 * given): after a grader fix. Returns how many were queued.
 */
export async function rerun(ctx: ServiceContext, kind: Kind, userId?: string): Promise<number> {
  const subs = await ctx.store.listSubmissions({ kind, userId, status: "done" });
  for (const s of subs) await ctx.store.enqueue(s.id, ctx.now());
  if (subs.length) ctx.notify();
  ctx.log(`re-run: ${subs.length} ${kind} submission(s) queued again`, {
    event: "rerun",
    part: kind,
    student: userId,
  });
  return subs.length;
}

/**
 * A refusal by the store's rules or the calendar, with its reason for the
 * counters and the log: the Refusal's name (`not-open` as `not_open`,
 * `limit` as `attempt_limit`).
 */
class Refused extends UploadError {
  readonly reason: string;
  constructor(made: Refusal, status: number, message: string, retryAfter?: number) {
    const headers: Record<string, string> = retryAfter === undefined
      ? {}
      : { "retry-after": String(retryAfter) };
    super(status, message, "kind", headers);
    this.reason = made.refused === "limit" ? "attempt_limit" : made.refused.replace("-", "_");
  }
}

/** The refusal of a submission as an UploadError: its status, its sentence, Retry-After. */
async function refused(
  ctx: ServiceContext,
  made: Refusal,
  kind: Kind,
  course: Course,
): Promise<Refused> {
  const calendar = calendarSentence(made, course.calendar.timezone, kind);
  if (calendar) return new Refused(made, made.refused === "limit" ? 429 : 403, calendar);
  if (made.refused === "active") {
    const other = await ctx.store.getSubmission(made.submissionId);
    const pos = other?.job.status === "queued" ? await ctx.store.queuePosition(other.job.id) : null;
    const wait = other ? await estimateWait(ctx, other, pos) : null;
    return new Refused(
      made,
      429,
      `your ${kind} submission ${made.submissionId} is still ${other?.job.status ?? "queued"}: ` +
        `submit again once it is graded`,
      wait ?? 10,
    );
  }
  const secs = made.refused === "cooldown" ? Math.ceil(made.retryAfterMs / 1000) : 10;
  return new Refused(
    made,
    429,
    `one ${kind} submission every ${course.policy.cooldownSeconds} s: try again in ${secs} s`,
    secs,
  );
}

/**
 * Check an uploaded form and queue it for `userId`: the one path of every
 * submission, from the API and from the web form. Its upload has all
 * arrived when this is called: that instant is checked against the
 * student's window (at once, and again in the store's transaction with the
 * attempt limit); its accepted time is the clock's when it is committed. A
 * refusal is an UploadError (with the field it is about, and Retry-After for
 * a 429) and queues nothing.
 */
export async function acceptSubmission(
  ctx: ServiceContext,
  form: FormData,
  userId: string,
): Promise<Submission> {
  try {
    const made = await admit(ctx, form, userId);
    if (ctx.counters) ctx.counters.accepted++;
    ctx.log(`submission ${made.id} (${made.kind}) accepted from ${userId}`, {
      event: "submission.accepted",
      submission: made.id,
      student: userId,
      part: made.kind,
    });
    return made;
  } catch (e) {
    if (e instanceof HttpError) {
      const reason = e instanceof Refused ? e.reason : refusalReason(e);
      ctx.counters?.refuse(reason);
      ctx.log(`submission by ${userId} refused (${reason}): ${e.status}`, {
        event: "submission.refused",
        student: userId,
        reason,
      });
    }
    throw e;
  }
}

/** Why a submission was refused, from the refusal's status (the counters' and the log's reason). */
export function refusalReason(e: HttpError): string {
  const reasons: Record<number, string> = {
    400: "invalid",
    403: "closed",
    408: "too_slow",
    413: "too_large",
    415: "not_accepted",
    429: "too_many",
    503: "stopping",
  };
  return reasons[e.status] ?? `http_${e.status}`;
}

/** {@link acceptSubmission} but for the log and the counters. */
async function admit(ctx: ServiceContext, form: FormData, userId: string): Promise<Submission> {
  const receivedAt = ctx.now();
  const course = (await ctx.store.getCourse())!;
  const kind = String(form.get("kind") ?? "").trim();
  const extensions = await ctx.store.listExtensions(userId);
  const early = isKind(kind) &&
    outsideWindow(windowOf(course.calendar, kind, extensions), receivedAt);
  if (early) throw await refused(ctx, early, kind as Kind, course);
  const sub = await checkUpload(form, userId, course.policy);
  const made = await ctx.store.createSubmission(sub, {
    now: ctx.now(),
    cooldownMs: course.policy.cooldownSeconds * 1000,
    receivedAt,
    window: windowOf(course.calendar, sub.kind, extensions),
  });
  if (isRefusal(made)) throw await refused(ctx, made, sub.kind, course);
  ctx.notify();
  return made;
}

/**
 * The teaching assistant grants `userId` an extension (the API's and the
 * student page's form): `until` is ISO 8601, local in the course's zone or
 * with an offset. A bad time is a 400, an unknown student a 404.
 */
export async function extendStudent(
  ctx: ServiceContext,
  userId: string,
  change: { kind: Kind | null; until?: string; attempts?: number },
): Promise<Extension> {
  const zone = (await ctx.store.getCourse())!.calendar.timezone;
  let until: number | undefined;
  try {
    until = change.until === undefined ? undefined : parseTime(change.until, zone);
  } catch (e) {
    throw new HttpError(400, `until: ${errorMessage(e)}`);
  }
  try {
    const e = await extend(ctx.store, userId, { ...change, until }, ctx.now());
    ctx.log(`extension: ${userId} ${e.kind ?? "every part"} until ${e.until} +${e.attempts}`, {
      event: "extension",
      student: userId,
      part: e.kind ?? undefined,
    });
    return e;
  } catch (e) {
    if (e instanceof RunError) throw new HttpError(404, e.message);
    throw e;
  }
}
