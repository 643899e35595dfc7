/**
 * The scoring service in one process: the HTTP server (the JSON API and the
 * web pages) and N workers on one store.
 * `socklab serve` and the tests both call {@link startService}.
 *
 * @module
 */
import { RunError } from "../errors.ts";
import { message } from "../net/errors.ts";
import { apiError, handleApi } from "./api.ts";
import { courseCa, openCourse } from "./course.ts";
import type { Store } from "./store/store.ts";
import { WorkerPool } from "./worker.ts";
import type { Isolation } from "../grade/engine.ts";
import { makePages, sessionSecret } from "./web/pages.ts";
import { SessionSigner } from "./web/session.ts";

export interface ServiceOptions {
  dataDir: string;
  hostname: string;
  port: number;
  /** In-process worker slots (0: none). */
  workers: number;
  /** Lease of a job, ms (a dead worker's job runs again after this). */
  leaseMs: number;
  log: (line: string) => void;
  /** Fixed grader seed (tests). */
  seed?: number;
  /** How students' programs run (default "required"). */
  isolation?: Isolation;
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
}

/** How long `close` waits for running jobs by default, ms. */
export const SHUTDOWN_GRACE_MS = 30_000;

/** `http://host:port`, with brackets around an IPv6 literal. */
export function httpUrl(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const store = await openCourse(opts.dataDir);
  try {
    await Deno.chmod(courseCa(opts.dataDir).key, 0o600);
  } catch (e) {
    await store.close();
    throw new RunError(`the course CA key in ${opts.dataDir} is unusable: ${message(e)}`);
  }
  const pool = opts.workers > 0
    ? new WorkerPool({
      store,
      dataDir: opts.dataDir,
      slots: opts.workers,
      leaseMs: opts.leaseMs,
      log: opts.log,
      seed: opts.seed,
      isolation: opts.isolation,
    })
    : null;
  const ctx = {
    store,
    dataDir: opts.dataDir,
    notify: () => pool?.notify(),
    workerTimeoutMs: 3 * opts.leaseMs,
    log: opts.log,
  };
  let pages: (req: Request) => Promise<Response | null>;
  try {
    pages = makePages(ctx, new SessionSigner(await sessionSecret(opts.dataDir)));
  } catch (e) {
    await store.close();
    throw new RunError(`the session key in ${opts.dataDir} is unusable: ${message(e)}`);
  }
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: opts.hostname,
      port: opts.port,
      onListen: () => {},
      onError: (e) => {
        opts.log(`http: ${message(e)}`);
        return apiError(500, "the server failed on this request");
      },
    }, async (req) => {
      return await handleApi(req, ctx) ??
        await pages(req) ??
        apiError(404, `nothing at ${new URL(req.url).pathname}`);
    });
  } catch (e) {
    await store.close();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new RunError(`port ${opts.port} on ${opts.hostname} is already in use`);
    }
    throw new RunError(`cannot listen on ${opts.hostname}:${opts.port}: ${message(e)}`);
  }
  await pool?.start();
  const { hostname, port } = server.addr;
  let closing: Promise<void> | undefined;
  return {
    url: httpUrl(hostname, port),
    hostname,
    port,
    store,
    pool,
    close(graceMs = SHUTDOWN_GRACE_MS) {
      return closing ??= (async () => {
        await Promise.all([pool?.stop(graceMs), server.shutdown()]);
        await store.close();
      })();
    },
  };
}
