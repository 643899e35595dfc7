/**
 * What both stores share above SQL: turning a row (SQLite's or PostgreSQL's,
 * the same columns) into a {@link Job}, {@link User}, {@link Result} or
 * {@link WorkerInfo}, the grade book's SQL and the rule that picks the kept
 * score. Numbers are read through `Number()` (PostgreSQL's BIGINT arrives as
 * a string).
 *
 * @module
 */
import type {
  GradeCell,
  Job,
  JobStatus,
  Kind,
  Policy,
  Result,
  Role,
  StoredFile,
  User,
  WorkerInfo,
} from "./store.ts";

export type AnyRow = Record<string, unknown>;

export const num = (v: unknown): number => Number(v);
export const numOrNull = (v: unknown): number | null => (v === null ? null : Number(v));
export const strOrNull = (v: unknown): string | null => (v === null ? null : String(v));

/** The error of a job whose worker stopped renewing its lease. */
export const LEASE_EXPIRED = "the worker running it stopped answering (lease expired)";

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

/** Every submission's latest result, by student, kind and submission (for {@link keptFrom}). */
export const LATEST_SCORES_SQL = `WITH latest AS (
    SELECT s.user_id, s.kind, s.id AS sid, r.score, r.max_grade
    FROM submissions s JOIN results r ON r.submission_id = s.id
    WHERE r.job_id = (SELECT MAX(job_id) FROM results WHERE submission_id = s.id)
  )
  SELECT user_id, kind, score, max_grade, sid FROM latest ORDER BY user_id, kind, sid`;

/**
 * A submission's score is its latest result (a TA re-run replaces it); a
 * student's kept score for a kind is the best, or the latest, of those.
 */
export function keptFrom(rows: readonly AnyRow[], keep: Policy["keep"]): GradeCell[] {
  const cells = new Map<string, GradeCell>();
  for (const r of rows) {
    const key = `${r.user_id}\0${r.kind}`;
    const cell: GradeCell = {
      userId: String(r.user_id),
      kind: r.kind as Kind,
      score: num(r.score),
      maxGrade: num(r.max_grade),
    };
    const old = cells.get(key);
    if (!old || keep === "last" || cell.score > old.score) cells.set(key, cell);
  }
  return [...cells.values()];
}
