/**
 * WebSocket close codes (RFC 6455 section 7.4.1), as the logs and errors of ws-pmu and
 * ws-pdc show them.
 *
 * @module
 */

/** The close codes that mean "the server finished normally". */
export const NORMAL_CLOSES: readonly number[] = [1000, 1005];

const CLOSE_NAMES: Record<number, string> = {
  1000: "normal",
  1001: "going away",
  1002: "protocol error",
  1003: "unsupported data",
  1005: "no status",
  1006: "abnormal: the connection was lost without a close frame",
  1007: "invalid data",
  1008: "policy violation",
  1009: "message too big",
  1011: "server error",
};

/** `1009 (message too big)`. */
export function closeCodeText(code: number): string {
  return `${code}${CLOSE_NAMES[code] ? ` (${CLOSE_NAMES[code]})` : ""}`;
}
