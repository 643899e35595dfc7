/**
 * The shared store: PostgreSQL through npm:postgres (postgres.js, a
 * maintained pure-JS client that runs on Deno's node:net), for a course
 * whose `serve` and `socklab worker` processes run on several machines.
 * Same schema, migrations and statements as SQLite (migrations.ts,
 * queries.ts), the same rules (rules.ts), the same behaviour (the
 * {@link Store} contract, tests/service_store_test.ts runs on both):
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
import { LEASE_EXPIRED, refusal } from "../rules.ts";
import { type Migration, MIGRATIONS, MIGRATIONS_TABLE, migrationSql } from "./migrations.ts";
import { numbered, type Param, Q } from "./queries.ts";
import * as row from "./rows.ts";
import { SqlStore, type Take } from "./sql_store.ts";
import type * as S from "./store.ts";

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;
type Row = postgres.Row;

/** The channel a NOTIFY goes to when a job is queued (see {@link PostgresStore.onQueued}). */
const QUEUED = "socklab_queued";

/** The advisory lock key that serialises migrations ("socklab" in ASCII, truncated). */
const MIGRATION_LOCK = 0x736f636b6c6162;

export interface PostgresStoreOptions {
  /** Connections in the pool (default 8; a listener takes one more). */
  max?: number;
  /** The migrations to apply (tests add one); default {@link MIGRATIONS}. */
  migrations?: readonly Migration[];
  /**
   * How long a statement waits for a lock another session holds, ms (then
   * PostgreSQL's 55P03, which the API answers with 503 and Retry-After);
   * default {@link LOCK_TIMEOUT_MS}. Without it a request could wait for ever.
   */
  lockTimeoutMs?: number;
}

/** Default wait for a row or advisory lock, ms. */
export const LOCK_TIMEOUT_MS = 10_000;

/** A queries.ts statement on a connection or in a transaction. */
function run(q: Sql | Tx, sql: string, params: Param[] = []): Promise<postgres.RowList<Row[]>> {
  return q.unsafe(numbered(sql), params as postgres.ParameterOrJSON<never>[]);
}

export class PostgresStore extends SqlStore implements S.Store {
  readonly sql: Sql;
  readonly #migrations: readonly Migration[];

  /** A pool on `url` (`postgres://user:pass@host:port/db`); connects on first use. */
  constructor(url: string, opts: PostgresStoreOptions = {}) {
    super();
    this.sql = postgres(url, {
      max: opts.max ?? 8,
      connect_timeout: 10,
      onnotice: () => {},
      connection: {
        application_name: "socklab",
        lock_timeout: opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS,
      },
    });
    this.#migrations = opts.migrations ?? MIGRATIONS;
  }

  protected rows(sql: string, params: Param[] = []): Promise<Row[]> {
    return run(this.sql, sql, params);
  }

  protected async write(sql: string, params: Param[] = []): Promise<number> {
    return (await run(this.sql, sql, params)).count;
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

  // -- users ----------------------------------------------------------------

  upsertUser(u: S.User): Promise<{ created: boolean }> {
    return this.sql.begin(async (tx) => {
      const created = (await run(tx, Q.insertUser, [u.id, u.name, u.email, u.role])).length > 0;
      if (!created) await run(tx, Q.updateUser, [u.name, u.email, u.role, u.id]);
      return { created };
    });
  }

  // -- submissions ----------------------------------------------------------

  async createSubmission(
    s: S.NewSubmission,
    rules: S.CreateRules,
  ): Promise<S.Submission | S.Refusal> {
    const made = await this.sql.begin(async (tx) => {
      // The student's row is the lock that serialises their submissions.
      const me = await tx`SELECT id FROM users WHERE id = ${s.userId} FOR UPDATE`;
      if (me.length === 0) throw new Error(`no user '${s.userId}'`);
      const earlier = await run(tx, Q.earlier, [s.userId, s.kind]);
      const no = refusal(earlier.map(row.earlierFrom), rules);
      if (no) return no;
      const [sub] = await run(tx, Q.insertSubmission, row.submissionParams(s, rules));
      for (const [i, f] of s.files.entries()) {
        await run(tx, Q.insertFile, row.fileParams(row.num(sub.id), i, f));
      }
      await run(tx, Q.enqueue, [sub.id, rules.now]);
      await tx`SELECT pg_notify(${QUEUED}, '')`; // delivered at commit
      return row.num(sub.id);
    });
    return typeof made === "number" ? (await this.getSubmission(made))! : made;
  }

  // -- queue ----------------------------------------------------------------

  enqueue(submissionId: number, now: number): Promise<S.Job> {
    return this.sql.begin(async (tx) => {
      const [r] = await run(tx, Q.enqueue, [submissionId, now]);
      await tx`SELECT pg_notify(${QUEUED}, '')`;
      return row.jobFrom(r);
    });
  }

  protected async take({ worker, leaseId, now, until, kinds }: Take): Promise<Row | null> {
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
        worker = ${worker}, lease_id = ${leaseId}, lease_until = ${until}
      FROM next, submissions s
      WHERE j.id = next.id AND s.id = j.submission_id
      RETURNING j.*, s.kind, s.user_id, s.sciper`;
    return r ?? null;
  }

  expireLeases(now: number): Promise<number> {
    return this.sql.begin(async (tx) => {
      let n = 0;
      for (const j of await run(tx, `${Q.expired} FOR UPDATE`, [now])) {
        const { params } = row.endTry(row.num(j.id), row.num(j.tries), LEASE_EXPIRED, now);
        n += (await run(tx, Q.endTry, params)).count;
      }
      if (n > 0) await tx`SELECT pg_notify(${QUEUED}, '')`;
      return n;
    });
  }

  complete(jobId: number, leaseId: string, res: S.NewResult, now: number): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const [j] = await run(tx, Q.done, [now, jobId, leaseId]);
      if (!j) return false;
      await run(tx, Q.insertResult, row.resultParams(jobId, j, res, now));
      for (const [i, f] of res.files.entries()) {
        await run(tx, Q.insertResultFile, [jobId, i, f.name, f.bytes]);
      }
      return true;
    });
  }

  fail(jobId: number, leaseId: string, error: string, now: number): Promise<S.JobStatus | null> {
    return this.sql.begin(async (tx) => {
      const [j] = await run(tx, `${Q.leasedTries} FOR UPDATE`, [jobId, leaseId]);
      if (!j) return null;
      const { status, params } = row.endTry(jobId, row.num(j.tries), error, now);
      await run(tx, Q.endTry, params);
      if (status === "queued") await tx`SELECT pg_notify(${QUEUED}, '')`;
      return status;
    });
  }

  release(jobId: number, leaseId: string): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const { count } = await run(tx, Q.release, [jobId, leaseId]);
      if (count === 1) await tx`SELECT pg_notify(${QUEUED}, '')`;
      return count === 1;
    });
  }

  /**
   * PostgreSQL enforces the schema's keys and references on every write;
   * its pages and indexes are checked by pg_amcheck (a server tool), not here.
   */
  protected integrity(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** LISTEN on a dedicated connection (the client reconnects it by itself). */
  async onQueued(fn: () => void): Promise<() => Promise<void>> {
    const { unlisten } = await this.sql.listen(QUEUED, () => fn());
    return unlisten;
  }
}
