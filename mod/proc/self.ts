/**
 * How socklab runs itself: its Deno flags and the argv of its own executable.
 *
 * @module
 */

/**
 * The one list of Deno flags socklab runs with: `deno task compile` bakes them
 * into the binary, `deno task bundle` writes them into the bundle's shebang,
 * and the tests start the CLI with them. Change them here and only here.
 *
 * - `--unstable-net`: UDP and multicast (Deno.listenDatagram);
 * - `--allow-all`: socklab needs net, read, write, env and run (openssl for
 *   `ca`, the student's program for `grade`); an unrestricted --allow-run
 *   already grants everything, and Deno reads /proc/net/* (for `sockets`)
 *   only with --allow-all, so finer flags would protect nothing.
 * - `--no-prompt`: never stop to ask at run time.
 */
export const DENO_FLAGS: readonly string[] = ["--unstable-net", "--allow-all", "--no-prompt"];

/**
 * The argv that runs this very socklab with `args` (how `grade` re-executes
 * itself inside a private network namespace). One place for the three ways
 * socklab runs:
 * - from a checkout (`deno run ... main.ts`, or any module of it imported by
 *   a test or the service): `deno run <DENO_FLAGS> --config deno.json main.ts`;
 * - the bundle (`dist/socklab.js`, run by deno): `deno run <DENO_FLAGS> <bundle>`;
 * - a compiled binary (Deno.execPath() is not deno itself): `<binary>`.
 */
export function selfArgv(args: string[]): string[] {
  const exe = Deno.execPath();
  if (!/^deno(\.exe)?$/.test(exe.slice(exe.lastIndexOf("/") + 1))) return [exe, ...args];
  const here = new URL(import.meta.url);
  if (here.protocol === "file:" && here.pathname.endsWith("/mod/proc/self.ts")) {
    const root = new URL("../../", here).pathname;
    return [exe, "run", ...DENO_FLAGS, "--config", root + "deno.json", root + "main.ts", ...args];
  }
  return [exe, "run", ...DENO_FLAGS, new URL(Deno.mainModule).pathname, ...args];
}
