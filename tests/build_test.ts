import assert from "node:assert/strict";
import { DENO_FLAGS } from "../mod/cli/flags.ts";
import { bundle, bundleShebang, compileArgs } from "../scripts/build.ts";
import { Proc, ROOT, runProc, socklabArgv } from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";

Deno.test("compile, bundle and the tests' subprocesses use the same flags", () => {
  assert.ok(DENO_FLAGS.includes("--unstable-net"));
  const args = compileArgs("/tmp/x");
  assert.deepEqual(args.slice(1, 1 + DENO_FLAGS.length), [...DENO_FLAGS]);
  assert.equal(bundleShebang(), `#!/usr/bin/env -S deno run ${DENO_FLAGS.join(" ")}`);
  const argv = socklabArgv(["--version"]);
  assert.deepEqual(argv.slice(2, 2 + DENO_FLAGS.length), [...DENO_FLAGS]);
});

Deno.test("the bundle is one file that runs --help, echo, pdc/pmu and pdc-udp exchanges under deno", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-bundle-" });
  try {
    const out = await bundle(`${dir}/socklab.js`);
    const text = await Deno.readTextFile(out);
    assert.equal(text.split("\n")[0], bundleShebang());
    assert.doesNotMatch(text, /from\s+["'](\.\/|\.\.\/|file:)/, "no imports of other files");
    // Run it from an empty directory, through its shebang (deno on PATH) when possible.
    const run = (args: string[]) =>
      runProc([Deno.execPath(), "run", ...DENO_FLAGS, out, ...args], { cwd: dir });
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /echo-client/);

    await using server = new Proc(
      [
        Deno.execPath(),
        "run",
        ...DENO_FLAGS,
        out,
        "echo-server",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ],
      { cwd: dir },
    );
    const { port } = await server.listening();
    const echo = await run([
      "echo-client",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "bundled",
    ]);
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, "bundled\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// deno compile downloads denort: inside a private namespace the download cannot leave the host,
// which is the offline case compile must explain in one line.
netnsTest(
  "compile, offline and without DENORT_BIN, says so in one line and points at bundle",
  async (ns) => {
    const dir = await Deno.makeTempDir({ prefix: "socklab-compile-" });
    try {
      const r = await runProc(
        [
          Deno.execPath(),
          "run",
          "-A",
          `${ROOT}scripts/build.ts`,
          "compile",
          "--out",
          `${dir}/socklab`,
        ],
        { prefix: ns.prefix, env: { DENORT_BIN: "" }, timeoutMs: 60_000 },
      );
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0],
        /^socklab compile: error: cannot download the denort runtime .*DENORT_BIN.*deno task bundle/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
