/**
 * The layers of mod/, checked on the real module graph (`deno info --json`, the graph
 * Deno itself loads: static, type-only, re-exported and dynamic imports alike) of every
 * module of mod/, scripts/ and tests/ and of main.ts (DEVELOPERS.md, "Layout"):
 *
 *   core     mod/{errors,random,deadline}.ts, mod/pmu/  pure: no Deno.*, no node:, no npm:
 *   net      mod/net/, mod/proc/                        sockets, addresses, processes
 *   parts    mod/tcp/ udp/ tls/ ws/ multicast/ packets/ the lab's servers and clients, captures
 *   lab      mod/lab/, mod/grade/                       demo, lab, the scoring engine
 *   service  mod/service/                               the course's scoring service
 *   cli      mod/cli/                                   every command, parsing, help, exit codes
 *
 * A module imports from its own layer or a lower one, never a higher one; a part imports
 * another part only through an entry of {@link PART_IMPORTS}; the folders of mod/ import
 * each other without a cycle; mod/ imports neither tests/ nor scripts/, and scripts/ never
 * imports tests/.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export const LAYERS = ["core", "net", "parts", "lab", "service", "cli"] as const;
type Layer = (typeof LAYERS)[number];

/** The layer of each folder of mod/ (`.` for the modules directly in mod/). */
const FOLDER_LAYER: Record<string, Layer> = {
  ".": "core",
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

/** The imports one part may make of another (folder -> folder), each with its reason. */
export const PART_IMPORTS: Record<string, string> = {
  "tls -> tcp": "part 5 is part 2's PMU over TLS: the same server and sessions (startPmuServer)",
  "packets -> multicast": "the analysis reads the TV's datagrams with part 4's own parser",
  "packets -> udp": "the analysis reads RESET/OFFSET with part 3's own parser (udp/reset.ts)",
};

/** Module -> the modules it imports, as paths relative to the repository root. */
export type Graph = Map<string, string[]>;

/** The folder of mod/ that holds `path` (`.` for mod/x.ts), or undefined outside mod/. */
function folderOf(path: string): string | undefined {
  const parts = path.split("/");
  if (parts[0] !== "mod") return undefined;
  return parts.length === 2 ? "." : parts[1];
}

/** The layer of a module of mod/, or an error text. */
export function layerOf(path: string): Layer | string {
  const folder = folderOf(path);
  if (folder === undefined) return "outside mod/";
  return FOLDER_LAYER[folder] ?? `no layer for mod/${folder}/ (add it to FOLDER_LAYER)`;
}

/** Every import of `graph` that breaks the rules above, one line each. */
export function violations(graph: Graph, allowed = PART_IMPORTS): string[] {
  const out: string[] = [];
  const used = new Set<string>();
  for (const [from, imports] of graph) {
    const src = folderOf(from);
    if (src === undefined) {
      if (from.startsWith("scripts/")) {
        for (const to of imports.filter((t) => t.startsWith("tests/"))) {
          out.push(
            `${from} -> ${to}: scripts/ imports tests/ (move what both use to scripts/lib/)`,
          );
        }
      }
      continue;
    }
    const srcLayer = layerOf(from);
    if (!LAYERS.includes(srcLayer as Layer)) out.push(`${from}: ${srcLayer}`);
    for (const to of imports) {
      const dst = folderOf(to);
      if (dst === undefined) {
        if (to !== "deno.json") out.push(`${from} -> ${to}: mod/ imports outside mod/`);
        continue;
      }
      const dstLayer = layerOf(to);
      if (!LAYERS.includes(dstLayer as Layer) || !LAYERS.includes(srcLayer as Layer)) continue;
      const rank = (l: string) => LAYERS.indexOf(l as Layer);
      if (rank(dstLayer) > rank(srcLayer)) {
        out.push(`${from} (${srcLayer}) -> ${to} (${dstLayer}): imports a higher layer`);
      } else if (srcLayer === "parts" && dstLayer === "parts" && src !== dst) {
        const key = `${src} -> ${dst}`;
        if (key in allowed) used.add(key);
        else out.push(`${from} -> ${to}: part ${key} is not in PART_IMPORTS`);
      }
    }
  }
  for (const key of Object.keys(allowed)) {
    if (!used.has(key)) out.push(`PART_IMPORTS: '${key}' is never imported (remove it)`);
  }
  return [...out, ...folderCycles(graph)];
}

/** The cycles between folders of mod/, each as `a -> b -> a`. */
export function folderCycles(graph: Graph): string[] {
  const edges = new Map<string, Set<string>>();
  for (const [from, imports] of graph) {
    const a = folderOf(from);
    if (a === undefined) continue;
    for (const b of imports.map(folderOf)) {
      if (b !== undefined && b !== a) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
  }
  const cycles = new Set<string>();
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      // Each cycle once, from its smallest folder.
      const loop = path.slice(at);
      const start = loop.indexOf([...loop].sort()[0]);
      const turned = [...loop.slice(start), ...loop.slice(0, start)];
      cycles.add([...turned, turned[0]].map((f) => `mod/${f}`).join(" -> "));
      return;
    }
    if (done.has(node)) return;
    for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of [...edges.keys()].sort()) visit(node, []);
  return [...cycles].map((c) => `folders import each other: ${c}`);
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(ROOT, dir))) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await tsFiles(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

/** The graph of `roots` and all they import, read by one `deno info --json`. */
async function moduleGraph(roots: string[]): Promise<{ graph: Graph; external: Graph }> {
  const dir = await Deno.makeTempDir({ prefix: "socklab-layering-" });
  try {
    const entry = join(dir, "all.ts");
    const lines = roots.map((r) => `import "${pathToFileURL(join(ROOT, r)).href}";`);
    await Deno.writeTextFile(entry, lines.join("\n") + "\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(ROOT, "deno.json"), entry],
      cwd: ROOT,
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, `deno info failed: ${new TextDecoder().decode(out.stderr)}`);
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    const local = (url: string) =>
      url.startsWith("file:") ? relative(ROOT, fileURLToPath(url)).split("\\").join("/") : null;
    const graph: Graph = new Map();
    const external: Graph = new Map();
    for (const m of info.modules) {
      const from = local(m.specifier);
      if (from === null || from.startsWith("..")) continue;
      assert.equal(m.error, undefined, `${from}: ${m.error}`);
      const deps: { code?: { specifier: string }; type?: { specifier: string } }[] =
        m.dependencies ?? [];
      const targets = deps.flatMap((d) => [d.code?.specifier, d.type?.specifier])
        .filter((s): s is string => s !== undefined);
      graph.set(from, [...new Set(targets.map(local).filter((t): t is string => t !== null))]);
      external.set(from, [...new Set(targets.filter((t) => local(t) === null))]);
    }
    return { graph, external };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

let loading: Promise<{ roots: string[]; graph: Graph; external: Graph }> | undefined;

/** This checkout's graph: main.ts and every module of mod/, scripts/ and tests/ (read once). */
function projectGraph() {
  return loading ??= (async () => {
    const roots = ["main.ts"];
    for (const dir of ["mod", "scripts", "tests"]) roots.push(...await tsFiles(dir));
    return { roots, ...await moduleGraph(roots) };
  })();
}

Deno.test("layering: mod/ runs down its layers, parts import parts only as allowed, no cycle", async () => {
  const { graph } = await projectGraph();
  const mod = [...graph.keys()].filter((f) => f.startsWith("mod/"));
  assert.ok(mod.length > 80, `the graph holds only ${mod.length} modules of mod/`);
  const arrows = mod.reduce((n, f) => n + graph.get(f)!.length, 0);
  assert.ok(arrows > 300, `read only ${arrows} imports of mod/: is the graph read right?`);
  assert.ok(graph.get("main.ts")!.includes("mod/cli/run.ts"));
  assert.deepEqual(violations(graph), []);
});

Deno.test("layering: every module is in the graph, scripts/ and tests/ included", async () => {
  const { roots, graph } = await projectGraph();
  for (const f of roots) assert.ok(graph.has(f), `${f} is not in deno info's graph`);
});

Deno.test("layering: the core is pure (no Deno.*, no node: or npm: modules)", async () => {
  const { graph, external } = await projectGraph();
  const core = [...graph.keys()].filter((f) => layerOf(f) === "core");
  assert.ok(core.includes("mod/errors.ts") && core.includes("mod/pmu/protocol.ts"));
  for (const f of core) {
    assert.deepEqual(external.get(f), [], `${f} is in the pure core`);
    // Every line that is not a comment line: a `Deno.` in a string fails too (safe side).
    const code = (await Deno.readTextFile(join(ROOT, f))).split("\n")
      .filter((l) => !/^\s*(\/\/|\/\*|\*)/.test(l));
    assert.deepEqual(code.filter((l) => /\bDeno\./.test(l)), [], `${f} is in the pure core`);
  }
});

Deno.test("layering: the checker catches an upward arrow, a part's import, a cycle, tests/", () => {
  const g = (edges: Record<string, string[]>): Graph => new Map(Object.entries(edges));
  assert.deepEqual(violations(g({ "mod/pmu/protocol.ts": ["mod/cli/command.ts"] }), {}), [
    "mod/pmu/protocol.ts (core) -> mod/cli/command.ts (cli): imports a higher layer",
  ]);
  assert.deepEqual(violations(g({ "mod/grade/part2.ts": ["mod/service/queue.ts"] }), {}), [
    "mod/grade/part2.ts (lab) -> mod/service/queue.ts (service): imports a higher layer",
  ]);
  // Parts: only the allowed folder pairs; an allowed pair nobody uses is stale.
  assert.deepEqual(violations(g({ "mod/udp/v6only.ts": ["mod/ws/node_errors.ts"] }), {}), [
    "mod/udp/v6only.ts -> mod/ws/node_errors.ts: part udp -> ws is not in PART_IMPORTS",
  ]);
  assert.deepEqual(
    violations(g({ "mod/tls/server.ts": ["mod/tcp/pmu.ts"] }), { "tls -> tcp": "why" }),
    [],
  );
  assert.deepEqual(violations(g({}), { "tls -> tcp": "why" }), [
    "PART_IMPORTS: 'tls -> tcp' is never imported (remove it)",
  ]);
  // A cycle between folders, even within one layer (lab and grade).
  assert.deepEqual(
    violations(
      g({ "mod/lab/demo.ts": ["mod/grade/a.ts"], "mod/grade/a.ts": ["mod/lab/b.ts"] }),
      {},
    ),
    ["folders import each other: mod/grade -> mod/lab -> mod/grade"],
  );
  assert.deepEqual(violations(g({ "mod/net/x.ts": ["tests/helpers/y.ts"] }), {}), [
    "mod/net/x.ts -> tests/helpers/y.ts: mod/ imports outside mod/",
  ]);
  assert.match(
    violations(g({ "scripts/a.ts": ["tests/helpers/b.ts"] }), {})[0],
    /scripts\/ imports tests/,
  );
  assert.match(violations(g({ "mod/newdir/x.ts": [] }), {})[0], /no layer for mod\/newdir/);
  // Downward and sideways arrows are fine; so is reading the version from deno.json.
  assert.deepEqual(
    violations(
      g({
        "mod/service/queue.ts": ["mod/grade/engine.ts", "mod/errors.ts", "mod/service/x.ts"],
        "mod/cli/run.ts": ["deno.json", "mod/cli/commands/tcp.ts"],
        "tests/x_test.ts": ["tests/helpers/y.ts", "scripts/lib/proc.ts"],
      }),
      {},
    ),
    [],
  );
});
