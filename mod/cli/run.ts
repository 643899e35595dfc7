/**
 * argv -> command -> exit code. Help, version, suggestions for unknown
 * commands (suggest.ts), and the one error path: an expected failure prints
 * `socklab <cmd>: error: <cause>` and no stack trace.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };
import type { Command } from "./command.ts";
import { errorMessage, RunError, UsageError } from "../errors.ts";
import { escapeControls } from "../escape.ts";
import { type Io, OutputClosed, OutputFailed } from "./io.ts";
import { COMMANDS, loadCommands } from "./table.ts";
import { closest, didYouMean } from "./suggest.ts";

// Start-up (issue 29): this module loads nothing that imports a node: module (each costs
// ~10 ms at every start). command.ts (node:util's parseArgs) comes with the chosen command's
// module; self.ts (node:url) only for the hidden engine command.

export const VERSION: string = config.version;

/** `socklab --version`. */
export function versionLine(): string {
  return `socklab ${VERSION} (deno ${Deno.version.deno})`;
}

/** `socklab --help`: every command (from {@link loadCommands}) with its summary. */
export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const rows = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary} [${c.part}]`);
  return [
    `socklab ${VERSION}: the TCP/IP socket-programming lab in one executable`,
    "",
    "Usage: socklab <command> [options] [arguments]",
    "       socklab help <command>     socklab <command> --help     socklab --version",
    "",
    "Commands (lab part in brackets):",
    ...rows,
    "",
    "stdout carries the data received, one message a line; logs go to stderr.",
    "Exit codes: 0 success, 1 run-time failure, 2 usage error.",
    "",
    "Examples:",
    "  socklab demo                              every part of the lab end to end",
    "  socklab pmu &  socklab pdc 127.0.0.1 5003 CMD_short:0",
    "  socklab grade part2 -- python3 PDC.py     score your own script",
    "",
  ].join("\n");
}

/** The command name closest to `name`, if any is reasonably close. */
export function closestCommand(name: string): string | undefined {
  return closest(name, COMMANDS.map((c) => c.name));
}

/** The command called `name`, loaded; undefined if there is none. */
export function findCommand(name: string): Promise<Command | undefined> {
  return COMMANDS.find((c) => c.name === name)?.load() ?? Promise.resolve(undefined);
}

function unknownCommand(io: Io, name: string): number {
  io.log(
    `socklab: error: unknown command '${escapeControls(name)}'${
      didYouMean(name, COMMANDS.map((c) => c.name))
    }`,
  );
  io.log("Run 'socklab --help' for the list of commands.");
  return 2;
}

/**
 * Run socklab with these arguments; returns the exit code. Output that cannot be written
 * ends the command: quietly with 0 if stdout's reader left (EPIPE, `| head`), with one line
 * and 1 on any other failure (`> /dev/full`).
 */
export async function runCli(argv: string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    if (e instanceof OutputClosed) return 0;
    if (e instanceof OutputFailed) {
      const known = COMMANDS.some((c) => c.name === argv[0]);
      io.log(`socklab${known ? ` ${argv[0]}` : ""}: error: ${escapeControls(e.message)}`);
      return 1;
    }
    throw e;
  }
}

/** Hidden: grade's isolated engine, started by gradeProgram inside a private namespace. */
async function runEngine(io: Io): Promise<number> {
  try {
    const { engineMain } = await import("../grade/engine.ts");
    await engineMain(io.log, io.out);
    return 0;
  } catch (e) {
    // On stdout, where the outer grade reads the outcome: it says it once, in its own error.
    io.out(JSON.stringify({ error: errorMessage(e) }));
    return 1;
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    // A usage error: the help goes to stderr, with the usage error's exit code.
    io.log(mainHelp(await loadCommands()).trimEnd());
    return 2;
  }
  if (first === "--help" || first === "-h") {
    io.write(mainHelp(await loadCommands()));
    return 0;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    io.out(versionLine());
    return 0;
  }
  if (first === "help") {
    if (rest.length === 0) {
      io.write(mainHelp(await loadCommands()));
      return 0;
    }
    const cmd = await findCommand(rest[0]);
    if (!cmd) return unknownCommand(io, rest[0]);
    const { commandHelp } = await import("./command.ts");
    io.write(commandHelp(cmd));
    return 0;
  }
  if (first.startsWith("-")) {
    const near = first.startsWith("--")
      ? didYouMean(first.slice(2), ["help", "version"], "--")
      : "";
    io.log(
      `socklab: error: unknown option '${escapeControls(first)}'${
        near || " (options go after the command)"
      }`,
    );
    io.log("Run 'socklab --help' for the list of commands.");
    return 2;
  }
  const cmd = await findCommand(first);
  if (!cmd) {
    const { ENGINE_COMMAND } = await import("../proc/self.ts");
    return first === ENGINE_COMMAND ? await runEngine(io) : unknownCommand(io, first);
  }
  const { commandHelp, parseCommandArgs } = await import("./command.ts");
  try {
    const args = parseCommandArgs(cmd, rest);
    if (args === null) {
      io.write(commandHelp(cmd));
      return 0;
    }
    return await cmd.run(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.log(`socklab ${cmd.name}: error: ${escapeControls(e.message)}`);
      io.log(`Run 'socklab ${cmd.name} --help' for usage.`);
      return 2;
    }
    if (e instanceof RunError) {
      io.log(`socklab ${cmd.name}: error: ${escapeControls(e.message)}`);
      return 1;
    }
    throw e;
  }
}
