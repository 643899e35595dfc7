/**
 * Text a student's program controls, made safe to print: what it printed,
 * the names of its files, its test details. Nothing it sends may move the
 * cursor, recolour or clear a terminal (C0, C1 and DEL: `ESC [`, the 8-bit
 * CSI U+009B), reorder what is shown (the bidi controls), break a line
 * (U+2028, U+2029), or hide that its bytes were not UTF-8 (decoded as
 * U+FFFD, and lone surrogates).
 *
 * @module
 */

/** Every character {@link escapeControls} escapes. */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** What JSON.stringify leaves as it is of {@link UNSAFE} (it escapes C0 and lone surrogates). */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]/g;

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, "0");

/**
 * `s` with every unsafe character shown escaped: `\r`, `\n`, `\t`, `\x1b`,
 * `\x9b`, `\u202e`, `\ufffd` (what arrived as invalid UTF-8).
 */
export function escapeControls(s: string): string {
  return s.replace(UNSAFE, (c) => {
    if (c === "\r") return "\\r";
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    return c.charCodeAt(0) < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`;
  });
}

/**
 * JSON.stringify, with every unsafe character written as a `\uXXXX` escape:
 * the same value once parsed, and nothing a terminal acts on.
 */
export function safeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}
