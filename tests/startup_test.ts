/**
 * Start-up (issue 29): every start of socklab loads main.ts and what it imports statically;
 * the command table imports each command's module dynamically, so a run loads only its own.
 * A node: module costs ~5-15 ms at every start (measured: node:util 6 ms, node:net with
 * node:dns 15 ms, node:dgram 5 ms over an empty script's ~20 ms), an npm: one more.
 * Checked on the graph Deno loads (`deno info --json`): static edges only, dynamic imports
 * being what a run loads on demand (and reads then: DENO_FLAGS' LAZY_IMPORTS).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ipFamily } from "../mod/net/address.ts";
import { isIP } from "node:net";
import { denoArgv } from "../mod/cli/flags.ts";
import { runProc } from "../scripts/lib/proc.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

async function moduleGraph(): Promise<Map<string, InfoModule>> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", ROOT + "deno.json", ROOT + "main.ts"],
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as { modules: InfoModule[] };
  return new Map(info.modules.map((m) => [m.specifier, m]));
}

/** What loading `start` loads before any of its code runs: its static imports, transitively. */
function staticallyLoaded(graph: Map<string, InfoModule>, start: string): string[] {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of graph.get(s)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) todo.push(d.code.specifier);
    }
  }
  return [...seen].map((s) => s.startsWith("file://") ? s.slice(`file://${ROOT}`.length) : s);
}

const graph = await moduleGraph();

Deno.test("socklab's start (main.ts and what it imports statically) loads no command, no node: and no npm: module", () => {
  const loaded = staticallyLoaded(graph, `file://${ROOT}main.ts`);
  const heavy = loaded.filter((m) =>
    /^(node:|npm:)/.test(m) || /^mod\/(cli\/commands|grade|service|lab)\//.test(m)
  );
  assert.deepEqual(heavy, [], `loaded at every start: ${loaded.join(", ")}`);
  assert.ok(loaded.includes("mod/cli/table.ts"), loaded.join(", "));
});

Deno.test("the clients' and servers' commands load only node:util (parseArgs) at start", () => {
  for (const area of ["tcp", "udp", "multicast", "net", "packets", "ws"]) {
    const loaded = staticallyLoaded(graph, `file://${ROOT}mod/cli/commands/${area}.ts`);
    const outside = loaded.filter((m) => /^(node:|npm:)/.test(m));
    assert.deepEqual(outside, ["node:util"], `${area}: ${outside.join(", ")}`);
  }
});

Deno.test("pdc and secure-pdc start without the PMU server (its modules load when it runs)", () => {
  for (const area of ["tcp", "tls"]) {
    const loaded = staticallyLoaded(graph, `file://${ROOT}mod/cli/commands/${area}.ts`);
    const servers = loaded.filter((m) =>
      /^mod\/(tcp\/pmu|tls\/server)\.ts$/.test(m) || m === "node:crypto"
    );
    assert.deepEqual(servers, [], `${area}: ${loaded.join(", ")}`);
  }
});

// Without DENO_FLAGS' LAZY_IMPORTS, Deno reads every module the command table can import
// before the first one runs: a named pipe in their place would hold the start for ever.
Deno.test("socklab's Deno flags read a dynamic import when it runs, not at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-lazy-" });
  try {
    await Deno.writeTextFile(
      `${dir}/main.js`,
      'if (Deno.args[0] === "load") await import("./later.js");\nconsole.log("started");\n',
    );
    const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/later.js`] }).output();
    assert.ok(fifo.success, "mkfifo failed");
    const r = await runProc(denoArgv(`${dir}/main.js`, [], null), { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "started\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ipFamily says what node:net's isIP says", () => {
  const cases = [
    "127.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "256.1.1.1",
    "1.2.3",
    "01.2.3.4",
    "1.2.3.4.",
    " 1.2.3.4",
    "1.2.3.04",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "fe80::1%lo",
    "fe80::1%",
    "fe80::1%lo%x",
    "2001:db8::1:2:3:4:5",
    "2001:db8:0:0:0:0:2:1",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    ":::",
    "12345::1",
    "g::1",
    "::1]:80/[",
    "[::1]",
    "::ffff:1.2.3.256",
    "localhost",
    "example.invalid",
    "",
    "1.2.3.4:80",
  ];
  for (const c of cases) assert.equal(ipFamily(c), isIP(c), JSON.stringify(c));
});
