/**
 * What a health check and Prometheus read: `GET /healthz` (anyone: 200
 * `{"db": "ok", "workers": N, "queue": N}`, 503 with `db` saying why when
 * the database does not answer within {@link HEALTH_TIMEOUT_MS}) and
 * `GET /metrics` (the Prometheus text format, version 0.0.4; from this
 * machine, or with the teaching assistant's token).
 *
 * The queue, the jobs, the grading times and the queue waits are read from
 * the database, so every `serve` on one PostgreSQL database reports the
 * whole course's (workers on other machines included), and a restart loses
 * nothing; the refused attempts are counted in this process (they leave no
 * row), from its start.
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `socklab_queue_depth` | gauge | `part` |
 * | `socklab_jobs` | gauge | `part`, `status` (every job ever queued) |
 * | `socklab_grading_seconds` | histogram | |
 * | `socklab_queue_wait_seconds` | histogram | (queued to taken) |
 * | `socklab_workers` | gauge | `state` (`alive`, `lost`) |
 * | `socklab_worker_slots` | gauge | (of the alive workers) |
 * | `socklab_submissions_accepted_total` | counter | (this process) |
 * | `socklab_submissions_refused_total` | counter | `reason` (this process) |
 *
 * @module
 */
import { within } from "../deadline.ts";
import { errorMessage } from "../errors.ts";
import { bearerToken, userForToken } from "./auth.ts";
import { type Handler, HttpError, json, respond } from "./http.ts";
import { dbErrorText } from "./store/open.ts";
import { type Histogram, type JobStatus, KINDS } from "./store/store.ts";
import { type ServiceContext, workerStates } from "./submissions.ts";

/** How long `/healthz` waits for the database, ms: past it the database is down (503). */
export const HEALTH_TIMEOUT_MS = 5_000;

/** Grading time buckets, ms (a run is bounded by the policy's time limit, 20 s by default). */
export const GRADING_BOUNDS_MS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600].map((s) => s * 1000);
/** Queue wait buckets, ms (the handout: "grading might take up to 5 min"). */
export const WAIT_BOUNDS_MS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600].map((s) => s * 1000);

/**
 * What this process counts (the database has no row for it): submissions
 * accepted and refused, by reason.
 */
export class ServiceCounters {
  accepted = 0;
  readonly refused = new Map<string, number>();

  refuse(reason: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }
}

/** One sample of a metric family: its labels, its value, a suffix (`_bucket`, `_sum`...). */
export interface Sample {
  suffix?: string;
  labels?: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: "gauge" | "counter" | "histogram";
  samples: Sample[];
}

/** A label value as the text format wants it: `\`, `"` and newlines escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function sampleLine(name: string, s: Sample): string {
  const labels = Object.entries(s.labels ?? {}).map(([k, v]) => `${k}="${labelValue(v)}"`);
  const value = Number.isFinite(s.value) ? String(s.value) : s.value > 0 ? "+Inf" : "NaN";
  return `${name}${s.suffix ?? ""}${labels.length ? `{${labels.join(",")}}` : ""} ${value}`;
}

/** The Prometheus text format (0.0.4) of `families`: HELP, TYPE, then the samples. */
export function prometheusText(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(sampleLine(f.name, s));
  }
  return lines.join("\n") + "\n";
}

/** A histogram in ms as Prometheus samples in seconds: cumulative buckets, +Inf, sum, count. */
export function histogramSamples(h: Histogram): Sample[] {
  return [
    ...h.bounds.map((b, i) => ({
      suffix: "_bucket",
      labels: { le: String(b / 1000) },
      value: h.counts[i],
    })),
    { suffix: "_bucket", labels: { le: "+Inf" }, value: h.count },
    { suffix: "_sum", value: h.sum / 1000 },
    { suffix: "_count", value: h.count },
  ];
}

const STATUSES: readonly JobStatus[] = ["queued", "running", "done", "failed"];

/** Every metric of the service, read now. */
export async function serviceMetrics(ctx: ServiceContext, now: number): Promise<Family[]> {
  const counts = await ctx.store.jobCounts();
  const n = (kind: string, status: JobStatus) =>
    counts.find((c) => c.kind === kind && c.status === status)?.n ?? 0;
  const workers = await workerStates(ctx, now);
  const alive = workers.filter((w) => w.state === "alive");
  const counters = ctx.counters ?? new ServiceCounters();
  return [
    {
      name: "socklab_queue_depth",
      help: "Jobs waiting for a worker, by part.",
      type: "gauge",
      samples: KINDS.map((k) => ({ labels: { part: k }, value: n(k, "queued") })),
    },
    {
      name: "socklab_jobs",
      help: "Jobs in each status, by part (done and failed: every job since the course began).",
      type: "gauge",
      samples: KINDS.flatMap((k) =>
        STATUSES.map((s) => ({ labels: { part: k, status: s }, value: n(k, s) }))
      ),
    },
    {
      name: "socklab_grading_seconds",
      help: "Time to grade a submission, of every result.",
      type: "histogram",
      samples: histogramSamples(await ctx.store.gradingTimes(GRADING_BOUNDS_MS)),
    },
    {
      name: "socklab_queue_wait_seconds",
      help: "Time from queued to taken by a worker, of every job taken.",
      type: "histogram",
      samples: histogramSamples(await ctx.store.queueWaits(WAIT_BOUNDS_MS)),
    },
    {
      name: "socklab_workers",
      help: "Registered workers: alive, or lost (silent for 3 leases).",
      type: "gauge",
      samples: (["alive", "lost"] as const).map((state) => ({
        labels: { state },
        value: workers.filter((w) => w.state === state).length,
      })),
    },
    {
      name: "socklab_worker_slots",
      help: "Jobs the alive workers can grade at once.",
      type: "gauge",
      samples: [{ value: alive.reduce((s, w) => s + w.slots, 0) }],
    },
    {
      name: "socklab_submissions_accepted_total",
      help: "Submissions this process accepted since it started.",
      type: "counter",
      samples: [{ value: counters.accepted }],
    },
    {
      name: "socklab_submissions_refused_total",
      help: "Submissions this process refused since it started, by reason.",
      type: "counter",
      samples: [...counters.refused].sort().map(([reason, value]) => ({
        labels: { reason },
        value,
      })),
    },
  ];
}

/** An address on this machine: 127.0.0.0/8, ::1, or IPv4-mapped 127.x. */
export function isLoopback(host: string): boolean {
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(host) || host === "::1";
}

/** Headers a reverse proxy adds: such a request came from elsewhere, whatever its peer. */
const FORWARDED = ["forwarded", "x-forwarded-for", "x-real-ip"];

/**
 * A wrapper: a request from this machine (its peer on loopback and no
 * proxy's forwarding header: a proxy on this machine would otherwise make
 * everyone local), or with the teaching assistant's token; else 401 (no
 * token) or 403.
 */
export function localOrTa<W>(handler: Handler<ServiceContext, W>): Handler<ServiceContext, W> {
  return async (c) => {
    const local = c.peer !== undefined && isLoopback(c.peer.hostname) &&
      FORWARDED.every((h) => !c.req.headers.has(h));
    if (!local) {
      const token = bearerToken(c.req);
      if (token === null) {
        throw new HttpError(401, "from another machine, send the teaching assistant's token", {
          "www-authenticate": 'Bearer realm="socklab"',
        });
      }
      const who = await userForToken(c.ctx.store, token);
      if (who?.role !== "ta") throw new HttpError(403, "only the teaching assistant may read this");
    }
    return await handler(c);
  };
}

/** GET /metrics: the text format. */
export const metrics: Handler<ServiceContext, unknown> = localOrTa(async ({ ctx }) =>
  respond(prometheusText(await serviceMetrics(ctx, Date.now())), 200, {
    "content-type": "text/plain; version=0.0.4; charset=utf-8",
  })
);

/** GET /healthz: the database answers (within a bound), the live workers, the queue. */
export const healthz: Handler<ServiceContext, unknown> = async ({ ctx }) => {
  const read = async () => {
    const queue = (await ctx.store.jobCounts())
      .filter((c) => c.status === "queued")
      .reduce((s, c) => s + c.n, 0);
    const workers = (await workerStates(ctx, Date.now())).filter((w) => w.state === "alive");
    return { db: "ok", workers: workers.length, queue };
  };
  try {
    return json(200, await within(read(), HEALTH_TIMEOUT_MS, "the database"));
  } catch (e) {
    const why = /no result within/.test(errorMessage(e)) ? errorMessage(e) : dbErrorText(e);
    ctx.log(`health: the database is unreachable: ${why}`, {
      event: "health.down",
      level: "error",
    });
    return json(503, { db: why, workers: null, queue: null }, { "retry-after": "10" });
  }
};
