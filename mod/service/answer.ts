/**
 * THE answer to a request that failed, whatever failed (an HttpError from
 * a handler or a wrapper, the database, a bug): JSON under `/api/`, a
 * page in words elsewhere (`/healthz` and `/metrics` answer JSON too). The JSON API and the web pages both end here.
 *
 * @module
 */
import { asHttpError, json, page } from "./http.ts";
import type { ServiceLog } from "./log.ts";
import { errorPage, type Viewer } from "./web/views.ts";

/** A page's title for an error status. */
const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Signed out",
  403: "Refused",
  404: "Not found",
  405: "Not allowed",
  408: "Too slow",
  409: "Not ready",
  413: "Too large",
  415: "Not accepted",
  429: "Not yet",
  503: "Busy",
};

/** Paths read by programs (health checks, Prometheus) rather than people: errors in JSON. */
const MACHINE_PATHS = ["/healthz", "/metrics"];

/** "no such submission" -> "No such submission." (a leading name such as `a.out` is kept). */
export function sentence(text: string): string {
  const s = /^[a-z]+ /.test(text) ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/**
 * The answer to a request that failed: an unread body is
 * discarded; under `/api/` it is `{"error": "<one sentence>"}`, elsewhere a
 * page in words (with the viewer's menu, if someone is signed in).
 */
export async function errorAnswer(
  req: Request,
  e: unknown,
  opts: { what: string; log: ServiceLog; viewer?: Viewer | null },
): Promise<Response> {
  const err = asHttpError(e, opts.what, opts.log);
  if (!req.bodyUsed) await req.body?.cancel().catch(() => {});
  const path = new URL(req.url).pathname;
  if (path === "/api" || path.startsWith("/api/") || MACHINE_PATHS.includes(path)) {
    return json(err.status, { error: err.message }, err.headers);
  }
  const title = TITLES[err.status] ?? (err.status >= 500 ? "Server error" : "Error");
  return page(errorPage(title, sentence(err.message), opts.viewer ?? undefined), err.status, {
    ...err.headers,
  });
}
