/**
 * Which store a command uses: `--data DIR` is the embedded SQLite file
 * `DIR/socklab.db` (the PostgreSQL store plugs in here for `--db URL`).
 *
 * @module
 */
import { join } from "node:path";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** The database file inside a course's data directory. */
export function dbPath(dataDir: string): string {
  return join(dataDir, "socklab.db");
}

/** Open the course's store and bring its schema up to date. */
export async function openStore(opts: { data: string }): Promise<Store> {
  const store = new SqliteStore(dbPath(opts.data));
  try {
    await store.migrate();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
