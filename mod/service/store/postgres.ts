/**
 * The shared store: PostgreSQL through npm:postgres (postgres.js, a
 * maintained pure-JS client that runs on Deno's node:net), for a course
 * whose `serve` and `socklab worker` processes run on several machines.
 * Same schema and migrations as SQLite (migrations.ts), same behaviour
 * (the {@link Store} contract, tests/service_store_test.ts runs on both):
 *
 * - the queue takes jobs with `FOR UPDATE SKIP LOCKED` in one statement, so
 *   competing workers never wait on each other nor get the same job;
 * - leases are fenced by a lease id; complete/fail/renew/release change a
 *   row only while that lease holds it, and `results.job_id` is the primary
 *   key: one result per job;
 * - per-student rules (one active job per kind, the cooldown) lock the
 *   student's row first (`SELECT ... FOR UPDATE`), so two servers cannot
 *   both accept;
 * - migrations run under a transaction-level advisory lock, each in its own
 *   transaction (PostgreSQL's DDL is transactional): two processes starting
 *   at once apply each migration once and both see the final version.
 *
 * BIGINT comes back from the client as a string: every number is read
 * through `Number()` (epoch milliseconds and ids fit in a double).
 *
 * @module
 */
import postgres from "postgres";
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

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;
type Row = postgres.Row;

/** The channel a NOTIFY goes to when a job is queued (see {@link PostgresStore.onQueued}). */
const QUEUED = "socklab_queued";

/** The advisory lock key that serialises migrations ("socklab" in ASCII, truncated). */
const MIGRATION_LOCK = 0x736f636b6c6162;

const bytes = (v: unknown): Uint8Array => {
  const b = v as Uint8Array;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};

export interface PostgresStoreOptions {
  /** Connections in the pool (default 8; a listener takes one more). */
  max?: number;
  /** The migrations to apply (tests add one); default {@link MIGRATIONS}. */
  migrations?: readonly Migration[];
}

export class PostgresStore implements Store {
  readonly sql: Sql;
  readonly #migrations: readonly Migration[];

  /** A pool on `url` (`postgres://user:pass@host:port/db`); connects on first use. */
  constructor(url: string, opts: PostgresStoreOptions = {}) {
    this.sql = postgres(url, {
      max: opts.max ?? 8,
      connect_timeout: 10,
      onnotice: () => {},
      connection: { application_name: "socklab" },
    });
    this.#migrations = opts.migrations ?? MIGRATIONS;
  }

  async migrate(): Promise<number> {
    let version = 0;
    for (const m of this.#migrations) {
      await this.sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
        await tx.unsafe(MIGRATIONS_TABLE);
        const done = await tx`SELECT 1 FROM schema_migrations WHERE version = ${m.version}`;
        if (done.length === 0) {
          await tx.unsafe(migrationSql(m, "postgres")).simple();
          await tx`INSERT INTO schema_migrations (version, name, applied_at)
                   VALUES (${m.version}, ${m.name}, ${Date.now()})`;
        }
      });
      version = m.version;
    }
    return version;
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }

  // -- course -------------------------------------------------------------

  async getCourse(): Promise<Course | null> {
    const [r] = await this.sql`SELECT name, policy, created_at FROM course WHERE id = 1`;
    return r
      ? {
        name: String(r.name),
        policy: JSON.parse(String(r.policy)) as Policy,
        createdAt: num(r.created_at),
      }
      : null;
  }

  async createCourse(c: Course): Promise<void> {
    await this.sql`INSERT INTO course (id, name, policy, created_at)
                   VALUES (1, ${c.name}, ${JSON.stringify(c.policy)}, ${c.createdAt})`;
  }

  async setPolicy(policy: Policy): Promise<void> {
    await this.sql`UPDATE course SET policy = ${JSON.stringify(policy)} WHERE id = 1`;
  }

  async setCaCert(pem: string): Promise<void> {
    await this.sql`UPDATE course SET ca_cert = ${pem} WHERE id = 1`;
  }

  async getCaCert(): Promise<string | null> {
    const [r] = await this.sql`SELECT ca_cert FROM course WHERE id = 1`;
    return r ? strOrNull(r.ca_cert) : null;
  }

  // -- users ----------------------------------------------------------------

  async upsertUser(u: User): Promise<{ created: boolean }> {
    // xmax = 0 only on a row this statement inserted.
    const [r] = await this.sql`
      INSERT INTO users (id, name, email, role) VALUES (${u.id}, ${u.name}, ${u.email}, ${u.role})
      ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
        role = EXCLUDED.role
      RETURNING (xmax = 0) AS created`;
    return { created: r.created === true };
  }

  async getUser(id: string): Promise<User | null> {
    const [r] = await this.sql`SELECT id, name, email, role FROM users WHERE id = ${id}`;
    return r ? userFrom(r) : null;
  }

  async listUsers(role?: Role): Promise<User[]> {
    const rows = role
      ? await this.sql`SELECT id, name, email, role FROM users WHERE role = ${role} ORDER BY id`
      : await this.sql`SELECT id, name, email, role FROM users ORDER BY id`;
    return rows.map(userFrom);
  }

  async setToken(userId: string, tokenHash: string, now: number): Promise<void> {
    const r = await this.sql`UPDATE users SET token_hash = ${tokenHash}, token_at = ${now}
                             WHERE id = ${userId}`;
    if (r.count !== 1) throw new Error(`no user '${userId}'`);
  }

  async userByTokenHash(tokenHash: string): Promise<User | null> {
    const [r] = await this.sql`SELECT id, name, email, role FROM users
                               WHERE token_hash = ${tokenHash}`;
    return r ? userFrom(r) : null;
  }

  // -- submissions ----------------------------------------------------------

  async #submission(q: Sql | Tx, r: Row): Promise<Submission> {
    const id = num(r.id);
    const names = await q`SELECT name FROM submission_files WHERE submission_id = ${id}
                          ORDER BY seq`;
    const [job] = await q`SELECT * FROM jobs WHERE submission_id = ${id} ORDER BY id DESC LIMIT 1`;
    return {
      id,
      userId: String(r.user_id),
      kind: r.kind as Kind,
      sciper: strOrNull(r.sciper),
      createdAt: num(r.created_at),
      fileNames: names.map((f) => String(f.name)),
      job: jobFrom(job),
    };
  }

  createSubmission(s: NewSubmission, rules: CreateRules): Promise<Submission | Refusal> {
    return this.sql.begin(async (tx): Promise<Submission | Refusal> => {
      // The student's row is the lock that serialises their submissions.
      const me = await tx`SELECT id FROM users WHERE id = ${s.userId} FOR UPDATE`;
      if (me.length === 0) throw new Error(`no user '${s.userId}'`);
      const [active] = await tx`
        SELECT s.id FROM submissions s JOIN jobs j ON j.submission_id = s.id
        WHERE s.user_id = ${s.userId} AND s.kind = ${s.kind}
          AND j.status IN ('queued', 'running')
          -- only a submission's first job counts: a TA re-run must not block the student
          AND j.id = (SELECT MIN(id) FROM jobs WHERE submission_id = s.id) LIMIT 1`;
      if (active) return { refused: "active", submissionId: num(active.id) };
      // A submission the grader failed on is not an attempt: no cooldown after it.
      const [last] = await tx`SELECT MAX(s.created_at) AS t FROM submissions s
                              WHERE s.user_id = ${s.userId} AND s.kind = ${s.kind}
                                AND (SELECT status FROM jobs WHERE submission_id = s.id
                                     ORDER BY id DESC LIMIT 1) <> 'failed'`;
      if (last && last.t !== null) {
        const wait = num(last.t) + rules.cooldownMs - rules.now;
        if (wait > 0) return { refused: "cooldown", retryAfterMs: wait };
      }
      const [sub] = await tx`
        INSERT INTO submissions (user_id, kind, sciper, created_at)
        VALUES (${s.userId}, ${s.kind}, ${s.sciper ?? null}, ${rules.now}) RETURNING *`;
      for (const [i, f] of s.files.entries()) {
        await tx`INSERT INTO submission_files (submission_id, seq, name, bytes)
                 VALUES (${sub.id}, ${i}, ${f.name}, ${f.bytes})`;
      }
      await tx`INSERT INTO jobs (submission_id, status, enqueued_at)
               VALUES (${sub.id}, 'queued', ${rules.now})`;
      await tx`SELECT pg_notify(${QUEUED}, '')`; // delivered at commit
      return await this.#submission(tx, sub);
    });
  }

  async getSubmission(id: number): Promise<Submission | null> {
    const [r] = await this.sql`SELECT * FROM submissions WHERE id = ${id}`;
    return r ? await this.#submission(this.sql, r) : null;
  }

  async listSubmissions(f: SubmissionFilter): Promise<Submission[]> {
    const sql = this.sql;
    const conds = [
      f.userId !== undefined ? sql`s.user_id = ${f.userId}` : null,
      f.kind !== undefined ? sql`s.kind = ${f.kind}` : null,
      f.status !== undefined
        ? sql`(SELECT status FROM jobs WHERE submission_id = s.id ORDER BY id DESC LIMIT 1)
              = ${f.status}`
        : null,
    ].filter((c) => c !== null);
    const where = conds.length ? sql`WHERE ${conds.reduce((a, c) => sql`${a} AND ${c}`)}` : sql``;
    const limit = f.limit ? sql`LIMIT ${Math.floor(f.limit)}` : sql``;
    const rows = await sql`SELECT s.* FROM submissions s ${where} ORDER BY s.id DESC ${limit}`;
    const out: Submission[] = [];
    for (const r of rows) out.push(await this.#submission(sql, r));
    return out;
  }

  async submissionFiles(id: number): Promise<StoredFile[]> {
    const rows = await this.sql`SELECT name, bytes FROM submission_files
                                WHERE submission_id = ${id} ORDER BY seq`;
    return rows.map((r) => ({ name: String(r.name), bytes: bytes(r.bytes) }));
  }

  // -- queue ----------------------------------------------------------------

  enqueue(submissionId: number, now: number): Promise<Job> {
    return this.sql.begin(async (tx) => {
      const [r] = await tx`INSERT INTO jobs (submission_id, status, enqueued_at)
                           VALUES (${submissionId}, 'queued', ${now}) RETURNING *`;
      await tx`SELECT pg_notify(${QUEUED}, '')`;
      return jobFrom(r);
    });
  }

  async lease(
    worker: string,
    leaseMs: number,
    now: number,
    filter: LeaseFilter = {},
  ): Promise<LeasedJob | null> {
    const kinds = filter.kinds;
    if (kinds && kinds.length === 0) return null;
    const leaseId = crypto.randomUUID();
    const only = kinds
      ? this.sql`AND submission_id IN (SELECT id FROM submissions WHERE kind IN ${
        this.sql(kinds as string[])
      })`
      : this.sql``;
    // One statement: pick the oldest queued row no one else holds, take it.
    const [r] = await this.sql`
      WITH next AS (
        SELECT id FROM jobs WHERE status = 'queued' ${only}
        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
      )
      UPDATE jobs j SET status = 'running', tries = j.tries + 1, started_at = ${now},
        worker = ${worker}, lease_id = ${leaseId}, lease_until = ${now + leaseMs}
      FROM next, submissions s
      WHERE j.id = next.id AND s.id = j.submission_id
      RETURNING j.*, s.kind, s.user_id, s.sciper`;
    if (!r) return null;
    return {
      ...jobFrom(r),
      leaseId,
      kind: r.kind as Kind,
      userId: String(r.user_id),
      sciper: strOrNull(r.sciper),
    };
  }

  async renew(jobId: number, leaseId: string, leaseMs: number, now: number): Promise<boolean> {
    const r = await this.sql`UPDATE jobs SET lease_until = ${now + leaseMs}
      WHERE id = ${jobId} AND lease_id = ${leaseId} AND status = 'running'`;
    return r.count === 1;
  }

  expireLeases(now: number): Promise<number> {
    return this.sql.begin(async (tx) => {
      const failed = await tx`
        UPDATE jobs SET status = 'failed', lease_id = NULL, finished_at = ${now},
          error = ${LEASE_EXPIRED}
        WHERE status = 'running' AND lease_until < ${now} AND tries >= ${MAX_TRIES}`;
      const requeued = await tx`
        UPDATE jobs SET status = 'queued', lease_id = NULL, lease_until = NULL,
          error = ${LEASE_EXPIRED}
        WHERE status = 'running' AND lease_until < ${now}`;
      if (requeued.count > 0) await tx`SELECT pg_notify(${QUEUED}, '')`;
      return failed.count + requeued.count;
    });
  }

  complete(jobId: number, leaseId: string, res: NewResult, now: number): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const [j] = await tx`
        UPDATE jobs SET status = 'done', finished_at = ${now}, lease_id = NULL,
          lease_until = NULL, error = NULL
        WHERE id = ${jobId} AND lease_id = ${leaseId} AND status = 'running'
        RETURNING submission_id, worker`;
      if (!j) return false;
      await tx`
        INSERT INTO results (job_id, submission_id, score, max_grade, success, tests, stdout,
          stderr, duration_ms, worker, finished_at)
        VALUES (${jobId}, ${j.submission_id}, ${res.score}, ${res.maxGrade}, ${res.success},
          ${JSON.stringify(res.tests)}, ${res.stdout}, ${res.stderr}, ${res.durationMs},
          ${j.worker}, ${now})`;
      for (const [i, f] of res.files.entries()) {
        await tx`INSERT INTO result_files (job_id, seq, name, bytes)
                 VALUES (${jobId}, ${i}, ${f.name}, ${f.bytes})`;
      }
      return true;
    });
  }

  fail(jobId: number, leaseId: string, error: string, now: number): Promise<JobStatus | null> {
    return this.sql.begin(async (tx): Promise<JobStatus | null> => {
      const [j] = await tx`SELECT tries FROM jobs
        WHERE id = ${jobId} AND lease_id = ${leaseId} AND status = 'running' FOR UPDATE`;
      if (!j) return null;
      const status: JobStatus = num(j.tries) >= MAX_TRIES ? "failed" : "queued";
      await tx`UPDATE jobs SET status = ${status}, lease_id = NULL, lease_until = NULL,
        error = ${error}, finished_at = ${status === "failed" ? now : null} WHERE id = ${jobId}`;
      if (status === "queued") await tx`SELECT pg_notify(${QUEUED}, '')`;
      return status;
    });
  }

  release(jobId: number, leaseId: string): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const r = await tx`
        UPDATE jobs SET status = 'queued', tries = tries - 1, lease_id = NULL, lease_until = NULL,
          started_at = NULL, worker = NULL
        WHERE id = ${jobId} AND lease_id = ${leaseId} AND status = 'running'`;
      if (r.count === 1) await tx`SELECT pg_notify(${QUEUED}, '')`;
      return r.count === 1;
    });
  }

  async queuePosition(jobId: number): Promise<number | null> {
    const [r] = await this.sql`
      SELECT (SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND id <= j.id) AS pos
      FROM jobs j WHERE j.id = ${jobId} AND j.status = 'queued'`;
    return r ? num(r.pos) : null;
  }

  async listJobs(status: JobStatus, limit = 1000): Promise<Job[]> {
    const rows = await this.sql`SELECT * FROM jobs WHERE status = ${status}
                                ORDER BY id LIMIT ${limit}`;
    return rows.map(jobFrom);
  }

  async recentDurations(limit: number): Promise<number[]> {
    const rows = await this.sql`SELECT duration_ms FROM results ORDER BY job_id DESC
                                LIMIT ${limit}`;
    return rows.map((r) => num(r.duration_ms));
  }

  // -- results --------------------------------------------------------------

  async #result(r: Row | undefined): Promise<Result | null> {
    if (!r) return null;
    const files = await this.sql`SELECT name, bytes FROM result_files WHERE job_id = ${r.job_id}
                                 ORDER BY seq`;
    return resultFrom(r, files.map((f) => ({ name: String(f.name), bytes: bytes(f.bytes) })));
  }

  async getResult(jobId: number): Promise<Result | null> {
    const [r] = await this.sql`SELECT * FROM results WHERE job_id = ${jobId}`;
    return await this.#result(r);
  }

  async latestResult(submissionId: number): Promise<Result | null> {
    const [r] = await this.sql`SELECT * FROM results WHERE submission_id = ${submissionId}
                               ORDER BY job_id DESC LIMIT 1`;
    return await this.#result(r);
  }

  async keptScores(keep: Policy["keep"]): Promise<GradeCell[]> {
    return keptFrom(await this.sql.unsafe(LATEST_SCORES_SQL), keep);
  }

  // -- workers --------------------------------------------------------------

  async registerWorker(w: { id: string; host: string; slots: number }, now: number): Promise<void> {
    await this.sql`
      INSERT INTO workers (id, host, slots, started_at, last_seen, running)
      VALUES (${w.id}, ${w.host}, ${w.slots}, ${now}, ${now}, 0)
      ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, slots = EXCLUDED.slots,
        started_at = EXCLUDED.started_at, last_seen = EXCLUDED.last_seen, running = 0`;
  }

  async heartbeat(id: string, running: number, now: number): Promise<void> {
    await this.sql`UPDATE workers SET last_seen = ${now}, running = ${running} WHERE id = ${id}`;
  }

  async unregisterWorker(id: string): Promise<void> {
    await this.sql`DELETE FROM workers WHERE id = ${id}`;
  }

  /** LISTEN on a dedicated connection (the client reconnects it by itself). */
  async onQueued(fn: () => void): Promise<() => Promise<void>> {
    const { unlisten } = await this.sql.listen(QUEUED, () => fn());
    return unlisten;
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    return (await this.sql`SELECT * FROM workers ORDER BY id`).map(workerFrom);
  }
}
