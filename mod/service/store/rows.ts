/**
 * What both stores share above SQL: turning a row (SQLite's or PostgreSQL's,
 * the same columns, queries.ts) into a {@link Course}, {@link Job},
 * {@link User}, {@link Submission}, {@link Result} or {@link WorkerInfo}, or
 * into what rules.ts reads. Numbers are read through `Number()`
 * (PostgreSQL's BIGINT arrives as a string), bytes through {@link bytes}
 * (PostgreSQL's bytea arrives as a Buffer).
 *
 * @module
 */
import { afterFailure, type Earlier } from "../rules.ts";
import type { Param } from "./queries.ts";
import {
  type Calendar,
  type Course,
  type CreateRules,
  DEFAULT_CALENDAR,
  type Extension,
  type Histogram,
  type Job,
  type JobCount,
  type JobStatus,
  type Kind,
  type LeasedJob,
  type NewResult,
  type NewSubmission,
  type Policy,
  type QueueEntry,
  type Result,
  type Role,
  type StoredFile,
  type Submission,
  type SubmissionScore,
  type User,
  type WorkerInfo,
} from "./store.ts";

export type AnyRow = Record<string, unknown>;

export const num = (v: unknown): number => Number(v);
export const numOrNull = (v: unknown): number | null => (v === null ? null : Number(v));
export const strOrNull = (v: unknown): string | null => (v === null ? null : String(v));

/** A bytes column as a plain Uint8Array (PostgreSQL's client gives a Buffer). */
export function bytes(v: unknown): Uint8Array {
  const b = v as Uint8Array;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** `name, bytes` rows. */
export function filesFrom(rows: readonly AnyRow[]): StoredFile[] {
  return rows.map((r) => ({ name: String(r.name), bytes: bytes(r.bytes) }));
}

/** The parameters of queries.ts `insertFile`: a submission's file `seq`. */
export function fileParams(submissionId: number, seq: number, f: StoredFile): Param[] {
  return [submissionId, seq, f.name, f.bytes, f.givenName ?? null];
}

export function courseFrom(r: AnyRow): Course {
  const calendar = r.calendar === null ? {} : JSON.parse(String(r.calendar)) as Partial<Calendar>;
  return {
    name: String(r.name),
    policy: JSON.parse(String(r.policy)) as Policy,
    calendar: { ...DEFAULT_CALENDAR, ...calendar },
    createdAt: num(r.created_at),
  };
}

/** The parameters of queries.ts `createCourse`. */
export function courseParams(c: Course): Param[] {
  return [c.name, JSON.stringify(c.policy), JSON.stringify(c.calendar), c.createdAt];
}

/** The parameters of queries.ts `insertSubmission`: accepted `now`, received `receivedAt`. */
export function submissionParams(s: NewSubmission, rules: CreateRules): Param[] {
  return [s.userId, s.kind, s.sciper ?? null, rules.now, rules.receivedAt ?? rules.now];
}

/** An `extensions` row (kind '*': every part). */
export function extensionFrom(r: AnyRow): Extension {
  return {
    userId: String(r.user_id),
    kind: r.kind === "*" ? null : r.kind as Kind,
    until: numOrNull(r.until),
    attempts: num(r.attempts),
    grantedAt: num(r.granted_at),
  };
}

/** The parameters of queries.ts `setExtension`. */
export function extensionParams(e: Extension): Param[] {
  return [e.userId, e.kind ?? "*", e.until, e.attempts, e.grantedAt];
}

export function jobFrom(r: AnyRow): Job {
  return {
    id: num(r.id),
    submissionId: num(r.submission_id),
    status: r.status as JobStatus,
    tries: num(r.tries),
    enqueuedAt: num(r.enqueued_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    worker: strOrNull(r.worker),
    leaseUntil: numOrNull(r.lease_until),
    error: strOrNull(r.error),
  };
}

/** A job row joined with its submission's kind, student and sciper, handed out under `leaseId`. */
export function leasedFrom(r: AnyRow, leaseId: string): LeasedJob {
  return {
    ...jobFrom(r),
    leaseId,
    kind: r.kind as Kind,
    userId: String(r.user_id),
    sciper: strOrNull(r.sciper),
  };
}

/** A job row joined with its submission's kind and student (queries.ts `queue`). */
export function queueFrom(r: AnyRow): QueueEntry {
  return {
    job: jobFrom(r),
    kind: r.kind as Kind,
    userId: String(r.user_id),
    userName: String(r.user_name),
  };
}

export function userFrom(r: AnyRow): User {
  return { id: String(r.id), name: String(r.name), email: String(r.email), role: r.role as Role };
}

/** A `results` row and its files. */
export function resultFrom(r: AnyRow, files: StoredFile[]): Result {
  return {
    jobId: num(r.job_id),
    submissionId: num(r.submission_id),
    score: num(r.score),
    maxGrade: num(r.max_grade),
    success: num(r.success) ? 1 : 0,
    tests: JSON.parse(String(r.tests)),
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    durationMs: num(r.duration_ms),
    worker: String(r.worker),
    finishedAt: num(r.finished_at),
    files,
  };
}

/** The parameters of queries.ts `insertResult`; `job`: what `done` returned. */
export function resultParams(jobId: number, job: AnyRow, res: NewResult, now: number): Param[] {
  return [
    jobId,
    num(job.submission_id),
    res.score,
    res.maxGrade,
    res.success,
    JSON.stringify(res.tests),
    res.stdout,
    res.stderr,
    res.durationMs,
    String(job.worker),
    now,
  ];
}

/**
 * A running job's try failed (`error`: the grader's, or a lost lease): where
 * it goes (rules.ts) and the parameters of queries.ts `endTry`.
 */
export function endTry(
  jobId: number,
  tries: number,
  error: string,
  now: number,
): { status: "queued" | "failed"; params: Param[] } {
  const status = afterFailure(tries);
  return { status, params: [status, error, status === "failed" ? now : null, jobId] };
}

export function workerFrom(r: AnyRow): WorkerInfo {
  return {
    id: String(r.id),
    host: String(r.host),
    slots: num(r.slots),
    startedAt: num(r.started_at),
    lastSeen: num(r.last_seen),
    running: num(r.running),
  };
}

/** A `submissions` row, its files' names and its latest job's row. */
export function submissionFrom(r: AnyRow, names: readonly AnyRow[], job: AnyRow): Submission {
  return {
    id: num(r.id),
    userId: String(r.user_id),
    kind: r.kind as Kind,
    sciper: strOrNull(r.sciper),
    createdAt: num(r.created_at),
    receivedAt: num(r.received_at ?? r.created_at),
    firstStatus: r.first_status as JobStatus,
    fileNames: names.map((f) => String(f.name)),
    renamed: names.filter((f) => f.given_name !== null && f.given_name !== undefined)
      .map((f) => ({ from: String(f.given_name), to: String(f.name) })),
    job: jobFrom(job),
  };
}

export function earlierFrom(r: AnyRow): Earlier {
  return {
    id: num(r.id),
    createdAt: num(r.created_at),
    firstStatus: r.first_status as JobStatus,
    latestStatus: r.latest_status as JobStatus,
  };
}

export function scoreFrom(r: AnyRow): SubmissionScore {
  return {
    userId: String(r.user_id),
    kind: r.kind as Kind,
    submissionId: num(r.submission_id),
    receivedAt: num(r.received_at ?? r.created_at),
    score: num(r.score),
    maxGrade: num(r.max_grade),
  };
}

export function jobCountFrom(r: AnyRow): JobCount {
  return { kind: r.kind as Kind, status: r.status as JobStatus, n: num(r.n) };
}

/** queries.ts `histogram`'s one row (SUMs are NULL over no rows). */
export function histogramFrom(r: AnyRow, bounds: readonly number[]): Histogram {
  return {
    bounds,
    counts: bounds.map((_, i) => num(r[`le_${i}`] ?? 0)),
    count: num(r.n),
    sum: num(r.total ?? 0),
  };
}
