/**
 * How socklab runs itself: its Deno flags and the argv that starts this same
 * socklab again (`grade` re-executes itself inside a private namespace). Below
 * the scoring engine in the layers; mod/cli/flags.ts re-exports it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

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
 * - {@link LAZY_IMPORTS}: a dynamic import is read when it runs. Without it Deno reads every
 *   module the command table's imports can reach (~130 files) before the first one runs,
 *   ~5 ms of every start (issue 29, measured: `--version` 21.5 -> 16.1 ms, an empty script's
 *   16.2). Deno's own flag; it changes only when a module is read, not what runs.
 */
export const DENO_FLAGS: readonly string[] = [
  "--unstable-net",
  "--allow-all",
  "--no-prompt",
  "--unstable-lazy-dynamic-imports",
];

/**
 * The flag of {@link DENO_FLAGS} that defers dynamic imports. `deno compile` goes without
 * it: its graph must hold every module a run may import (a compile without type checking
 * would leave them out with it).
 */
export const LAZY_IMPORTS = "--unstable-lazy-dynamic-imports";

/**
 * The hidden command that runs one isolated grading job (mod/grade/engine.ts): here, below
 * both, so that the CLI knows the name without loading the engine at every start.
 */
export const ENGINE_COMMAND = "grade-engine";

/** How this socklab runs: from the deno compile output, or deno running a module. */
export interface SelfRun {
  execPath: string;
  mainModule: string;
  standalone: boolean;
}

/**
 * This process's {@link SelfRun}. From a checkout, the main module is the
 * checkout's main.ts whatever started the process (a test, the service, a
 * script importing mod/): this module's own place says where it is.
 */
export function thisRun(): SelfRun {
  const here = new URL(import.meta.url);
  const fromCheckout = here.protocol === "file:" && here.pathname.endsWith("/mod/proc/self.ts");
  return {
    execPath: Deno.execPath(),
    mainModule: fromCheckout ? new URL("../../main.ts", here).href : Deno.mainModule,
    standalone: Deno.build.standalone ?? false,
  };
}

/**
 * The one builder of socklab's `deno run` argv: `deno run <DENO_FLAGS> --config <config>
 * <script> ...args`, or with `config` null `deno run --no-config <DENO_FLAGS> <script> ...args`
 * (a bundle: no deno.json is read). {@link selfArgv} and scripts/lib/proc.ts use it.
 */
export function denoArgv(
  script: string,
  args: readonly string[],
  config: string | null,
  execPath: string = Deno.execPath(),
): string[] {
  return config === null
    ? [execPath, "run", "--no-config", ...DENO_FLAGS, script, ...args]
    : [execPath, "run", ...DENO_FLAGS, "--config", config, script, ...args];
}

/**
 * The argv that starts this same socklab again with `args` (e.g. grade
 * running its engine inside a sandbox), however it runs:
 * - `deno compile` output: the executable itself;
 * - from a checkout (`main.ts`): deno run with these flags and its deno.json;
 * - the bundle (dist/socklab.js, or the copy the self-unpacking dist/socklab
 *   unpacks into its cache): deno run `--no-config` with these flags, so that a
 *   deno.json above it is not read (deno looks for one from the script's folder up).
 * A sandbox must make `execPath` and the main module's file readable (for the
 * self-unpacking build, both are in one folder: `dirname(execPath)`).
 */
export function selfArgv(args: string[], self: SelfRun = thisRun()): string[] {
  if (self.standalone) return [self.execPath, ...args];
  const main = fileURLToPath(self.mainModule);
  const config = main.endsWith("/main.ts")
    ? fileURLToPath(new URL("deno.json", self.mainModule))
    : null;
  return denoArgv(main, args, config, self.execPath);
}
