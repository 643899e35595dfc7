/**
 * The PMU protocol of lab parts 2, 5 and 6, with no I/O (SPEC.md "The PMU protocol").
 *
 * The client sends one command (`CMD_short:<d>` or `CMD_floodme`, a trailing `\r\n` or `\n`
 * tolerated); the server answers with n messages `This is PMU data <i>`, one flood text, or
 * `Wrong command.`, then closes.
 * @module
 */
import { randomInt } from "../random.ts";

/** The text every PMU message starts with; the index follows it. */
export const MESSAGE_PREFIX = "This is PMU data ";
/** The server's answer to anything that is not a command. */
export const WRONG_COMMAND = "Wrong command.";
/** The largest delay `d` of `CMD_short:<d>`, in seconds. */
export const MAX_DELAY = 60;
/** How many messages a connection gets when no count is fixed: MIN_COUNT..MAX_COUNT. */
export const MIN_COUNT = 10;
/** See {@link MIN_COUNT}. */
export const MAX_COUNT = 20;
/** The default command-length cap of a server, in bytes (a longer command is wrong). */
export const MAX_COMMAND_BYTES = 256;

/** A parsed command. `delay` is in seconds; `wrong` keeps what was received. */
export type PmuCommand =
  | { kind: "short"; delay: number }
  | { kind: "flood" }
  | { kind: "wrong"; text: string };

const SHORT = /^CMD_short:(\d+(?:\.\d+)?|\.\d+)$/;
const SHORT_PREFIX = /^CMD_short:(\d*\.?\d*)\r?$/;

function stripEol(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}

/**
 * Parses one complete command. `CMD_short:<d>` needs a decimal d with 0 <= d <= 60;
 * one trailing `\r\n` or `\n` is tolerated; anything else is `wrong`.
 */
export function parseCommand(text: string): PmuCommand {
  const t = stripEol(text);
  if (t === "CMD_floodme") return { kind: "flood" };
  const m = SHORT.exec(t);
  if (m) {
    const delay = Number(m[1]);
    if (Number.isFinite(delay) && delay >= 0 && delay <= MAX_DELAY) return { kind: "short", delay };
  }
  return { kind: "wrong", text };
}

/**
 * Decides what a server should do with the bytes received so far: a command if `text` is
 * a valid command, or is wrong and cannot become valid with more bytes; `null` while
 * `text` is a proper prefix of a valid command (e.g. `CMD_sho` or `CMD_short:`), so the
 * server reads on. A valid `CMD_short:1` is acted on at once (like the course's server,
 * which took one recv()).
 */
export function commandSoFar(text: string): PmuCommand | null {
  const cmd = parseCommand(text);
  if (cmd.kind !== "wrong") return cmd;
  if (text === "" || "CMD_floodme\r".startsWith(text) || "CMD_short:".startsWith(text)) {
    return null;
  }
  const m = SHORT_PREFIX.exec(text);
  if (m && (m[1] === "" || m[1] === "." || !(Number(m[1]) > MAX_DELAY))) return null;
  return cmd;
}

/** The i-th message: `This is PMU data <i>`. */
export function pmuMessage(i: number): string {
  return MESSAGE_PREFIX + i;
}

const encoder = new TextEncoder();
/** The first messages' bytes, encoded once for every session of every server. */
const MESSAGE_BYTES: Uint8Array[] = [];

/** The i-th message's bytes (UTF-8; never to be written into: they are shared). */
export function pmuMessageBytes(i: number): Uint8Array {
  if (i >= 1000) return encoder.encode(pmuMessage(i));
  return MESSAGE_BYTES[i] ??= encoder.encode(pmuMessage(i));
}

/** All n messages of one `CMD_short` answer, i = 0..n-1. */
export function pmuMessages(n: number): string[] {
  return Array.from({ length: n }, (_, i) => pmuMessage(i));
}

/** The number of messages of one connection: MIN_COUNT..MAX_COUNT from `random`. */
export function messageCount(random: () => number): number {
  return randomInt(random, MIN_COUNT, MAX_COUNT);
}
