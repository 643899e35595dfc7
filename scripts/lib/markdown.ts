/**
 * The one Markdown table writer of the scripts (bench/RESULTS.md, the chaos
 * tables in RELIABILITY.md): columns padded so the text reads as a table too.
 *
 * @module
 */

/** `|` inside a cell would end it: escape it. */
function cell(s: string): string {
  return s.replaceAll("|", "\\|");
}

/** `head` and `rows` (arrays of cells, same length as `head`) as an aligned Markdown table. */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const all = [head, ...rows].map((r) => r.map(cell));
  const width = head.map((_, i) => Math.max(3, ...all.map((r) => r[i].length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(width[i])).join(" | ")} |`;
  const rule = `|${width.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(all[0]), rule, ...all.slice(1).map(line)].join("\n");
}
