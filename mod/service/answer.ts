/**
 * THE answer to a request that failed, whatever failed (an HttpError from
 * a handler or a wrapper, the database, a bug): JSON under `/api/`, a
 * page in words elsewhere (`/healthz` and `/metrics` answer JSON too). The JSON API and the web pages both end here.
 *
 * @module
 */
import type { Wording } from "../net/http_gate.ts";
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

/** Whether a path's answers are JSON: the API's, and those programs read. */
const isJson = (path: string) =>
  path === "/api" || path.startsWith("/api/") || MACHINE_PATHS.includes(path);

/** A page's title for `status`. */
const titleOf = (status: number) => TITLES[status] ?? (status >= 500 ? "Server error" : "Error");

/**
 * The HTTP gate's own answers (a request too slow, too many connections,
 * the service stopping) in the service's words: JSON under `/api/`, a page
 * elsewhere.
 */
export const gateWording: Wording = (path, status, text) =>
  path !== null && isJson(path.split("?")[0])
    ? { type: "application/json; charset=utf-8", body: JSON.stringify({ error: text }) + "\n" }
    : { type: "text/html; charset=utf-8", body: errorPage(titleOf(status), sentence(text)) };

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
  if (isJson(new URL(req.url).pathname)) {
    return json(err.status, { error: err.message }, err.headers);
  }
  const text = errorPage(titleOf(err.status), sentence(err.message), opts.viewer ?? undefined);
  return page(text, err.status, { ...err.headers });
}
