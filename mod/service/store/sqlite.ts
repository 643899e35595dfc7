/**
 * The embedded store: one SQLite file (`DIR/socklab.db`) on Deno's built-in
 * `node:sqlite`, no set-up. WAL mode, so `socklab course ...` can read and
 * write while `serve` runs; every rule is one `BEGIN IMMEDIATE` transaction
 * (SQLite's write lock), which is what makes lease and complete atomic across
 * processes. node:sqlite is synchronous: each method runs to its end without
 * yielding, the async signatures are the {@link Store} contract.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { type Migration, MIGRATIONS, MIGRATIONS_TABLE, migrationSql } from "./migrations.ts";
import {
  jobFrom,
  keptFrom,
  LATEST_SCORES_SQL,
  LEASE_EXPIRED,
  num,
  resultFrom,
  strOrNull,
  userFrom,
  workerFrom,
} from "./rows.ts";
import {
  type Course,
  type CreateRules,
  type GradeCell,
  type Job,
  type JobStatus,
  type Kind,
  type LeasedJob,
  type LeaseFilter,
  MAX_TRIES,
  type NewResult,
  type NewSubmission,
  type Policy,
  type Refusal,
  type Result,
  type Role,
  type Store,
  type StoredFile,
  type Submission,
  type SubmissionFilter,
  type User,
  type WorkerInfo,
} from "./store.ts";

type Row = Record<string, SQLInputValue>;

const JOB_COLS =
  "j.id, j.submission_id, j.status, j.tries, j.enqueued_at, j.started_at, j.finished_at, " +
  "j.worker, j.lease_until, j.error";

/** A random id for one lease. */
function newLeaseId(): string {
  return crypto.randomUUID();
}

export class SqliteStore implements Store {
  readonly db: DatabaseSync;
  readonly #migrations: readonly Migration[];

  /**
   * Open (creating if needed) the database file at `path`. `migrations`
   * (default {@link MIGRATIONS}): what `migrate` applies (tests add one).
   */
  constructor(path: string, opts: { migrations?: readonly Migration[] } = {}) {
    this.#migrations = opts.migrations ?? MIGRATIONS;
    this.db = new DatabaseSync(path);
    this.db.exec("PRAGMA busy_timeout = 10000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA foreign_keys = ON");
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.db.prepare(sql).all(...params) as Row[];
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.db.prepare(sql).get(...params) as Row | undefined;
  }

  #run(sql: string, ...params: SQLInputValue[]) {
    return this.db.prepare(sql).run(...params);
  }

  /** Run `fn` in one write transaction (the database's write lock held throughout). */
  #tx<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const v = fn();
      this.db.exec("COMMIT");
      return v;
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  migrate(): Promise<number> {
    this.db.exec(MIGRATIONS_TABLE);
    let version = 0;
    for (const m of this.#migrations) {
      version = this.#tx(() => {
        const done = this.#get("SELECT 1 AS x FROM schema_migrations WHERE version = ?", m.version);
        if (!done) {
          this.db.exec(migrationSql(m, "sqlite"));
          this.#run(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            m.version,
            m.name,
            Date.now(),
          );
        }
        return m.version;
      });
    }
    return Promise.resolve(version);
  }

  close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }

  // -- course -------------------------------------------------------------

  getCourse(): Promise<Course | null> {
    const r = this.#get("SELECT name, policy, created_at FROM course WHERE id = 1");
    return Promise.resolve(
      r
        ? {
          name: String(r.name),
          policy: JSON.parse(String(r.policy)) as Policy,
          createdAt: num(r.created_at),
        }
        : null,
    );
  }

  createCourse(c: Course): Promise<void> {
    this.#run(
      "INSERT INTO course (id, name, policy, created_at) VALUES (1, ?, ?, ?)",
      c.name,
      JSON.stringify(c.policy),
      c.createdAt,
    );
    return Promise.resolve();
  }

  setPolicy(policy: Policy): Promise<void> {
    this.#run("UPDATE course SET policy = ? WHERE id = 1", JSON.stringify(policy));
    return Promise.resolve();
  }

  setCaCert(pem: string): Promise<void> {
    this.#run("UPDATE course SET ca_cert = ? WHERE id = 1", pem);
    return Promise.resolve();
  }

  getCaCert(): Promise<string | null> {
    const r = this.#get("SELECT ca_cert FROM course WHERE id = 1");
    return Promise.resolve(r ? strOrNull(r.ca_cert) : null);
  }

  // -- users ----------------------------------------------------------------

  upsertUser(u: User): Promise<{ created: boolean }> {
    return Promise.resolve(this.#tx(() => {
      const existed = this.#get("SELECT 1 AS x FROM users WHERE id = ?", u.id) !== undefined;
      if (existed) {
        this.#run(
          "UPDATE users SET name = ?, email = ?, role = ? WHERE id = ?",
          u.name,
          u.email,
          u.role,
          u.id,
        );
      } else {
        this.#run(
          "INSERT INTO users (id, name, email, role) VALUES (?, ?, ?, ?)",
          u.id,
          u.name,
          u.email,
          u.role,
        );
      }
      return { created: !existed };
    }));
  }

  getUser(id: string): Promise<User | null> {
    const r = this.#get("SELECT id, name, email, role FROM users WHERE id = ?", id);
    return Promise.resolve(r ? userFrom(r) : null);
  }

  listUsers(role?: Role): Promise<User[]> {
    const rows = role
      ? this.#all("SELECT id, name, email, role FROM users WHERE role = ? ORDER BY id", role)
      : this.#all("SELECT id, name, email, role FROM users ORDER BY id");
    return Promise.resolve(rows.map(userFrom));
  }

  setToken(userId: string, tokenHash: string, now: number): Promise<void> {
    const r = this.#run(
      "UPDATE users SET token_hash = ?, token_at = ? WHERE id = ?",
      tokenHash,
      now,
      userId,
    );
    if (Number(r.changes) !== 1) throw new Error(`no user '${userId}'`);
    return Promise.resolve();
  }

  userByTokenHash(tokenHash: string): Promise<User | null> {
    const r = this.#get("SELECT id, name, email, role FROM users WHERE token_hash = ?", tokenHash);
    return Promise.resolve(r ? userFrom(r) : null);
  }

  // -- submissions ----------------------------------------------------------

  #submission(r: Row): Submission {
    const id = num(r.id);
    const names = this.#all(
      "SELECT name FROM submission_files WHERE submission_id = ? ORDER BY seq",
      id,
    ).map((f) => String(f.name));
    const job = this.#get(
      `SELECT ${JOB_COLS} FROM jobs j WHERE j.submission_id = ? ORDER BY j.id DESC LIMIT 1`,
      id,
    )!;
    return {
      id,
      userId: String(r.user_id),
      kind: r.kind as Kind,
      sciper: strOrNull(r.sciper),
      createdAt: num(r.created_at),
      fileNames: names,
      job: jobFrom(job),
    };
  }

  createSubmission(s: NewSubmission, rules: CreateRules): Promise<Submission | Refusal> {
    return Promise.resolve(this.#tx((): Submission | Refusal => {
      const active = this.#get(
        // Only a submission's first job counts: a TA re-run must not block the student.
        `SELECT s.id FROM submissions s JOIN jobs j ON j.submission_id = s.id
         WHERE s.user_id = ? AND s.kind = ? AND j.status IN ('queued', 'running')
           AND j.id = (SELECT MIN(id) FROM jobs WHERE submission_id = s.id) LIMIT 1`,
        s.userId,
        s.kind,
      );
      if (active) return { refused: "active", submissionId: num(active.id) };
      // A submission the grader failed on is not an attempt: no cooldown after it.
      const last = this.#get(
        `SELECT MAX(s.created_at) AS t FROM submissions s WHERE s.user_id = ? AND s.kind = ?
         AND (SELECT status FROM jobs WHERE submission_id = s.id ORDER BY id DESC LIMIT 1)
           <> 'failed'`,
        s.userId,
        s.kind,
      );
      if (last && last.t !== null) {
        const wait = num(last.t) + rules.cooldownMs - rules.now;
        if (wait > 0) return { refused: "cooldown", retryAfterMs: wait };
      }
      const id = num(
        this.#run(
          "INSERT INTO submissions (user_id, kind, sciper, created_at) VALUES (?, ?, ?, ?)",
          s.userId,
          s.kind,
          s.sciper ?? null,
          rules.now,
        ).lastInsertRowid,
      );
      s.files.forEach((f, i) =>
        this.#run(
          "INSERT INTO submission_files (submission_id, seq, name, bytes) VALUES (?, ?, ?, ?)",
          id,
          i,
          f.name,
          f.bytes,
        )
      );
      this.#run(
        "INSERT INTO jobs (submission_id, status, enqueued_at) VALUES (?, 'queued', ?)",
        id,
        rules.now,
      );
      return this.#submission(this.#get("SELECT * FROM submissions WHERE id = ?", id)!);
    }));
  }

  getSubmission(id: number): Promise<Submission | null> {
    const r = this.#get("SELECT * FROM submissions WHERE id = ?", id);
    return Promise.resolve(r ? this.#submission(r) : null);
  }

  listSubmissions(f: SubmissionFilter): Promise<Submission[]> {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    const cond = (sql: string, v: SQLInputValue) => {
      where.push(sql);
      params.push(v);
    };
    if (f.userId !== undefined) cond("s.user_id = ?", f.userId);
    if (f.kind !== undefined) cond("s.kind = ?", f.kind);
    if (f.status !== undefined) {
      cond(
        "(SELECT status FROM jobs WHERE submission_id = s.id ORDER BY id DESC LIMIT 1) = ?",
        f.status,
      );
    }
    const sql = `SELECT s.* FROM submissions s ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY s.id DESC ${f.limit ? `LIMIT ${Math.floor(f.limit)}` : ""}`;
    return Promise.resolve(this.#all(sql, ...params).map((r) => this.#submission(r)));
  }

  submissionFiles(id: number): Promise<StoredFile[]> {
    return Promise.resolve(
      this.#all(
        "SELECT name, bytes FROM submission_files WHERE submission_id = ? ORDER BY seq",
        id,
      ).map((r) => ({ name: String(r.name), bytes: r.bytes as Uint8Array })),
    );
  }

  // -- queue ----------------------------------------------------------------

  enqueue(submissionId: number, now: number): Promise<Job> {
    return Promise.resolve(this.#tx(() => {
      const id = this.#run(
        "INSERT INTO jobs (submission_id, status, enqueued_at) VALUES (?, 'queued', ?)",
        submissionId,
        now,
      ).lastInsertRowid;
      return jobFrom(this.#get(`SELECT ${JOB_COLS} FROM jobs j WHERE j.id = ?`, id)!);
    }));
  }

  lease(
    worker: string,
    leaseMs: number,
    now: number,
    filter: LeaseFilter = {},
  ): Promise<LeasedJob | null> {
    const kinds = filter.kinds;
    if (kinds && kinds.length === 0) return Promise.resolve(null);
    const only = kinds ? `AND s.kind IN (${kinds.map(() => "?").join(", ")})` : "";
    return Promise.resolve(this.#tx((): LeasedJob | null => {
      const r = this.#get(
        `SELECT ${JOB_COLS}, s.kind, s.user_id, s.sciper FROM jobs j
         JOIN submissions s ON s.id = j.submission_id
         WHERE j.status = 'queued' ${only} ORDER BY j.id LIMIT 1`,
        ...(kinds ?? []),
      );
      if (!r) return null;
      const leaseId = newLeaseId();
      this.#run(
        `UPDATE jobs SET status = 'running', tries = tries + 1, started_at = ?, worker = ?,
         lease_id = ?, lease_until = ? WHERE id = ? AND status = 'queued'`,
        now,
        worker,
        leaseId,
        now + leaseMs,
        r.id,
      );
      return {
        ...jobFrom(r),
        status: "running",
        tries: num(r.tries) + 1,
        startedAt: now,
        worker,
        leaseUntil: now + leaseMs,
        leaseId,
        kind: r.kind as Kind,
        userId: String(r.user_id),
        sciper: strOrNull(r.sciper),
      };
    }));
  }

  renew(jobId: number, leaseId: string, leaseMs: number, now: number): Promise<boolean> {
    const r = this.#run(
      "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_id = ? AND status = 'running'",
      now + leaseMs,
      jobId,
      leaseId,
    );
    return Promise.resolve(Number(r.changes) === 1);
  }

  expireLeases(now: number): Promise<number> {
    return Promise.resolve(this.#tx(() => {
      const failed = this.#run(
        `UPDATE jobs SET status = 'failed', lease_id = NULL, finished_at = ?,
         error = ?
         WHERE status = 'running' AND lease_until < ? AND tries >= ?`,
        now,
        LEASE_EXPIRED,
        now,
        MAX_TRIES,
      );
      const requeued = this.#run(
        `UPDATE jobs SET status = 'queued', lease_id = NULL, lease_until = NULL,
         error = ?
         WHERE status = 'running' AND lease_until < ?`,
        LEASE_EXPIRED,
        now,
      );
      return Number(failed.changes) + Number(requeued.changes);
    }));
  }

  complete(jobId: number, leaseId: string, res: NewResult, now: number): Promise<boolean> {
    return Promise.resolve(this.#tx(() => {
      const j = this.#get(
        "SELECT submission_id, worker FROM jobs WHERE id = ? AND lease_id = ? AND status = 'running'",
        jobId,
        leaseId,
      );
      if (!j) return false;
      this.#run(
        `UPDATE jobs SET status = 'done', finished_at = ?, lease_id = NULL, lease_until = NULL,
         error = NULL WHERE id = ?`,
        now,
        jobId,
      );
      this.#run(
        `INSERT INTO results (job_id, submission_id, score, max_grade, success, tests, stdout,
         stderr, duration_ms, worker, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        jobId,
        j.submission_id,
        res.score,
        res.maxGrade,
        res.success,
        JSON.stringify(res.tests),
        res.stdout,
        res.stderr,
        res.durationMs,
        j.worker,
        now,
      );
      res.files.forEach((f, i) =>
        this.#run(
          "INSERT INTO result_files (job_id, seq, name, bytes) VALUES (?, ?, ?, ?)",
          jobId,
          i,
          f.name,
          f.bytes,
        )
      );
      return true;
    }));
  }

  fail(jobId: number, leaseId: string, error: string, now: number): Promise<JobStatus | null> {
    return Promise.resolve(this.#tx((): JobStatus | null => {
      const j = this.#get(
        "SELECT tries FROM jobs WHERE id = ? AND lease_id = ? AND status = 'running'",
        jobId,
        leaseId,
      );
      if (!j) return null;
      const status: JobStatus = num(j.tries) >= MAX_TRIES ? "failed" : "queued";
      this.#run(
        `UPDATE jobs SET status = ?, lease_id = NULL, lease_until = NULL, error = ?,
         finished_at = ? WHERE id = ?`,
        status,
        error,
        status === "failed" ? now : null,
        jobId,
      );
      return status;
    }));
  }

  release(jobId: number, leaseId: string): Promise<boolean> {
    const r = this.#run(
      `UPDATE jobs SET status = 'queued', tries = tries - 1, lease_id = NULL, lease_until = NULL,
       started_at = NULL, worker = NULL WHERE id = ? AND lease_id = ? AND status = 'running'`,
      jobId,
      leaseId,
    );
    return Promise.resolve(Number(r.changes) === 1);
  }

  queuePosition(jobId: number): Promise<number | null> {
    const r = this.#get(
      `SELECT (SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND id <= j.id) AS pos
       FROM jobs j WHERE j.id = ? AND j.status = 'queued'`,
      jobId,
    );
    return Promise.resolve(r ? num(r.pos) : null);
  }

  listJobs(status: JobStatus, limit = 1000): Promise<Job[]> {
    return Promise.resolve(
      this.#all(
        `SELECT ${JOB_COLS} FROM jobs j WHERE j.status = ? ORDER BY j.id LIMIT ?`,
        status,
        limit,
      ).map(jobFrom),
    );
  }

  recentDurations(limit: number): Promise<number[]> {
    return Promise.resolve(
      this.#all("SELECT duration_ms FROM results ORDER BY job_id DESC LIMIT ?", limit)
        .map((r) => num(r.duration_ms)),
    );
  }

  // -- results --------------------------------------------------------------

  #result(r: Row | undefined): Result | null {
    if (!r) return null;
    const files = this.#all(
      "SELECT name, bytes FROM result_files WHERE job_id = ? ORDER BY seq",
      num(r.job_id),
    ).map((f) => ({ name: String(f.name), bytes: f.bytes as Uint8Array }));
    return resultFrom(r, files);
  }

  getResult(jobId: number): Promise<Result | null> {
    return Promise.resolve(
      this.#result(this.#get("SELECT * FROM results WHERE job_id = ?", jobId)),
    );
  }

  latestResult(submissionId: number): Promise<Result | null> {
    return Promise.resolve(this.#result(
      this.#get(
        "SELECT * FROM results WHERE submission_id = ? ORDER BY job_id DESC LIMIT 1",
        submissionId,
      ),
    ));
  }

  keptScores(keep: Policy["keep"]): Promise<GradeCell[]> {
    return Promise.resolve(keptFrom(this.#all(LATEST_SCORES_SQL), keep));
  }

  // -- workers --------------------------------------------------------------

  registerWorker(w: { id: string; host: string; slots: number }, now: number): Promise<void> {
    this.#run(
      `INSERT INTO workers (id, host, slots, started_at, last_seen, running) VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT (id) DO UPDATE SET host = excluded.host, slots = excluded.slots,
       started_at = excluded.started_at, last_seen = excluded.last_seen, running = 0`,
      w.id,
      w.host,
      w.slots,
      now,
      now,
    );
    return Promise.resolve();
  }

  heartbeat(id: string, running: number, now: number): Promise<void> {
    this.#run("UPDATE workers SET last_seen = ?, running = ? WHERE id = ?", now, running, id);
    return Promise.resolve();
  }

  unregisterWorker(id: string): Promise<void> {
    this.#run("DELETE FROM workers WHERE id = ?", id);
    return Promise.resolve();
  }

  listWorkers(): Promise<WorkerInfo[]> {
    return Promise.resolve(
      this.#all("SELECT * FROM workers ORDER BY id").map(workerFrom),
    );
  }
}
