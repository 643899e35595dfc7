/**
 * `deno task bundle`: dist/socklab.js, one file with a shebang that runs every
 * subcommand under deno. `deno task compile`: dist/socklab, one executable
 * file that needs no deno, node or network. Both carry exactly the flags of
 * mod/cli/flags.ts.
 *
 * `deno compile` needs the denort runtime: it downloads it, or takes the file
 * named by DENORT_BIN. When it has it, dist/socklab is the real deno compile
 * output. Without it (offline, or `--no-download`), dist/socklab is a
 * self-unpacking build: scripts/selfextract.sh + the bundle + this deno
 * executable (a full deno ignores a compile payload, so it cannot stand in for
 * denort). The build says which of the two it wrote, why, and its size.
 *
 * Usage: deno run -A scripts/build.ts bundle|compile [--out PATH] [--no-download]
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { DENO_FLAGS, LAZY_IMPORTS } from "../mod/cli/flags.ts";
import config from "../deno.json" with { type: "json" };

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const VERSION: string = config.version;

/**
 * The first line of the bundle: runs it under deno with socklab's flags, reading no deno.json
 * (deno looks for one from the script's folder up), as selfArgv re-runs it.
 */
export function bundleShebang(): string {
  return `#!/usr/bin/env -S deno run --no-config ${DENO_FLAGS.join(" ")}`;
}

/**
 * The `deno compile` argv (without the deno executable): DENO_FLAGS but LAZY_IMPORTS, so that
 * the binary holds every command's modules (its own loading reads no files anyway).
 */
export function compileArgs(out: string): string[] {
  return [
    "compile",
    ...DENO_FLAGS.filter((f) => f !== LAZY_IMPORTS),
    "--config",
    ROOT + "deno.json",
    "--output",
    out,
    ROOT + "main.ts",
  ];
}

async function deno(args: string[], env: Record<string, string> = {}) {
  return await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env },
  }).output();
}

/**
 * Bundle main.ts into `out` (default dist/socklab.js), executable: one file that loads, like
 * the checkout, only the chosen command's code (issue 29). `deno bundle --code-splitting`
 * cuts the program where main.ts's command table imports dynamically; {@link oneFile} joins
 * the pieces again, each loaded on demand.
 */
export async function bundle(out = resolve(ROOT, "dist/socklab.js")): Promise<string> {
  await Deno.mkdir(dirname(out), { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: dirname(out), prefix: ".socklab-bundle-" });
  try {
    const r = await deno([
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--config",
      ROOT + "deno.json",
      "--code-splitting",
      "--outdir",
      tmp,
      ROOT + "main.ts",
    ]);
    if (!r.success) {
      throw new Error(`deno bundle failed: ${denoError(new TextDecoder().decode(r.stderr))}`);
    }
    const chunks: Record<string, string> = {};
    for await (const e of Deno.readDir(tmp)) {
      if (e.isFile && e.name.endsWith(".js")) {
        chunks[e.name] = await Deno.readTextFile(`${tmp}/${e.name}`);
      }
    }
    await Deno.writeTextFile(out, `${bundleShebang()}\n${oneFile(chunks, "main.js")}`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  await Deno.chmod(out, 0o755);
  return out;
}

/** What the pieces' imports of each other become in {@link oneFile}. */
const STATIC_IMPORT = /(\bfrom\s*|\bimport\s*)"\.\/([\w.-]+\.js)"/g;
const DYNAMIC_IMPORT = /\bimport\(\s*"\.\/([\w.-]+\.js)"\s*\)/g;

/**
 * One module made of the pieces of `deno bundle --code-splitting` (file name -> text; `entry`
 * is main.ts's), each loaded on demand. At its first start the bundle writes the pieces as
 * files into a folder of the socklab cache named by their SHA-256 (SOCKLAB_CACHE, else
 * $XDG_CACHE_HOME/socklab or ~/.cache/socklab, as the self-unpacking launcher), and every start
 * imports them from there: plain files, which deno reads only when imported and caches under a
 * name that stays the same. Where no such folder can be written, each piece becomes a module
 * from a blob: URL instead (a new URL at every start, which deno caches anew each time: ~0.3 MB
 * a start, so only as the fallback). A piece's static imports of others name them
 * (`"@chunk:NAME"`) and its dynamic ones ask the loader, both turned back into `./NAME` in the
 * files. The entry's `import.meta.main` is true: it is the program; every piece's
 * `import.meta.url` is the bundle's, as in a bundle of one piece (npm packages' createRequire
 * wants a file URL). Throws if a piece imports a file that is not among them or reads another
 * property of import.meta.
 */
export function oneFile(chunks: Record<string, string>, entry: string): string {
  const known = (name: string) => {
    if (!(name in chunks)) throw new Error(`the bundle imports ./${name}, which it did not write`);
    return name;
  };
  const pieces: Record<string, string> = {};
  for (const [name, text] of Object.entries(chunks)) {
    pieces[name] = text
      .replace(STATIC_IMPORT, (_, kw: string, dep: string) => `${kw}"@chunk:${known(dep)}"`)
      .replace(
        DYNAMIC_IMPORT,
        (_, dep: string) => `import(${LOADER}(${JSON.stringify(known(dep))}))`,
      )
      .replace(EAGER_REQUIRE, LAZY_REQUIRE)
      .replaceAll("import.meta.url", `${LOADER}.url`);
    const other = /import\.meta(?!\.main\b)\S{0,20}/.exec(pieces[name]);
    if (other) throw new Error(`${name} reads ${other[0]}: the bundle has no such property`);
  }
  const mains = pieces[known(entry)].split("import.meta.main").length - 1;
  if (mains !== 1) throw new Error(`${entry} reads import.meta.main ${mains} times, not once`);
  pieces[entry] = pieces[entry].replace("import.meta.main", "true");
  const text = JSON.stringify(pieces);
  const key = createHash("sha256").update(text).digest("hex").slice(0, 16);
  return [
    "// socklab, bundled (scripts/build.ts): the program's modules, each loaded when first used.",
    `const CHUNKS = ${text};`,
    startBundle.toString(),
    `await startBundle(CHUNKS, ${JSON.stringify(key)}, ${JSON.stringify(entry)}, import.meta.url);`,
    "",
  ].join("\n");
}

/**
 * The bundle's own start ({@link oneFile} writes this function's text into it): sets the
 * loader the pieces call, unpacks the pieces as files where it can, and imports the entry.
 * It runs in the bundle, so it uses nothing from outside its own body.
 */
async function startBundle(
  chunks: Record<string, string>,
  key: string,
  entry: string,
  bundleUrl: string,
): Promise<void> {
  const urls = new Map<string, string>();
  const chunk = Object.assign((name: string): string => {
    let url = urls.get(name);
    if (url === undefined) {
      const text = chunks[name].replace(/"@chunk:([\w.-]+)"/g, (_, d) => JSON.stringify(chunk(d)));
      url = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
      urls.set(name, url);
    }
    return url;
  }, { url: bundleUrl });
  (globalThis as Record<symbol, unknown>)[Symbol.for("socklab.chunk")] = chunk;
  const asFile = (text: string) =>
    text
      .replace(/"@chunk:([\w.-]+)"/g, (_, d) => JSON.stringify(`./${d}`))
      .replace(
        /import\(globalThis\[Symbol\.for\("socklab\.chunk"\)\]\("([\w.-]+)"\)\)/g,
        (_, d) => `import(${JSON.stringify(`./${d}`)})`,
      );
  const ours = async (path: string) => {
    try {
      return (await Deno.stat(path)).uid === Deno.uid();
    } catch {
      return false;
    }
  };
  const unpacked = async (): Promise<string | null> => {
    const [own, xdg, home] = ["SOCKLAB_CACHE", "XDG_CACHE_HOME", "HOME"].map((v) =>
      Deno.env.get(v)
    );
    const base = own ||
      (xdg?.startsWith("/")
        ? `${xdg}/socklab`
        : home?.startsWith("/")
        ? `${home}/.cache/socklab`
        : "");
    if (!base) return null;
    const dir = `${base}/bundle-${key}`;
    if ((await ours(dir)) && (await ours(`${dir}/ok`))) return dir;
    try {
      await Deno.mkdir(base, { recursive: true });
      const tmp = await Deno.makeTempDir({ dir: base, prefix: ".bundle-" });
      try {
        for (const [name, text] of Object.entries(chunks)) {
          await Deno.writeTextFile(`${tmp}/${name}`, asFile(text), { mode: 0o644 });
        }
        await Deno.writeTextFile(`${tmp}/ok`, key, { mode: 0o644 });
        await Deno.chmod(tmp, 0o755);
        await Deno.rename(tmp, dir);
      } catch {
        // Another start may have put the same folder there first: checked below.
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    } catch {
      return null;
    }
    return (await ours(dir)) && (await ours(`${dir}/ok`)) ? dir : null;
  };
  const dir = await unpacked();
  await import(dir === null ? chunk(entry) : new URL(`file://${dir}/${entry}`).href);
}

/**
 * esbuild's shared runtime piece makes `__require` (npm packages' require) at load, importing
 * node:module, which costs ~15 ms at every start; made on first call instead (only npm:ws's
 * piece calls it).
 */
const EAGER_REQUIRE =
  /import \{ createRequire as (__deno_internal_createRequire) \} from "node:module";\nvar __require = \1\(import\.meta\.url\);/;
const LAZY_REQUIRE = "var __require = (id) => (__require.made ??= " +
  'process.getBuiltinModule("node:module").createRequire(import.meta.url))(id);';

/** Where a piece's dynamic import finds the loader. */
const LOADER = 'globalThis[Symbol.for("socklab.chunk")]';

/** What `compile` wrote. */
export interface Built {
  path: string;
  kind: "deno compile" | "self-unpacking";
  /** Why this kind (one sentence). */
  why: string;
  bytes: number;
}

/** A download failure of denort, as deno compile reports it. */
const DOWNLOAD_FAILURE =
  /denort|download|dl\.deno\.land|error sending request|dns error|network|connect/i;

/**
 * `deno task compile`: dist/socklab, one executable file. With DENORT_BIN, or
 * when deno compile can download denort, it is the real deno compile output;
 * otherwise (or with `download: false` and no DENORT_BIN) the self-unpacking
 * build of {@link selfUnpacking}.
 */
export async function compile(
  out = resolve(ROOT, "dist/socklab"),
  opts: { download?: boolean } = {},
): Promise<Built> {
  await Deno.mkdir(dirname(out), { recursive: true });
  const denort = Deno.env.get("DENORT_BIN");
  if (denort === "") Deno.env.delete("DENORT_BIN"); // deno compile takes "" for a path
  if (!denort && opts.download === false) {
    return await selfUnpacking(out, "--no-download given and DENORT_BIN is not set");
  }
  // Into a fresh folder, then renamed over `out`: deno compile refuses to overwrite a file
  // that is not its own output (an earlier self-unpacking build).
  const parts = await Deno.makeTempDir({ dir: dirname(out), prefix: ".socklab-build-" });
  let r: Deno.CommandOutput;
  try {
    r = await deno(compileArgs(`${parts}/socklab`));
    if (r.success) await Deno.rename(`${parts}/socklab`, out);
  } finally {
    await Deno.remove(parts, { recursive: true });
  }
  const err = new TextDecoder().decode(r.stderr);
  if (r.success) {
    const why = denort
      ? `deno compile used DENORT_BIN=${denort}`
      : "deno compile got its denort runtime (downloaded or cached)";
    return { path: out, kind: "deno compile", why, bytes: (await Deno.stat(out)).size };
  }
  if (!denort && DOWNLOAD_FAILURE.test(err)) {
    // deno's chain of causes: the first that names the request, e.g. "error sending request for
    // url (https://dl.deno.land/...): ... dns error: ...".
    const causes = err.split("\n").map((l) => l.trim().replace(/^\d+: /, ""));
    const reason = causes.find((l) => /request|download|dns/i.test(l) && !/^Download /.test(l));
    return await selfUnpacking(
      out,
      `deno compile could not download its denort runtime (${reason ?? causes[0]})`,
    );
  }
  throw new Error(`deno compile failed: ${denoError(err)}`);
}

/**
 * deno's error output in one line: its `error:` line and the chain of causes after it,
 * without the progress lines before it (`Check`, `Compile`) or the `Stack backtrace:`
 * this deno adds at the end.
 */
export function denoError(stderr: string): string {
  const text = stderr.split(/\n\s*Stack backtrace:/)[0];
  const at = text.search(/^error: /m);
  if (at < 0) return text.trim().split("\n").filter(Boolean).at(-1) ?? "no message";
  const [head, causes = ""] = text.slice(at + "error: ".length).split(/\n\s*Caused by:\s*\n/);
  const chain = causes.split("\n").map((l) => l.trim().replace(/^\d+: /, "")).filter(Boolean);
  return [head.trim().split("\n")[0], ...chain].join(": ");
}

/** The commands the launcher runs besides /bin/sh's builtins (coreutils, also in busybox). */
export const LAUNCHER_TOOLS: readonly string[] = [
  "tail",
  "head",
  "cksum",
  "ls",
  "mkdir",
  "mv",
  "chmod",
  "rm",
  "id",
];

/** The launcher at the head of a self-unpacking build (scripts/selfextract.sh, filled in). */
export async function launcher(v: {
  key: string;
  jsSize: number;
  jsSum: string;
  denoSize: number;
  denoSum: string;
}): Promise<string> {
  const values: Record<string, string> = {
    VERSION,
    DENO_VERSION: Deno.version.deno,
    KEY: v.key,
    JS_SIZE: String(v.jsSize),
    JS_CKSUM: v.jsSum,
    DENO_SIZE: String(v.denoSize),
    DENO_CKSUM: v.denoSum,
    FLAGS: DENO_FLAGS.join(" "),
    TOOLS: LAUNCHER_TOOLS.join(" "),
  };
  const template = await Deno.readTextFile(ROOT + "scripts/selfextract.sh");
  // @TOTAL@, the file's size, is left for selfUnpacking to fill in.
  return template.replace(/@([A-Z_]+)@/g, (m, name: string) => values[name] ?? m);
}

/** `cksum < file` (POSIX CRC and size), as the launcher checks it. */
async function cksum(path: string): Promise<string> {
  const file = await Deno.open(path);
  const child = new Deno.Command("cksum", { stdin: "piped", stdout: "piped" }).spawn();
  await file.readable.pipeTo(child.stdin);
  const r = await child.output();
  if (!r.success) throw new Error(`cksum ${path} failed`);
  return new TextDecoder().decode(r.stdout).trim();
}

async function sha256(paths: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const path of paths) {
    for await (const chunk of (await Deno.open(path)).readable) hash.update(chunk);
  }
  return hash.digest("hex");
}

/**
 * The self-unpacking build: one file made of the launcher (a /bin/sh script),
 * the bundle, and this deno executable (the runtime of the npm package
 * `@deno/linux-x64-glibc` when deno came from `npx deno`). Its first start
 * unpacks the two into a per-user cache; every start execs deno on the bundle.
 */
export async function selfUnpacking(out: string, why: string): Promise<Built> {
  if (Deno.build.os === "windows") {
    throw new Error(`cannot build without denort on Windows: ${why}`);
  }
  const runtime = Deno.execPath();
  const parts = await Deno.makeTempDir({ dir: dirname(out), prefix: ".socklab-build-" });
  try {
    const js = await bundle(`${parts}/socklab.js`);
    const [jsSum, denoSum, hash] = await Promise.all([
      cksum(js),
      cksum(runtime),
      sha256([js, runtime]),
    ]);
    const jsSize = (await Deno.stat(js)).size;
    const denoSize = (await Deno.stat(runtime)).size;
    const template = await launcher({
      key: `${VERSION}-${hash.slice(0, 16)}`,
      jsSize,
      jsSum,
      denoSize,
      denoSum,
    });
    // The file's own size, written in a fixed width so that writing it changes no offset.
    const width = 12;
    const total = new TextEncoder().encode(template).length - "@TOTAL@".length + width + jsSize +
      denoSize;
    const head = template.replace("@TOTAL@", String(total).padEnd(width));
    const tmp = `${parts}/socklab`;
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o755 });
    try {
      await f.write(new TextEncoder().encode(head));
      for (const part of [js, runtime]) {
        for await (const chunk of (await Deno.open(part)).readable) {
          let off = 0;
          while (off < chunk.length) off += await f.write(chunk.subarray(off));
        }
      }
    } finally {
      f.close();
    }
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, out);
  } finally {
    await Deno.remove(parts, { recursive: true });
  }
  return {
    path: out,
    kind: "self-unpacking",
    why: `${why}; it holds the bundle and deno ${Deno.version.deno} (${runtime})`,
    bytes: (await Deno.stat(out)).size,
  };
}

/** The build's report: what was written, which kind, why, and its size. */
export function describe(b: Built): string {
  const mb = (b.bytes / 1e6).toFixed(1);
  const kind = b.kind === "deno compile"
    ? "deno compile output"
    : "self-unpacking build (not deno compile output: no denort runtime); " +
      "its first start unpacks it into ~/.cache/socklab/ (or $SOCKLAB_CACHE), " +
      "set DENORT_BIN=/path/to/denort for the real deno compile";
  return `wrote ${b.path} (${mb} MB, ${b.bytes} bytes): ${kind}\nwhy: ${b.why}`;
}

if (import.meta.main) {
  const [what, ...rest] = Deno.args;
  const outIdx = rest.indexOf("--out");
  const out = outIdx >= 0 ? resolve(rest[outIdx + 1]) : undefined;
  try {
    if (what === "bundle") console.log(`wrote ${await bundle(out)}`);
    else if (what === "compile") {
      console.log(describe(await compile(out, { download: !rest.includes("--no-download") })));
    } else {
      console.error(
        "usage: deno run -A scripts/build.ts bundle|compile [--out PATH] [--no-download]",
      );
      Deno.exit(2);
    }
  } catch (e) {
    console.error(`socklab ${what}: error: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
