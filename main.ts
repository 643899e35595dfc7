/**
 * socklab: the TCP/IP socket-programming lab in one executable.
 * argv -> command table -> exit code; nothing else.
 */
import { processIo } from "./mod/cli/io.ts";
import { runCli } from "./mod/cli/run.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, processIo()));
}
