/**
 * The scoring service's web pages, served by `socklab serve` beside the JSON
 * API: sign-in with the personal link, the student's home, "New
 * submission", the submission's page (live), and the teaching assistant's
 * course overview; `/healthz` and `/metrics` for machines (../metrics.ts).
 * One route table ({@link PAGE_ROUTES}, on ../http.ts);
 * who may open each page and what a form must carry are wrappers
 * (guards.ts). Server-rendered HTML that works without JavaScript; the one
 * script (`/static/live.js`) only refreshes the result in place.
 *
 * Security: a signed session cookie (HttpOnly, SameSite=Strict); every POST
 * carries the session's CSRF token and, when the browser sends one, an
 * Origin equal to ours; every response forbids framing and inline script
 * (Content-Security-Policy); no path from a request is ever a file path.
 *
 * @module
 */
import { errorAnswer, sentence } from "../answer.ts";
import { csvField, gradeBook, gradeBookCsv, importRoster, parseRoster } from "../course.ts";
import {
  type Access,
  download,
  HttpError,
  match,
  page,
  redirect,
  respond,
  route,
} from "../http.ts";
import { healthz, metrics } from "../metrics.ts";
import { isGraded } from "../rules.ts";
import { isKind, type Kind, KINDS, type Submission } from "../store/store.ts";
import {
  acceptSubmission,
  archiveDownload,
  certificateDownload,
  currentWait,
  extendStudent,
  type PartJson,
  partsOf,
  rerun,
  type SubmissionJson,
  submissionJson,
  submissionsJson,
  visible,
  workerStates,
} from "../submissions.ts";
import { LIVE_JS, STYLE_CSS } from "./assets.ts";
import {
  formPost,
  guard,
  NOT_YOURS,
  type OpenHandler,
  type PageCall,
  type PageHandler,
  sameOrigin,
  signIn,
  viewerOf,
  type WebContext,
} from "./guards.ts";
import { clearedSessionCookie } from "./session.ts";
import {
  type CalendarView,
  coursePage,
  type FormState,
  loginPage,
  MENU,
  partPage,
  type PartRow,
  studentHome,
  studentPagePath,
  studentPanel,
  submissionLive,
  submissionPage,
  submissionsPage,
  submitPage,
  type Viewer,
} from "./views.ts";
import { errorMessage } from "../../errors.ts";
import { readForm, UploadError } from "../upload.ts";

/** Program output shown on a page at most (the archive has all of it). */
export const PAGE_OUTPUT_CAP = 64 * 1024;

/** How long before a close the student's pages show the current estimated wait, ms. */
const LAST_HOUR_MS = 3600_000;

/** The sign-in form's body at most, bytes. */
const LOGIN_CAP = 16 * 1024;

function truncate(text: string): string {
  return text.length > PAGE_OUTPUT_CAP
    ? text.slice(0, PAGE_OUTPUT_CAP) + "\n[... cut here: the archive has all of it]"
    : text;
}

async function courseName(ctx: WebContext): Promise<string> {
  return (await ctx.store.getCourse())?.name ?? "course";
}

/**
 * The calendar as a student's pages show it: the zone, the clock and, in
 * the last hour before one of their parts closes, the current estimated wait.
 */
async function calendarView(ctx: WebContext, parts: PartJson[]): Promise<CalendarView> {
  const { timezone: zone } = (await ctx.store.getCourse())!.calendar;
  const now = ctx.now();
  const closing = parts.filter((p) => p.state === "open" && p.closes !== null)
    .map((p) => Date.parse(p.closes!)).filter((t) => t - now <= LAST_HOUR_MS);
  if (closing.length === 0) return { zone, now, lastHour: null };
  const queued = (await ctx.store.listJobs("queued")).length;
  return {
    zone,
    now,
    lastHour: { closes: Math.min(...closing), waitS: await currentWait(ctx), queued },
  };
}

/** The student's home: the calendar, each part, its kept score, attempts, the last submission. */
async function studentHomePage({ ctx, who }: PageCall): Promise<Response> {
  const { course, parts } = await partsOf(ctx, who.id);
  const subs = await ctx.store.listSubmissions({ userId: who.id, limit: 5000 });
  const rows: PartRow[] = [];
  for (const part of [...parts].sort((a, b) => MENU.indexOf(a.kind) - MENU.indexOf(b.kind))) {
    const last = subs.find((s) => s.kind === part.kind); // newest first
    rows.push({
      kind: part.kind,
      kept: part.kept_score,
      maxGrade: part.max_grade,
      attempts: part.attempts,
      last: last ? await submissionJson(ctx, last, false) : null,
      part,
    });
  }
  const cal = await calendarView(ctx, parts);
  return page(studentHome(who, course.name, course.policy, rows, cal));
}

/** A student's /parts/<kind>: every submission of that part, which one counts. */
const partHistory: PageHandler = async ({ ctx, who, params }) => {
  const kind = params.kind ?? "";
  if (!isKind(kind)) throw new HttpError(404, NOT_YOURS);
  const { course, parts } = await partsOf(ctx, who.id);
  const subs = await submissionsJson(
    ctx,
    await ctx.store.listSubmissions({ userId: who.id, kind }),
  );
  const part = parts.find((p) => p.kind === kind)!;
  return page(partPage(who, course.name, part, subs, await calendarView(ctx, parts)));
};

/** The teaching assistant's view of one student: each part's calendar and history, extensions. */
async function studentOverview(c: PageCall, id: string, flash?: string, status = 200) {
  const { ctx, who } = c;
  const student = await ctx.store.getUser(id);
  if (student?.role !== "student") throw new HttpError(404, NOT_YOURS);
  const { course, parts } = await partsOf(ctx, id);
  const subs = await submissionsJson(ctx, await ctx.store.listSubmissions({ userId: id }));
  const history = Object.fromEntries(KINDS.map((k) => [k, subs.filter((s) => s.kind === k)]));
  const cal = await calendarView(ctx, parts);
  const panel = studentPanel(
    who,
    student,
    parts,
    history as Record<Kind, SubmissionJson[]>,
    cal,
    flash,
  );
  const title = `Submissions of ${id}`;
  return page(submissionsPage(who, course.name, title, subs, cal.zone, panel), status);
}

/** The extension form of a student's page: a later close and/or more attempts. */
const extensionPost = formPost(async (c, form) => {
  const id = c.params.id ?? "";
  const field = (name: string) => String(form.get(name) ?? "").trim();
  const kind = field("kind");
  const attempts = field("attempts");
  if (kind !== "" && !isKind(kind)) {
    return await studentOverview(c, id, `'${kind}' is not a part`, 400);
  }
  if (attempts !== "" && !/^\d{1,6}$/.test(attempts)) {
    return await studentOverview(c, id, "Attempts: a whole number, 0 or more.", 400);
  }
  if (field("until") === "" && attempts === "") {
    return await studentOverview(c, id, "Give a close, a number of attempts, or both.", 400);
  }
  try {
    await extendStudent(c.ctx, id, {
      kind: kind === "" ? null : kind as Kind,
      until: field("until") || undefined,
      attempts: attempts === "" ? undefined : Number(attempts),
    });
  } catch (e) {
    if (e instanceof HttpError && e.status === 400) {
      return await studentOverview(c, id, sentence(e.message), 400);
    }
    throw e;
  }
  return redirect(studentPagePath(id));
});

/** The teaching assistant's overview: queue, workers, grade book, tools; `flash` on top. */
async function courseOverview({ ctx, who }: PageCall, flash?: string): Promise<Response> {
  const { store } = ctx;
  const course = (await store.getCourse())!;
  const now = Date.now();
  const about = async (submissionId: number) => {
    const s = await store.getSubmission(submissionId);
    return { user: s?.userId ?? "?", kind: (s?.kind ?? "part2") as Kind };
  };
  const queuedJobs = await store.listJobs("queued", 200);
  const runningJobs = await store.listJobs("running", 200);
  const view = {
    name: course.name,
    policy: course.policy,
    queued: await Promise.all(
      queuedJobs.map(async (job, i) => ({
        job,
        position: i + 1,
        ...await about(job.submissionId),
      })),
    ),
    running: await Promise.all(
      runningJobs.map(async (job) => ({ job, ...await about(job.submissionId) })),
    ),
    workers: await workerStates(ctx, now),
    book: await gradeBook(store, ctx.now()),
  };
  return page(coursePage(who, view, now, flash));
}

const home: PageHandler = (c) => c.who.role === "ta" ? courseOverview(c) : studentHomePage(c);

const loginForm: OpenHandler = async (c) => {
  const token = c.url.searchParams.get("token");
  return token === null ? page(loginPage()) : await signIn(c.req, c.ctx, token);
};

const loginPost: OpenHandler = sameOrigin(async (c) => {
  // A form that is too large, too slow or not a form signs no one in.
  const form = await readForm(c.req, LOGIN_CAP, c.ctx.stopping).catch(() => null);
  const token = form?.get("token");
  return await signIn(c.req, c.ctx, typeof token === "string" ? token.trim() : null);
});

const logout = formPost(() =>
  Promise.resolve(redirect("/login", { "set-cookie": clearedSessionCookie() }))
);

/** "New submission" in `state` (a refusal next to its field, the part and sciper kept). */
async function submitForm(
  { ctx, who }: PageCall,
  state: FormState,
  status = 200,
  headers: Record<string, string> = {},
): Promise<Response> {
  const course = (await ctx.store.getCourse())!;
  return page(submitPage(who, course.name, course.policy, state), status, headers);
}

const newSubmission: PageHandler = (c) => {
  const kind = c.url.searchParams.get("kind") ?? "";
  return submitForm(c, { kind: isKind(kind) ? kind : undefined });
};

/** The form again, the refusal next to its field (`form`: what was sent, if it was read). */
function refusedForm(c: PageCall, e: UploadError, form?: FormData): Promise<Response> {
  const kind = String(form?.get("kind") ?? "");
  const state = {
    kind: isKind(kind) ? kind : undefined,
    sciper: form ? String(form.get("sciper") ?? "") : undefined,
    error: e.message,
    field: e.field,
  };
  return submitForm(c, state, e.status, e.headers);
}

const submit = formPost(async (c, form) => {
  try {
    return redirect(`/submissions/${(await acceptSubmission(c.ctx, form, c.who.id)).id}`);
  } catch (e) {
    if (e instanceof UploadError) return await refusedForm(c, e, form);
    throw e;
  }
}, refusedForm);

/** A submission as the page shows it: its JSON and the program's output (capped). */
async function submissionView(ctx: WebContext, sub: Submission) {
  const json = await submissionJson(ctx, sub, true);
  const result = isGraded(sub) ? await ctx.store.getResult(sub.job.id) : null;
  const output = result
    ? { stdout: truncate(result.stdout), stderr: truncate(result.stderr) }
    : null;
  return { json, output };
}

const submission: PageHandler = async ({ ctx, who, params }) => {
  const { json, output } = await submissionView(ctx, await visible(ctx.store, who, params.id));
  const course = (await ctx.store.getCourse())!;
  return page(submissionPage(who, course.name, json, output, course.calendar.timezone));
};

const submissionLivePart: PageHandler = async ({ ctx, who, params }) => {
  const { json, output } = await submissionView(ctx, await visible(ctx.store, who, params.id));
  return page(submissionLive(json, output).text);
};

const exportCsv: PageHandler = async ({ ctx }) =>
  download(
    gradeBookCsv(await gradeBook(ctx.store, ctx.now())),
    "text/csv; charset=utf-8",
    "gradebook.csv",
  );

const submissionList: PageHandler = async (c) => {
  const { ctx, who, url } = c;
  const userId = url.searchParams.get("user") ?? undefined;
  const kindRaw = url.searchParams.get("kind") ?? undefined;
  const kind = kindRaw && isKind(kindRaw) ? kindRaw : undefined;
  if (userId !== undefined && kind === undefined) return await studentOverview(c, userId);
  const subs = await ctx.store.listSubmissions({ userId, kind, limit: 500 });
  const title = `Submissions${userId ? ` of ${userId}` : ""}${kind ? ` for ${kind}` : ""}`;
  const rows = await submissionsJson(ctx, subs);
  const { calendar } = (await ctx.store.getCourse())!;
  return page(submissionsPage(who, await courseName(ctx), title, rows, calendar.timezone));
};

const rerunPart = formPost(async (c, form) => {
  const kind = String(form.get("kind") ?? "");
  if (!isKind(kind)) return await courseOverview(c, `'${kind}' is not a part`);
  const n = await rerun(c.ctx, kind);
  return await courseOverview(c, `${n} ${kind} submission(s) queued again.`);
});

/** The roster from the TA's page: imported, and the new students' links as a CSV to save. */
const importRosterFile = formPost(async (c, form) => {
  const file = form.get("roster");
  if (!file || typeof file === "string" || file.size === 0) {
    return await courseOverview(c, "Choose a roster CSV file to import.");
  }
  let rows;
  try {
    rows = parseRoster(new Uint8Array(await file.arrayBuffer()));
  } catch (e) {
    return await courseOverview(c, errorMessage(e));
  }
  const { added, updated } = await importRoster(c.ctx.store, rows);
  c.ctx.log(`roster: ${added.length} added, ${updated} updated (web)`, { event: "roster" });
  // The browser's origin: behind a TLS proxy, the address students use.
  const base = c.req.headers.get("origin") ?? c.url.origin;
  const lines = ["id,token,link"];
  for (const a of added) {
    const link = `${base}/login?token=${encodeURIComponent(a.token)}`;
    lines.push([a.id, a.token, link].map(csvField).join(","));
  }
  return download(lines.join("\n") + "\n", "text/csv; charset=utf-8", "tokens.csv");
});

const asset = (text: string, type: string): OpenHandler => () =>
  Promise.resolve(respond(text, 200, { "content-type": `${type}; charset=utf-8` }));

/** A page only someone signed in, in the role `access` admits, may open (guards.ts). */
const signed = (method: "GET" | "POST", path: string, access: Access, handler: PageHandler) =>
  route(method, path, access, guard(access, handler));

/** Every page, its method, who may open it, and its handler. */
export const PAGE_ROUTES = [
  route("GET", "/healthz", "anyone", healthz),
  route("GET", "/metrics", "anyone", metrics),
  route("GET", "/static/style.css", "anyone", asset(STYLE_CSS, "text/css")),
  route("GET", "/static/live.js", "anyone", asset(LIVE_JS, "text/javascript")),
  route("GET", "/login", "anyone", loginForm),
  route("POST", "/login", "anyone", loginPost),
  signed("GET", "/", "user", home),
  signed("POST", "/logout", "user", logout),
  signed("GET", "/parts/:kind", "student", partHistory),
  signed("GET", "/submit", "student", newSubmission),
  signed("POST", "/submit", "student", submit),
  signed("GET", "/submissions/:id", "user", submission),
  signed("GET", "/submissions/:id/live", "user", submissionLivePart),
  signed("GET", "/submissions/:id/archive", "user", archiveDownload),
  signed("GET", "/submissions/:id/certificate", "user", certificateDownload),
  signed("GET", "/course/export.csv", "ta", exportCsv),
  signed("GET", "/course/submissions", "ta", submissionList),
  signed("POST", "/course/rerun", "ta", rerunPart),
  signed("POST", "/course/roster", "ta", importRosterFile),
  signed("POST", "/course/students/:id/extension", "ta", extensionPost),
];

/** Answer a request for a page (anything outside `/api/`); an unknown one is a 404 page. */
export async function handlePages(
  req: Request,
  ctx: WebContext,
  peer?: Deno.NetAddr,
): Promise<Response> {
  const url = new URL(req.url);
  let viewer: Viewer | null = null;
  try {
    const { route, params } = match(PAGE_ROUTES, req, url);
    if (route.access !== "anyone") viewer = await viewerOf(req, ctx);
    return await route.handler({ req, url, params, ctx, who: viewer, peer });
  } catch (e) {
    return await errorAnswer(req, e, {
      what: `web: ${req.method} ${url.pathname}`,
      log: ctx.log,
      viewer,
    });
  }
}
