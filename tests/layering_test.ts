/**
 * The layers of mod/, checked on every import (DEVELOPERS.md, "Layout"):
 *
 *   core     mod/{errors,random,deadline}.ts, mod/pmu/  pure: no Deno.*, no node:
 *   net      mod/net/, mod/proc/                        sockets, addresses, processes
 *   parts    mod/tcp/ udp/ tls/ ws/ multicast/ packets/ the lab's servers and clients, captures
 *   lab      mod/lab/, mod/grade/                       demo, lab, the scoring engine
 *   service  mod/service/                               the course's scoring service
 *   cli      mod/cli/, every commands.ts and cli.ts     argument parsing, help, exit codes
 *
 * A module may import from its own layer or any layer below it, never above;
 * mod/ never imports tests/ or scripts/, and scripts/ never imports tests/. A
 * directory that does not exist yet (mod/service/ before it lands) is simply
 * empty.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export const LAYERS = ["core", "net", "parts", "lab", "service", "cli"] as const;
type Layer = (typeof LAYERS)[number];

const DIR_LAYER: Record<string, Layer> = {
  pmu: "core",
  net: "net",
  proc: "net",
  tcp: "parts",
  udp: "parts",
  tls: "parts",
  ws: "parts",
  multicast: "parts",
  packets: "parts",
  lab: "lab",
  grade: "lab",
  service: "service",
  cli: "cli",
};

const TOP_LAYER: Record<string, Layer> = {
  "errors.ts": "core",
  "random.ts": "core",
  "deadline.ts": "core",
};

/** The layer of a path relative to the repository root (`mod/tcp/pmu.ts`), or an error text. */
export function layerOf(path: string): Layer | string {
  const parts = path.split("/");
  if (parts[0] !== "mod") return `outside mod/`;
  const file = parts[parts.length - 1];
  if (parts.length === 2) return TOP_LAYER[file] ?? `no layer for ${path} (add it to LAYERS)`;
  // A part's command-line face sits in the CLI layer, whatever its directory.
  if (file === "commands.ts" || file === "cli.ts") return "cli";
  return DIR_LAYER[parts[1]] ?? `no layer for directory mod/${parts[1]}/ (add it to LAYERS)`;
}

/** The relative specifiers a module imports or re-exports (static and dynamic). */
export function importsOf(source: string): string[] {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const found = new Set<string>();
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) found.add(m[1]);
  }
  return [...found].filter((s) => s.startsWith("."));
}

/** Every arrow from `from` (repo-relative) to its imports that breaks the layering. */
export function violations(from: string, imports: string[]): string[] {
  const src = layerOf(from);
  if (!LAYERS.includes(src as Layer)) return [`${from}: ${src}`];
  const out: string[] = [];
  for (const spec of imports) {
    const to = relative(ROOT, resolve(ROOT, dirname(from), spec)).split("\\").join("/");
    if (to === "deno.json") continue; // the version, read by `--version`
    const dst = layerOf(to);
    if (!LAYERS.includes(dst as Layer)) {
      out.push(`${from} -> ${to}: ${dst}`);
    } else if (LAYERS.indexOf(dst as Layer) > LAYERS.indexOf(src as Layer)) {
      out.push(`${from} (${src}) -> ${to} (${dst}): imports a higher layer`);
    }
  }
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

Deno.test("layering: no module of mod/ imports a higher layer, tests/ or scripts/", async () => {
  const files = await modFiles();
  assert.ok(files.length > 40, `found only ${files.length} modules under mod/`);
  const bad: string[] = [];
  let arrows = 0;
  for (const f of files) {
    const imports = importsOf(await Deno.readTextFile(join(ROOT, f)));
    arrows += imports.length;
    bad.push(...violations(f, imports));
  }
  assert.ok(arrows > 100, `read only ${arrows} imports: is importsOf broken?`);
  assert.deepEqual(bad, []);
});

Deno.test("layering: scripts/ (bench, chaos, build) never import tests/", async () => {
  const files = await modFiles(join(ROOT, "scripts"));
  assert.ok(files.includes("scripts/lib/proc.ts"));
  for (const f of files) {
    for (const spec of importsOf(await Deno.readTextFile(join(ROOT, f)))) {
      const to = relative(ROOT, resolve(ROOT, dirname(f), spec));
      assert.ok(!to.startsWith("tests/"), `${f} imports ${to}: move what both use to scripts/lib/`);
    }
  }
});

Deno.test("layering: the core is pure (no Deno.*, no node: modules)", async () => {
  const core = (await modFiles()).filter((f) => layerOf(f) === "core");
  assert.ok(core.includes("mod/errors.ts") && core.includes("mod/pmu/protocol.ts"));
  for (const f of core) {
    const code = (await Deno.readTextFile(join(ROOT, f))).replace(/\/\*[\s\S]*?\*\//g, "");
    assert.doesNotMatch(code, /\bDeno\.|["']node:/, `${f} is in the pure core`);
  }
});

Deno.test("layering: the checker catches an upward arrow, an unknown directory and tests/", () => {
  // Multi-line, type-only, re-export and dynamic imports are all read; comments are not.
  assert.deepEqual(
    importsOf(`/** import { x } from "./doc.ts"; */
import {
  a,
  type B,
} from "../cli/command.ts";
import type { C } from "./c.ts";
export { d } from "../net/d.ts";
import "./side.ts";
const e = await import("../grade/e.ts");
import { f } from "node:fs";
// import { g } from "./g.ts";`).sort(),
    ["../cli/command.ts", "../grade/e.ts", "../net/d.ts", "./c.ts", "./side.ts"],
  );
  assert.deepEqual(violations("mod/pmu/protocol.ts", ["../cli/command.ts"]), [
    "mod/pmu/protocol.ts (core) -> mod/cli/command.ts (cli): imports a higher layer",
  ]);
  assert.deepEqual(violations("mod/grade/part2.ts", ["../service/queue.ts"]), [
    "mod/grade/part2.ts (lab) -> mod/service/queue.ts (service): imports a higher layer",
  ]);
  assert.match(violations("mod/net/x.ts", ["../../tests/helpers/y.ts"])[0], /outside mod/);
  assert.match(violations("mod/newdir/x.ts", [])[0], /no layer for directory mod\/newdir/);
  // Downward and sideways arrows are fine; a part's commands.ts is CLI.
  assert.deepEqual(violations("mod/service/queue.ts", ["../grade/engine.ts", "../errors.ts"]), []);
  assert.deepEqual(violations("mod/tls/secure.ts", ["../tcp/pmu.ts"]), []);
  assert.deepEqual(violations("mod/tcp/commands.ts", ["../cli/command.ts", "../pmu/cli.ts"]), []);
  assert.deepEqual(violations("mod/cli/run.ts", ["../../deno.json"]), []);
});
