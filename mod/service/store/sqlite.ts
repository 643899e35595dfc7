/**
 * The embedded store: one SQLite file (`DIR/socklab.db`) on Deno's built-in
 * `node:sqlite`, no set-up. WAL mode, so `socklab course ...` can read and
 * write while `serve` runs; every rule is one `BEGIN IMMEDIATE` transaction
 * (SQLite's write lock), which is what makes lease and complete atomic across
 * processes. node:sqlite is synchronous: each transaction runs to its end
 * without yielding (no other request can run a statement inside it), the
 * async signatures are the {@link Store} contract. The statements are
 * queries.ts's, the rules rules.ts's; sql_store.ts runs the plain ones.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { LEASE_EXPIRED, refusal } from "../rules.ts";
import { type Migration, MIGRATIONS, MIGRATIONS_TABLE, migrationSql } from "./migrations.ts";
import { JOB_COLS, Q } from "./queries.ts";
import * as row from "./rows.ts";
import { type Param, SqlStore, type Take } from "./sql_store.ts";
import type * as S from "./store.ts";

type Row = Record<string, SQLInputValue>;

export class SqliteStore extends SqlStore implements S.Store {
  readonly db: DatabaseSync;
  readonly #migrations: readonly Migration[];

  /**
   * Open (creating if needed) the database file at `path`. `migrations`
   * (default {@link MIGRATIONS}): what `migrate` applies (tests add one).
   */
  constructor(path: string, opts: { migrations?: readonly Migration[] } = {}) {
    super();
    this.#migrations = opts.migrations ?? MIGRATIONS;
    this.db = new DatabaseSync(path);
    this.db.exec("PRAGMA busy_timeout = 10000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA foreign_keys = ON");
  }

  #all(sql: string, ...params: Param[]): Row[] {
    return this.db.prepare(sql).all(...params) as Row[];
  }

  #get(sql: string, ...params: Param[]): Row | undefined {
    return this.db.prepare(sql).get(...params) as Row | undefined;
  }

  /** Run a statement; how many rows it changed. */
  #run(sql: string, ...params: Param[]): number {
    return Number(this.db.prepare(sql).run(...params).changes);
  }

  protected rows(sql: string, params: Param[] = []): Promise<Row[]> {
    return Promise.resolve(this.#all(sql, ...params));
  }

  protected write(sql: string, params: Param[] = []): Promise<number> {
    return Promise.resolve(this.#run(sql, ...params));
  }

  /** Run `fn` in one write transaction (the database's write lock held throughout). */
  #tx<T>(fn: () => T): Promise<T> {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const v = fn();
      this.db.exec("COMMIT");
      return Promise.resolve(v);
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  async migrate(): Promise<number> {
    this.db.exec(MIGRATIONS_TABLE);
    let version = 0;
    for (const m of this.#migrations) {
      version = await this.#tx(() => {
        if (!this.#get("SELECT 1 AS x FROM schema_migrations WHERE version = ?", m.version)) {
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
    return version;
  }

  close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }

  upsertUser(u: S.User): Promise<{ created: boolean }> {
    return this.#tx(() => {
      const created = this.#get(Q.insertUser, u.id, u.name, u.email, u.role) !== undefined;
      if (!created) this.#run(Q.updateUser, u.name, u.email, u.role, u.id);
      return { created };
    });
  }

  async createSubmission(
    s: S.NewSubmission,
    rules: S.CreateRules,
  ): Promise<S.Submission | S.Refusal> {
    const made = await this.#tx(() => {
      const no = refusal(this.#all(Q.earlier, s.userId, s.kind).map(row.earlierFrom), rules);
      if (no) return no;
      const id = row.num(this.#get(Q.insertSubmission, ...row.submissionParams(s, rules))!.id);
      s.files.forEach((f, i) => this.#run(Q.insertFile, ...row.fileParams(id, i, f)));
      this.#run(Q.enqueue, id, rules.now);
      return id;
    });
    return typeof made === "number" ? (await this.getSubmission(made))! : made;
  }

  enqueue(submissionId: number, now: number): Promise<S.Job> {
    return this.#tx(() => row.jobFrom(this.#get(Q.enqueue, submissionId, now)!));
  }

  protected take({ worker, leaseId, now, until, kinds }: Take): Promise<Row | null> {
    const only = kinds ? `AND s.kind IN (${kinds.map(() => "?").join(", ")})` : "";
    return this.#tx(() => {
      const r = this.#get(
        `SELECT ${JOB_COLS}, s.kind, s.user_id, s.sciper FROM jobs j
         JOIN submissions s ON s.id = j.submission_id
         WHERE j.status = 'queued' ${only} ORDER BY j.id LIMIT 1`,
        ...(kinds ?? []),
      );
      if (!r) return null;
      const taken = this.#get(
        `UPDATE jobs SET status = 'running', tries = tries + 1, started_at = ?, worker = ?,
         lease_id = ?, lease_until = ? WHERE id = ? AND status = 'queued' RETURNING *`,
        now,
        worker,
        leaseId,
        until,
        row.num(r.id),
      )!;
      return { ...r, ...taken };
    });
  }

  expireLeases(now: number): Promise<number> {
    return this.#tx(() =>
      this.#all(Q.expired, now).reduce((n, j) => {
        const { params } = row.endTry(row.num(j.id), row.num(j.tries), LEASE_EXPIRED, now);
        return n + this.#run(Q.endTry, ...params);
      }, 0)
    );
  }

  complete(jobId: number, leaseId: string, res: S.NewResult, now: number): Promise<boolean> {
    return this.#tx(() => {
      const j = this.#get(Q.done, now, jobId, leaseId);
      if (!j) return false;
      this.#run(Q.insertResult, ...row.resultParams(jobId, j, res, now));
      res.files.forEach((f, i) => this.#run(Q.insertResultFile, jobId, i, f.name, f.bytes));
      return true;
    });
  }

  fail(jobId: number, leaseId: string, error: string, now: number): Promise<S.JobStatus | null> {
    return this.#tx(() => {
      const j = this.#get(Q.leasedTries, jobId, leaseId);
      if (!j) return null;
      const { status, params } = row.endTry(jobId, row.num(j.tries), error, now);
      this.#run(Q.endTry, ...params);
      return status;
    });
  }

  /** SQLite's integrity_check ("ok" when sound) and foreign_key_check (no rows when sound). */
  protected integrity(): Promise<string[]> {
    const lines = this.#all("PRAGMA integrity_check").map((r) => String(Object.values(r)[0]));
    const problems = lines.filter((l) => l !== "ok");
    for (const r of this.#all("PRAGMA foreign_key_check")) {
      problems.push(`${r.table} row ${r.rowid}: no ${r.parent} it refers to`);
    }
    return Promise.resolve(problems);
  }

  /**
   * A consistent copy of the whole database in the new file `path`, while
   * other processes go on writing: `VACUUM INTO` reads in one transaction
   * (in WAL mode a reader neither waits for writers nor blocks them).
   */
  copyTo(path: string): Promise<void> {
    this.db.prepare("VACUUM INTO ?").run(path);
    return Promise.resolve();
  }

  async release(jobId: number, leaseId: string): Promise<boolean> {
    return await this.write(Q.release, [jobId, leaseId]) === 1;
  }
}
