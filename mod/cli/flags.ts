/**
 * The Deno flags socklab runs with and how it starts itself again: defined in
 * mod/proc/self.ts (below the scoring engine, which re-executes socklab in a
 * private namespace), re-exported here for the CLI, the build and the tests.
 *
 * @module
 */
export { DENO_FLAGS, denoArgv, LAZY_IMPORTS, selfArgv, type SelfRun } from "../proc/self.ts";
