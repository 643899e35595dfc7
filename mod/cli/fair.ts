/**
 * The fair-sharing options of the stream servers (pmu, secure-pmu, ws-pmu): a cap per
 * client address and a limit on a `CMD_short` session's length, so that one student's
 * runaway script or one attacker cannot take every slot from the rest of the class.
 *
 * @module
 */
import { type Args, numOpt, optionalNum, type Options } from "./command.ts";
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_SESSION_LIMIT } from "../net/limits.ts";

export const FAIR_OPTIONS = {
  "max-per-peer": {
    type: "string",
    arg: "N",
    help: "most connections at once from one client address (default: an eighth of " +
      "--max-connections, at least 8; 0: no cap; a class behind one address shares it)",
  },
  "session-limit": {
    type: "string",
    default: String(DEFAULT_SESSION_LIMIT),
    arg: "SECONDS",
    help: "longest a CMD_short session may last: a message due later is not sent, the " +
      "server closes (CMD_short:60 asks for up to 19 minutes)",
  },
} satisfies Options;

/** The connection limits of a server without the PMU's options (echo-server). */
export const LIMIT_OPTIONS = {
  "max-connections": {
    type: "string",
    default: String(DEFAULT_MAX_CONNECTIONS),
    arg: "N",
    help: "most clients served at once; one more is closed at once (logged)",
  },
  "max-per-peer": FAIR_OPTIONS["max-per-peer"],
} satisfies Options;

/** The parsed {@link LIMIT_OPTIONS}. */
export function parseLimitOptions(args: Args): { maxConnections: number; maxPerPeer?: number } {
  return {
    maxConnections: numOpt(args, "max-connections", { min: 1, max: 1_000_000, integer: true }),
    maxPerPeer: parseMaxPerPeer(args),
  };
}

/** `--max-per-peer`: undefined when not given (the server's default then applies). */
export function parseMaxPerPeer(args: Args): number | undefined {
  return optionalNum(args, "max-per-peer", { min: 0, max: 1_000_000, integer: true });
}

/** The parsed {@link FAIR_OPTIONS}. */
export function parseFairOptions(args: Args): { maxPerPeer?: number; sessionLimit: number } {
  return {
    maxPerPeer: parseMaxPerPeer(args),
    sessionLimit: numOpt(args, "session-limit", { min: 0.001, max: 86_400 }),
  };
}
