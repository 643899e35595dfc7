/**
 * The JSON API under `/api/`, used by `socklab submit`: one route table
 * ({@link API_ROUTES}, on http.ts). Every route needs `Authorization: Bearer
 * <token>` (the web pages' session cookie maps to the same user); errors are
 * `{"error": "<one sentence>"}` with 400 (bad request), 401 (no token, or one
 * that is not valid: replaced or mistyped, the sentence says which), 403 (teaching-assistant route, student token), 404 (unknown id, or
 * someone else's submission), 413 (too large), 415 (not UTF-8 / not PEM),
 * 405 (another method), 429 (one already queued or running, or cooldown,
 * with `Retry-After`; or no attempt left), 403 also before the part opens
 * and after it closes (the sentence says when), 503 (the database busy, or
 * the service stopping).
 *
 * Times of submissions and of the calendar are ISO 8601 in the course's
 * zone with its offset (`2021-11-17T23:55:00.000+01:00`).
 *
 * Any signed-in user:
 *
 * - `GET  /api/me` -> {@link MeJson}: who, the course's policy, kept scores,
 *   the course's time zone, and each part's calendar for them
 *   (`parts: [PartJson...]`: `{"kind", "state"` (not-open, open, closed),
 *   `"opens", "closes", "attempt_limit", "attempts", "kept_score",
 *   "max_grade", "extension": {"until", "attempts"} | null}`).
 * - `POST /api/submissions` multipart/form-data: `kind` (part2 part3
 *   part4-receiver part4-sender part5 part6 ca-sign), `sciper` (part4-sender,
 *   6 digits), and the files by field: `script` (every part), `cert` and
 *   `key` (part5, PEM), `csr` (ca-sign, PEM). -> 201 {@link CreatedJson}
 *   `{"id", "status", "position", "estimated_wait_s"}` (its status as the
 *   answer leaves: a worker may have taken it already, then `position` is
 *   null). A refused upload queues nothing.
 * - `GET  /api/submissions?kind=` -> `{"submissions": [SubmissionJson...]}`,
 *   mine (of that part), newest first (`tests` omitted).
 * - `GET  /api/parts/<kind>` -> `{"timezone", "part": PartJson,
 *   "submissions": [SubmissionJson...]}`: the history of one part.
 * - `GET  /api/submissions/<id>` -> {@link SubmissionJson} `{"id", "kind",
 *   "user", "status", "position", "estimated_wait_s", "created_at"` (the
 *   accepted time), `"received_at"` (its upload's end, what the close is
 *   checked against), `"attempt"` (its number, null for a grader failure),
 *   `"kept"` (its score is the one that counts), `"files"`, `"renamed":
 *   [{"from", "to"}]` (a file saved under another name than it was sent
 *   with), `"max_grade", "score", "success", "tests": [{"name", "passed",
 *   "scored", "detail"}], "error"}` (score fields null until the first
 *   grading; while a re-run is queued or running they keep the last one).
 * - `GET  /api/submissions/<id>/archive` -> `application/zip`
 *   `submission-<id>.zip`: the uploaded files, `output/job.json` (`{"status",
 *   "tries", "outcome", "grader_error"?}`: graded, or failed for the grader's
 *   own reason), `output/result.json`
 *   (`{"max_grade", "score", "success", "tests"}`), `output/stdout.txt`,
 *   `output/stderr.txt` (every run, each after a `=== <test>` line),
 *   `output/runs.json` (`[{"test", "end", "stdout", "stderr"}]`: each run's
 *   own output, 64 KiB a stream, and how it ended), each run's packets
 *   `output/<test>.pcap` (where the worker could capture: tcpdump, root),
 *   and for ca-sign `output/<name>.crt`.
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
 * - `POST /api/course/extensions` JSON `{"user", "kind"?, "until"?,
 *   "attempts"?}` -> `{"extension": {"user", "kind", "until", "attempts"}}`:
 *   a later close (`until`, ISO 8601, local in the course's zone or with an
 *   offset) and/or `attempts` more, for one part or (no `kind`) all.
 * - `GET  /api/course/gradebook?as_of=T` -> `{"columns": [kind...], "rows":
 *   [{"id", "name", "scores": {kind: number | null}, "extended"}]}`.
 * - `GET  /api/course/export?as_of=T` -> `text/csv`, header
 *   `id,name,part2,part3,part4-receiver,part4-sender,part5,part6,ca-sign`.
 *   Both keep the scores of submissions received before T (default: now)
 *   and before each student's own close.
 *
 * @module
 */
import { errorAnswer } from "./answer.ts";
import { bearerToken, userForToken } from "./auth.ts";
import { isoInZone, parseTime } from "./calendar.ts";
import { gradeBook, gradeBookCsv } from "./course.ts";
import { UsageError } from "../errors.ts";
import {
  type Access,
  type Call,
  download,
  type Handler,
  HttpError,
  json,
  match,
  mayUse,
  route,
} from "./http.ts";
import {
  isKind,
  type JobStatus,
  type Kind,
  KINDS,
  type Policy,
  type Role,
  type User,
} from "./store/store.ts";
import {
  acceptSubmission,
  archiveDownload,
  certificateDownload,
  type CreatedJson,
  estimateWait,
  extendStudent,
  iso,
  jobJson,
  keptScoresOf,
  type PartJson,
  partsOf,
  rerun,
  type ServiceContext,
  submissionJson,
  submissionsJson,
  visible,
  workerStates,
} from "./submissions.ts";
import { MULTIPART_OVERHEAD, readForm, UploadError } from "./upload.ts";

export type { CreatedJson, JobJson, PartJson, SubmissionJson } from "./submissions.ts";

export interface MeJson {
  id: string;
  name: string;
  role: Role;
  course: string;
  policy: Policy;
  /** Kept score per kind (null: nothing graded yet). */
  scores: Record<Kind, number | null>;
  /** The course's IANA time zone. */
  timezone: string;
  /** Each part's calendar for this user. */
  parts: PartJson[];
}

type ApiCall = Call<ServiceContext, User>;
type ApiHandler = Handler<ServiceContext, User>;

/**
 * A wrapper: the body must be multipart/form-data (else 415), read whole up
 * to the policy's cap (413, 408, 400 or 503 otherwise, see `readCapped`).
 */
function multipart(handler: (c: ApiCall, form: FormData) => Promise<Response>): ApiHandler {
  return async (c) => {
    if (!/^multipart\/form-data/i.test(c.req.headers.get("content-type") ?? "")) {
      throw new UploadError(415, "send the submission as multipart/form-data");
    }
    const { policy } = (await c.ctx.store.getCourse())!;
    const form = await readForm(c.req, policy.maxTotalBytes + MULTIPART_OVERHEAD, c.ctx.stopping);
    if (!form) throw new UploadError(400, "the body is not valid multipart/form-data");
    return await handler(c, form);
  };
}

/** A wrapper: a signed-in user whom the route's `access` admits, else 403. */
function allowed(access: Access, handler: ApiHandler): ApiHandler {
  return async (c) => {
    if (!mayUse(access, c.who)) {
      const who = access === "ta" ? "the teaching assistant" : "a student";
      throw new HttpError(403, `only ${who} may do this`);
    }
    return await handler(c);
  };
}

/** A line of the API's table: the route, its access enforced by {@link allowed}. */
const api = (method: "GET" | "POST", path: string, access: Access, handler: ApiHandler) =>
  route(method, path, access, allowed(access, handler));

const me: ApiHandler = async ({ ctx, who }) => {
  const { course, parts } = await partsOf(ctx, who.id);
  return json(
    200,
    {
      id: who.id,
      name: who.name,
      role: who.role,
      course: course.name,
      policy: course.policy,
      scores: await keptScoresOf(ctx, who.id),
      timezone: course.calendar.timezone,
      parts,
    } satisfies MeJson,
  );
};

/** A part named in the path or the query, or a 400 (undefined: none given). */
function kindParam(raw: string | null | undefined): Kind | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (!isKind(raw)) throw new HttpError(400, `'${raw.slice(0, 40)}' is not a part`);
  return raw;
}

/** `?as_of=T` (ISO 8601, local in the course's zone or with an offset), else now. */
async function asOf({ ctx, url }: ApiCall): Promise<number> {
  const raw = url.searchParams.get("as_of");
  if (raw === null) return ctx.now();
  try {
    return parseTime(raw, (await ctx.store.getCourse())!.calendar.timezone);
  } catch (e) {
    throw e instanceof UsageError ? new HttpError(400, `as_of: ${e.message}`) : e;
  }
}

const submit = multipart(async ({ ctx, who }, form) => {
  const accepted = await acceptSubmission(ctx, form, who.id);
  // A worker may have taken it already: its status now, and its place if it is still queued.
  const made = await ctx.store.getSubmission(accepted.id) ?? accepted;
  const position = made.job.status === "queued" ? await ctx.store.queuePosition(made.job.id) : null;
  const body: CreatedJson = {
    id: made.id,
    status: made.job.status,
    position,
    estimated_wait_s: await estimateWait(ctx, made, position),
  };
  return json(201, body, { location: `/api/submissions/${made.id}` });
});

const mySubmissions: ApiHandler = async ({ ctx, who, url }) => {
  const kind = kindParam(url.searchParams.get("kind"));
  const subs = await ctx.store.listSubmissions({ userId: who.id, kind, limit: 500 });
  return json(200, { submissions: await submissionsJson(ctx, subs) });
};

const partHistory: ApiHandler = async ({ ctx, who, params }) => {
  const kind = kindParam(params.kind)!;
  const { course, parts } = await partsOf(ctx, who.id);
  const subs = await ctx.store.listSubmissions({ userId: who.id, kind });
  return json(200, {
    timezone: course.calendar.timezone,
    part: parts.find((p) => p.kind === kind),
    submissions: await submissionsJson(ctx, subs),
  });
};

const oneSubmission: ApiHandler = async ({ ctx, who, params }) =>
  json(200, await submissionJson(ctx, await visible(ctx.store, who, params.id), true));

const courseSummary: ApiHandler = async ({ ctx: { store } }) => {
  const course = (await store.getCourse())!;
  return json(200, {
    name: course.name,
    policy: course.policy,
    students: (await store.listUsers("student")).length,
    workers: (await store.listWorkers()).length,
    queued: (await store.listJobs("queued")).length,
    running: (await store.listJobs("running")).length,
  });
};

const queue: ApiHandler = async ({ ctx: { store } }) =>
  json(200, {
    queued: (await store.listJobs("queued")).map(jobJson),
    running: (await store.listJobs("running")).map(jobJson),
  });

const workers: ApiHandler = async ({ ctx }) =>
  json(200, {
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

const anySubmissions: ApiHandler = async ({ ctx, url }) => {
  const q = url.searchParams;
  const kind = kindParam(q.get("kind"));
  const status = q.get("status") ?? undefined;
  if (status && !["queued", "running", "done", "failed"].includes(status)) {
    throw new HttpError(400, `'${status}' is not a status`);
  }
  // 1..5000 (SQLite reads LIMIT -1 as no limit; PostgreSQL refuses it).
  const limit = Math.max(1, Math.min(Math.floor(Number(q.get("limit") ?? 500)) || 500, 5000));
  const subs = await ctx.store.listSubmissions({
    userId: q.get("user") ?? undefined,
    kind,
    status: status as JobStatus | undefined,
    limit,
  });
  return json(200, { submissions: await submissionsJson(ctx, subs) });
};

const rerunPart: ApiHandler = async ({ ctx, req }) => {
  let body: { kind?: unknown; user?: unknown };
  try {
    body = await req.json();
  } catch {
    throw new HttpError(400, 'send JSON: {"kind": "<part>", "user": "<id>" (optional)}');
  }
  if (typeof body?.kind !== "string" || !isKind(body.kind)) {
    throw new HttpError(400, `'kind' must be one of ${KINDS.join(", ")}`);
  }
  // A user that is not a string (a numeric id, null) must not widen the re-run to everyone.
  if (body.user !== undefined && typeof body.user !== "string") {
    throw new HttpError(400, "'user' must be a student's id, as a string");
  }
  return json(200, { queued: await rerun(ctx, body.kind, body.user) });
};

/** A JSON body (else a 400 that shows what to send). */
async function jsonBody(req: Request, shape: string): Promise<Record<string, unknown>> {
  try {
    const body = await req.json();
    if (body && typeof body === "object" && !Array.isArray(body)) return body;
  } catch {
    // refused below
  }
  throw new HttpError(400, `send JSON: ${shape}`);
}

const extension: ApiHandler = async ({ ctx, req }) => {
  const body = await jsonBody(req, '{"user": "<id>", "kind"?, "until"?, "attempts"?}');
  const { user, kind, until, attempts } = body;
  if (typeof user !== "string") throw new HttpError(400, "'user' must be a student's id");
  if (kind !== undefined && (typeof kind !== "string" || !isKind(kind))) {
    throw new HttpError(400, `'kind' must be one of ${KINDS.join(", ")}`);
  }
  if (until !== undefined && typeof until !== "string") {
    throw new HttpError(400, "'until' must be an ISO 8601 time");
  }
  if (attempts !== undefined && !(Number.isInteger(attempts) && Number(attempts) >= 0)) {
    throw new HttpError(400, "'attempts' must be a whole number, 0 or more");
  }
  if (until === undefined && attempts === undefined) {
    throw new HttpError(400, "give 'until', 'attempts' or both");
  }
  const e = await extendStudent(ctx, user, {
    kind: (kind as Kind | undefined) ?? null,
    until,
    attempts: attempts as number | undefined,
  });
  const zone = (await ctx.store.getCourse())!.calendar.timezone;
  const at = e.until === null ? null : isoInZone(e.until, zone);
  return json(200, { extension: { user, kind: e.kind, until: at, attempts: e.attempts } });
};

const gradeBookJson: ApiHandler = async (c) =>
  json(200, { columns: KINDS, rows: await gradeBook(c.ctx.store, await asOf(c)) });

const gradeBookExport: ApiHandler = async (c) =>
  download(
    gradeBookCsv(await gradeBook(c.ctx.store, await asOf(c))),
    "text/csv; charset=utf-8",
    "gradebook.csv",
  );

/** Every route of the API; the doc comment above gives their JSON. */
export const API_ROUTES = [
  api("GET", "/api/me", "user", me),
  api("POST", "/api/submissions", "user", submit),
  api("GET", "/api/submissions", "user", mySubmissions),
  api("GET", "/api/submissions/:id", "user", oneSubmission),
  api("GET", "/api/submissions/:id/archive", "user", archiveDownload),
  api("GET", "/api/submissions/:id/certificate", "user", certificateDownload),
  api("GET", "/api/parts/:kind", "user", partHistory),
  api("GET", "/api/course", "ta", courseSummary),
  api("GET", "/api/course/queue", "ta", queue),
  api("GET", "/api/course/workers", "ta", workers),
  api("GET", "/api/course/submissions", "ta", anySubmissions),
  api("POST", "/api/course/rerun", "ta", rerunPart),
  api("POST", "/api/course/extensions", "ta", extension),
  api("GET", "/api/course/gradebook", "ta", gradeBookJson),
  api("GET", "/api/course/export", "ta", gradeBookExport),
];

/** The 401 of a request without a token. */
export const NO_TOKEN = "sign in: send 'Authorization: Bearer <your token>'";
/** The 401 of a token that is no one's (mistyped, or replaced by a newer one). */
export const BAD_TOKEN = "this token is not valid: it was replaced by a newer one, or mistyped; " +
  "use your latest link or token, or ask the teaching assistant for a new one";

/**
 * Answer a request under `/api/`; null for any other path (the web pages'
 * handler takes those). The token is checked first (401 on any path), then
 * the route (404, 405), then its access (403, {@link allowed}).
 */
export async function handleApi(req: Request, ctx: ServiceContext): Promise<Response | null> {
  const url = new URL(req.url);
  if (url.pathname !== "/api" && !url.pathname.startsWith("/api/")) return null;
  try {
    const token = bearerToken(req);
    const who = await userForToken(ctx.store, token);
    if (!who) {
      throw new HttpError(401, token === null ? NO_TOKEN : BAD_TOKEN, {
        "www-authenticate": 'Bearer realm="socklab"',
      });
    }
    const { route, params } = match(API_ROUTES, req, url);
    return await route.handler({ req, url, params, ctx, who });
  } catch (e) {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    return await errorAnswer(req, e, { what: `api: ${req.method} ${path}`, log: ctx.log });
  }
}
