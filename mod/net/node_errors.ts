/**
 * Deno's node: modules (node:net and node:http under npm:ws, node:dgram under udp/v6only.ts)
 * throw errors that carry Node's `code` (`ECONNREFUSED`, `EADDRINUSE`...) instead of being
 * `Deno.errors.*`. This maps them to the Deno error classes, so the one-line messages of
 * errors.ts (`connectError`, `listenError`) serve those sockets too.
 *
 * @module
 */

const BY_CODE: Record<string, [new (msg: string) => Error, string]> = {
  ECONNREFUSED: [Deno.errors.ConnectionRefused, "connection refused"],
  ECONNRESET: [Deno.errors.ConnectionReset, "connection reset by peer"],
  ECONNABORTED: [Deno.errors.ConnectionAborted, "connection aborted"],
  EPIPE: [Deno.errors.BrokenPipe, "broken pipe"],
  ETIMEDOUT: [Deno.errors.TimedOut, "timed out"],
  EADDRINUSE: [Deno.errors.AddrInUse, "address already in use"],
  EADDRNOTAVAIL: [Deno.errors.AddrNotAvailable, "address not available"],
  EACCES: [Deno.errors.PermissionDenied, "permission denied"],
  EPERM: [Deno.errors.PermissionDenied, "operation not permitted"],
  ENETUNREACH: [Deno.errors.NetworkUnreachable, "network is unreachable"],
  EHOSTUNREACH: [Deno.errors.NetworkUnreachable, "no route to host"],
};

/** The Node error code of `e` (`ECONNREFUSED`...), if it has one. */
export function nodeCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** `e` as the matching `Deno.errors` instance with a plain message, or `e` itself. */
export function asDenoError(e: unknown): unknown {
  const known = BY_CODE[nodeCode(e) ?? ""];
  return known ? new known[0](known[1]) : e;
}
