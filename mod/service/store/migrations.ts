/**
 * The service's schema as versioned migrations, one SQL text shared by
 * SQLite and PostgreSQL. The few types that differ are written as
 * placeholders that {@link migrationSql} fills in per dialect:
 *
 * - `{{id}}`: an auto-increment primary key (`INTEGER PRIMARY KEY
 *   AUTOINCREMENT` / `BIGSERIAL PRIMARY KEY`);
 * - `{{blob}}`: bytes (`BLOB` / `BYTEA`).
 *
 * Times are BIGINT milliseconds since the epoch, booleans INTEGER 0/1, JSON
 * TEXT. A store applies, in one transaction each, the migrations whose
 * version is above the highest in `schema_migrations`. Never edit a
 * migration that has shipped: add the next one.
 *
 * @module
 */

export type Dialect = "sqlite" | "postgres";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A table of files (a submission's, a result's): bytes in order under their owner's key. */
function filesTable(table: string, owner: string, references: string): string {
  return `CREATE TABLE ${table} (
  ${owner} BIGINT NOT NULL REFERENCES ${references},
  seq INTEGER NOT NULL,
  name TEXT NOT NULL,
  bytes {{blob}} NOT NULL,
  PRIMARY KEY (${owner}, seq)
);`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "course, users, submissions, jobs, results, workers",
    sql: `
CREATE TABLE course (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  policy TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('student', 'ta')),
  token_hash TEXT UNIQUE,
  token_at BIGINT
);
CREATE TABLE submissions (
  id {{id}},
  user_id TEXT NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL,
  sciper TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX submissions_user_kind ON submissions (user_id, kind, created_at);
${filesTable("submission_files", "submission_id", "submissions(id)")}
CREATE TABLE jobs (
  id {{id}},
  submission_id BIGINT NOT NULL REFERENCES submissions(id),
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  tries INTEGER NOT NULL DEFAULT 0,
  enqueued_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  worker TEXT,
  lease_id TEXT,
  lease_until BIGINT,
  error TEXT
);
CREATE INDEX jobs_status ON jobs (status, id);
CREATE INDEX jobs_submission ON jobs (submission_id, id);
CREATE TABLE results (
  job_id BIGINT PRIMARY KEY REFERENCES jobs(id),
  submission_id BIGINT NOT NULL REFERENCES submissions(id),
  score INTEGER NOT NULL,
  max_grade INTEGER NOT NULL,
  success INTEGER NOT NULL,
  tests TEXT NOT NULL,
  stdout TEXT NOT NULL,
  stderr TEXT NOT NULL,
  duration_ms BIGINT NOT NULL,
  worker TEXT NOT NULL,
  finished_at BIGINT NOT NULL
);
CREATE INDEX results_submission ON results (submission_id, job_id);
${filesTable("result_files", "job_id", "results(job_id)")}
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  slots INTEGER NOT NULL,
  started_at BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  running INTEGER NOT NULL DEFAULT 0
);
`,
  },
  {
    version: 2,
    name: "the course CA's certificate in the database (for workers on other machines)",
    sql: `ALTER TABLE course ADD COLUMN ca_cert TEXT;`,
  },
  {
    version: 3,
    name: "the calendar: the course's window and attempt limit, extensions, received time",
    // calendar: JSON (null: the default calendar); received_at: null for the rows
    // before it (read as created_at); extensions.kind '*': every part.
    sql: `
ALTER TABLE course ADD COLUMN calendar TEXT;
ALTER TABLE submissions ADD COLUMN received_at BIGINT;
CREATE TABLE extensions (
  user_id TEXT NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL,
  until BIGINT,
  attempts INTEGER NOT NULL DEFAULT 0,
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, kind)
);
`,
  },
  {
    version: 4,
    name: "web sessions kept server-side; the name a student gave a renamed file",
    // A session holds while its user's token is the one it was opened with (a new token ends
    // every session) and until it ends (sign-out deletes the row) or expires.
    sql: `
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  token_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
ALTER TABLE submission_files ADD COLUMN given_name TEXT;
`,
  },
];

/** The bookkeeping table, created before any migration runs. */
export const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

const TYPES: Record<Dialect, Record<string, string>> = {
  sqlite: { id: "INTEGER PRIMARY KEY AUTOINCREMENT", blob: "BLOB" },
  postgres: { id: "BIGSERIAL PRIMARY KEY", blob: "BYTEA" },
};

/** A migration's SQL for one dialect. */
export function migrationSql(m: Migration, dialect: Dialect): string {
  return m.sql.replace(/\{\{(\w+)\}\}/g, (_, t: string) => {
    const v = TYPES[dialect][t];
    if (!v) throw new Error(`migration ${m.version}: unknown placeholder {{${t}}}`);
    return v;
  });
}

/** The latest schema version this build knows. */
export const SCHEMA_VERSION: number = MIGRATIONS.at(-1)!.version;
