/**
 * The course's submission rules, in one place: which submission is accepted
 * (one queued or running per student and part, then a cooldown since the
 * last attempt), what counts as an attempt, what a grader failure or a lost
 * lease does to a job, and which score is kept. Pure: a store reads the facts
 * inside the transaction that then writes (so two servers cannot both
 * accept) and asks here; the API and the pages count with the same
 * functions. A new rule is a new fact in {@link Earlier} or
 * {@link CreateRules} and a clause in {@link refusal}. The calendar's window
 * and attempt limit arrive as `rules.window` (calendar.ts `windowOf`: the
 * course's, the part's, the student's extension).
 *
 * @module
 */
import type {
  CreateRules,
  GradeCell,
  JobStatus,
  Policy,
  Refusal,
  Submission,
  SubmissionScore,
  SubmitWindow,
} from "./store/store.ts";
import { MAX_TRIES } from "./store/store.ts";

/** One of a student's earlier submissions of the kind being submitted, as the rules see it. */
export interface Earlier {
  id: number;
  createdAt: number;
  /** Its first job: the student's own grading (a later one is a TA re-run). */
  firstStatus: JobStatus;
  /** Its latest job (a re-run's, if there was one). */
  latestStatus: JobStatus;
}

/** Waiting for a worker or being graded. */
export function isActive(status: JobStatus): boolean {
  return status === "queued" || status === "running";
}

/**
 * Whether a submission whose latest job is in `status` is an attempt for
 * the cooldown: a grader failure is the machine's, not the student's.
 */
export function isAttempt(status: JobStatus): boolean {
  return status !== "failed";
}

/** Whether a submission has a score (its latest job is done): what "Attempts" counts. */
export function isGraded(sub: Submission): boolean {
  return sub.job.status === "done";
}

/**
 * Whether a submission is one of the student's attempts (what the attempt
 * limit counts): their own grading did not fail. One still queued or
 * running counts (it is on its way to a score).
 */
export function countsAsAttempt(e: { firstStatus: JobStatus }): boolean {
  return isAttempt(e.firstStatus);
}

/**
 * Each submission's attempt number (1, 2...; absent: a grader failure, no
 * attempt), `subs` being one student's submissions of one kind, any order.
 */
export function attemptNumbers(
  subs: readonly { id: number; firstStatus: JobStatus }[],
): Map<number, number> {
  const numbers = new Map<number, number>();
  for (const s of [...subs].sort((a, b) => a.id - b.id)) {
    if (countsAsAttempt(s)) numbers.set(s.id, numbers.size + 1);
  }
  return numbers;
}

/** Why a submission received at `at` is outside `window`, or null. */
export function outsideWindow(window: SubmitWindow, at: number): Refusal | null {
  if (window.opens !== null && at < window.opens) {
    return { refused: "not-open", opens: window.opens };
  }
  if (window.closes !== null && at >= window.closes) {
    return { refused: "closed", closes: window.closes };
  }
  return null;
}

/**
 * Why a new submission is refused, or null: received outside the student's
 * window (`not-open`, `closed`), the student's own job of that kind still
 * queued or running (`active`; a TA re-run of a graded one does not
 * block), no attempt left (`limit`), else less than `cooldownMs` since
 * their last attempt. `earlier`: the student's submissions of that kind,
 * oldest first.
 */
export function refusal(earlier: readonly Earlier[], rules: CreateRules): Refusal | null {
  const outside = rules.window && outsideWindow(rules.window, rules.receivedAt ?? rules.now);
  if (outside) return outside;
  const active = earlier.find((e) => isActive(e.firstStatus));
  if (active) return { refused: "active", submissionId: active.id };
  const limit = rules.window?.attemptLimit ?? Infinity;
  if (earlier.filter(countsAsAttempt).length >= limit) {
    return { refused: "limit", attemptLimit: limit };
  }
  const last = Math.max(
    ...earlier.filter((e) => isAttempt(e.latestStatus)).map((e) => e.createdAt),
  );
  const wait = last + rules.cooldownMs - rules.now;
  return wait > 0 ? { refused: "cooldown", retryAfterMs: wait } : null;
}

/** Where a job goes when its try failed (grader, machine, lost lease): again, or given up. */
export function afterFailure(tries: number): "queued" | "failed" {
  return tries >= MAX_TRIES ? "failed" : "queued";
}

/** The error of a job whose worker stopped renewing its lease. */
export const LEASE_EXPIRED = "the worker running it stopped answering (lease expired)";

/**
 * Each student's kept score of each kind: the best of their submissions'
 * scores, or the latest submission's, among those `counts` admits (the
 * grade book's: received before the student's close). `scores` oldest
 * submission first.
 */
export function keptScores(
  scores: readonly SubmissionScore[],
  keep: Policy["keep"],
  counts: (s: SubmissionScore) => boolean = () => true,
): GradeCell[] {
  const cells = new Map<string, GradeCell>();
  for (const s of scores) {
    if (!counts(s)) continue;
    const { userId, kind, submissionId, score, maxGrade } = s;
    const key = `${userId}\0${kind}`;
    const old = cells.get(key);
    if (!old || keep === "last" || score > old.score) {
      cells.set(key, { userId, kind, submissionId, score, maxGrade });
    }
  }
  return [...cells.values()];
}
