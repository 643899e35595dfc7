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
