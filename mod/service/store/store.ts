/**
 * The scoring service's storage: one interface, two implementations
 * (`sqlite.ts` on Deno's built-in `node:sqlite`, embedded, one file in the
 * data directory; a PostgreSQL one for several servers and workers). Every
 * method is async so that a network database fits behind it; every rule that
 * must hold across processes (one active job per student and kind, the
 * cooldown, a lease given to one worker, a job completed exactly once) is
 * enforced INSIDE one store call, in one transaction, never by the caller.
 * The rules themselves are written once, in ../rules.ts: a store reads the
 * facts in its transaction, asks there, and writes; the statements both
 * stores run are written once, in queries.ts.
 *
 * Times are milliseconds since the epoch (numbers), passed in by the caller
 * (`now`) so that tests and every store agree on the clock.
 *
 * @module
 */

/** What a student can submit. */
export const KINDS = [
  "part2",
  "part3",
  "part4-receiver",
  "part4-sender",
  "part5",
  "part6",
  "ca-sign",
] as const;
export type Kind = typeof KINDS[number];

export function isKind(s: string): s is Kind {
  return (KINDS as readonly string[]).includes(s);
}

/** A job's life: queued -> running -> done | failed (grader or machine failure). */
export type JobStatus = "queued" | "running" | "done" | "failed";

/** The course's rules, set at `course init`, shown to students. */
export interface Policy {
  /** Which score of a student's submissions of one kind counts. */
  keep: "best" | "last";
  /** Minimum time between two submissions of one kind by one student, s. */
  cooldownSeconds: number;
  /** Largest script (and any one file), bytes. */
  maxScriptBytes: number;
  /** Largest upload (all files together), bytes. */
  maxTotalBytes: number;
  /** Wall-clock limit of one run of the student's program, s. */
  timeLimitSeconds: number;
  /** Output kept per run of the program, bytes. */
  outputLimitBytes: number;
}

export const DEFAULT_POLICY: Policy = {
  keep: "best",
  cooldownSeconds: 30,
  maxScriptBytes: 256 * 1024,
  maxTotalBytes: 1024 * 1024,
  timeLimitSeconds: 20,
  outputLimitBytes: 1024 * 1024,
};

/** How many times a job runs at most (1 + 3 retries) before it is `failed` for good. */
export const MAX_TRIES = 4;

/**
 * When a part takes submissions and how many: its own opening, close
 * (epoch ms; null: no limit) or attempt limit, each over the course's when
 * given (`undefined`: the course's).
 */
export interface PartCalendar {
  opens?: number | null;
  closes?: number | null;
  attemptLimit?: number;
}

/**
 * The course's calendar (calendar.ts parses, shows and applies it): its time
 * zone, the window of submissions, the attempt limit per student and part,
 * and a part's own window (the bonus part 6 may close later).
 */
export interface Calendar {
  /** IANA name of the zone every time is shown in (`Europe/Zurich`). */
  timezone: string;
  /** The first instant submissions are taken (epoch ms), or null: already open. */
  opens: number | null;
  /** The instant they stop (epoch ms), or null: never. */
  closes: number | null;
  /** Attempts per student and part (a grader failure is none). */
  attemptLimit: number;
  parts: Partial<Record<Kind, PartCalendar>>;
}

export const DEFAULT_CALENDAR: Calendar = {
  timezone: "Europe/Zurich",
  opens: null,
  closes: null,
  attemptLimit: 100,
  parts: {},
};

/**
 * A student's extension, for one part or all (`kind` null): a later close
 * and/or more attempts than the calendar gives.
 */
export interface Extension {
  userId: string;
  kind: Kind | null;
  /** The student's own close (epoch ms), or null: the calendar's. */
  until: number | null;
  /** Attempts on top of the limit. */
  attempts: number;
  grantedAt: number;
}

/** One student's window for one part: the calendar with their extension applied. */
export interface SubmitWindow {
  opens: number | null;
  closes: number | null;
  attemptLimit: number;
}

export interface Course {
  name: string;
  policy: Policy;
  calendar: Calendar;
  createdAt: number;
}

/**
 * What a worker may take: the kinds it can grade (a worker on another
 * machine has no CA key, so it takes everything but `ca-sign`).
 */
export interface LeaseFilter {
  kinds?: readonly Kind[];
}

export type Role = "student" | "ta";

export interface User {
  id: string;
  name: string;
  email: string;
  role: Role;
}

/** A file of a submission or of its output; bytes live in the database. */
export interface StoredFile {
  name: string;
  bytes: Uint8Array;
  /** The name the student gave it, when it was saved under another (`../x.py` -> `x.py`). */
  givenName?: string;
}

export interface NewSubmission {
  userId: string;
  kind: Kind;
  /** part4-sender: the student's sciper. */
  sciper?: string;
  files: StoredFile[];
}

/** A submission with the state of its latest job. */
export interface Submission {
  id: number;
  userId: string;
  kind: Kind;
  sciper: string | null;
  /** When it was accepted: the server's clock when the submission was committed. */
  createdAt: number;
  /** When its upload had all arrived: what the calendar's window is checked against. */
  receivedAt: number;
  /** Its first job's status: the student's own grading (a grader failure is no attempt). */
  firstStatus: JobStatus;
  /** Names of the uploaded files, in upload order. */
  fileNames: string[];
  /** The files saved under another name than the one the student gave. */
  renamed: { from: string; to: string }[];
  /** The latest job of this submission (a TA re-run makes a new one). */
  job: Job;
}

export interface Job {
  id: number;
  submissionId: number;
  status: JobStatus;
  /** How many times a worker took it (a lease); at most {@link MAX_TRIES}. */
  tries: number;
  enqueuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Worker holding the lease (running) or that finished it. */
  worker: string | null;
  leaseUntil: number | null;
  /** Why the last try failed (grader/machine), if it did. */
  error: string | null;
}

/** A job handed to one worker: `leaseId` fences every later call about it. */
export interface LeasedJob extends Job {
  leaseId: string;
  kind: Kind;
  userId: string;
  sciper: string | null;
}

export interface TestRow {
  name: string;
  passed: boolean;
  scored?: boolean;
  detail: string;
}

/** The outcome of a finished job (one row per job, written once). */
export interface NewResult {
  score: number;
  maxGrade: number;
  success: 0 | 1;
  tests: TestRow[];
  stdout: string;
  stderr: string;
  /** Files made by grading (the signed certificate for ca-sign). */
  files: StoredFile[];
  durationMs: number;
}

export interface Result extends NewResult {
  jobId: number;
  submissionId: number;
  worker: string;
  finishedAt: number;
}

export interface WorkerInfo {
  id: string;
  host: string;
  slots: number;
  startedAt: number;
  lastSeen: number;
  /** Jobs it is running now. */
  running: number;
}

/** A job with its submission's part and student (the teaching assistant's queue). */
export interface QueueEntry {
  job: Job;
  kind: Kind;
  userId: string;
  userName: string;
}

/** Why a submission was not accepted by {@link Store.createSubmission}. */
export type Refusal =
  | { refused: "active"; submissionId: number }
  | { refused: "cooldown"; retryAfterMs: number }
  | { refused: "not-open"; opens: number }
  | { refused: "closed"; closes: number }
  | { refused: "limit"; attemptLimit: number };

export interface CreateRules {
  /** The server's clock: the accepted time. */
  now: number;
  cooldownMs: number;
  /** When the upload had all arrived (default `now`): checked against `window`. */
  receivedAt?: number;
  /** The student's window for this part (default: always open, no limit). */
  window?: SubmitWindow;
}

/** One cell source of the grade book: a user's kept score for a kind. */
export interface GradeCell {
  userId: string;
  kind: Kind;
  /** The submission whose score it is. */
  submissionId: number;
  score: number;
  maxGrade: number;
}

/** A submission's score: the result of its latest graded job (a TA re-run replaces it). */
export interface SubmissionScore {
  userId: string;
  kind: Kind;
  submissionId: number;
  receivedAt: number;
  score: number;
  maxGrade: number;
}

/** Which submissions {@link Store.keptScores} keeps a score among. */
export interface ScoreFilter {
  userId?: string;
  counts?: (s: SubmissionScore) => boolean;
}

export interface SubmissionFilter {
  userId?: string;
  kind?: Kind;
  status?: JobStatus;
  limit?: number;
}

/** How many jobs of a kind are in a status (the queue's depth, `/metrics`). */
export interface JobCount {
  kind: Kind;
  status: JobStatus;
  n: number;
}

/**
 * A histogram of times, ms: `counts[i]` values at or under `bounds[i]`
 * (cumulative, as Prometheus's `le` buckets), how many values, their sum.
 */
export interface Histogram {
  bounds: readonly number[];
  counts: number[];
  count: number;
  sum: number;
}

/** What `course check` reads: the rows a sound course never has, and its size. */
export interface Audit {
  /** The database's own check (SQLite: integrity_check, foreign_key_check); empty when sound. */
  integrity: string[];
  /** Jobs marked done that have no result row. */
  doneWithoutResult: number[];
  /** Every submission's kind and how many files it holds. */
  submissionFiles: { id: number; kind: Kind; files: number }[];
  /** Successful ca-sign results whose signed certificate is missing. */
  signedWithoutCert: number[];
  counts: { users: number; submissions: number; jobs: number; results: number };
}

export interface Store {
  /** Apply the migrations not applied yet; returns the schema version. */
  migrate(): Promise<number>;
  close(): Promise<void>;

  // -- course and policy ------------------------------------------------
  getCourse(): Promise<Course | null>;
  /** Create the course (once; throws if one exists). */
  createCourse(course: Course): Promise<void>;
  setPolicy(policy: Policy): Promise<void>;
  setCalendar(calendar: Calendar): Promise<void>;
  /** Grant (or replace) a student's extension for `e.kind` (null: all parts). */
  setExtension(e: Extension): Promise<void>;
  /** Every extension (of `userId` only, if given), by student then kind. */
  listExtensions(userId?: string): Promise<Extension[]>;
  /**
   * The course CA's certificate (public, PEM), kept in the database so a
   * worker on another machine can grade part 5 with nothing but the URL.
   */
  setCaCert(pem: string): Promise<void>;
  getCaCert(): Promise<string | null>;

  // -- users and tokens (only SHA-256 hashes of tokens are stored) --------
  /** Insert or update by id; returns whether it was new. */
  upsertUser(user: User): Promise<{ created: boolean }>;
  getUser(id: string): Promise<User | null>;
  listUsers(role?: Role): Promise<User[]>;
  /** The user's one valid token becomes `tokenHash` (the old one is revoked). */
  setToken(userId: string, tokenHash: string, now: number): Promise<void>;
  userByTokenHash(tokenHash: string): Promise<User | null>;

  // -- web sessions (only SHA-256 hashes of their ids are stored) ---------
  /**
   * Open a session `idHash` for whoever holds `tokenHash` now, until
   * `expiresAt` (and forget the sessions expired at `now`); its user, or null
   * if the token is no one's. A session ends at {@link closeSession}, at its
   * expiry, or when its user gets a new token.
   */
  openSession(
    idHash: string,
    tokenHash: string,
    now: number,
    expiresAt: number,
  ): Promise<User | null>;
  /** The user of session `idHash` if it is open at `now`, else null. */
  sessionUser(idHash: string, now: number): Promise<User | null>;
  /** End a session (sign-out). */
  closeSession(idHash: string): Promise<void>;

  // -- submissions ------------------------------------------------------
  /**
   * Store a submission and queue its job, atomically, unless rules.ts
   * `refusal` says no: outside the student's window (`not-open`, `closed`),
   * one of this kind queued or running (`active`), no attempt left
   * (`limit`), or one less than `cooldownMs` ago (`cooldown`).
   */
  createSubmission(s: NewSubmission, rules: CreateRules): Promise<Submission | Refusal>;
  getSubmission(id: number): Promise<Submission | null>;
  listSubmissions(filter: SubmissionFilter): Promise<Submission[]>;
  submissionFiles(id: number): Promise<StoredFile[]>;

  // -- the queue ----------------------------------------------------------
  /** A new queued job for an existing submission (TA re-run). */
  enqueue(submissionId: number, now: number): Promise<Job>;
  /**
   * Hand the oldest queued job (of `filter.kinds`, if given) to `worker`
   * until `now + leaseMs` (tries + 1), or null if none is queued. Never
   * gives one job to two workers.
   */
  lease(
    worker: string,
    leaseMs: number,
    now: number,
    filter?: LeaseFilter,
  ): Promise<LeasedJob | null>;
  /** Extend the lease; false if the worker no longer holds it. */
  renew(jobId: number, leaseId: string, leaseMs: number, now: number): Promise<boolean>;
  /**
   * Running jobs whose lease ended before `now` go back to the queue (or
   * to `failed` once they used {@link MAX_TRIES}); returns how many.
   */
  expireLeases(now: number): Promise<number>;
  /**
   * Write the job's one result row and mark it done, if `leaseId` still
   * holds it; false otherwise (another worker or an expiry took it).
   */
  complete(jobId: number, leaseId: string, result: NewResult, now: number): Promise<boolean>;
  /**
   * The grader or the machine failed: back to the queue while tries <
   * {@link MAX_TRIES}, else `failed`. Returns the new status, or null if the
   * lease was lost.
   */
  fail(jobId: number, leaseId: string, error: string, now: number): Promise<JobStatus | null>;
  /** Hand a running job back untouched (graceful shutdown): queued, tries - 1. */
  release(jobId: number, leaseId: string): Promise<boolean>;
  /** 1-based position among queued jobs, or null if not queued. */
  queuePosition(jobId: number): Promise<number | null>;
  /** Jobs in a status, oldest first. */
  listJobs(status: JobStatus, limit?: number): Promise<Job[]>;
  /** Wall times (ms, lease to result) of the most recent done jobs, newest first. */
  recentDurations(limit: number): Promise<number[]>;
  /** Jobs queued, started or finished at `since` or later, oldest first. */
  jobsSince(since: number): Promise<Job[]>;
  /** Jobs in a status, oldest first, with their part and student. */
  listQueue(status: JobStatus, limit?: number): Promise<QueueEntry[]>;

  // -- results ------------------------------------------------------------
  getResult(jobId: number): Promise<Result | null>;
  /** The result of the submission's latest done job. */
  latestResult(submissionId: number): Promise<Result | null>;
  /**
   * Every (student, kind)'s kept score under `keep` (of `userId` only, if
   * given), among the submissions `counts` admits (default: all; the grade
   * book's cut at each close).
   */
  keptScores(keep: Policy["keep"], opts?: ScoreFilter): Promise<GradeCell[]>;

  // -- workers ------------------------------------------------------------
  registerWorker(w: { id: string; host: string; slots: number }, now: number): Promise<void>;
  heartbeat(id: string, running: number, now: number): Promise<void>;
  unregisterWorker(id: string): Promise<void>;
  listWorkers(): Promise<WorkerInfo[]>;
  /** Workers silent since before `before` run nothing: their running count becomes 0. */
  resetLostWorkers(before: number): Promise<void>;

  // -- operations: health, metrics, course check ---------------------------
  /** Jobs by kind and status (every job ever queued, re-runs included). */
  jobCounts(): Promise<JobCount[]>;
  /** How long every result took to grade, ms, bucketed at `boundsMs`. */
  gradingTimes(boundsMs: readonly number[]): Promise<Histogram>;
  /** How long every job a worker took had waited since it was queued, ms. */
  queueWaits(boundsMs: readonly number[]): Promise<Histogram>;
  /** The database's consistency, for `course check` (reads everything: not for a request). */
  audit(): Promise<Audit>;

  /**
   * Call `fn` whenever another process queues a job (PostgreSQL: LISTEN/
   * NOTIFY, so a worker on another machine starts at once instead of at its
   * next look at the queue). Optional: without it, workers poll. Returns
   * how to stop listening.
   */
  onQueued?(fn: () => void): Promise<() => Promise<void>>;
}

/** True if the value returned by createSubmission is a refusal. */
export function isRefusal(v: Submission | Refusal): v is Refusal {
  return "refused" in v;
}
