/**
 * Which store a command uses: `--data DIR` is the embedded SQLite file
 * `DIR/socklab.db`; `--db postgres://user:pass@host:port/db` is PostgreSQL,
 * shared by several servers and workers. The PostgreSQL client (npm:postgres)
 * is loaded only when `--db` asks for it.
 *
 * @module
 */
import { join } from "node:path";
import { RunError } from "../../errors.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** The database file inside a course's data directory. */
export function dbPath(dataDir: string): string {
  return join(dataDir, "socklab.db");
}

/**
 * True if `e` says the database is held by someone else for longer than the
 * store waits (SQLite: another process keeps a write lock past the busy
 * timeout; PostgreSQL: lock_not_available): try again later, nothing is wrong.
 */
export function isStoreBusy(e: unknown): boolean {
  return e instanceof Error &&
    (/^database (table )?is locked/.test(e.message) || (e as { code?: unknown }).code === "55P03");
}

/** True if `url` names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** `postgres://user:***@host:port/db`: a URL fit for a log line. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*:)[^@]*@/, "$1***@");
}

/**
 * Open the course's store and bring its schema up to date: PostgreSQL when
 * `db` is given, else SQLite in `data`. A database that cannot be reached
 * is a RunError naming it (password hidden).
 */
export async function openStore(
  opts: { data?: string; db?: string; max?: number },
): Promise<Store> {
  let store: Store;
  let where: string;
  if (opts.db !== undefined) {
    if (!isPostgresUrl(opts.db)) {
      throw new RunError(`--db must be a postgres://user:password@host:port/database URL`);
    }
    const { PostgresStore } = await import("./postgres.ts");
    store = new PostgresStore(opts.db, { max: opts.max });
    where = redactUrl(opts.db);
  } else if (opts.data !== undefined) {
    store = new SqliteStore(dbPath(opts.data));
    where = dbPath(opts.data);
  } else {
    throw new RunError("no database: give --data DIR or --db URL");
  }
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => {});
    throw new RunError(`cannot open the database ${where}: ${dbErrorText(e)}`);
  }
  return store;
}

/** One line for a database error (Node-style codes from the PostgreSQL client). */
export function dbErrorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  switch (err?.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
      return "unknown host";
    case "CONNECT_TIMEOUT":
      return "no answer (connect timeout)";
    case "28P01":
      return "wrong password";
    case "3D000":
      return err.message ?? "no such database";
  }
  return err?.message ?? String(e);
}
