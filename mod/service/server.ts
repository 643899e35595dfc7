/**
 * The scoring service in one process: the HTTP server (the JSON API and the
 * web pages) and N workers on one store.
 * `socklab serve` and the tests both call {@link startService}.
 *
 * @module
 */
import { settledWithin } from "../deadline.ts";
import { errorMessage, RunError } from "../errors.ts";

import { handleApi } from "./api.ts";
import { asHttpError, json } from "./http.ts";
import { courseCa, openCourse } from "./course.ts";
import type { Store } from "./store/store.ts";
import { type WorkerOptions, WorkerPool } from "./worker.ts";
import { sessionSecret, type WebContext } from "./web/guards.ts";
import { handlePages } from "./web/pages.ts";
import { FormSigner } from "./web/session.ts";

/** The service: where its course is, where it listens, and its in-process workers. */
export interface ServiceOptions
  extends Pick<WorkerOptions, "dataDir" | "leaseMs" | "log" | "seed" | "isolation" | "kinds"> {
  /** PostgreSQL URL: the course's database is there, shared with other servers and workers. */
  db?: string;
  hostname: string;
  port: number;
  /** In-process worker slots (0: none). */
  workers: number;
}

export interface Service {
  /** `http://host:port` (IPv6 literals in brackets). */
  url: string;
  hostname: string;
  port: number;
  store: Store;
  pool: WorkerPool | null;
  /** Stop: no new requests or jobs; running jobs finish within `graceMs` or go back. */
  close(graceMs?: number): Promise<void>;
  /** Settles once the HTTP server has let go of its last connection. */
  finished: Promise<void>;
}

/** How long `close` waits for running jobs by default, ms. */
export const SHUTDOWN_GRACE_MS = 30_000;

/**
 * How long `close` waits for requests in flight, ms. Deno's graceful shutdown
 * waits for every connection whose request body has not all arrived: a client
 * that stops sending (with a token or not: the sign-in form) would hold it
 * for ever. Past this the service stops without it (the process exits).
 */
export const HTTP_GRACE_MS = 5_000;

/** `http://host:port`, with brackets around an IPv6 literal. */
export function httpUrl(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const store = await openCourse(opts.dataDir, opts.db);
  try {
    await Deno.chmod(courseCa(opts.dataDir).key, 0o600);
    // Workers on other machines grade part 5 with the CA certificate from the database.
    if (!(await store.getCaCert())) {
      await store.setCaCert(await Deno.readTextFile(courseCa(opts.dataDir).cert));
    }
  } catch (e) {
    await store.close();
    throw new RunError(`the course CA key in ${opts.dataDir} is unusable: ${errorMessage(e)}`);
  }
  const pool = opts.workers > 0
    ? new WorkerPool({
      store,
      dataDir: opts.dataDir,
      slots: opts.workers,
      leaseMs: opts.leaseMs,
      log: opts.log,
      seed: opts.seed,
      kinds: opts.kinds,
      isolation: opts.isolation,
    })
    : null;
  const stopping = new AbortController();
  let ctx: WebContext;
  try {
    ctx = {
      stopping: stopping.signal,
      store,
      dataDir: opts.dataDir,
      notify: () => pool?.notify(),
      workerTimeoutMs: 3 * opts.leaseMs,
      log: opts.log,
      signer: new FormSigner(await sessionSecret(opts.dataDir)),
    };
  } catch (e) {
    await store.close();
    throw new RunError(`the session key in ${opts.dataDir} is unusable: ${errorMessage(e)}`);
  }
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: opts.hostname,
      port: opts.port,
      onListen: () => {},
      onError: (e) => {
        const err = asHttpError(e, "http", opts.log);
        return json(err.status, { error: err.message }, err.headers);
      },
    }, async (req) => await handleApi(req, ctx) ?? await handlePages(req, ctx));
  } catch (e) {
    await store.close();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new RunError(`port ${opts.port} on ${opts.hostname} is already in use`);
    }
    throw new RunError(`cannot listen on ${opts.hostname}:${opts.port}: ${errorMessage(e)}`);
  }
  await pool?.start();
  // Without workers of its own, serve still puts the jobs of a worker that
  // stopped answering back in the queue (a pool does it in its heartbeat).
  const expiry = pool ? undefined : setInterval(async () => {
    try {
      const n = await store.expireLeases(Date.now());
      if (n > 0) opts.log(`${n} job(s) of a stopped worker back in the queue`);
    } catch (e) {
      opts.log(`lease expiry failed: ${errorMessage(e)}`);
    }
  }, Math.max(200, opts.leaseMs / 3));
  const { hostname, port } = server.addr;
  let closing: Promise<void> | undefined;
  return {
    url: httpUrl(hostname, port),
    hostname,
    port,
    store,
    pool,
    finished: server.finished,
    close(graceMs = SHUTDOWN_GRACE_MS) {
      return closing ??= (async () => {
        clearInterval(expiry);
        // Uploads still arriving end now (503): a stalled client cannot hold the shutdown.
        stopping.abort();
        const httpGraceMs = Math.min(HTTP_GRACE_MS, graceMs);
        const http = settledWithin(server.shutdown(), httpGraceMs).then((done) => {
          if (!done) opts.log(`http: a client still sending after ${httpGraceMs} ms: not waiting`);
        });
        await Promise.all([pool?.stop(graceMs), http]);
        await store.close();
      })();
    },
  };
}
