/**
 * What the rush reads after a shape drained: every accepted submission's
 * job times and how many jobs and results it has, straight from the
 * database (SQLite file or PostgreSQL URL; the same SQL on both), the CPU
 * time of a process and its reaped children, and the figures of the table.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dbPath } from "../../mod/service/store/open.ts";
import { percentile } from "../bench/stats.ts";

export interface JobRow {
  submission: number;
  status: string;
  tries: number;
  jobs: number;
  results: number;
  enqueuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

const ROWS_SQL = `
  SELECT s.id AS submission, j.status, j.tries, j.enqueued_at, j.started_at, j.finished_at,
    (SELECT COUNT(*) FROM jobs x WHERE x.submission_id = s.id) AS jobs,
    (SELECT COUNT(*) FROM results r WHERE r.submission_id = s.id) AS results
  FROM submissions s JOIN jobs j ON j.submission_id = s.id
  WHERE j.id = (SELECT MAX(id) FROM jobs WHERE submission_id = s.id)
  ORDER BY s.id`;

function rowFrom(r: Record<string, unknown>): JobRow {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    submission: Number(r.submission),
    status: String(r.status),
    tries: Number(r.tries),
    jobs: Number(r.jobs),
    results: Number(r.results),
    enqueuedAt: Number(r.enqueued_at),
    startedAt: n(r.started_at),
    finishedAt: n(r.finished_at),
  };
}

/** Every submission with its latest job, from the course's database. */
export async function readJobs(db: { data: string } | { url: string }): Promise<JobRow[]> {
  if ("data" in db) {
    const d = new DatabaseSync(dbPath(db.data), { readOnly: true });
    try {
      return d.prepare(ROWS_SQL).all().map((r) => rowFrom(r as Record<string, unknown>));
    } finally {
      d.close();
    }
  }
  const { default: postgres } = await import("postgres");
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    return (await sql.unsafe(ROWS_SQL)).map((r) => rowFrom(r));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** CPU seconds of `pid` and of the children it has reaped (utime+stime+cutime+cstime). */
export function cpuWithChildren(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

/** CPU seconds of `pid` (with reaped children) plus its live children (PostgreSQL's backends). */
export function cpuOfTree(pid: number): number {
  let total = cpuWithChildren(pid);
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[1]) === pid) total += (Number(f[11]) + Number(f[12])) / 100;
    } catch { /* gone */ }
  }
  return total;
}

/** Processes whose command line holds `mark` (left behind by hostile programs). */
export function processesMarked(mark: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.includes(mark)) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

export interface ShapeFigures {
  accepted: number;
  results: number;
  /** Accepted submissions with no result and not failed (must be 0). */
  lost: number;
  /** Submissions with more than one result, or more than one job (must be 0). */
  duplicated: number;
  failed: number;
  /** Jobs that ran more than once (a lost lease, a retried grader failure). */
  rerun: number;
  /** From the first acceptance to the last result, s. */
  drainS: number;
  waitP50: number;
  waitP95: number;
  waitP99: number;
  e2eP50: number;
  e2eP99: number;
  /** Grading time (finished - leased) of the done jobs: mean and p99, s. */
  serviceMean: number;
  serviceP99: number;
  jobsPerMin: number;
}

/** The table's figures for one shape, from the rows of its accepted submissions. */
export function figures(accepted: ReadonlySet<number>, rows: JobRow[]): ShapeFigures {
  const mine = rows.filter((r) => accepted.has(r.submission));
  const done = mine.filter((r) => r.status === "done");
  const waits = mine.filter((r) => r.startedAt !== null).map((r) =>
    (r.startedAt! - r.enqueuedAt) / 1000
  );
  const e2e = done.map((r) => (r.finishedAt! - r.enqueuedAt) / 1000);
  const service = done.map((r) => (r.finishedAt! - r.startedAt!) / 1000);
  const first = Math.min(...mine.map((r) => r.enqueuedAt));
  const last = Math.max(...mine.map((r) => r.finishedAt ?? r.enqueuedAt));
  const drainS = mine.length ? (last - first) / 1000 : 0;
  return {
    accepted: accepted.size,
    results: mine.reduce((a, r) => a + r.results, 0),
    lost: accepted.size - mine.filter((r) => r.results > 0 || r.status === "failed").length,
    duplicated: mine.filter((r) => r.results > 1 || r.jobs > 1).length,
    failed: mine.filter((r) => r.status === "failed").length,
    rerun: mine.filter((r) => r.tries > 1).length,
    drainS,
    waitP50: percentile(waits, 50),
    waitP95: percentile(waits, 95),
    waitP99: percentile(waits, 99),
    e2eP50: percentile(e2e, 50),
    e2eP99: percentile(e2e, 99),
    serviceMean: service.length ? service.reduce((a, b) => a + b, 0) / service.length : NaN,
    serviceP99: percentile(service, 99),
    jobsPerMin: drainS > 0 ? done.length / (drainS / 60) : NaN,
  };
}
