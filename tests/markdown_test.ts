/**
 * The documents' tables render as tables (issue 30: the README's "In the lab VM" table had
 * become a heading and a paragraph, and `deno fmt` keeps such text as it is). Each file is
 * read by marked's GFM lexer, as a Markdown viewer would: every line that starts with `|`
 * outside a code block must be a row of a table, and no heading may start with `|`.
 */
import assert from "node:assert/strict";
import { marked, type Token } from "marked";
import { ROOT } from "../scripts/lib/proc.ts";

/** The Markdown files of the repository (tracked by git). */
async function markdownFiles(): Promise<string[]> {
  const r = await new Deno.Command("git", {
    args: ["ls-files", "*.md"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  assert.ok(r.success, "git ls-files");
  return new TextDecoder().decode(r.stdout).split("\n").filter(Boolean);
}

/** Every token of `tokens`, nested ones (lists, quotes) included. */
function allTokens(tokens: Token[]): Token[] {
  return tokens.flatMap((t) => {
    const inner = [
      ...("tokens" in t && Array.isArray(t.tokens) ? t.tokens : []),
      ...("items" in t && Array.isArray(t.items) ? t.items : []),
    ] as Token[];
    return [t, ...allTokens(inner)];
  });
}

/** What is wrong with the tables of `text`: one line per stray row or heading, or none. */
export function tableProblems(text: string): string[] {
  const tokens = allTokens(marked.lexer(text, { gfm: true }));
  const rows = new Set(
    tokens.filter((t) => t.type === "table").flatMap((t) => t.raw.split("\n"))
      .map((l) => l.trim()).filter(Boolean),
  );
  const problems = tokens.filter((t) => t.type === "heading" && /^\s*\|/.test(t.text))
    .map((t) => `a heading that is a table row: ${t.raw.trim()}`);
  let fence: string | null = null;
  text.split("\n").forEach((line, i) => {
    const fenceMark = line.trim().match(/^(`{3,}|~{3,})/)?.[1];
    if (fenceMark && (fence === null || fenceMark.startsWith(fence))) {
      fence = fence === null ? fenceMark : null;
    } else if (fence === null && line.trim().startsWith("|") && !rows.has(line.trim())) {
      problems.push(`line ${i + 1} is not in a table: ${line.trim().slice(0, 60)}`);
    }
  });
  return problems;
}

Deno.test("tableProblems finds a table row outside a table and a heading made of one", () => {
  const good = "Text:\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```\n| not | a table |\n```\n";
  assert.deepEqual(tableProblems(good), []);
  // No blank line before the table, then formatted: the header became a heading.
  const broken = "Text:\n\n## | a | b | | - | - |\n\n| | 1 | 2 | | 3 |\n4 |\n";
  const found = tableProblems(broken);
  assert.match(found[0], /^a heading that is a table row: ## \| a \| b/);
  assert.match(found[1], /^line 5 is not in a table: \| \| 1 \| 2/);
  // A table with no separator row is a paragraph.
  assert.deepEqual(tableProblems("| a | b |\n| 1 | 2 |\n").length, 2);
});

Deno.test("every table of the repository's Markdown files renders as a table", async () => {
  const files = await markdownFiles();
  assert.ok(files.includes("README.md"));
  for (const file of files) {
    const problems = tableProblems(await Deno.readTextFile(`${ROOT}${file}`));
    assert.deepEqual(problems, [], `${file}:\n${problems.join("\n")}`);
  }
});
