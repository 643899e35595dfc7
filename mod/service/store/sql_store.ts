/**
 * What both stores do the same way: every method that runs queries.ts's
 * statements one after the other, outside a transaction, through two
 * primitives an adapter gives ({@link SqlStore.rows}, {@link SqlStore.write}).
 * An adapter (sqlite.ts, postgres.ts) adds its transactions: migrations,
 * users, submissions (rules.ts decides inside), the lease and the rest of a
 * job's life, each where its database needs its own way.
 *
 * @module
 */
import { keptScores } from "../rules.ts";
import { GRADING_TIME, histogram, listSubmissions, type Param, Q, QUEUE_WAIT } from "./queries.ts";
import * as row from "./rows.ts";
import type * as S from "./store.ts";

export type { Param };

/** What {@link SqlStore.take} hands out. */
export interface Take {
  worker: string;
  leaseId: string;
  now: number;
  until: number;
  kinds?: readonly S.Kind[];
}

/** The half of a {@link S.Store} that is the same on every SQL database. */
export abstract class SqlStore {
  /** A statement's rows. */
  protected abstract rows(sql: string, params?: Param[]): Promise<row.AnyRow[]>;
  /** A statement that changes rows; how many it changed. */
  protected abstract write(sql: string, params?: Param[]): Promise<number>;

  /**
   * Give the oldest queued job (of `kinds`, if given) to `t.worker` under
   * `t.leaseId` until `t.until`, tries + 1, in one step no other worker can
   * share; the job's row with its submission's kind, user_id and sciper.
   */
  protected abstract take(t: Take): Promise<row.AnyRow | null>;

  /** The database's own consistency check: one line per problem, none when sound. */
  protected abstract integrity(): Promise<string[]>;

  async lease(
    worker: string,
    leaseMs: number,
    now: number,
    filter: S.LeaseFilter = {},
  ): Promise<S.LeasedJob | null> {
    const { kinds } = filter;
    if (kinds?.length === 0) return null;
    const leaseId = crypto.randomUUID();
    const r = await this.take({ worker, leaseId, now, until: now + leaseMs, kinds });
    return r ? row.leasedFrom(r, leaseId) : null;
  }

  /** A statement's first row, mapped, or null. */
  protected async one<T>(map: (r: row.AnyRow) => T, sql: string, ...params: Param[]) {
    const [r] = await this.rows(sql, params);
    return r ? map(r) : null;
  }

  /** A statement's rows, mapped. */
  protected async all<T>(map: (r: row.AnyRow) => T, sql: string, ...params: Param[]) {
    return (await this.rows(sql, params)).map(map);
  }

  // -- course -------------------------------------------------------------

  getCourse(): Promise<S.Course | null> {
    return this.one(row.courseFrom, Q.course);
  }

  async createCourse(c: S.Course): Promise<void> {
    await this.write(Q.createCourse, row.courseParams(c));
  }

  async setPolicy(policy: S.Policy): Promise<void> {
    await this.write(Q.setPolicy, [JSON.stringify(policy)]);
  }

  async setCalendar(calendar: S.Calendar): Promise<void> {
    await this.write(Q.setCalendar, [JSON.stringify(calendar)]);
  }

  async setExtension(e: S.Extension): Promise<void> {
    await this.write(Q.setExtension, row.extensionParams(e));
  }

  listExtensions(userId?: string): Promise<S.Extension[]> {
    return userId === undefined
      ? this.all(row.extensionFrom, Q.extensions)
      : this.all(row.extensionFrom, Q.extensionsOf, userId);
  }

  async setCaCert(pem: string): Promise<void> {
    await this.write(Q.setCaCert, [pem]);
  }

  getCaCert(): Promise<string | null> {
    return this.one((r) => row.strOrNull(r.ca_cert), Q.caCert);
  }

  // -- users ----------------------------------------------------------------

  getUser(id: string): Promise<S.User | null> {
    return this.one(row.userFrom, Q.user, id);
  }

  listUsers(role?: S.Role): Promise<S.User[]> {
    return role ? this.all(row.userFrom, Q.usersInRole, role) : this.all(row.userFrom, Q.users);
  }

  userByTokenHash(hash: string): Promise<S.User | null> {
    return this.one(row.userFrom, Q.userByToken, hash);
  }

  async setToken(userId: string, tokenHash: string, now: number): Promise<void> {
    if (await this.write(Q.setToken, [tokenHash, now, userId]) !== 1) {
      throw new Error(`no user '${userId}'`);
    }
    // Already ended by the new token (sessionUser compares them); this only tidies.
    await this.write(Q.userSessions, [userId]);
  }

  // -- web sessions -----------------------------------------------------------

  async openSession(
    idHash: string,
    tokenHash: string,
    now: number,
    expiresAt: number,
  ): Promise<S.User | null> {
    await this.write(Q.expiredSessions, [now]);
    if (await this.write(Q.openSession, [idHash, now, expiresAt, tokenHash]) !== 1) return null;
    return await this.sessionUser(idHash, now);
  }

  sessionUser(idHash: string, now: number): Promise<S.User | null> {
    return this.one(row.userFrom, Q.sessionUser, idHash, now);
  }

  async closeSession(idHash: string): Promise<void> {
    await this.write(Q.closeSession, [idHash]);
  }

  // -- submissions ----------------------------------------------------------

  /** A `submissions` row with its files' names and its latest job. */
  protected async submission(r: row.AnyRow): Promise<S.Submission> {
    const id = row.num(r.id);
    const [names, [job]] = [await this.rows(Q.fileNames, [id]), await this.rows(Q.latestJob, [id])];
    return row.submissionFrom(r, names, job);
  }

  async getSubmission(id: number): Promise<S.Submission | null> {
    const [r] = await this.rows(Q.submission, [id]);
    return r ? await this.submission(r) : null;
  }

  async listSubmissions(f: S.SubmissionFilter): Promise<S.Submission[]> {
    const { sql, params } = listSubmissions(f);
    const out: S.Submission[] = [];
    for (const r of await this.rows(sql, params)) out.push(await this.submission(r));
    return out;
  }

  async submissionFiles(id: number): Promise<S.StoredFile[]> {
    return row.filesFrom(await this.rows(Q.files, [id]));
  }

  // -- queue ----------------------------------------------------------------

  async renew(jobId: number, leaseId: string, leaseMs: number, now: number): Promise<boolean> {
    return await this.write(Q.renew, [now + leaseMs, jobId, leaseId]) === 1;
  }

  queuePosition(jobId: number): Promise<number | null> {
    return this.one((r) => row.num(r.pos), Q.queuePosition, jobId);
  }

  listJobs(status: S.JobStatus, limit = 1000): Promise<S.Job[]> {
    return this.all(row.jobFrom, Q.jobs, status, limit);
  }

  recentDurations(limit: number): Promise<number[]> {
    return this.all((r) => row.num(r.duration_ms), Q.durations, limit);
  }

  jobsSince(since: number): Promise<S.Job[]> {
    return this.all(row.jobFrom, Q.jobsSince, since, since, since);
  }

  listQueue(status: S.JobStatus, limit = 1000): Promise<S.QueueEntry[]> {
    return this.all(row.queueFrom, Q.queue, status, limit);
  }

  // -- results --------------------------------------------------------------

  async #result(r: row.AnyRow | undefined): Promise<S.Result | null> {
    if (!r) return null;
    return row.resultFrom(r, row.filesFrom(await this.rows(Q.resultFiles, [row.num(r.job_id)])));
  }

  async getResult(jobId: number): Promise<S.Result | null> {
    return await this.#result((await this.rows(Q.result, [jobId]))[0]);
  }

  async latestResult(submissionId: number): Promise<S.Result | null> {
    return await this.#result((await this.rows(Q.latestResult, [submissionId]))[0]);
  }

  async keptScores(keep: S.Policy["keep"], opts: S.ScoreFilter = {}): Promise<S.GradeCell[]> {
    const scores = opts.userId === undefined
      ? await this.all(row.scoreFrom, Q.scores)
      : await this.all(row.scoreFrom, Q.scoresOf, opts.userId);
    return keptScores(scores, keep, opts.counts);
  }

  // -- workers --------------------------------------------------------------

  async registerWorker(w: { id: string; host: string; slots: number }, now: number): Promise<void> {
    await this.write(Q.registerWorker, [w.id, w.host, w.slots, now, now]);
  }

  async heartbeat(id: string, running: number, now: number): Promise<void> {
    await this.write(Q.heartbeat, [now, running, id]);
  }

  async unregisterWorker(id: string): Promise<void> {
    await this.write(Q.unregisterWorker, [id]);
  }

  listWorkers(): Promise<S.WorkerInfo[]> {
    return this.all(row.workerFrom, Q.workers);
  }

  async resetLostWorkers(before: number): Promise<void> {
    await this.write(Q.resetLost, [before]);
  }

  // -- operations -------------------------------------------------------------

  jobCounts(): Promise<S.JobCount[]> {
    return this.all(row.jobCountFrom, Q.jobCounts);
  }

  async #histogram(
    [value, from]: readonly [string, string],
    bounds: readonly number[],
  ): Promise<S.Histogram> {
    const { sql, params } = histogram(value, from, bounds);
    return row.histogramFrom((await this.rows(sql, params))[0], bounds);
  }

  gradingTimes(boundsMs: readonly number[]): Promise<S.Histogram> {
    return this.#histogram(GRADING_TIME, boundsMs);
  }

  queueWaits(boundsMs: readonly number[]): Promise<S.Histogram> {
    return this.#histogram(QUEUE_WAIT, boundsMs);
  }

  async audit(): Promise<S.Audit> {
    const [counts] = await this.rows(Q.tableCounts);
    return {
      integrity: await this.integrity(),
      doneWithoutResult: await this.all((r) => row.num(r.id), Q.doneWithoutResult),
      submissionFiles: await this.all(
        (r) => ({ id: row.num(r.id), kind: r.kind as S.Kind, files: row.num(r.files) }),
        Q.submissionFileCounts,
      ),
      signedWithoutCert: await this.all((r) => row.num(r.job_id), Q.signedWithoutCert),
      counts: {
        users: row.num(counts.users),
        submissions: row.num(counts.submissions),
        jobs: row.num(counts.jobs),
        results: row.num(counts.results),
      },
    };
  }
}
