/**
 * PostgreSQL for the tests, self-contained: a test that needs it starts its
 * own private throwaway cluster (scripts/lib/pg_cluster.ts: initdb in a
 * temporary directory, a free port on 127.0.0.1, ~0.5 s) and stops and
 * removes it at the end (`await using`); cases get fresh databases in it
 * (`createDatabase(dbName())`). Nothing needs to be running before
 * `deno task test`: only Debian's postgresql package installed.
 *
 * @module
 */
import { pgBinDir, startPgCluster } from "../../scripts/lib/pg_cluster.ts";

export { startPgCluster };

/** Why PostgreSQL cannot be used here (its binaries are missing), or null if it can. */
export function pgUnavailable(): string | null {
  try {
    pgBinDir();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

let dbCounter = 0;

/** A fresh database name for one case. */
export function dbName(): string {
  return `t${Deno.pid}_${++dbCounter}`;
}
