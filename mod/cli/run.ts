/**
 * argv -> command -> exit code. Help, version, suggestions for unknown
 * commands (suggest.ts), and the one error path: an expected failure prints
 * `socklab <cmd>: error: <cause>` and no stack trace.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };
import { type Command, commandHelp, parseCommandArgs } from "./command.ts";
import { errorMessage, RunError, UsageError } from "../errors.ts";
import { escapeControls } from "../escape.ts";
import { type Io, OutputClosed, OutputFailed } from "./io.ts";
import { COMMANDS } from "./table.ts";
import { closest, didYouMean } from "./suggest.ts";
import { ENGINE_COMMAND, engineMain } from "../grade/engine.ts";

export const VERSION: string = config.version;

/** `socklab --version`. */
export function versionLine(): string {
  return `socklab ${VERSION} (deno ${Deno.version.deno})`;
}

/** `socklab --help`: every command with its summary. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const rows = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary} [${c.part}]`);
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

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
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
      io.log(
        `socklab${argv[0] && findCommand(argv[0]) ? ` ${argv[0]}` : ""}: error: ${
          escapeControls(e.message)
        }`,
      );
      return 1;
    }
    throw e;
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    // A usage error: the help goes to stderr, with the usage error's exit code.
    io.log(mainHelp().trimEnd());
    return 2;
  }
  if (first === "--help" || first === "-h") {
    io.write(mainHelp());
    return 0;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    io.out(versionLine());
    return 0;
  }
  if (first === "help") {
    if (rest.length === 0) {
      io.write(mainHelp());
      return 0;
    }
    const cmd = findCommand(rest[0]);
    if (!cmd) return unknownCommand(io, rest[0]);
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
  if (first === ENGINE_COMMAND) {
    // Hidden: grade's isolated engine, started by gradeProgram inside a private namespace.
    try {
      await engineMain(io.log, io.out);
      return 0;
    } catch (e) {
      // On stdout, where the outer grade reads the outcome: it says it once, in its own error.
      io.out(JSON.stringify({ error: errorMessage(e) }));
      return 1;
    }
  }
  const cmd = findCommand(first);
  if (!cmd) return unknownCommand(io, first);

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
