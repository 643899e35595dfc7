/**
 * The workers: N slots in one process, each taking the oldest queued job
 * (a lease until a deadline, renewed while it runs), grading it with
 * `job.ts`, and writing its one result. A worker that dies gives its jobs
 * back when their leases expire (any live worker requeues them); a stopping
 * worker lets its running jobs finish, or hands them back after a grace.
 * One log line per job.
 *
 * @module
 */
import { hostname } from "node:os";
import type { Isolation } from "../grade/engine.ts";

import { isolationProblem } from "../proc/sandbox.ts";
import { type JobContext, runJob, sweepJobDirs } from "./job.ts";
import { type Kind, type LeasedJob, MAX_TRIES, type Store } from "./store/store.ts";
import { settledWithin } from "../deadline.ts";
import { errorMessage } from "../errors.ts";
import type { LogFields, ServiceLog } from "./log.ts";

export interface WorkerOptions {
  store: Store;
  /** The course's data directory (the course CA: DIR/ca.crt, and DIR/ca.key for ca-sign). */
  dataDir: string;
  slots: number;
  /** How long a job stays with a worker that stops answering, ms. */
  leaseMs: number;
  log: ServiceLog;
  /** Fixed grader seed (tests). */
  seed?: number;
  /** How students' programs run (JobContext.isolation). */
  isolation?: Isolation;
  /** How long an idle slot waits before looking at the queue again, ms. */
  idleMs?: number;
  /** The worker's name in the workers table (default `<host>:<pid>`). */
  name?: string;
  /** The kinds it grades (default all; a worker without the CA key: all but ca-sign). */
  kinds?: readonly Kind[];
}

/** A worker silent for this long is removed from the workers table (until then: lost). */
export const FORGET_LOST_MS = 24 * 60 * 60 * 1000;

/** A worker silent for this many leases is lost (its jobs' leases have expired by then). */
export const LOST_AFTER_LEASES = 3;

/**
 * What every serving process does for the workers that stopped: the jobs
 * of expired leases back in the queue, a lost worker's running count to 0,
 * a worker silent for a day forgotten (never `self`). Returns how many jobs
 * went back.
 */
export async function tidyWorkers(
  store: Store,
  now: number,
  leaseMs: number,
  self?: string,
): Promise<number> {
  const expired = await store.expireLeases(now);
  const lostBefore = now - LOST_AFTER_LEASES * leaseMs;
  await store.resetLostWorkers(lostBefore);
  for (const w of await store.listWorkers()) {
    if (w.id !== self && w.lastSeen < Math.min(lostBefore, now - FORGET_LOST_MS)) {
      await store.unregisterWorker(w.id);
    }
  }
  return expired;
}

/**
 * Unisolated, jobs run one at a time in this process (SERVICE.md): two
 * students' programs would otherwise share one user, one network (part 5's
 * fixed localhost:5003) and one /tmp. Isolated, every job has its own.
 */
const UNISOLATED_LOCK = "unisolated";

/** A FIFO lock per name. */
class Locks {
  #tails = new Map<string, Promise<void>>();
  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => release = r);
    const tail = prev.then(() => mine);
    this.#tails.set(name, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    }
  }
}

export class WorkerPool {
  readonly id: string;
  readonly opts: WorkerOptions;
  #stopping = false;
  #loops: Promise<void>[] = [];
  #running = new Map<number, LeasedJob>();
  #wake: (() => void)[] = [];
  #timer?: ReturnType<typeof setInterval>;
  #locks = new Locks();
  #unlisten?: () => Promise<void>;
  #aborts = new Map<number, AbortController>();
  #unisolated: string | null = null;

  constructor(opts: WorkerOptions) {
    this.opts = opts;
    this.id = opts.name ?? `${hostname()}:${Deno.pid}`;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Why jobs run unisolated (`--isolation off`, or `auto` where isolation is
   * unavailable), or null when each job runs in its own sandbox. Known after start().
   */
  get unisolated(): string | null {
    return this.#unisolated;
  }

  async start(): Promise<void> {
    const { store, slots, leaseMs, isolation } = this.opts;
    this.#unisolated = isolation === "off"
      ? "--isolation off"
      : isolation === "auto"
      ? await isolationProblem()
      : null;
    const swept = await sweepJobDirs();
    if (swept) {
      this.opts.log(`worker ${this.id}: removed ${swept} job folder(s) of stopped workers`);
    }
    await store.registerWorker({ id: this.id, host: hostname(), slots }, Date.now());
    // Woken as soon as another process queues a job (where the store can tell).
    this.#unlisten = await store.onQueued?.(() => this.notify());
    await this.#maintain();
    this.#timer = setInterval(() => this.#maintain(), Math.max(200, leaseMs / 3));
    for (let i = 0; i < slots; i++) this.#loops.push(this.#loop(i));
  }

  /** Wake idle slots: something was queued. */
  notify(): void {
    for (const w of this.#wake.splice(0)) w();
  }

  /** Heartbeat; then {@link tidyWorkers}. */
  async #maintain(): Promise<void> {
    const { store, leaseMs, log } = this.opts;
    const now = Date.now();
    try {
      await store.heartbeat(this.id, this.#running.size, now);
      const expired = await tidyWorkers(store, now, leaseMs, this.id);
      if (expired > 0) {
        log(`worker ${this.id}: ${expired} job(s) of a stopped worker back in the queue`, {
          event: "jobs.expired",
          level: "warn",
          worker: this.id,
        });
        this.notify();
      }
    } catch (e) {
      log(`worker ${this.id}: maintenance failed: ${errorMessage(e)}`, {
        event: "worker.maintenance_failed",
        level: "error",
        worker: this.id,
      });
    }
  }

  /** Wait until something is queued ({@link notify}) or `idleMs` pass. */
  async #idle(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#wake.push(resolve);
    await settledWithin(promise, this.opts.idleMs ?? 1000);
    const i = this.#wake.indexOf(resolve);
    if (i >= 0) this.#wake.splice(i, 1);
  }

  async #loop(slot: number): Promise<void> {
    const { store, leaseMs, log } = this.opts;
    const name = `${this.id}/${slot}`;
    while (!this.#stopping) {
      let job: LeasedJob | null = null;
      try {
        job = await store.lease(name, leaseMs, Date.now(), { kinds: this.opts.kinds });
      } catch (e) {
        log(`worker ${name}: cannot take a job: ${errorMessage(e)}`);
      }
      if (!job) {
        await this.#idle();
        continue;
      }
      await this.#runOne(name, job);
    }
  }

  async #runOne(name: string, job: LeasedJob): Promise<void> {
    const { store, leaseMs, log } = this.opts;
    this.#running.set(job.id, job);
    let lost = false;
    const renew = setInterval(async () => {
      try {
        if (!(await store.renew(job.id, job.leaseId, leaseMs, Date.now()))) lost = true;
      } catch { /* the next renewal or the expiry decides */ }
    }, Math.max(100, leaseMs / 3));
    const started = Date.now();
    const who = `job ${job.id} (submission ${job.submissionId}, ${job.userId} ${job.kind})`;
    const about = (event: string, more: LogFields = {}): LogFields => ({
      event,
      job: job.id,
      submission: job.submissionId,
      student: job.userId,
      part: job.kind,
      worker: name,
      duration_ms: Date.now() - started,
      ...more,
    });
    const abort = new AbortController();
    this.#aborts.set(job.id, abort);
    try {
      const course = await store.getCourse();
      if (!course) throw new Error("the course is gone from the database");
      const files = await store.submissionFiles(job.submissionId);
      const ctx: JobContext = {
        dataDir: this.opts.dataDir,
        policy: course.policy,
        seed: this.opts.seed,
        isolation: this.opts.isolation,
        signal: abort.signal,
      };
      const run = () => runJob(job, files, ctx);
      const result = this.#unisolated !== null
        ? await this.#locks.run(UNISOLATED_LOCK, run)
        : await run();
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      if (await store.complete(job.id, job.leaseId, result, Date.now())) {
        log(
          `${who}: score ${result.score}/${result.maxGrade} in ${secs} s on ${name}`,
          about("job.done", { score: result.score, max_grade: result.maxGrade }),
        );
      } else {
        log(
          `${who}: finished in ${secs} s on ${name} but its lease was lost; result dropped`,
          about("job.lease_lost", { level: "warn" }),
        );
      }
    } catch (e) {
      if (abort.signal.aborted) {
        // Shutting down: not a failure of the grader; the job goes back as it was.
        const back = await store.release(job.id, job.leaseId).catch(() => false);
        log(
          `${who}: ${back ? "handed back to the queue" : "stopped"} (shutting down)`,
          about("job.released"),
        );
        return;
      }
      const why = errorMessage(e);
      let status: string | null = null;
      try {
        status = await store.fail(job.id, job.leaseId, why, Date.now());
      } catch (e2) {
        log(`worker ${name}: cannot record the failure of job ${job.id}: ${errorMessage(e2)}`);
      }
      const next = status === "queued"
        ? `try ${job.tries} of ${MAX_TRIES}, queued again`
        : status === "failed"
        ? `try ${job.tries} of ${MAX_TRIES}, given up`
        : "lease lost";
      log(
        `${who}: grader failed on ${name} (${next}): ${why}`,
        about("job.failed", { level: "error", reason: status ?? "lease lost" }),
      );
    } finally {
      clearInterval(renew);
      this.#running.delete(job.id);
      this.#aborts.delete(job.id);
      if (lost) log(`${who}: lease lost while running`, about("job.lease_lost", { level: "warn" }));
    }
  }

  /**
   * Stop taking jobs; wait up to `graceMs` for the running ones, then stop
   * them (their programs too) and hand them back to the queue.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.notify();
    const all = Promise.all(this.#loops);
    if (!(await settledWithin(all, graceMs))) {
      for (const a of this.#aborts.values()) a.abort(new Error("the service is shutting down"));
      await settledWithin(all, 10_000);
    }
    clearInterval(this.#timer);
    const { store, log } = this.opts;
    // A job that would not stop in time is handed back all the same.
    for (const job of this.#running.values()) {
      if (await store.release(job.id, job.leaseId).catch(() => false)) {
        log(`job ${job.id}: handed back to the queue (shutting down)`);
      }
    }
    await this.#unlisten?.().catch(() => {});
    await store.unregisterWorker(this.id).catch(() => {});
  }
}
