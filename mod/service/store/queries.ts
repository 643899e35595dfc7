/**
 * The statements both stores run, written once with `?` placeholders:
 * SQLite binds them as they are, PostgreSQL numbers them ({@link numbered}).
 * Only what one database does its own way stays in its adapter (SQLite's
 * write lock, PostgreSQL's SKIP LOCKED lease, row locks and NOTIFY).
 * No rule lives here: the adapters read facts with these and ask rules.ts.
 *
 * @module
 */
import type { SubmissionFilter } from "./store.ts";

/** A job's columns, as `jobFrom` (rows.ts) reads them. */
export const JOB_COLS =
  "j.id, j.submission_id, j.status, j.tries, j.enqueued_at, j.started_at, j.finished_at, " +
  "j.worker, j.lease_until, j.error";

const USER_COLS = "id, name, email, role";

/** A submission's job by rank: its first (the student's own) or its latest. */
const jobStatus = (order: "ASC" | "DESC", s = "s") =>
  `(SELECT status FROM jobs WHERE submission_id = ${s}.id ORDER BY id ${order} LIMIT 1)`;

/** Every submission's latest result (of whom `and` says), oldest submission first. */
const scores = (and: string) =>
  `SELECT s.user_id, s.kind, s.id AS submission_id, s.created_at, s.received_at,
    r.score, r.max_grade FROM submissions s JOIN results r ON r.submission_id = s.id
    WHERE r.job_id = (SELECT MAX(job_id) FROM results WHERE submission_id = s.id) ${and}
    ORDER BY s.user_id, s.kind, s.id`;

export const Q = {
  course: "SELECT name, policy, calendar, created_at FROM course WHERE id = 1",
  createCourse:
    "INSERT INTO course (id, name, policy, calendar, created_at) VALUES (1, ?, ?, ?, ?)",
  setPolicy: "UPDATE course SET policy = ? WHERE id = 1",
  setCalendar: "UPDATE course SET calendar = ? WHERE id = 1",
  /** Grant or replace an extension (`kind` '*': every part). */
  setExtension: `INSERT INTO extensions (user_id, kind, until, attempts, granted_at)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, kind) DO UPDATE SET until = excluded.until,
      attempts = excluded.attempts, granted_at = excluded.granted_at`,
  extensions: "SELECT * FROM extensions ORDER BY user_id, kind",
  extensionsOf: "SELECT * FROM extensions WHERE user_id = ? ORDER BY kind",
  setCaCert: "UPDATE course SET ca_cert = ? WHERE id = 1",
  caCert: "SELECT ca_cert FROM course WHERE id = 1",

  user: `SELECT ${USER_COLS} FROM users WHERE id = ?`,
  users: `SELECT ${USER_COLS} FROM users ORDER BY id`,
  usersInRole: `SELECT ${USER_COLS} FROM users WHERE role = ? ORDER BY id`,
  userByToken: `SELECT ${USER_COLS} FROM users WHERE token_hash = ?`,
  /** A new user (a row back), or nothing if the id exists. */
  insertUser: `INSERT INTO users (${USER_COLS}) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
    RETURNING id`,
  updateUser: "UPDATE users SET name = ?, email = ?, role = ? WHERE id = ?",
  setToken: "UPDATE users SET token_hash = ?, token_at = ? WHERE id = ?",

  /** A session for whoever holds the token now (no row if no one does). */
  openSession: `INSERT INTO sessions (id_hash, user_id, token_hash, created_at, expires_at)
    SELECT ?, id, token_hash, ?, ? FROM users WHERE token_hash = ?`,
  /** The user of a live session whose token is still the one it was opened with. */
  sessionUser: `SELECT u.id, u.name, u.email, u.role FROM sessions s
    JOIN users u ON u.id = s.user_id AND u.token_hash = s.token_hash
    WHERE s.id_hash = ? AND s.expires_at > ?`,
  closeSession: "DELETE FROM sessions WHERE id_hash = ?",
  expiredSessions: "DELETE FROM sessions WHERE expires_at <= ?",
  userSessions: "DELETE FROM sessions WHERE user_id = ?",

  submission: `SELECT s.*, ${jobStatus("ASC")} AS first_status FROM submissions s WHERE s.id = ?`,
  fileNames: "SELECT name, given_name FROM submission_files WHERE submission_id = ? ORDER BY seq",
  files: "SELECT name, bytes FROM submission_files WHERE submission_id = ? ORDER BY seq",
  latestJob: `SELECT ${JOB_COLS} FROM jobs j WHERE j.submission_id = ? ORDER BY j.id DESC LIMIT 1`,
  /** What rules.ts `refusal` looks at: the student's submissions of a kind, oldest first. */
  earlier: `SELECT s.id, s.created_at, ${jobStatus("ASC")} AS first_status,
    ${jobStatus("DESC")} AS latest_status
    FROM submissions s WHERE s.user_id = ? AND s.kind = ? ORDER BY s.id`,
  insertSubmission: `INSERT INTO submissions (user_id, kind, sciper, created_at, received_at)
    VALUES (?, ?, ?, ?, ?) RETURNING id`,
  insertFile: `INSERT INTO submission_files (submission_id, seq, name, bytes, given_name)
    VALUES (?, ?, ?, ?, ?)`,

  enqueue: `INSERT INTO jobs (submission_id, status, enqueued_at) VALUES (?, 'queued', ?)
    RETURNING id, submission_id, status, tries, enqueued_at, started_at, finished_at, worker,
      lease_until, error`,
  renew: "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_id = ? AND status = 'running'",
  /** Running jobs whose lease ended before `?`, and their tries (PostgreSQL: `FOR UPDATE`). */
  expired: "SELECT id, tries FROM jobs WHERE status = 'running' AND lease_until < ?",
  /** The job is done if the lease still holds it; returns what the result row needs. */
  done: `UPDATE jobs SET status = 'done', finished_at = ?, lease_id = NULL, lease_until = NULL,
    error = NULL WHERE id = ? AND lease_id = ? AND status = 'running'
    RETURNING submission_id, worker`,
  insertResult: `INSERT INTO results (job_id, submission_id, score, max_grade, success, tests,
    stdout, stderr, duration_ms, worker, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertResultFile: "INSERT INTO result_files (job_id, seq, name, bytes) VALUES (?, ?, ?, ?)",
  /** The tries of a job the lease holds (PostgreSQL: `FOR UPDATE`). */
  leasedTries: "SELECT tries FROM jobs WHERE id = ? AND lease_id = ? AND status = 'running'",
  /** A running job's try ended badly: to `?` (rules.ts `afterFailure`), with why. */
  endTry: `UPDATE jobs SET status = ?, lease_id = NULL, lease_until = NULL, error = ?,
    finished_at = ? WHERE id = ? AND status = 'running'`,
  release: `UPDATE jobs SET status = 'queued', tries = tries - 1, lease_id = NULL,
    lease_until = NULL, started_at = NULL, worker = NULL
    WHERE id = ? AND lease_id = ? AND status = 'running'`,
  queuePosition: `SELECT (SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND id <= j.id) AS pos
    FROM jobs j WHERE j.id = ? AND j.status = 'queued'`,
  jobs: `SELECT ${JOB_COLS} FROM jobs j WHERE j.status = ? ORDER BY j.id LIMIT ?`,
  /** Wall time of the latest done jobs, lease to result (what a student waits for). */
  durations: `SELECT finished_at - started_at AS duration_ms FROM jobs
    WHERE status = 'done' AND started_at IS NOT NULL ORDER BY id DESC LIMIT ?`,
  /** Jobs queued, started or finished since `?` (the course page's charts). */
  jobsSince: `SELECT ${JOB_COLS} FROM jobs j
    WHERE j.enqueued_at >= ? OR j.started_at >= ? OR j.finished_at >= ? ORDER BY j.id`,
  /** Jobs in a status with their submission's part and student (the queue page). */
  queue: `SELECT ${JOB_COLS}, s.kind, s.user_id, u.name AS user_name FROM jobs j
    JOIN submissions s ON s.id = j.submission_id JOIN users u ON u.id = s.user_id
    WHERE j.status = ? ORDER BY j.id LIMIT ?`,

  result: "SELECT * FROM results WHERE job_id = ?",
  latestResult: "SELECT * FROM results WHERE submission_id = ? ORDER BY job_id DESC LIMIT 1",
  resultFiles: "SELECT name, bytes FROM result_files WHERE job_id = ? ORDER BY seq",
  /** Every submission's latest result, oldest submission first (rules.ts `keptScores`). */
  scores: scores(""),
  /** The same, of one student (`?`). */
  scoresOf: scores("AND s.user_id = ?"),

  registerWorker: `INSERT INTO workers (id, host, slots, started_at, last_seen, running)
    VALUES (?, ?, ?, ?, ?, 0)
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, slots = excluded.slots,
      started_at = excluded.started_at, last_seen = excluded.last_seen, running = 0`,
  heartbeat: "UPDATE workers SET last_seen = ?, running = ? WHERE id = ?",
  unregisterWorker: "DELETE FROM workers WHERE id = ?",
  /** Workers silent since before `?` run nothing any more (their leases expire). */
  resetLost: "UPDATE workers SET running = 0 WHERE last_seen < ? AND running <> 0",
  workers: "SELECT * FROM workers ORDER BY id",

  jobCounts: `SELECT s.kind, j.status, COUNT(*) AS n FROM jobs j
    JOIN submissions s ON s.id = j.submission_id GROUP BY s.kind, j.status`,
  doneWithoutResult: `SELECT j.id FROM jobs j LEFT JOIN results r ON r.job_id = j.id
    WHERE j.status = 'done' AND r.job_id IS NULL ORDER BY j.id`,
  submissionFileCounts: `SELECT s.id, s.kind, COUNT(f.seq) AS files FROM submissions s
    LEFT JOIN submission_files f ON f.submission_id = s.id GROUP BY s.id, s.kind ORDER BY s.id`,
  signedWithoutCert: `SELECT r.job_id FROM results r JOIN submissions s ON s.id = r.submission_id
    WHERE s.kind = 'ca-sign' AND r.success = 1 AND NOT EXISTS
      (SELECT 1 FROM result_files f WHERE f.job_id = r.job_id AND f.name LIKE '%.crt')
    ORDER BY r.job_id`,
  tableCounts: `SELECT (SELECT COUNT(*) FROM users) AS users,
    (SELECT COUNT(*) FROM submissions) AS submissions, (SELECT COUNT(*) FROM jobs) AS jobs,
    (SELECT COUNT(*) FROM results) AS results`,
} as const;

/**
 * A histogram of `value` (ms) over the rows of `from`: `n` rows, `total`
 * their sum, `le_<i>` how many are at or under `bounds[i]` (cumulative).
 */
export function histogram(
  value: string,
  from: string,
  bounds: readonly number[],
): { sql: string; params: Param[] } {
  const buckets = bounds.map((_, i) =>
    `, SUM(CASE WHEN ${value} <= ? THEN 1 ELSE 0 END) AS le_${i}`
  );
  return {
    sql: `SELECT COUNT(*) AS n, SUM(${value}) AS total${buckets.join("")} FROM ${from}`,
    params: [...bounds],
  };
}

/** Grading times: every result's duration. */
export const GRADING_TIME = ["duration_ms", "results"] as const;
/** Queue waits: from queued to taken, of every job a worker took (its last take). */
export const QUEUE_WAIT = [
  "started_at - enqueued_at",
  "jobs WHERE started_at IS NOT NULL",
] as const;

/** A parameter of a statement. */
export type Param = string | number | Uint8Array | null;

/** `listSubmissions`: newest first, filtered. */
export function listSubmissions(f: SubmissionFilter): { sql: string; params: Param[] } {
  const where: string[] = [];
  const params: Param[] = [];
  const cond = (sql: string, v: Param) => {
    where.push(sql);
    params.push(v);
  };
  if (f.userId !== undefined) cond("s.user_id = ?", f.userId);
  if (f.kind !== undefined) cond("s.kind = ?", f.kind);
  if (f.status !== undefined) cond(`${jobStatus("DESC")} = ?`, f.status);
  const sql = `SELECT s.*, ${jobStatus("ASC")} AS first_status FROM submissions s ${
    where.length ? "WHERE " + where.join(" AND ") : ""
  }
    ORDER BY s.id DESC ${f.limit ? `LIMIT ${Math.floor(f.limit)}` : ""}`;
  return { sql, params };
}

/** A statement with PostgreSQL's numbered placeholders: `?` -> `$1`, `$2`... */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
