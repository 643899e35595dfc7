/**
 * The two expected failures of every command, below every other module so
 * that any layer may throw them: {@link UsageError} (exit 2) and
 * {@link RunError} (exit 1). `mod/cli/run.ts` turns them into one line
 * `socklab <cmd>: error: <cause>` without a stack trace.
 *
 * @module
 */

/** A usage error: bad or missing argument. Exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The job failed at run time (refused connection, port in use...). Exit code 1. */
export class RunError extends Error {
  override name = "RunError";
}

/**
 * One line for anything thrown: its message, then the message of each `cause` not already
 * in it (`cannot read x: permission denied`), without Deno's `(os error N)` suffixes. The
 * one place that turns an unknown error into text.
 */
export function errorMessage(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 8; depth++) {
    const text = cur instanceof Error ? cur.message : String(cur);
    const m = text.replace(/\s*\(os error \d+\)$/, "");
    if (m && !parts.some((p) => p.includes(m))) parts.push(m);
    if (!(cur instanceof Error) || cur.cause === undefined || cur.cause === null) break;
    cur = cur.cause;
  }
  return parts.join(": ");
}
