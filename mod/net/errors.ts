/**
 * Turning socket errors into one line that names the cause. Expected failures
 * become {@link RunError} (exit 1); anything else is left to surface as a bug.
 *
 * @module
 */
import { errorMessage, RunError } from "../errors.ts";
import { hostPort } from "./address.ts";

/** The error thrown by connect(), as a RunError naming host:port. */
export function connectError(e: unknown, host: string, port: number): RunError {
  const where = hostPort(host, port);
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new RunError(`connection refused by ${where} (is the server running?)`);
  }
  if (e instanceof Deno.errors.TimedOut) return new RunError(`connecting to ${where} timed out`);
  if (e instanceof Deno.errors.NetworkUnreachable || e instanceof Deno.errors.AddrNotAvailable) {
    return new RunError(`cannot reach ${where}: ${errorMessage(e)}`);
  }
  return new RunError(`cannot connect to ${where}: ${errorMessage(e)}`);
}

/** The error thrown by listen()/listenDatagram(), as a RunError naming the address. */
export function listenError(e: unknown, host: string, port: number, transport = "tcp"): RunError {
  const where = hostPort(host, port);
  if (e instanceof Deno.errors.AddrInUse) {
    return new RunError(
      `${transport} port ${port} is already in use (${where}); stop the other server or pick another --port`,
    );
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new RunError(`not allowed to listen on ${where} (ports below 1024 need root)`);
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return new RunError(`cannot listen on ${where}: no such address on this machine`);
  }
  return new RunError(`cannot listen on ${where}: ${errorMessage(e)}`);
}

/** True for the errors a peer causes by vanishing (reset, broken pipe, aborted). */
export function isPeerGone(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted || e instanceof Deno.errors.NotConnected ||
    e instanceof Deno.errors.UnexpectedEof || e instanceof Deno.errors.BadResource ||
    e instanceof Deno.errors.Interrupted;
}
