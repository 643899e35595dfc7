/**
 * `deno task bundle`: dist/socklab.js, one file with a shebang that runs every
 * subcommand under deno. `deno task compile`: dist/socklab, a self-contained
 * binary. Both carry exactly the flags of mod/cli/flags.ts.
 *
 * `deno compile` needs the denort runtime: it downloads it, or takes the file
 * named by DENORT_BIN. Offline and without DENORT_BIN it cannot work; this
 * script then says so in one line and points at `bundle`.
 *
 * Usage: deno run -A scripts/build.ts bundle|compile [--out PATH]
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DENO_FLAGS } from "../mod/cli/flags.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The first line of the bundle: runs it under deno with socklab's flags. */
export function bundleShebang(): string {
  return `#!/usr/bin/env -S deno run ${DENO_FLAGS.join(" ")}`;
}

/** The `deno compile` argv (without the deno executable). */
export function compileArgs(out: string): string[] {
  return [
    "compile",
    ...DENO_FLAGS,
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
    env: { DENO_NO_UPDATE_CHECK: "1", ...env },
  }).output();
}

/** Bundle main.ts into `out` (default dist/socklab.js), executable. */
export async function bundle(out = resolve(ROOT, "dist/socklab.js")): Promise<string> {
  await Deno.mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.tmp.js`;
  const r = await deno([
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--config",
    ROOT + "deno.json",
    "--output",
    tmp,
    ROOT + "main.ts",
  ]);
  if (!r.success) {
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(r.stderr)}`);
  }
  const body = await Deno.readTextFile(tmp);
  await Deno.remove(tmp);
  await Deno.writeTextFile(out, `${bundleShebang()}\n${body.replace(/^#!.*\n/, "")}`);
  await Deno.chmod(out, 0o755);
  return out;
}

/** Compile main.ts into a binary. Throws with a one-line reason on failure. */
export async function compile(out = resolve(ROOT, "dist/socklab")): Promise<string> {
  await Deno.mkdir(dirname(out), { recursive: true });
  const r = await deno(compileArgs(out));
  if (!r.success) {
    const err = new TextDecoder().decode(r.stderr);
    if (/denort|download|dl\.deno\.land|error sending request|dns error|network/i.test(err)) {
      throw new Error(
        "cannot download the denort runtime deno compile needs (offline?): " +
          "set DENORT_BIN=/path/to/denort (the denort of deno " + Deno.version.deno +
          "), or run `deno task bundle` for dist/socklab.js, which runs under deno",
      );
    }
    throw new Error(`deno compile failed:\n${err}`);
  }
  return out;
}

if (import.meta.main) {
  const [what, ...rest] = Deno.args;
  const outIdx = rest.indexOf("--out");
  const out = outIdx >= 0 ? resolve(rest[outIdx + 1]) : undefined;
  try {
    if (what === "bundle") console.log(`wrote ${await bundle(out)}`);
    else if (what === "compile") console.log(`wrote ${await compile(out)}`);
    else {
      console.error("usage: deno run -A scripts/build.ts bundle|compile [--out PATH]");
      Deno.exit(2);
    }
  } catch (e) {
    console.error(`socklab ${what}: error: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
