/**
 * The service's HTTP house, shared by the JSON API (api.ts) and the web
 * pages (web/pages.ts): a route table (method, `URLPattern`, who may use it,
 * handler) looked up by {@link match}; {@link HttpError}, the one way a
 * handler or a wrapper says no (a status, one sentence, maybe headers such
 * as Retry-After), turned into a response in one place (answer.ts: JSON
 * under `/api/`, an HTML page elsewhere); the responses every route
 * builds from (each with {@link SECURITY_HEADERS}). A new route is a line in
 * a table; a new check is a wrapper around handlers (`allowed` and
 * `multipart` in api.ts; `guard`, `sameOrigin` and `formPost` in
 * web/guards.ts).
 *
 * @module
 */
import { isStoreBusy } from "./store/open.ts";
import type { ServiceLog } from "./log.ts";
import type { Role } from "./store/store.ts";

/** A request the service will not answer as asked: a status and one sentence for the user. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Who may use a route: anyone, any signed-in user, a student, the teaching assistant. */
export type Access = "anyone" | "user" | "student" | "ta";

/** Whoever sent a request, as far as access goes. */
export interface Who {
  id: string;
  role: Role;
}

/** Whether `who` (null: nobody signed in) may use a route open to `access`. */
export function mayUse(access: Access, who: Who | null): boolean {
  if (access === "anyone") return true;
  if (who === null) return false;
  return access === "user" || who.role === access;
}

/** What a handler gets: the request, its path's named groups, the service, the sender. */
export interface Call<C, W> {
  req: Request;
  url: URL;
  /** The pattern's named groups (`/submissions/:id` -> `id`). */
  params: Record<string, string | undefined>;
  ctx: C;
  who: W;
  /** The TCP peer the request came from (a proxy's address behind one). */
  peer?: Deno.NetAddr;
}

export type Handler<C, W> = (c: Call<C, W>) => Promise<Response>;

export interface Route<H> {
  method: "GET" | "POST";
  pattern: URLPattern;
  access: Access;
  handler: H;
}

/** A line of a route table; `path` is a URLPattern pathname (`/api/submissions/:id`). */
export function route<H>(
  method: Route<H>["method"],
  path: string,
  access: Access,
  handler: H,
): Route<H> {
  return { method, pattern: new URLPattern({ pathname: path }), access, handler };
}

/**
 * The route a request takes and its path's named groups (a trailing slash
 * ignored, HEAD as GET); a 404 if no pattern matches the path, a 405 (with
 * Allow) if only another method's does.
 */
export function match<H>(
  routes: readonly Route<H>[],
  req: Request,
  url: URL,
): { route: Route<H>; params: Record<string, string | undefined> } {
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const method = req.method === "HEAD" ? "GET" : req.method;
  const allowed: string[] = [];
  for (const r of routes) {
    const m = r.pattern.exec({ pathname: path });
    if (!m) continue;
    if (r.method === method) return { route: r, params: m.pathname.groups };
    allowed.push(r.method);
  }
  if (allowed.length === 0) throw new HttpError(404, `nothing at ${path}`);
  throw new HttpError(405, `${req.method} is not allowed on ${path}`, {
    allow: allowed.join(", "),
  });
}

/** Headers on every response of the service. */
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

/** A response with the security headers. */
export function respond(
  body: BodyInit | null,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, { status, headers: { ...SECURITY_HEADERS, ...headers } });
}

/** A JSON response. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return respond(JSON.stringify(body) + "\n", status, {
    "content-type": "application/json; charset=utf-8",
    ...headers,
  });
}

/** An HTML page. */
export function page(text: string, status = 200, headers: Record<string, string> = {}) {
  return respond(text, status, { "content-type": "text/html; charset=utf-8", ...headers });
}

/** 303 See Other: where a form's answer is. */
export function redirect(to: string, headers: Record<string, string> = {}): Response {
  return respond(null, 303, { location: to, ...headers });
}

/** A file to save, under a name with nothing but letters, digits, `.`, `_` and `-`. */
export function download(body: Uint8Array | string, type: string, name: string): Response {
  return respond(body as BodyInit, 200, {
    "content-type": type,
    "content-disposition": `attachment; filename="${name.replace(/[^\w.-]/g, "_")}"`,
  });
}

/**
 * What a failure that is not an HttpError means for the user: 503 with
 * Retry-After while the database is held by another process (one log line),
 * else 500 (the stack in the log, for the teaching assistant).
 */
export function asHttpError(e: unknown, what: string, log: ServiceLog): HttpError {
  if (e instanceof HttpError) return e;
  if (isStoreBusy(e)) {
    log(`${what}: the database is locked by another process`, { event: "db.busy", level: "warn" });
    return new HttpError(
      503,
      "the course's database is busy (another program holds it): try again in a minute",
      { "retry-after": "30" },
    );
  }
  log(`${what}: ${e instanceof Error ? e.stack : e}`, { event: "http.error", level: "error" });
  return new HttpError(
    500,
    "the server failed on this request; the teaching assistant can see why",
  );
}
