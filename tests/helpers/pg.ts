/**
 * PostgreSQL for the tests, self-contained: a test file that needs it starts
 * its own private throwaway cluster (scripts/lib/pg_cluster.ts: initdb in a
 * temporary directory, a free port on 127.0.0.1, ~0.5 s) inside the test and
 * stops and removes it at the end (`await using`). Each case gets a fresh
 * database in it (`createDatabase`). Nothing needs to be running before
 * `deno task test`; only Debian's postgresql package installed.
 *
 * In CI (CI=true) a missing PostgreSQL is a failure; elsewhere the test is
 * ignored and says why.
 *
 * @module
 */
import { pgBinDir, type PgCluster, startPgCluster } from "../../scripts/lib/pg_cluster.ts";

export { type PgCluster, startPgCluster };

/** Why PostgreSQL cannot be used here, or null if it can. */
export const PG_UNAVAILABLE: string | null = await pgBinDir().then(
  () => null,
  (e) => e instanceof Error ? e.message : String(e),
);

const IN_CI = Deno.env.get("CI") === "true";

let dbCounter = 0;

/** A fresh database name for one case. */
export function dbName(): string {
  return `t${Deno.pid}_${++dbCounter}`;
}

/**
 * Deno.test with a private cluster for its body (started before, stopped
 * after). Steps share it; each makes its own database.
 */
export function pgTest(
  name: string,
  fn: (pg: PgCluster, t: Deno.TestContext) => Promise<void>,
): void {
  if (PG_UNAVAILABLE && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${PG_UNAVAILABLE})`, ignore: true, fn() {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (PG_UNAVAILABLE) throw new Error(`CI needs PostgreSQL: ${PG_UNAVAILABLE}`);
    await using pg = await startPgCluster();
    await fn(pg, t);
  });
}
