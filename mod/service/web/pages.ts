/**
 * The scoring service's web pages, served by `socklab serve` beside the JSON
 * API: sign-in with the personal link, the student's home, "New
 * submission", the submission's page (live), and the teaching assistant's
 * pages (course_pages.ts); `/healthz` and `/metrics` for machines (../metrics.ts).
 * One route table ({@link PAGE_ROUTES}, on ../http.ts);
 * who may open each page and what a form must carry are wrappers
 * (guards.ts). Server-rendered HTML that works without JavaScript; the one
 * script (`/static/live.js`) only refreshes the result in place.
 *
 * Security: a session kept server-side, its random id in a cookie (HttpOnly,
 * SameSite=Strict); a personal link only asks "Sign in as <name>?" and a
 * button POSTs it; every POST carries the session's (or the sign-in page's)
 * CSRF token and, when the browser sends one, an Origin equal to ours; every response forbids framing and inline script
 * (Content-Security-Policy); no path from a request is ever a file path.
 *
 * @module
 */
import { errorAnswer } from "../answer.ts";
import { hashToken, userForToken } from "../auth.ts";
import { type Call, HttpError, match, page, redirect, respond, route } from "../http.ts";
import { healthz, metrics } from "../metrics.ts";
import { type RunOutput, RUNS_FILE } from "../job.ts";
import { isKind, type Submission } from "../store/store.ts";
import {
  acceptSubmission,
  archiveDownload,
  certificateDownload,
  partsOf,
  shownResult,
  submissionJson,
  submissionsJson,
  visible,
} from "../submissions.ts";
import { FAVICON_SVG, LIVE_JS, STYLE_CSS } from "./assets.ts";
import { calendarView } from "./calendar_view.ts";
import { COURSE_ROUTES } from "./course_pages.ts";
import {
  closeSession,
  formPost,
  NOT_YOURS,
  type OpenHandler,
  openSession,
  type PageCall,
  type PageHandler,
  sameOrigin,
  signed,
  viaHttps,
  viewerOf,
  type WebContext,
} from "./guards.ts";
import {
  clearedSessionCookie,
  isSessionId,
  LOGIN_COOKIE,
  loginCookie,
  newSessionId,
  readCookie,
} from "./session.ts";
import {
  type FormState,
  loginPage,
  type LoginView,
  MENU,
  partPage,
  type PartRow,
  type ShownOutput,
  studentHome,
  submissionLive,
  submissionPage,
  submitPage,
  type Viewer,
} from "./views.ts";
import { readForm, UploadError } from "../upload.ts";

/** Program output shown on a page at most (the archive has all of it). */
export const PAGE_OUTPUT_CAP = 64 * 1024;

/** The sign-in form's body at most, bytes. */
const LOGIN_CAP = 16 * 1024;

function truncate(text: string): string {
  return text.length > PAGE_OUTPUT_CAP
    ? text.slice(0, PAGE_OUTPUT_CAP) + "\n[... cut here: the archive has all of it]"
    : text;
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

const home: PageHandler = (c) =>
  c.who.role === "ta" ? Promise.resolve(redirect("/course")) : studentHomePage(c);

/** A bad or replaced token, in words. */
export const TOKEN_NOT_VALID = "This link or token is not valid: it was replaced by a newer one, " +
  "or mistyped. Use your latest link, or ask the teaching assistant for a new one.";

/** The sign-in page with `view`, and the nonce cookie its form needs (made if missing). */
async function loginAnswer(
  c: Call<WebContext, Viewer | null>,
  view: (csrf: string, nonce: string) => Promise<LoginView>,
  status = 200,
): Promise<Response> {
  const have = readCookie(c.req.headers.get("cookie"), LOGIN_COOKIE);
  const nonce = isSessionId(have) ? have : newSessionId();
  const text = loginPage(await view(await c.ctx.signer.csrf(nonce, true), nonce));
  return page(
    text,
    status,
    have === nonce ? {} : { "set-cookie": loginCookie(nonce, viaHttps(c.req)) },
  );
}

/** GET /login: the token form, or "Sign in as <name>?" for a personal link (nothing changes). */
const loginForm: OpenHandler = async (c) => {
  const token = c.url.searchParams.get("token");
  if (token === null) return await loginAnswer(c, (csrf) => Promise.resolve({ csrf }));
  const user = await userForToken(c.ctx.store, token);
  if (!user) {
    return await loginAnswer(c, (csrf) => Promise.resolve({ csrf, error: TOKEN_NOT_VALID }), 401);
  }
  const current = await viewerOf(c.req, c.ctx);
  if (current?.id === user.id) return redirect("/");
  const hash = await hashToken(token);
  return await loginAnswer(c, async (csrf, nonce) => ({
    csrf,
    confirm: { user, pending: await c.ctx.signer.pending(nonce, hash), current },
  }));
};

/** POST /login: the confirmation's press (or a pasted token) from this browser's sign-in page. */
const loginPost: OpenHandler = sameOrigin(async (c) => {
  // A form that is too large, too slow or not a form signs no one in.
  const form = await readForm(c.req, LOGIN_CAP, c.ctx.stopping).catch(() => null);
  const nonce = readCookie(c.req.headers.get("cookie"), LOGIN_COOKIE);
  const fresh = isSessionId(nonce) && await c.ctx.signer.checkCsrf(nonce, form?.get("csrf"), true);
  if (!fresh) {
    const error =
      "This sign-in form is out of date or came from another site: open your link again.";
    return await loginAnswer(c, (csrf) => Promise.resolve({ csrf, error }), 403);
  }
  const token = form?.get("token");
  const hash = form?.get("pending") !== null
    ? await c.ctx.signer.checkPending(nonce, form?.get("pending"))
    : typeof token === "string" && token.trim().length <= 200
    ? await hashToken(token.trim())
    : null;
  return (hash ? await openSession(c.req, c.ctx, hash) : null) ??
    await loginAnswer(c, (csrf) => Promise.resolve({ csrf, error: TOKEN_NOT_VALID }), 401);
});

const logout = formPost(async (c) => {
  await closeSession(c.req, c.ctx);
  c.ctx.log(`web: ${c.who.id} signed out`);
  return redirect("/login", { "set-cookie": clearedSessionCookie() });
});

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
  const result = await shownResult(ctx.store, sub);
  const runs = result?.files.find((f) => f.name === RUNS_FILE);
  const output: ShownOutput | null = result
    ? {
      runs: runs ? JSON.parse(new TextDecoder().decode(runs.bytes)) as RunOutput[] : null,
      stdout: truncate(result.stdout),
      stderr: truncate(result.stderr),
    }
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

const asset = (text: string, type: string): OpenHandler => () =>
  Promise.resolve(respond(text, 200, { "content-type": `${type}; charset=utf-8` }));

/** Every page, its method, who may open it, and its handler. */
export const PAGE_ROUTES = [
  route("GET", "/healthz", "anyone", healthz),
  route("GET", "/metrics", "anyone", metrics),
  route("GET", "/static/style.css", "anyone", asset(STYLE_CSS, "text/css")),
  route("GET", "/static/live.js", "anyone", asset(LIVE_JS, "text/javascript")),
  route("GET", "/favicon.svg", "anyone", asset(FAVICON_SVG, "image/svg+xml")),
  route("GET", "/favicon.ico", "anyone", () => Promise.resolve(redirect("/favicon.svg"))),
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
  ...COURSE_ROUTES,
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
