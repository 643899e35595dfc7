/**
 * The storage contract (tests/helpers/store_contract.ts) on both stores:
 * SQLite (a file in a temporary directory) and PostgreSQL (a private cluster
 * for this file, one fresh database per case; tests/helpers/pg.ts).
 */
import { DatabaseSync } from "node:sqlite";
import { dbPath } from "../mod/service/store/open.ts";
import { PostgresStore } from "../mod/service/store/postgres.ts";
import { SqliteStore } from "../mod/service/store/sqlite.ts";
import { dbName, pgUnavailable, startPgCluster } from "./helpers/pg.ts";
import { opener, storeContract } from "./helpers/store_contract.ts";

storeContract("sqlite store", () =>
  Promise.resolve({
    async fresh() {
      const dir = await Deno.makeTempDir({ prefix: "socklab-store-" });
      const o = opener((migrations) => new SqliteStore(dbPath(dir), { migrations }));
      return {
        open: o.open,
        query(sql: string) {
          const db = new DatabaseSync(dbPath(dir));
          try {
            return Promise.resolve(db.prepare(sql).all().map((r) => ({ ...r })));
          } finally {
            db.close();
          }
        },
        async [Symbol.asyncDispose]() {
          await o.closeAll();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
    async [Symbol.asyncDispose]() {},
  }));

storeContract("postgres store", async () => {
  const pg = await startPgCluster();
  return {
    async fresh() {
      const url = await pg.createDatabase(dbName());
      const o = opener((migrations) => new PostgresStore(url, { max: 2, migrations }));
      const raw = new PostgresStore(url, { max: 1 });
      return {
        open: o.open,
        async query(sql: string) {
          return [...await raw.sql.unsafe(sql)];
        },
        async [Symbol.asyncDispose]() {
          await o.closeAll();
          await raw.close();
        },
      };
    },
    [Symbol.asyncDispose]: () => pg.stop(),
  };
}, pgUnavailable());
