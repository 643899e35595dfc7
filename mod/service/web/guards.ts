/**
 * Who is signed in on the web pages, and the wrappers around the pages'
 * handlers that say who may go on: {@link guard} (signed in, in the route's
 * role), {@link sameOrigin} (a POST from one of our pages) and
 * {@link formPost} (its form read once with a cap, and the session's CSRF
 * token in it). A session is a random id in a cookie, kept (hashed) in the
 * store with the token it was opened with (session.ts): sign-out ends it,
 * a new token ends all of the user's.
 *
 * @module
 */
import { join } from "node:path";
import { hashToken } from "../auth.ts";
import {
  type Access,
  type Call,
  type Handler,
  HttpError,
  mayUse,
  redirect,
  type Route,
  route,
} from "../http.ts";
import type { ServiceContext } from "../submissions.ts";
import { MULTIPART_OVERHEAD, readForm, UploadError } from "../upload.ts";
import {
  FormSigner,
  isSessionId,
  newSessionId,
  readCookie,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  sessionCookie,
} from "./session.ts";
import type { Viewer } from "./views.ts";

/** What the pages' handlers need: the service, and the key that signs the forms' values. */
export interface WebContext extends ServiceContext {
  signer: FormSigner;
}

/** A request to a page that needs someone signed in (see {@link guard}). */
export type PageCall = Call<WebContext, Viewer>;
export type PageHandler = Handler<WebContext, Viewer>;
/** A request to a page anyone may open (`who` is null: not looked up). */
export type OpenHandler = Handler<WebContext, Viewer | null>;

/** What a 404 page says: an unknown page and someone else's look the same. */
export const NOT_YOURS = "there is nothing here, or it is not yours";

/** The secret that signs the forms' values: `DIR/session.key`, made once (0600). */
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

/** The session id in the cookie of `req`, if it can be one. */
export function sessionOf(req: Request): string | undefined {
  const id = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
  return isSessionId(id) ? id : undefined;
}

/** Who the session cookie of `req` signs in, with the CSRF token of that session; or null. */
export async function viewerOf(req: Request, ctx: WebContext): Promise<Viewer | null> {
  const id = sessionOf(req);
  if (!id) return null;
  const user = await ctx.store.sessionUser(await hashToken(id), Date.now());
  if (!user) return null;
  return { id: user.id, name: user.name, role: user.role, csrf: await ctx.signer.csrf(id) };
}

/** Whether the browser reached us over HTTPS (directly, or through a proxy that says so). */
export function viaHttps(req: Request): boolean {
  return new URL(req.url).protocol === "https:" ||
    req.headers.get("x-forwarded-proto")?.split(",")[0].trim() === "https";
}

/**
 * Open a session for whoever holds the token of `tokenHash` now: its cookie
 * and home; null if the token is no one's (never valid, or replaced).
 */
export async function openSession(
  req: Request,
  ctx: WebContext,
  tokenHash: string,
): Promise<Response | null> {
  const id = newSessionId();
  const now = Date.now();
  const user = await ctx.store.openSession(
    await hashToken(id),
    tokenHash,
    now,
    now + SESSION_TTL_MS,
  );
  if (!user) return null;
  ctx.log(`web: ${user.id} signed in`, { event: "web.sign_in", student: user.id });
  return redirect("/", { "set-cookie": sessionCookie(id, viaHttps(req)) });
}

/** End the session of `req`, if it has one (sign-out). */
export async function closeSession(req: Request, ctx: WebContext): Promise<void> {
  const id = sessionOf(req);
  if (id) await ctx.store.closeSession(await hashToken(id));
}

/**
 * A wrapper: someone signed in (else GET goes to the sign-in page and
 * anything else is a 401) whose role the route's `access` admits (else a
 * 404, as for a page that does not exist).
 */
export function guard(access: Access, handler: PageHandler): OpenHandler {
  return async (c) => {
    if (c.who === null) {
      if (c.req.method === "GET" || c.req.method === "HEAD") return redirect("/login");
      throw new HttpError(401, "sign in again with your personal link");
    }
    if (!mayUse(access, c.who)) throw new HttpError(404, NOT_YOURS);
    return await handler({ ...c, who: c.who });
  };
}

/** A line of the pages' table: a page only someone signed in, in the role `access` admits, may open. */
export const signed = (
  method: "GET" | "POST",
  path: string,
  access: Access,
  handler: PageHandler,
): Route<OpenHandler> => route(method, path, access, guard(access, handler));

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

/** A wrapper: a POST sent from another site is refused (403). */
export function sameOrigin<W>(handler: Handler<WebContext, W>): Handler<WebContext, W> {
  return async (c) => {
    if (!sameSite(c.req)) throw new HttpError(403, "this form was sent from another site");
    return await handler(c);
  };
}

/**
 * A wrapper for a signed-in page's POST: its form read once, up to the
 * policy's upload cap (a refusal goes to `refused` if given, e.g. to show
 * the form again, else it is the error page), then {@link sameOrigin} and
 * the session's CSRF token (multipart or urlencoded), else 403.
 */
export function formPost(
  handler: (c: PageCall, form: FormData) => Promise<Response>,
  refused?: (c: PageCall, e: UploadError) => Promise<Response>,
): PageHandler {
  return sameOrigin(async (c) => {
    const { policy } = (await c.ctx.store.getCourse())!;
    let form: FormData | null;
    try {
      form = await readForm(c.req, policy.maxTotalBytes + MULTIPART_OVERHEAD, c.ctx.stopping);
    } catch (e) {
      if (e instanceof UploadError && refused) return await refused(c, e);
      throw e;
    }
    const id = sessionOf(c.req);
    const valid = id !== undefined && await c.ctx.signer.checkCsrf(id, form?.get("csrf"));
    if (!form || !valid) {
      throw new HttpError(403, "this form is out of date or was sent from another site");
    }
    return await handler(c, form);
  });
}
