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
