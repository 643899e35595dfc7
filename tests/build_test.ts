import assert from "node:assert/strict";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { DENO_FLAGS, selfArgv } from "../mod/cli/flags.ts";
import config from "../deno.json" with { type: "json" };
import { DEMO_STEPS } from "../mod/lab/demo.ts";
import {
  bundle,
  bundleShebang,
  compile,
  denoError,
  describe,
  launcher,
  LAUNCHER_TOOLS,
  oneFile,
} from "../scripts/build.ts";
import { Proc, ROOT, runProc } from "../scripts/lib/proc.ts";
import { Netns } from "../scripts/lib/netns.ts";
import { netnsTest, netnsUnavailable } from "./helpers/netns.ts";
import { requireTool } from "./helpers/requires.ts";

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
    const cache = `${dir}/cache`;
    const opts = {
      cwd: dir,
      env: {
        PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
        SOCKLAB_CACHE: cache,
      },
    };
    const run = (...args: string[]) => runProc([out, ...args], opts);
    const serve = async (...args: string[]) => {
      const p = new Proc([out, ...args, "--host", "127.0.0.1", "--port", "0"], opts);
      return { p, port: String((await p.listening()).port) };
    };

    const help = await run("--help");
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /echo-client/);

    // Its pieces are modules made at start; a start must not add to deno's caches (a blob:
    // URL, new at every start, made a new entry in the code and dependency caches each time:
    // ~0.3 MB a start, for ever), and it reuses the pieces it unpacked (one folder, one key).
    const denoDir = `${dir}/deno-dir`;
    const again = () =>
      runProc([out, "pdc", "--help"], { ...opts, env: { ...opts.env, DENO_DIR: denoDir } });
    // The first two starts may fill the caches (deno writes a module's code cache the second time).
    for (let i = 0; i < 2; i++) assert.equal((await again()).code, 0);
    const first = await folderBytes(denoDir);
    for (let i = 0; i < 3; i++) assert.equal((await again()).code, 0);
    assert.equal(await folderBytes(denoDir), first, "deno's cache grew at a start of the bundle");
    const unpacked = await Array.fromAsync(Deno.readDir(cache));
    assert.equal(unpacked.length, 1, unpacked.map((e) => e.name).join(", "));

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

/** The bytes of the files in `dir` and below. */
async function folderBytes(dir: string): Promise<number> {
  let bytes = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    bytes += e.isDirectory ? await folderBytes(path) : (await Deno.stat(path)).size;
  }
  return bytes;
}

// The lab VM: one file, no deno, node, npx or network; HOME empty, XDG_CACHE_HOME unset. Built with
// --no-download (no attempt to reach dl.deno.land); the offline fallback itself is the next test.
Deno.test("compile without denort: one file that runs --version, --help, demo and pdc/pmu with no deno or node", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-compile-" });
  try {
    const built = await compile(`${dir}/build/socklab`, { download: false });
    assert.equal(built.kind, "self-unpacking");
    assert.equal(built.bytes, (await Deno.stat(built.path)).size);
    assert.match(
      describe(built),
      /^wrote .*socklab \(\d+\.\d MB, \d+ bytes\): self-unpacking build/,
    );
    assert.match(describe(built), /\nwhy: --no-download given and DENORT_BIN is not set/);

    // A fresh folder with only the file, and a PATH of only the tools the launcher and demo use.
    const vm = `${dir}/vm`;
    const bin = `${dir}/bin`;
    const home = `${dir}/home`;
    for (const d of [vm, bin, home]) await Deno.mkdir(d);
    await Deno.copyFile(built.path, `${vm}/socklab`);
    await Deno.chmod(`${vm}/socklab`, 0o755);
    for (const tool of [...LAUNCHER_TOOLS, "openssl"]) {
      await Deno.symlink(
        requireTool(tool, tool === "openssl" ? "openssl" : "coreutils"),
        `${bin}/${tool}`,
      );
    }
    const env = (h = home) => ["env", "-i", `PATH=${bin}`, `HOME=${h}`];
    const socklab = `${vm}/socklab`;
    const run = (args: string[], h?: string, prefix: string[] = []) =>
      runProc([...prefix, ...env(h), socklab, ...args], { cwd: vm, timeoutMs: 60_000 });

    // A deno.json above the unpacked bundle (deno looks for one from the script's folder up) is
    // not read: --no-config.
    await Deno.mkdir(`${home}/.cache`);
    await Deno.writeTextFile(`${home}/.cache/deno.json`, "{ not json");
    const version = await run(["--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `socklab ${config.version} (deno ${Deno.version.deno})\n`);
    // Unpacked once, under HOME's cache, readable by every user (a sandbox may run it as another).
    const base = `${home}/.cache/socklab`;
    // Beside it, the bundle's pieces as files (scripts/build.ts, startBundle).
    const names = [...Deno.readDirSync(base)].map((e) => e.name).sort();
    assert.equal(names.length, 2, names.join(", "));
    const keys = names.filter((n) => !n.startsWith("bundle-"));
    assert.match(keys[0], new RegExp(`^${config.version}-[0-9a-f]{16}$`));
    const pieces = `${base}/${names.find((n) => n.startsWith("bundle-"))}`;
    assert.equal((await Deno.stat(pieces)).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(`${pieces}/main.js`)).mode! & 0o777, 0o644);
    const cache = `${base}/${keys[0]}`;
    assert.equal((await Deno.stat(cache)).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(`${cache}/deno`)).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(`${cache}/socklab.js`)).mode! & 0o777, 0o644);

    // How socklab re-executes itself (e.g. in grade's sandbox) works on the unpacked form too.
    const again = await runProc(
      [
        ...env(),
        ...selfArgv(["--version"], {
          execPath: `${cache}/deno`,
          mainModule: pathToFileURL(`${cache}/socklab.js`).href,
          standalone: false,
        }),
      ],
      { cwd: vm },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, version.stdout);

    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /echo-client/);
    const usage = await run(["no-such-command"]);
    assert.equal(usage.code, 2, "exit codes pass through");
    assert.match(usage.stderr, /^socklab: error: unknown command 'no-such-command'/);

    // demo: every part (multicast TTL 0), inside a private namespace where there is one.
    await using ns = netnsUnavailable() ? undefined : await Netns.create();
    const demo = await run(["demo"], home, ns?.prefix);
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    assert.match(
      demo.stdout,
      new RegExp(`^demo: ${DEMO_STEPS.length}/${DEMO_STEPS.length} parts passed`, "m"),
    );

    // pmu and pdc: the server is the cached deno itself (exec, no shell in between: signals reach it).
    await using pmu = new Proc([
      ...env(),
      socklab,
      "pmu",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--count",
      "3",
    ], { cwd: vm });
    const { port } = await pmu.listening();
    assert.equal(
      await Deno.realPath(`/proc/${pmu.child.pid}/exe`),
      await Deno.realPath(`${cache}/deno`),
    );
    const pdc = await run(["pdc", "127.0.0.1", String(port), "CMD_short:0"]);
    assert.equal(pdc.code, 0, pdc.stderr);
    assert.deepEqual(pdc.stdout.trim().split("\n"), [0, 1, 2].map((i) => `This is PMU data ${i}`));
    const stopped = await pmu.stop();
    assert.notEqual(stopped.signal, "SIGKILL", "SIGTERM reached deno and stopped it");

    // A damaged cache is unpacked again; two first starts at once both work.
    await Deno.truncate(`${cache}/deno`, 1000);
    assert.equal((await run(["--version"])).code, 0);
    assert.equal((await Deno.stat(`${cache}/deno`)).size, (await Deno.stat(Deno.execPath())).size);
    const home2 = `${dir}/home2`;
    await Deno.mkdir(home2);
    const both = await Promise.all([run(["--version"], home2), run(["--version"], home2)]);
    assert.deepEqual(both.map((r) => [r.code, r.stdout]), [[0, version.stdout], [
      0,
      version.stdout,
    ]]);
    // A copy cut short says so in one line.
    const cut = `${vm}/cut`;
    const bytes = await Deno.readFile(socklab);
    await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 1000), { mode: 0o755 });
    const home3 = `${dir}/home3`;
    await Deno.mkdir(home3);
    const r = await runProc([...env(home3), cut, "--version"], { cwd: vm });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `socklab: error: ${cut} is not ${bytes.length} bytes long: copy it again\n`,
    );
    assert.deepEqual([...Deno.readDirSync(home3)], [], "nothing unpacked");
    // Same length, one byte changed: the checksum says so, and nothing is left in the cache.
    bytes[bytes.length - 5000] ^= 1;
    await Deno.writeFile(cut, bytes, { mode: 0o755 });
    const d = await runProc([...env(home3), cut, "--version"], { cwd: vm });
    assert.equal(d.code, 1);
    assert.equal(
      d.stderr,
      `socklab: error: ${cut} is damaged (checksum mismatch): copy it again\n`,
    );
    const left = [...Deno.readDirSync(`${home3}/.cache/socklab`)];
    assert.equal(left.length, 1);
    assert.deepEqual([...Deno.readDirSync(`${home3}/.cache/socklab/${left[0].name}`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("selfArgv starts this socklab again however it runs", () => {
  const deno = "/opt/deno";
  assert.deepEqual(
    selfArgv(["pdc", "x"], {
      execPath: "/bin/socklab",
      mainModule: "file:///b/main.ts",
      standalone: true,
    }),
    ["/bin/socklab", "pdc", "x"],
  );
  assert.deepEqual(
    selfArgv(["pdc"], { execPath: deno, mainModule: "file:///src/main.ts", standalone: false }),
    [deno, "run", ...DENO_FLAGS, "--config", "/src/deno.json", "/src/main.ts", "pdc"],
  );
  assert.deepEqual(
    selfArgv(["pdc"], { execPath: deno, mainModule: "file:///c/socklab.js", standalone: false }),
    [deno, "run", "--no-config", ...DENO_FLAGS, "/c/socklab.js", "pdc"],
  );
});

// deno compile downloads denort: inside a private namespace the download cannot leave the host,
// which is the offline case: compile falls back to the self-unpacking build and says why.
netnsTest(
  "compile, offline and without DENORT_BIN, writes the self-unpacking build and says why",
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
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.length, 2, r.stdout);
      const size = (await Deno.stat(`${dir}/socklab`)).size;
      assert.match(
        lines[0],
        new RegExp(
          `^wrote .*/socklab \\(.* MB, ${size} bytes\\): self-unpacking build .*DENORT_BIN`,
        ),
      );
      assert.match(
        lines[1],
        /^why: deno compile could not download its denort runtime \(.*(request|dns).*\)/,
      );
      const head = new TextDecoder().decode(
        (await Deno.readFile(`${dir}/socklab`)).subarray(0, 10),
      );
      assert.equal(head, "#!/bin/sh\n");
      const left = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.deepEqual(left, ["socklab"], "no temporary files left");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

// DENORT_BIN after an offline build (issue 30): deno compile refused to overwrite the earlier
// self-unpacking file and printed a backtrace. This deno stands in for denort (deno compile only
// appends its payload to it); in a private namespace, so nothing can be downloaded.
netnsTest(
  "compile with DENORT_BIN replaces an earlier build; a failure is one line",
  async (ns) => {
    const dir = await Deno.makeTempDir({ prefix: "socklab-compile-" });
    try {
      const out = `${dir}/socklab`;
      await Deno.writeTextFile(out, "#!/bin/sh\necho an earlier self-unpacking build\n");
      const build = (denort: string) =>
        runProc(
          [Deno.execPath(), "run", "-A", `${ROOT}scripts/build.ts`, "compile", "--out", out],
          {
            prefix: ns.prefix,
            env: { DENORT_BIN: denort },
            timeoutMs: 120_000,
          },
        );
      const r = await build(Deno.execPath());
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const size = (await Deno.stat(out)).size;
      assert.match(
        r.stdout,
        new RegExp(`^wrote ${out} \\(.* MB, ${size} bytes\\): deno compile output\n`),
      );
      assert.match(r.stdout, /\nwhy: deno compile used DENORT_BIN=/);
      assert.ok(size > 1e6, "the earlier 48-byte file was replaced");
      const bad = await build(`${dir}/no-denort`);
      assert.equal(bad.code, 1);
      assert.equal(bad.stdout, "");
      assert.match(
        bad.stderr,
        new RegExp(
          `^socklab compile: error: deno compile failed: .*: Could not find denort at '${dir}/no-denort': No such file or directory \\(os error 2\\)\n$`,
        ),
      );
      assert.equal((await Deno.stat(out)).size, size, "a failed build leaves the last one");
      assert.deepEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name),
        ["socklab"],
        "no temporary files",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("denoError: deno's error line and its causes, no progress lines, no backtrace", () => {
  const stderr =
    "Compile main.ts to x\nerror: Writing to 'x.tmp'\n\nCaused by:\n    0: Could not " +
    "find denort at '/d'\n    1: No such file or directory (os error 2)\n\nStack backtrace:\n" +
    "   0: <unknown>\n";
  assert.equal(
    denoError(stderr),
    "Writing to 'x.tmp': Could not find denort at '/d': No such file or directory (os error 2)",
  );
  assert.equal(
    denoError("Check main.ts\nerror: it failed\n\nStack backtrace:\n  0: x\n"),
    "it failed",
  );
  assert.equal(denoError("something odd\n"), "something odd");
});

Deno.test("the launcher is plain sh with every value filled in and execs deno with socklab's flags", async () => {
  const text = await launcher({ key: "k", jsSize: 1, jsSum: "1 1", denoSize: 2, denoSum: "2 2" });
  assert.deepEqual(
    text.match(/@[A-Z_]+@/g),
    ["@TOTAL@"],
    "all but the size, which selfUnpacking writes",
  );
  assert.match(
    text,
    new RegExp(
      `exec "\\$dir/deno" run --no-config ${DENO_FLAGS.join(" ")} "\\$dir/socklab.js" "\\$@"\n$`,
    ),
  );
  const r = await runProc(["/bin/sh", "-n", "-c", text.replace("@TOTAL@", "1")]);
  assert.equal(r.code, 0, r.stderr);
});

// The bundle's pieces (deno bundle --code-splitting) in one file: each made a module when first
// imported, static imports filled in, dynamic ones asked of the loader when they run.
Deno.test("oneFile joins split pieces into one module that loads each on demand", async () => {
  const chunks = {
    "main.js": 'import { a } from "./chunk-a.js";\nimport "./chunk-b.js";\n' +
      "if (import.meta.main) {\n" +
      '  const { lazy } = await import("./lazy-c.js");\n' +
      "  console.log(a, lazy(), globalThis.loadedB, import.meta.url.startsWith('file:'));\n}\n",
    "chunk-a.js": "export const a = 'a';\n",
    "chunk-b.js": "globalThis.loadedB = (globalThis.loadedB ?? 0) + 1;\n",
    "lazy-c.js": 'import { a } from "./chunk-a.js";\nexport const lazy = () => a + "c";\n',
  };
  const dir = await Deno.makeTempDir({ prefix: "socklab-onefile-" });
  try {
    const file = `${dir}/one.js`;
    await Deno.writeTextFile(file, oneFile(chunks, "main.js"));
    const deno = [Deno.execPath(), "run", "--no-config", "-A", file];
    // From files unpacked into the cache, then again from them; with no cache to write (no
    // SOCKLAB_CACHE, XDG_CACHE_HOME or HOME), from blob: modules.
    const env = { SOCKLAB_CACHE: `${dir}/cache`, XDG_CACHE_HOME: "", HOME: "" };
    for (const e of [env, env, { ...env, SOCKLAB_CACHE: "" }]) {
      const r = await runProc(deno, { env: e });
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "a ac 1 true\n");
    }
    const unpacked = [...Deno.readDirSync(`${dir}/cache`)].map((e) => e.name);
    assert.equal(unpacked.length, 1, unpacked.join(", "));
    const files = [...Deno.readDirSync(`${dir}/cache/${unpacked[0]}`)].map((e) => e.name).sort();
    assert.deepEqual(files, ["chunk-a.js", "chunk-b.js", "lazy-c.js", "main.js", "ok"]);
    assert.match(
      await Deno.readTextFile(`${dir}/cache/${unpacked[0]}/lazy-c.js`),
      /from "\.\/chunk-a\.js"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => oneFile({ "main.js": 'import "./gone.js";' }, "main.js"), /gone\.js/);
  assert.throws(() => oneFile({ "main.js": "f(import.meta.dirname);" }, "main.js"), /dirname/);
});
