/**
 * The JSON API under `/api/`, used by `socklab submit` and the web pages.
 * Every route needs `Authorization: Bearer <token>` (the web pages'
 * session cookie maps to the same user); errors are
 * `{"error": "<one sentence>"}` with 400 (bad request), 401 (no or unknown
 * token), 403 (teaching-assistant route, student token), 404 (unknown id, or
 * someone else's submission), 413 (too large), 415 (not UTF-8 / not PEM),
 * 429 (one already queued or running, or cooldown; with `Retry-After`).
 *
 * Any signed-in user:
 *
 * - `GET  /api/me` -> {@link MeJson}: who, the course's policy, kept scores.
 * - `POST /api/submissions` multipart/form-data: `kind` (part2 part3
 *   part4-receiver part4-sender part5 part6 ca-sign), `sciper` (part4-sender,
 *   6 digits), and the files by field: `script` (every part), `cert` and
 *   `key` (part5, PEM), `csr` (ca-sign, PEM). -> 201 {@link CreatedJson}
 *   `{"id", "status", "position", "estimated_wait_s"}`. A refused upload
 *   queues nothing.
 * - `GET  /api/submissions` -> `{"submissions": [SubmissionJson...]}`, mine,
 *   newest first (`tests` omitted).
 * - `GET  /api/submissions/<id>` -> {@link SubmissionJson} `{"id", "kind",
 *   "user", "status", "position", "estimated_wait_s", "created_at",
 *   "files", "max_grade", "score", "success", "tests": [{"name", "passed",
 *   "scored", "detail"}], "error"}` (score fields null until done).
 * - `GET  /api/submissions/<id>/archive` -> `application/zip`
 *   `submission-<id>.zip`: the uploaded files, `output/job.json` (`{"status",
 *   "tries", "outcome", "grader_error"?}`: graded, or failed for the grader's
 *   own reason), `output/result.json`
 *   (`{"max_grade", "score", "success", "tests"}`), `output/stdout.txt`,
 *   `output/stderr.txt`, each run's packets `output/<test>.pcap` (where the
 *   worker could capture: tcpdump, root), and for ca-sign `output/<name>.crt`.
 *   409 until done.
 * - `GET  /api/submissions/<id>/certificate` -> ca-sign: the signed
 *   certificate, `application/x-pem-file` (409 until done).
 *
 * Teaching assistant only (403 otherwise):
 *
 * - `GET  /api/course` -> `{"name", "policy", "students", "workers",
 *   "queued", "running"}`.
 * - `GET  /api/course/queue` -> `{"queued": [JobJson...], "running": [JobJson...]}`.
 * - `GET  /api/course/workers` -> `{"workers": [{"id", "host", "slots",
 *   "running", "last_seen", "state", "jobs": [JobJson...]}]}`: `state` is
 *   `lost` once the worker is silent for 3 leases (its jobs' leases have
 *   expired by then and they run elsewhere), else `alive`; `jobs` are the
 *   ones it runs now.
 * - `GET  /api/course/submissions?user=&kind=&status=&limit=` ->
 *   `{"submissions": [SubmissionJson...]}` (any student's; `GET
 *   /api/submissions/<id>` and its archive also work on any id).
 * - `POST /api/course/rerun` JSON `{"kind", "user"?}` -> `{"queued": n}`: a
 *   new job for every graded submission of that kind (of that user).
 * - `GET  /api/course/gradebook` -> `{"columns": [kind...], "rows": [{"id",
 *   "name", "scores": {kind: number | null}}]}`.
 * - `GET  /api/course/export` -> `text/csv`, header
 *   `id,name,part2,part3,part4-receiver,part4-sender,part5,part6,ca-sign`.
 *
 * @module
 */
import { zipSync } from "fflate";
import { bearerToken, userForToken } from "./auth.ts";
import { gradeBook, gradeBookCsv } from "./course.ts";
import {
  isKind,
  isRefusal,
  type Job,
  type JobStatus,
  type Kind,
  KINDS,
  type Policy,
  type Role,
  type Store,
  type Submission,
  type TestRow,
  type User,
  type WorkerInfo,
} from "./store/store.ts";
import { isStoreBusy } from "./store/open.ts";
import { checkUpload, MULTIPART_OVERHEAD, readCapped, UploadError } from "./upload.ts";

export interface MeJson {
  id: string;
  name: string;
  role: Role;
  course: string;
  policy: Policy;
  /** Kept score per kind (null: nothing graded yet). */
  scores: Record<Kind, number | null>;
}

export interface CreatedJson {
  id: number;
  status: JobStatus;
  position: number | null;
  estimated_wait_s: number | null;
}

export interface SubmissionJson {
  id: number;
  kind: Kind;
  user: string;
  status: JobStatus;
  /** 1-based place in the queue while queued, else null. */
  position: number | null;
  /** Estimated seconds until the result, while queued or running. */
  estimated_wait_s: number | null;
  created_at: string;
  files: string[];
  max_grade: number | null;
  score: number | null;
  success: 0 | 1 | null;
  tests?: TestRow[];
  /** Why grading failed (status failed), or the last retried failure. */
  error: string | null;
}

export interface JobJson {
  id: number;
  submission: number;
  status: JobStatus;
  tries: number;
  worker: string | null;
  enqueued_at: string;
  started_at: string | null;
}

/** What the API handler needs. */
export interface ApiContext {
  store: Store;
  dataDir: string;
  /** Wake the in-process workers (a job was queued). */
  notify: () => void;
  /** Workers silent for longer than this are not counted in the estimates, ms. */
  workerTimeoutMs: number;
  log: (line: string) => void;
  /** Aborted when the service stops: uploads still arriving are refused (503). */
  stopping?: AbortSignal;
}

/** A JSON response. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** An error response: `{"error": "<one sentence>"}`. */
export function apiError(status: number, error: string, headers: Record<string, string> = {}) {
  return json(status, { error }, headers);
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/**
 * Seconds until the submission's result: the mean of recent gradings, times
 * the rounds of work ahead of it given the live workers' slots. Null when
 * finished or when no worker is alive.
 */
export async function estimateWait(
  ctx: ApiContext,
  sub: Submission,
  position: number | null,
): Promise<number | null> {
  const job = sub.job;
  if (job.status !== "queued" && job.status !== "running") return null;
  const now = Date.now();
  const slots = (await ctx.store.listWorkers())
    .filter((w) => w.lastSeen >= now - ctx.workerTimeoutMs)
    .reduce((n, w) => n + w.slots, 0);
  if (slots === 0) return null;
  const recent = await ctx.store.recentDurations(20);
  const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 30_000;
  if (job.status === "running") {
    return Math.max(1, Math.round((mean - (now - (job.startedAt ?? now))) / 1000));
  }
  const rounds = Math.floor(((position ?? 1) - 1) / slots) + 1;
  return Math.max(1, Math.round((rounds * mean) / 1000));
}

/** A worker as the teaching assistant sees it: alive or lost, and its running jobs. */
export interface WorkerState extends WorkerInfo {
  /** `lost` once silent for longer than `workerTimeoutMs` (its leases have expired by then). */
  state: "alive" | "lost";
  jobs: Job[];
}

/** Every registered worker's state (the API's and the course page's one source). */
export async function workerStates(ctx: ApiContext, now: number): Promise<WorkerState[]> {
  // A worker's slots lease as `<id>/<slot>`: its current jobs are the running ones.
  const running = await ctx.store.listJobs("running");
  return (await ctx.store.listWorkers()).map((w) => ({
    ...w,
    state: w.lastSeen < now - ctx.workerTimeoutMs ? "lost" : "alive",
    jobs: running.filter((j) => j.worker === w.id || j.worker?.startsWith(`${w.id}/`)),
  }));
}

/** A submission as the API shows it (`tests` only with `withTests`). */
export async function submissionJson(
  ctx: ApiContext,
  sub: Submission,
  withTests: boolean,
): Promise<SubmissionJson> {
  const position = sub.job.status === "queued" ? await ctx.store.queuePosition(sub.job.id) : null;
  const result = sub.job.status === "done" ? await ctx.store.getResult(sub.job.id) : null;
  const out: SubmissionJson = {
    id: sub.id,
    kind: sub.kind,
    user: sub.userId,
    status: sub.job.status,
    position,
    estimated_wait_s: await estimateWait(ctx, sub, position),
    created_at: iso(sub.createdAt)!,
    files: sub.fileNames,
    max_grade: result?.maxGrade ?? null,
    score: result?.score ?? null,
    success: result?.success ?? null,
    error: sub.job.status === "done" ? null : sub.job.error,
  };
  if (withTests) out.tests = result?.tests ?? [];
  return out;
}

function jobJson(j: Job): JobJson {
  return {
    id: j.id,
    submission: j.submissionId,
    status: j.status,
    tries: j.tries,
    worker: j.worker,
    enqueued_at: iso(j.enqueuedAt)!,
    started_at: iso(j.startedAt),
  };
}

/** The kept score of each kind for one user. */
async function myScores(store: Store, userId: string): Promise<Record<Kind, number | null>> {
  const course = await store.getCourse();
  const scores = Object.fromEntries(KINDS.map((k) => [k, null])) as Record<Kind, number | null>;
  for (const c of await store.keptScores(course?.policy.keep ?? "best")) {
    if (c.userId === userId) scores[c.kind] = c.score;
  }
  return scores;
}

/** The zip of a submission: its files and, once graded, `output/`. */
export async function submissionArchive(store: Store, sub: Submission): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const entries: Record<string, Uint8Array> = {};
  for (const f of await store.submissionFiles(sub.id)) entries[f.name] = f.bytes;
  // Which it was: graded (the result is about the program), or a failure of the grader or
  // the machine (not counted, retried up to MAX_TRIES), or not graded yet.
  entries["output/job.json"] = enc.encode(
    JSON.stringify(
      {
        status: sub.job.status,
        tries: sub.job.tries,
        outcome: sub.job.status === "done"
          ? "graded: the result is what the program did"
          : sub.job.status === "failed"
          ? "the grader or the machine failed, not the program: it does not count"
          : "not graded yet",
        ...(sub.job.error ? { grader_error: sub.job.error } : {}),
      },
      null,
      2,
    ) + "\n",
  );
  const result = await store.latestResult(sub.id);
  if (result) {
    const { maxGrade, score, success, tests } = result;
    entries["output/result.json"] = enc.encode(
      JSON.stringify({ max_grade: maxGrade, score, success, tests }, null, 2) + "\n",
    );
    entries["output/stdout.txt"] = enc.encode(result.stdout);
    entries["output/stderr.txt"] = enc.encode(result.stderr);
    for (const f of result.files) entries[`output/${f.name}`] = f.bytes;
  }
  return zipSync(entries);
}

/** What {@link acceptSubmission} decided. */
export type Acceptance =
  | { ok: true; submission: Submission; form: FormData }
  | {
    ok: false;
    status: number;
    error: string;
    /** The form field the refusal is about, if one is. */
    field?: string;
    headers: Record<string, string>;
    /** The parsed form, when the body was one (to show it again). */
    form?: FormData;
  };

/**
 * Check a multipart upload and queue it: the one path of every submission,
 * from the API and from the web form. A refusal queues nothing.
 */
export async function acceptSubmission(
  req: Request,
  user: User,
  ctx: ApiContext,
): Promise<Acceptance> {
  const course = (await ctx.store.getCourse())!;
  const policy = course.policy;
  const type = req.headers.get("content-type") ?? "";
  const refuse = (
    status: number,
    error: string,
    extra: { field?: string; form?: FormData; headers?: Record<string, string> } = {},
  ): Acceptance => ({ ok: false, status, error, headers: {}, ...extra });
  if (!/^multipart\/form-data/i.test(type)) {
    await req.body?.cancel().catch(() => {});
    return refuse(415, "send the submission as multipart/form-data");
  }
  let form: FormData | undefined;
  let sub;
  try {
    const body = await readCapped(req, policy.maxTotalBytes + MULTIPART_OVERHEAD, {
      signal: ctx.stopping,
    });
    try {
      form = await new Response(body as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": type },
      }).formData();
    } catch {
      throw new UploadError(400, "the body is not valid multipart/form-data");
    }
    sub = await checkUpload(form, user.id, policy);
  } catch (e) {
    if (e instanceof UploadError) return refuse(e.status, e.message, { field: e.field, form });
    throw e;
  }
  const now = Date.now();
  const made = await ctx.store.createSubmission(sub, {
    now,
    cooldownMs: policy.cooldownSeconds * 1000,
  });
  if (isRefusal(made)) {
    if (made.refused === "active") {
      const other = await ctx.store.getSubmission(made.submissionId);
      const pos = other && other.job.status === "queued"
        ? await ctx.store.queuePosition(other.job.id)
        : null;
      const wait = other ? await estimateWait(ctx, other, pos) : null;
      return refuse(
        429,
        `your ${sub.kind} submission ${made.submissionId} is still ${
          other?.job.status ?? "queued"
        }: ` +
          `submit again once it is graded`,
        { form, field: "kind", headers: { "retry-after": String(wait ?? 10) } },
      );
    }
    const secs = Math.ceil(made.retryAfterMs / 1000);
    return refuse(
      429,
      `one ${sub.kind} submission every ${policy.cooldownSeconds} s: try again in ${secs} s`,
      { form, field: "kind", headers: { "retry-after": String(secs) } },
    );
  }
  ctx.notify();
  return { ok: true, submission: made, form };
}

async function createSubmission(req: Request, user: User, ctx: ApiContext): Promise<Response> {
  const got = await acceptSubmission(req, user, ctx);
  if (!got.ok) return apiError(got.status, got.error, got.headers);
  const made = got.submission;
  const position = await ctx.store.queuePosition(made.job.id);
  const body: CreatedJson = {
    id: made.id,
    status: made.job.status,
    position,
    estimated_wait_s: await estimateWait(ctx, made, position),
  };
  return json(201, body, { location: `/api/submissions/${made.id}` });
}

/** The submission `id` if `user` may see it (their own, or any for the TA). */
async function visible(ctx: ApiContext, user: User, id: string): Promise<Submission | null> {
  if (!/^\d{1,15}$/.test(id)) return null;
  const sub = await ctx.store.getSubmission(Number(id));
  if (!sub || (user.role !== "ta" && sub.userId !== user.id)) return null;
  return sub;
}

const NOT_FOUND = "no such submission";

async function studentRoutes(
  req: Request,
  path: string,
  user: User,
  ctx: ApiContext,
): Promise<Response | null> {
  const { store } = ctx;
  if (path === "/api/me" && req.method === "GET") {
    const course = (await store.getCourse())!;
    const me: MeJson = {
      id: user.id,
      name: user.name,
      role: user.role,
      course: course.name,
      policy: course.policy,
      scores: await myScores(store, user.id),
    };
    return json(200, me);
  }
  if (path === "/api/submissions") {
    if (req.method === "POST") return await createSubmission(req, user, ctx);
    if (req.method === "GET") {
      const subs = await store.listSubmissions({ userId: user.id, limit: 500 });
      return json(200, {
        submissions: await Promise.all(subs.map((s) => submissionJson(ctx, s, false))),
      });
    }
    return apiError(405, `${req.method} is not allowed on ${path}`);
  }
  const m = path.match(/^\/api\/submissions\/([^/]+)(\/archive|\/certificate)?$/);
  if (m && req.method === "GET") {
    const sub = await visible(ctx, user, m[1]);
    if (!sub) return apiError(404, NOT_FOUND);
    if (!m[2]) return json(200, await submissionJson(ctx, sub, true));
    if (m[2] === "/archive") {
      return new Response(await submissionArchive(store, sub) as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-type": "application/zip",
          "content-disposition": `attachment; filename="submission-${sub.id}.zip"`,
        },
      });
    }
    if (sub.kind !== "ca-sign") return apiError(404, `submission ${sub.id} is not a ca-sign`);
    const result = sub.job.status === "done" ? await store.getResult(sub.job.id) : null;
    const cert = result?.files.find((f) => f.name.endsWith(".crt"));
    if (!cert) return apiError(409, `submission ${sub.id} is ${sub.job.status}: no certificate`);
    return new Response(cert.bytes as Uint8Array<ArrayBuffer>, {
      headers: {
        "content-type": "application/x-pem-file",
        "content-disposition": `attachment; filename="${cert.name}"`,
      },
    });
  }
  return null;
}

async function taRoutes(req: Request, url: URL, ctx: ApiContext): Promise<Response | null> {
  const { store } = ctx;
  const path = url.pathname;
  if (req.method === "GET") {
    switch (path) {
      case "/api/course": {
        const course = (await store.getCourse())!;
        return json(200, {
          name: course.name,
          policy: course.policy,
          students: (await store.listUsers("student")).length,
          workers: (await store.listWorkers()).length,
          queued: (await store.listJobs("queued")).length,
          running: (await store.listJobs("running")).length,
        });
      }
      case "/api/course/queue":
        return json(200, {
          queued: (await store.listJobs("queued")).map(jobJson),
          running: (await store.listJobs("running")).map(jobJson),
        });
      case "/api/course/workers":
        return json(200, {
          workers: (await workerStates(ctx, Date.now())).map((w) => ({
            id: w.id,
            host: w.host,
            slots: w.slots,
            running: w.running,
            last_seen: iso(w.lastSeen),
            state: w.state,
            jobs: w.jobs.map(jobJson),
          })),
        });
      case "/api/course/submissions": {
        const q = url.searchParams;
        const kind = q.get("kind") ?? undefined;
        if (kind !== undefined && !isKind(kind)) return apiError(400, `'${kind}' is not a part`);
        const status = q.get("status") ?? undefined;
        if (status && !["queued", "running", "done", "failed"].includes(status)) {
          return apiError(400, `'${status}' is not a status`);
        }
        // 1..5000 (SQLite reads LIMIT -1 as no limit; PostgreSQL refuses it).
        const limit = Math.max(1, Math.min(Math.floor(Number(q.get("limit") ?? 500)) || 500, 5000));
        const subs = await store.listSubmissions({
          userId: q.get("user") ?? undefined,
          kind,
          status: status as JobStatus | undefined,
          limit,
        });
        return json(200, {
          submissions: await Promise.all(subs.map((s) => submissionJson(ctx, s, false))),
        });
      }
      case "/api/course/gradebook":
        return json(200, { columns: KINDS, rows: await gradeBook(store) });
      case "/api/course/export":
        return new Response(gradeBookCsv(await gradeBook(store)), {
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "content-disposition": 'attachment; filename="gradebook.csv"',
          },
        });
    }
  }
  if (path === "/api/course/rerun" && req.method === "POST") {
    let body: { kind?: unknown; user?: unknown };
    try {
      body = await req.json();
    } catch {
      return apiError(400, 'send JSON: {"kind": "<part>", "user": "<id>" (optional)}');
    }
    if (typeof body?.kind !== "string" || !isKind(body.kind)) {
      return apiError(400, `'kind' must be one of ${KINDS.join(", ")}`);
    }
    // A user that is not a string (a numeric id, null) must not widen the re-run to everyone.
    if (body.user !== undefined && typeof body.user !== "string") {
      return apiError(400, "'user' must be a student's id, as a string");
    }
    const subs = await store.listSubmissions({
      kind: body.kind,
      userId: body.user,
      status: "done",
    });
    for (const s of subs) await store.enqueue(s.id, Date.now());
    if (subs.length) ctx.notify();
    ctx.log(`re-run: ${subs.length} ${body.kind} submission(s) queued again`);
    return json(200, { queued: subs.length });
  }
  return null;
}

/**
 * The answer to a request that failed: 503 with Retry-After while the
 * database is held by another process (one log line), else 500 (the stack
 * in the log, for the teaching assistant).
 */
export function failed(e: unknown, what: string, log: (line: string) => void): Response {
  if (isStoreBusy(e)) {
    log(`${what}: the database is locked by another process`);
    return apiError(
      503,
      "the course's database is busy (another program holds it): try again in a minute",
      { "retry-after": "30" },
    );
  }
  log(`${what}: ${e instanceof Error ? e.stack : e}`);
  return apiError(500, "the server failed on this request; the teaching assistant can see why");
}

/**
 * Answer a request under `/api/`; null for any other path (the web pages'
 * handler takes those).
 */
export async function handleApi(req: Request, ctx: ApiContext): Promise<Response | null> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  if (path !== "/api" && !path.startsWith("/api/")) return null;
  try {
    const user = await userForToken(ctx.store, bearerToken(req));
    if (!user) {
      await req.body?.cancel().catch(() => {});
      return apiError(401, "sign in: send 'Authorization: Bearer <your token>'", {
        "www-authenticate": 'Bearer realm="socklab"',
      });
    }
    if (path === "/api/course" || path.startsWith("/api/course/")) {
      if (user.role !== "ta") return apiError(403, "only the teaching assistant may do this");
      return await taRoutes(req, url, ctx) ?? apiError(404, `no route ${req.method} ${path}`);
    }
    return await studentRoutes(req, path, user, ctx) ??
      apiError(404, `no route ${req.method} ${path}`);
  } catch (e) {
    return failed(e, `api: ${req.method} ${path}`, ctx.log);
  }
}
