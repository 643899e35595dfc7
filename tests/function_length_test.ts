/**
 * No function in mod/ longer than {@link MAX_LINES} lines (DEVELOPERS.md, "Keep it simple"),
 * HTML templates aside: every function declaration, method, constructor, accessor, arrow
 * function and function expression, found by the TypeScript compiler's own parser
 * (npm:typescript), measured from its first line to its last (comments and blank lines
 * inside count: they are lines a reader scrolls through).
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export const MAX_LINES = 120;

/**
 * The functions allowed to be longer, as `path:name`. HTML templates (a page is one
 * template literal), then what is being split on another branch.
 */
const ALLOWED = new Set<string>([
  // HTML templates may be allowed here by name; none is this long today.
]);

/** A function found in a source file: its name (or `<anonymous>` in its parent) and lines. */
export interface FunctionSpan {
  name: string;
  line: number;
  lines: number;
}

/** The name a reader would look for: declared, a method's, or the variable/property it is assigned to. */
function nameOf(node: ts.FunctionLikeDeclaration, src: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return "constructor";
  if (node.name) return node.name.getText(src);
  const p = node.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) {
    return p.name.getText(src);
  }
  return "<anonymous>";
}

/** Every function-like node of `source` (nested ones too), with its length in lines. */
export function functionSpans(path: string, source: string): FunctionSpan[] {
  const src = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true);
  const out: FunctionSpan[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = src.getLineAndCharacterOfPosition(fn.getStart(src)).line;
      const last = src.getLineAndCharacterOfPosition(fn.getEnd()).line;
      out.push({ name: nameOf(fn, src), line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

async function modFiles(dir = join(ROOT, "mod")): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await modFiles(p));
    else if (e.name.endsWith(".ts")) out.push(relative(ROOT, p));
  }
  return out.sort();
}

Deno.test(`function length: no function in mod/ over ${MAX_LINES} lines`, async () => {
  const files = await modFiles();
  assert.ok(files.length > 40, `found only ${files.length} modules under mod/`);
  const long: string[] = [];
  const allowedSeen = new Set<string>();
  let count = 0;
  for (const f of files) {
    for (const fn of functionSpans(f, await Deno.readTextFile(join(ROOT, f)))) {
      count++;
      if (fn.lines <= MAX_LINES) continue;
      const key = `${f}:${fn.name}`;
      if (ALLOWED.has(key)) allowedSeen.add(key);
      else long.push(`${f}:${fn.line} ${fn.name}: ${fn.lines} lines`);
    }
  }
  assert.ok(count > 500, `found only ${count} functions: is the parser reading mod/?`);
  assert.deepEqual(long, [], `split these (or, for an HTML template, allow it by name)`);
  const stale = [...ALLOWED].filter((k) => !allowedSeen.has(k));
  assert.deepEqual(stale, [], "allowed but no longer long (or renamed): drop from ALLOWED");
});

Deno.test("function length: every kind of function is measured, by its name", () => {
  const spans = functionSpans(
    "x.ts",
    `function decl() {
  return 1;
}
class K {
  constructor() {}
  method() {
    const inner = () => {
      return 2;
    };
  }
  get value() { return 3; }
}
const arrow = (a: number) =>
  a + 1;
const expr = function () {};
const obj = { prop: () => 4, short() {} };
[1].map((x) => x);
declare function bodiless(): void;
`,
  );
  assert.deepEqual(spans.map((s) => [s.name, s.line, s.lines]), [
    ["decl", 1, 3],
    ["constructor", 5, 1],
    ["method", 6, 5],
    ["inner", 7, 3],
    ["value", 11, 1],
    ["arrow", 13, 2],
    ["expr", 15, 1],
    ["prop", 16, 1],
    ["short", 16, 1],
    ["<anonymous>", 17, 1],
  ]);
});
