/**
 * The service's log: one line per event, as text (the default: what a
 * person reads) or as JSON (`serve --log-format json`: one object a line,
 * what a log collector reads). A line is written by a {@link ServiceLog}:
 * its text, and fields a machine can filter on (event, level, submission,
 * student, part, duration). Text ignores the fields; JSON writes
 * `{"time", "level", "event", "msg", ...fields}`.
 *
 * What is never logged: a token, a cookie, uploaded content. The fields
 * are ids, names of parts and numbers; the text is written by our code;
 * and {@link redact} masks anything shaped like a token in either format,
 * in case a message quotes one (an error from deep down, a URL).
 *
 * @module
 */

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = typeof LOG_FORMATS[number];

/** What a line is about, for a machine; every field optional. */
export interface LogFields {
  /** What happened, dotted: `job.done`, `submission.refused`, `http.error`... */
  event?: string;
  /** Default `info`. */
  level?: "info" | "warn" | "error";
  submission?: number;
  job?: number;
  /** The student's (or TA's) id. */
  student?: string;
  /** The submission's kind. */
  part?: string;
  duration_ms?: number;
  worker?: string;
  score?: number;
  max_grade?: number;
  /** Why (a refusal's reason, a failure's kind). */
  reason?: string;
  url?: string;
}

/** Where the service's lines go; plain `(line) => void` functions are ServiceLogs too. */
export type ServiceLog = (line: string, fields?: LogFields) => void;

/** A token (`slk_` and its 43 characters, or any tail of it) masked. */
export function redact(text: string): string {
  return text.replace(/slk_[A-Za-z0-9_-]{4,}/g, "slk_[redacted]");
}

/** One line of the log in `format` (the time is `now`, ms). */
export function formatLog(
  format: LogFormat,
  line: string,
  fields: LogFields = {},
  now = Date.now(),
): string {
  const msg = redact(line);
  if (format === "text") return msg;
  const { event = "message", level = "info", ...rest } = fields;
  return redact(JSON.stringify({ time: new Date(now).toISOString(), level, event, msg, ...rest }));
}

/** A ServiceLog writing each line in `format` to `write` (e.g. the command's stderr). */
export function serviceLog(
  format: LogFormat,
  write: (line: string) => void,
  clock: () => number = Date.now,
): ServiceLog {
  return (line, fields) => write(formatLog(format, line, fields, clock()));
}
