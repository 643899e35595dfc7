import assert from "node:assert/strict";
import { dirname } from "node:path";
import { bundle, bundleShebang } from "../scripts/build.ts";
import { Proc, ROOT, runProc } from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";

// The bundle runs from an empty directory (no deno.json, so no "unstable": ["net"] from the
// config) through its own shebang: UDP works only if the shebang carries DENO_FLAGS'
// --unstable-net, so the pmu-udp/pdc-udp exchange fails if bundleShebang() loses it.
Deno.test("the bundle is one file that runs --help, echo, pmu/pdc and pmu-udp/pdc-udp through its shebang", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-bundle-" });
  try {
    const out = await bundle(`${dir}/socklab.js`);
    const text = await Deno.readTextFile(out);
    assert.equal(text.split("\n")[0], bundleShebang());
    assert.doesNotMatch(text, /from\s+["'](\.\/|\.\.\/|file:)/, "no imports of other files");
    const opts = {
      cwd: dir,
      env: { PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}` },
    };
    const run = (...args: string[]) => runProc([out, ...args], opts);
    const serve = async (...args: string[]) => {
      const p = new Proc([out, ...args, "--host", "127.0.0.1", "--port", "0"], opts);
      return { p, port: String((await p.listening()).port) };
    };

    const help = await run("--help");
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /echo-client/);

    const echoServer = await serve("echo-server");
    await using _e = echoServer.p;
    const echo = await run("echo-client", "--host", "127.0.0.1", "--port", echoServer.port, "b");
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, "b\n");

    const pmu = await serve("pmu", "--count", "2");
    await using _p = pmu.p;
    const pdc = await run("pdc", "127.0.0.1", pmu.port, "CMD_short:0");
    assert.equal(pdc.code, 0, pdc.stderr);
    assert.equal(pdc.stdout, "This is PMU data 0\nThis is PMU data 1\n");

    const pmuUdp = await serve("pmu-udp", "--family", "4", "--drop", "0");
    await using _u = pmuUdp.p;
    const pdcUdp = await run("pdc-udp", "127.0.0.1", pmuUdp.port);
    assert.equal(pdcUdp.code, 0, pdcUdp.stderr);
    assert.match(pdcUdp.stdout, /^OFFSET:\d+\n$/);
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
