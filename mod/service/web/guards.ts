/**
 * Who is signed in on the web pages, and the wrappers around the pages'
 * handlers that say who may go on: {@link guard} (signed in, in the route's
 * role), {@link sameOrigin} (a POST from one of our pages) and
 * {@link formPost} (its form read once with a cap, and the session's CSRF
 * token in it). The session is a signed cookie naming the stored hash of the
 * token the user signed in with (session.ts), so replacing a token ends the
 * sessions it opened.
 *
 * @module
 */
import { join } from "node:path";
import { hashToken, userForToken } from "../auth.ts";
import {
  type Access,
  type Call,
  type Handler,
  HttpError,
  mayUse,
  page,
  redirect,
} from "../http.ts";
import type { ServiceContext } from "../submissions.ts";
import { MULTIPART_OVERHEAD, readForm, UploadError } from "../upload.ts";
import { readCookie, SESSION_COOKIE, sessionCookie, SessionSigner } from "./session.ts";
import { loginPage, type Viewer } from "./views.ts";

/** What the pages' handlers need: the service, and the key that signs sessions. */
export interface WebContext extends ServiceContext {
  signer: SessionSigner;
}

/** A request to a page that needs someone signed in (see {@link guard}). */
export type PageCall = Call<WebContext, Viewer>;
export type PageHandler = Handler<WebContext, Viewer>;
/** A request to a page anyone may open (`who` is null: not looked up). */
export type OpenHandler = Handler<WebContext, Viewer | null>;

/** What a 404 page says: an unknown page and someone else's look the same. */
export const NOT_YOURS = "there is nothing here, or it is not yours";

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

/** Who the session cookie of `req` signs in, with the CSRF token of that session; or null. */
export async function viewerOf(req: Request, ctx: WebContext): Promise<Viewer | null> {
  const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
  const tokenHash = await ctx.signer.verify(cookie);
  if (!tokenHash || !cookie) return null;
  const user = await ctx.store.userByTokenHash(tokenHash);
  if (!user) return null;
  return { id: user.id, name: user.name, role: user.role, csrf: await ctx.signer.csrf(cookie) };
}

/** Whether the browser reached us over HTTPS (directly, or through a proxy that says so). */
function viaHttps(req: Request): boolean {
  return new URL(req.url).protocol === "https:" ||
    req.headers.get("x-forwarded-proto")?.split(",")[0].trim() === "https";
}

/** Sign in with `token`: a session cookie and home, or the sign-in page again (401). */
export async function signIn(
  req: Request,
  ctx: WebContext,
  token: string | null,
): Promise<Response> {
  const user = await userForToken(ctx.store, token);
  if (!user || token === null) {
    return page(loginPage("This link or token is not valid (it may have been replaced)."), 401);
  }
  ctx.log(`web: ${user.id} signed in`, { event: "web.sign_in", student: user.id });
  return redirect("/", {
    "set-cookie": sessionCookie(await ctx.signer.issue(await hashToken(token)), viaHttps(req)),
  });
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
    const csrf = form?.get("csrf");
    const cookie = readCookie(c.req.headers.get("cookie"), SESSION_COOKIE);
    const valid = cookie !== undefined && typeof csrf === "string" &&
      await c.ctx.signer.checkCsrf(cookie, csrf);
    if (!form || !valid) {
      throw new HttpError(403, "this form is out of date or was sent from another site");
    }
    return await handler(c, form);
  });
}
