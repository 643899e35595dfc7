/**
 * The scoring service in one process: the HTTP server (the JSON API and the
 * web pages) and N workers on one store.
 * `socklab serve` and the tests both call {@link startService}.
 *
 * @module
 */
import { join } from "node:path";
import { settledWithin } from "../deadline.ts";
import { errorMessage, RunError } from "../errors.ts";
import { type HttpGate, PEER_HEADER, startHttpGate } from "../net/http_gate.ts";
import { ConnectionLimits } from "../net/limits.ts";

import { handleApi } from "./api.ts";
import { gateWording } from "./answer.ts";
import { asHttpError, json } from "./http.ts";
import { courseCa, openCourse } from "./course.ts";
import { ServiceCounters } from "./metrics.ts";
import type { Store } from "./store/store.ts";
import { LOST_AFTER_LEASES, tidyWorkers, type WorkerOptions, WorkerPool } from "./worker.ts";
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
  /** HTTPS with this identity (PEM texts; https.ts reads or makes them); default plain HTTP. */
  tls?: { cert: string; key: string };
  /** The course's clock for the calendar and accepted times (default: `Date.now`; tests set it). */
  clock?: () => number;
  /** Connections served at once (default {@link SERVICE_MAX_CONNECTIONS}). */
  maxConnections?: number;
  /** Connections at once from one address (default {@link SERVICE_MAX_PER_PEER}; 0: no cap). */
  maxPerPeer?: number;
  /** The gate's clocks (http_gate.ts), for tests: request head, body rate window. */
  headTimeoutMs?: number;
  rateWindowMs?: number;
}

export interface Service {
  /** `http://host:port`, or `https://` (IPv6 literals in brackets). */
  url: string;
  hostname: string;
  port: number;
  store: Store;
  pool: WorkerPool | null;
  /** What this process counts for /metrics. */
  counters: ServiceCounters;
  /** Stop: no new requests or jobs; running jobs finish within `graceMs` or go back. */
  close(graceMs?: number): Promise<void>;
  /** Settles once the HTTP server has let go of its last connection. */
  finished: Promise<void>;
  /** Connections the HTTP gate holds now. */
  readonly connections: number;
}

/**
 * Connections the service holds at once by default: a class's browsers (each
 * opens a few) with room; the gate costs a few KiB a waiting connection.
 */
export const SERVICE_MAX_CONNECTIONS = 4096;
/** Connections from one address at once by default (a student's browser opens a few). */
export const SERVICE_MAX_PER_PEER = 64;

/** How long `close` waits for running jobs by default, ms. */
export const SHUTDOWN_GRACE_MS = 30_000;

/**
 * How long `close` waits for requests in flight, ms; past this the gate cuts
 * them (a client that stops sending cannot hold the shutdown).
 */
export const HTTP_GRACE_MS = 5_000;

/** `http://host:port` (or `https://`), with brackets around an IPv6 literal. */
export function httpUrl(hostname: string, port: number, scheme = "http"): string {
  return `${scheme}://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** The HTTP side: the gate on the public address, Deno.serve behind it on a private socket. */
interface Http {
  addr: Deno.NetAddr;
  gate: HttpGate;
  finished: Promise<void>;
  close(graceMs: number): Promise<void>;
}

/** The public listener: TCP, or TLS with the service's identity. */
function listenPublic(opts: ServiceOptions): Deno.Listener<Deno.Conn> {
  try {
    return opts.tls
      ? Deno.listenTls({
        hostname: opts.hostname,
        port: opts.port,
        ...opts.tls,
        alpnProtocols: ["h2", "http/1.1"],
      })
      : Deno.listen({ hostname: opts.hostname, port: opts.port });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new RunError(`port ${opts.port} on ${opts.hostname} is already in use`);
    }
    if (opts.tls) {
      throw new RunError(`cannot serve HTTPS with this certificate and key: ${errorMessage(e)}`);
    }
    throw new RunError(`cannot listen on ${opts.hostname}:${opts.port}: ${errorMessage(e)}`);
  }
}

/**
 * The request as the client sent it: behind the gate Deno.serve sees
 * `http+unix://host/...` from a Unix socket; the URL becomes `http://` (or
 * `https://`) again and the peer is the one the gate names.
 */
function asSent(req: Request, tls: boolean): { req: Request; peer?: Deno.NetAddr } {
  const url = `${tls ? "https" : "http"}:${req.url.slice(req.url.indexOf("//"))}`;
  const m = req.headers.get(PEER_HEADER)?.match(/^\[?([^\]]*)\]?:(\d+)$/);
  const headers = new Headers(req.headers);
  headers.delete(PEER_HEADER);
  return {
    req: new Request(url, { method: req.method, headers, body: req.body }),
    peer: m ? { transport: "tcp", hostname: m[1], port: Number(m[2]) } : undefined,
  };
}

/**
 * Listen on the service's address: the gate (slow clients, caps per
 * address; TLS ends there) in front of Deno.serve, which listens on a Unix
 * socket in a private directory (0700) that only this process reaches.
 */
async function listenHttp(
  opts: ServiceOptions,
  handler: (req: Request, peer?: Deno.NetAddr) => Promise<Response>,
): Promise<Http> {
  const listener = listenPublic(opts);
  const dir = await Deno.makeTempDir({ prefix: "socklab-http-" });
  const path = join(dir, "http.sock");
  const server = Deno.serve({
    path,
    onListen: () => {},
    onError: (e) => {
      const err = asHttpError(e, "http", opts.log);
      return json(err.status, { error: err.message }, err.headers);
    },
  }, (raw) => {
    const { req, peer } = asSent(raw, opts.tls !== undefined);
    return handler(req, peer);
  });
  const max = opts.maxConnections ?? SERVICE_MAX_CONNECTIONS;
  const gate = startHttpGate({
    listener,
    upstream: () => Deno.connect({ transport: "unix", path }),
    limits: new ConnectionLimits(max, opts.maxPerPeer ?? Math.min(max, SERVICE_MAX_PER_PEER)),
    log: (line) => opts.log(line, { event: "http.gate", level: "warn" }),
    headTimeoutMs: opts.headTimeoutMs,
    rateWindowMs: opts.rateWindowMs,
    wording: gateWording,
  });
  let closed: Promise<void> | undefined;
  const close = (graceMs: number) =>
    closed ??= (async () => {
      await Promise.all([
        gate.close(graceMs),
        settledWithin(server.shutdown(), graceMs + 1000).then((done) => {
          if (!done) {
            opts.log(`http: a request still running after ${graceMs} ms: not waiting`, {
              event: "http.shutdown",
              level: "warn",
            });
          }
        }),
      ]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  return { addr: listener.addr as Deno.NetAddr, gate, finished: server.finished, close };
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
  const counters = new ServiceCounters();
  let ctx: WebContext;
  try {
    ctx = {
      counters,
      stopping: stopping.signal,
      store,
      dataDir: opts.dataDir,
      notify: () => pool?.notify(),
      workerTimeoutMs: LOST_AFTER_LEASES * opts.leaseMs,
      log: opts.log,
      now: opts.clock ?? Date.now,
      signer: new FormSigner(await sessionSecret(opts.dataDir)),
    };
  } catch (e) {
    await store.close();
    throw new RunError(`the session key in ${opts.dataDir} is unusable: ${errorMessage(e)}`);
  }
  let http: Http;
  try {
    http = await listenHttp(
      opts,
      async (req, peer) => await handleApi(req, ctx) ?? await handlePages(req, ctx, peer),
    );
  } catch (e) {
    await store.close();
    throw e;
  }
  await pool?.start();
  // Without workers of its own, serve still puts the jobs of a worker that
  // stopped answering back in the queue (a pool does it in its heartbeat).
  const expiry = pool ? undefined : setInterval(async () => {
    try {
      const n = await tidyWorkers(store, Date.now(), opts.leaseMs);
      if (n > 0) {
        opts.log(`${n} job(s) of a stopped worker back in the queue`, {
          event: "jobs.expired",
          level: "warn",
        });
      }
    } catch (e) {
      opts.log(`lease expiry failed: ${errorMessage(e)}`, { event: "db.error", level: "error" });
    }
  }, Math.max(200, opts.leaseMs / 3));
  const { hostname, port } = http.addr;
  let closing: Promise<void> | undefined;
  return {
    url: httpUrl(hostname, port, opts.tls ? "https" : "http"),
    hostname,
    port,
    store,
    pool,
    counters,
    finished: http.finished,
    get connections() {
      return http.gate.held;
    },
    close(graceMs = SHUTDOWN_GRACE_MS) {
      return closing ??= (async () => {
        clearInterval(expiry);
        // Uploads still arriving end now (503): a stalled client cannot hold the shutdown.
        stopping.abort();
        await Promise.all([pool?.stop(graceMs), http.close(Math.min(HTTP_GRACE_MS, graceMs))]);
        await store.close();
      })();
    },
  };
}
