/**
 * The scoring service's web pages, served by `socklab serve` beside the JSON
 * API: sign-in with the personal link, the student's home, "New
 * submission", the submission's page (live), and the teaching assistant's
 * course overview. Server-rendered HTML that works without JavaScript; the
 * one script (`/static/live.js`) only refreshes the result in place.
 *
 * Security: a signed session cookie (HttpOnly, SameSite=Strict); every POST
 * carries the session's CSRF token and, when the browser sends one, an
 * Origin equal to ours; every response forbids framing and inline script
 * (Content-Security-Policy); no path from a request is ever a file path.
 *
 * @module
 */
import { join } from "node:path";
import {
  acceptSubmission,
  type ApiContext,
  submissionArchive,
  type SubmissionJson,
  submissionJson,
  workerStates,
} from "../api.ts";
import { hashToken, userForToken } from "../auth.ts";
import { csvField, gradeBook, gradeBookCsv, importRoster, parseRoster } from "../course.ts";
import { isKind, type Kind, KINDS, type Submission, type User } from "../store/store.ts";
import { MULTIPART_OVERHEAD, readCapped, UploadError } from "../upload.ts";
import { LIVE_JS, STYLE_CSS } from "./assets.ts";
import {
  clearedSessionCookie,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
  SessionSigner,
} from "./session.ts";
import {
  coursePage,
  type CourseView,
  errorPage,
  loginPage,
  MENU,
  type PartRow,
  studentHome,
  submissionLive,
  submissionPage,
  submissionsPage,
  submitPage,
  type Viewer,
} from "./views.ts";
import { errorMessage } from "../../errors.ts";

/** Headers on every page and asset. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // same-origin: no Referer to other sites (the sign-in link holds a token), and
  // browsers still send our Origin on form posts (no-referrer makes it "null").
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

/** Program output shown on a page at most (the archive has all of it). */
export const PAGE_OUTPUT_CAP = 64 * 1024;

function respond(
  body: BodyInit | null,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, { status, headers: { ...SECURITY_HEADERS, ...headers } });
}

const HTML = { "content-type": "text/html; charset=utf-8" };

function page(text: string, status = 200, headers: Record<string, string> = {}): Response {
  return respond(text, status, { ...HTML, ...headers });
}

function redirect(to: string, headers: Record<string, string> = {}): Response {
  return respond(null, 303, { location: to, ...headers });
}

/** The secret that signs sessions: `DIR/session.key`, made once (0600). */
export async function sessionSecret(dataDir: string): Promise<Uint8Array> {
  const path = join(dataDir, "session.key");
  try {
    const bytes = await Deno.readFile(path);
    if (bytes.length >= 32) return bytes;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const tmp = `${path}.${crypto.randomUUID()}`;
  await Deno.writeFile(tmp, secret, { mode: 0o600 });
  try {
    // Two processes starting at once: the first link wins, both use its key.
    await Deno.link(tmp, path);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  return await Deno.readFile(path);
}

function truncate(text: string): string {
  return text.length > PAGE_OUTPUT_CAP
    ? text.slice(0, PAGE_OUTPUT_CAP) + "\n[... cut here: the archive has all of it]"
    : text;
}

/** Whether the browser reached us over HTTPS (directly, or through a proxy that says so). */
function viaHttps(req: Request): boolean {
  return new URL(req.url).protocol === "https:" ||
    req.headers.get("x-forwarded-proto")?.split(",")[0].trim() === "https";
}

/** The sign-in form's body at most, bytes. */
const LOGIN_CAP = 16 * 1024;

/** A POST body, read once up to `cap` bytes (else an UploadError 413), and its form. */
async function readForm(
  req: Request,
  cap: number,
  signal?: AbortSignal,
): Promise<{ bytes: Uint8Array; form: FormData | null }> {
  const bytes = await readCapped(req, cap, { signal });
  const form = await new Response(bytes as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": req.headers.get("content-type") ?? "" },
  }).formData().catch(() => null);
  return { bytes, form };
}

/**
 * Whether a POST comes from our own pages: no Origin (an old browser, a
 * script), or one whose host is ours. The scheme is not compared: behind a
 * proxy that ends TLS the browser says https://host while the request that
 * reaches us is http://host; another site cannot send our host.
 */
export function sameSite(req: Request): boolean {
  const origin = req.headers.get("origin");
  if (origin === null) return true;
  try {
    return new URL(origin).host === new URL(req.url).host;
  } catch {
    return false; // "null" (a sandboxed frame, a privacy redirect) or garbage
  }
}

/** Makes the pages' request handler (null for paths that are not pages). */
export function makePages(ctx: ApiContext, signer: SessionSigner) {
  const { store } = ctx;

  async function courseName(): Promise<string> {
    return (await store.getCourse())?.name ?? "course";
  }

  async function signedIn(req: Request): Promise<{ user: User; viewer: Viewer } | null> {
    const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
    // The session names the token (by its stored hash): a token replaced with
    // `course token` ends the sessions it opened.
    const tokenHash = await signer.verify(cookie);
    if (!tokenHash || !cookie) return null;
    const user = await store.userByTokenHash(tokenHash);
    if (!user) return null;
    return {
      user,
      viewer: { id: user.id, name: user.name, role: user.role, csrf: await signer.csrf(cookie) },
    };
  }

  /** A POST is ours: same origin (when the browser says) and the session's CSRF token. */
  async function postAllowed(req: Request, csrf: string | null): Promise<boolean> {
    if (!sameSite(req)) return false;
    const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
    return cookie !== undefined && await signer.checkCsrf(cookie, csrf);
  }

  async function signIn(req: Request, token: string | null): Promise<Response> {
    const user = await userForToken(store, token);
    if (!user || token === null) {
      return page(loginPage("This link or token is not valid (it may have been replaced)."), 401);
    }
    ctx.log(`web: ${user.id} signed in`);
    return redirect("/", {
      "set-cookie": sessionCookie(await signer.issue(await hashToken(token)), viaHttps(req)),
    });
  }

  async function studentHomePage(viewer: Viewer, flash?: string): Promise<Response> {
    const course = (await store.getCourse())!;
    const subs = await store.listSubmissions({ userId: viewer.id, limit: 5000 });
    const kept = await store.keptScores(course.policy.keep);
    const rows: PartRow[] = [];
    for (const kind of KINDS) {
      const mine = subs.filter((s) => s.kind === kind);
      const cell = kept.find((c) => c.userId === viewer.id && c.kind === kind);
      const last = mine.length ? mine.reduce((a, b) => (a.createdAt >= b.createdAt ? a : b)) : null;
      rows.push({
        kind,
        kept: cell?.score ?? null,
        maxGrade: cell?.maxGrade ?? null,
        attempts: mine.filter((s) => s.job.status === "done").length,
        last: last ? await submissionJson(ctx, last, false) : null,
      });
    }
    rows.sort((a, b) => MENU.indexOf(a.kind) - MENU.indexOf(b.kind));
    return page(studentHome(viewer, course.name, course.policy, rows, flash));
  }

  async function courseOverview(viewer: Viewer, flash?: string): Promise<Response> {
    const course = (await store.getCourse())!;
    const now = Date.now();
    const about = async (submissionId: number) => {
      const s = await store.getSubmission(submissionId);
      return { user: s?.userId ?? "?", kind: (s?.kind ?? "part2") as Kind };
    };
    const queuedJobs = await store.listJobs("queued", 200);
    const runningJobs = await store.listJobs("running", 200);
    const running = await Promise.all(
      runningJobs.map(async (job) => ({ job, ...await about(job.submissionId) })),
    );
    const queued = await Promise.all(
      queuedJobs.map(async (job, i) => ({
        job,
        position: i + 1,
        ...await about(job.submissionId),
      })),
    );
    const workers = await workerStates(ctx, now);
    const view: CourseView = {
      name: course.name,
      policy: course.policy,
      queued,
      running,
      workers,
      book: await gradeBook(store),
    };
    return page(coursePage(viewer, view, now, flash));
  }

  async function submissionView(
    sub: Submission,
  ): Promise<{ json: SubmissionJson; output: { stdout: string; stderr: string } | null }> {
    const json = await submissionJson(ctx, sub, true);
    const result = sub.job.status === "done" ? await store.getResult(sub.job.id) : null;
    return {
      json,
      output: result ? { stdout: truncate(result.stdout), stderr: truncate(result.stderr) } : null,
    };
  }

  /** The submission if this viewer may see it (their own; any for the TA). */
  async function visible(viewer: Viewer, id: string): Promise<Submission | null> {
    if (!/^\d{1,15}$/.test(id)) return null;
    const sub = await store.getSubmission(Number(id));
    if (!sub || (viewer.role !== "ta" && sub.userId !== viewer.id)) return null;
    return sub;
  }

  const notFound = (viewer?: Viewer) =>
    page(errorPage("Not found", "There is nothing here, or it is not yours.", viewer), 404);

  return async function pages(req: Request): Promise<Response | null> {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/static/style.css" && req.method === "GET") {
      return respond(STYLE_CSS, 200, { "content-type": "text/css; charset=utf-8" });
    }
    if (path === "/static/live.js" && req.method === "GET") {
      return respond(LIVE_JS, 200, { "content-type": "text/javascript; charset=utf-8" });
    }
    if (path === "/login") {
      if (req.method === "GET") {
        const token = url.searchParams.get("token");
        return token === null ? page(loginPage()) : await signIn(req, token);
      }
      if (req.method === "POST") {
        if (!sameSite(req)) {
          return page(errorPage("Refused", "This form was sent from another site."), 403);
        }
        const form = await readForm(req, LOGIN_CAP, ctx.stopping).catch(() => null);
        const token = form?.form?.get("token");
        return await signIn(req, typeof token === "string" ? token.trim() : null);
      }
    }
    const known = path === "/" || path === "/logout" || path === "/submit" ||
      path.startsWith("/submissions/") || path.startsWith("/course/") || path === "/course";
    if (!known) return null;

    const who = await signedIn(req);
    if (!who) {
      await req.body?.cancel().catch(() => {});
      if (req.method === "GET") return redirect("/login");
      return page(errorPage("Signed out", "Sign in again with your personal link."), 401);
    }
    const { user, viewer } = who;

    if (req.method === "POST") {
      // Read the form once, capped; the CSRF token is in it (multipart or urlencoded).
      const policy = (await store.getCourse())!.policy;
      let read: { bytes: Uint8Array; form: FormData | null };
      try {
        read = await readForm(req, policy.maxTotalBytes + MULTIPART_OVERHEAD, ctx.stopping);
      } catch (e) {
        if (!(e instanceof UploadError)) throw e;
        const course = (await store.getCourse())!;
        return page(
          user.role === "student"
            ? submitPage(viewer, course.name, course.policy, { error: e.message })
            : errorPage("Too large", e.message, viewer),
          e.status,
        );
      }
      const { bytes, form } = read;
      const copy = () =>
        new Request(req.url, {
          method: "POST",
          headers: req.headers,
          body: bytes.slice() as Uint8Array<ArrayBuffer>,
        });
      const csrf = form?.get("csrf");
      if (!await postAllowed(req, typeof csrf === "string" ? csrf : null)) {
        return page(
          errorPage("Refused", "This form is out of date or was sent from another site.", viewer),
          403,
        );
      }
      if (path === "/logout") {
        return redirect("/login", { "set-cookie": clearedSessionCookie() });
      }
      if (path === "/submit" && user.role === "student") {
        const got = await acceptSubmission(copy(), user, ctx);
        if (got.ok) return redirect(`/submissions/${got.submission.id}`);
        const kind = String(got.form?.get("kind") ?? "");
        const course = (await store.getCourse())!;
        return page(
          submitPage(viewer, course.name, course.policy, {
            kind: isKind(kind) ? kind : undefined,
            sciper: String(got.form?.get("sciper") ?? ""),
            error: got.error,
            field: got.field,
          }),
          got.status,
          got.headers,
        );
      }
      if (user.role === "ta" && path === "/course/rerun") {
        const kind = String(form?.get("kind") ?? "");
        if (!isKind(kind)) return courseOverview(viewer, `'${kind}' is not a part`);
        const subs = await store.listSubmissions({ kind, status: "done", limit: 100_000 });
        for (const s of subs) await store.enqueue(s.id, Date.now());
        if (subs.length) ctx.notify();
        ctx.log(`re-run: ${subs.length} ${kind} submission(s) queued again`);
        return await courseOverview(viewer, `${subs.length} ${kind} submission(s) queued again.`);
      }
      if (user.role === "ta" && path === "/course/roster") {
        const file = form?.get("roster");
        if (!file || typeof file === "string" || file.size === 0) {
          return await courseOverview(viewer, "Choose a roster CSV file to import.");
        }
        let rows;
        try {
          rows = parseRoster(new Uint8Array(await file.arrayBuffer()));
        } catch (e) {
          return await courseOverview(viewer, errorMessage(e));
        }
        const { added, updated } = await importRoster(store, rows);
        ctx.log(`roster: ${added.length} added, ${updated} updated (web)`);
        const lines = ["id,token,link"];
        for (const a of added) {
          // The browser's origin: behind a TLS proxy, the address students use.
          const base = req.headers.get("origin") ?? url.origin;
          const link = `${base}/login?token=${encodeURIComponent(a.token)}`;
          lines.push([a.id, a.token, link].map(csvField).join(","));
        }
        return respond(lines.join("\n") + "\n", 200, {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": 'attachment; filename="tokens.csv"',
        });
      }
      return notFound(viewer);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return page(errorPage("Not allowed", `${req.method} is not allowed here.`, viewer), 405);
    }

    if (path === "/") {
      return user.role === "ta" ? await courseOverview(viewer) : await studentHomePage(viewer);
    }
    if (path === "/submit") {
      if (user.role !== "student") return notFound(viewer);
      const course = (await store.getCourse())!;
      const kind = url.searchParams.get("kind") ?? "";
      return page(
        submitPage(viewer, course.name, course.policy, { kind: isKind(kind) ? kind : undefined }),
      );
    }
    const m = path.match(/^\/submissions\/([^/]+)(\/live|\/archive|\/certificate)?$/);
    if (m) {
      const sub = await visible(viewer, m[1]);
      if (!sub) return notFound(viewer);
      if (m[2] === "/archive") {
        return respond(await submissionArchive(store, sub) as Uint8Array<ArrayBuffer>, 200, {
          "content-type": "application/zip",
          "content-disposition": `attachment; filename="submission-${sub.id}.zip"`,
        });
      }
      if (m[2] === "/certificate") {
        const result = sub.job.status === "done" ? await store.getResult(sub.job.id) : null;
        const cert = sub.kind === "ca-sign"
          ? result?.files.find((f) => f.name.endsWith(".crt"))
          : undefined;
        if (!cert) return notFound(viewer);
        return respond(cert.bytes as Uint8Array<ArrayBuffer>, 200, {
          "content-type": "application/x-pem-file",
          "content-disposition": `attachment; filename="${cert.name.replace(/[^\w.-]/g, "_")}"`,
        });
      }
      const { json, output } = await submissionView(sub);
      if (m[2] === "/live") return page(submissionLive(json, output).text);
      return page(submissionPage(viewer, await courseName(), json, output));
    }
    if (user.role !== "ta") return notFound(viewer);
    if (path === "/course/export.csv") {
      return respond(gradeBookCsv(await gradeBook(store)), 200, {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": 'attachment; filename="gradebook.csv"',
      });
    }
    if (path === "/course/submissions") {
      const userId = url.searchParams.get("user") ?? undefined;
      const kindRaw = url.searchParams.get("kind") ?? undefined;
      const kind = kindRaw && isKind(kindRaw) ? kindRaw : undefined;
      const subs = await store.listSubmissions({ userId, kind, limit: 500 });
      const title = `Submissions${userId ? ` of ${userId}` : ""}${kind ? ` for ${kind}` : ""}`;
      return page(
        submissionsPage(
          viewer,
          await courseName(),
          title,
          await Promise.all(subs.map((s) => submissionJson(ctx, s, false))),
        ),
      );
    }
    return notFound(viewer);
  };
}
