/**
 * What a subcommand is, how its arguments are parsed and how its help is
 * written. Every command is a {@link Command}: the table in `table.ts` lists
 * them, `main.ts` dispatches to them. Parsing uses `node:util` parseArgs (the
 * role `@std/cli` would play; JSR is out of reach here), in this file only.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Io } from "./io.ts";
import { UsageError } from "../errors.ts";

/** One option of a command, for the parser and for the help text. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Default value; shown in the help text. */
  default?: string | boolean;
  /** Name of the value in the help text, e.g. `N`, `FILE`. */
  arg?: string;
  help: string;
  /** May be given several times (values collected in an array). */
  multiple?: boolean;
}

export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
}

/** Arguments after parsing: raw option values, positionals, and what followed `--`. */
export interface Args {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything after a `--` (only for commands with `rest`). */
  rest: string[];
}

export interface Command {
  name: string;
  /** One line, shown in `socklab --help`. */
  summary: string;
  /** The lab part it belongs to, e.g. `1.2`, `2 server`. */
  part: string;
  positionals: PositionalSpec[];
  options: Record<string, OptionSpec>;
  /** Name of the arguments after `--`, e.g. `program...`; absent: `--` is not accepted. */
  rest?: string;
  /** Extra paragraphs for the help text. */
  description?: string;
  example: string;
  run(args: Args, io: Io): Promise<number>;
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", help: "show this help" };

/** Parse argv for one command. Throws {@link UsageError}. Returns null if help was asked. */
export function parseCommandArgs(cmd: Command, argv: string[]): Args | null {
  const options: Record<string, OptionSpec> = { ...cmd.options, help: HELP_OPTION };
  const parserOptions: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [name, spec] of Object.entries(options)) {
    parserOptions[name] = { type: spec.type };
    if (spec.short) parserOptions[name].short = spec.short;
    if (spec.multiple) parserOptions[name].multiple = true;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: negativeValues(argv, options),
      options: parserOptions,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    throw new UsageError(parseErrorMessage(e));
  }
  if (parsed.values.help) return null;

  const terminator = parsed.tokens.find((t) => t.kind === "option-terminator");
  let positionals = parsed.positionals;
  let rest: string[] = [];
  if (terminator) {
    const before = parsed.tokens.filter((t) =>
      t.kind === "positional" && t.index < terminator.index
    )
      .length;
    rest = positionals.slice(before);
    positionals = positionals.slice(0, before);
    if (!cmd.rest && rest.length > 0) positionals = positionals.concat(rest);
    if (!cmd.rest) rest = [];
  }
  if (cmd.rest && rest.length === 0) {
    throw new UsageError(`missing <${cmd.rest}> after --`);
  }

  const required = cmd.positionals.filter((p) => !p.optional).length;
  if (positionals.length < required) {
    throw new UsageError(`missing <${cmd.positionals[positionals.length].name}>`);
  }
  if (positionals.length > cmd.positionals.length) {
    const extra = positionals[cmd.positionals.length];
    throw new UsageError(`unexpected argument '${extra}'`);
  }

  const values: Args["values"] = {};
  for (const [name, spec] of Object.entries(cmd.options)) {
    const v = parsed.values[name] as string | boolean | string[] | undefined;
    values[name] = v ?? spec.default;
  }
  return { values, positionals, rest };
}

/**
 * `--port -5` as `--port=-5`: parseArgs takes a value that starts with a dash for an option
 * ("ambiguous"); a negative number after an option that takes a value is that value, so the
 * option's own check names what is wrong with it, in one line.
 */
function negativeValues(argv: string[], options: Record<string, OptionSpec>): string[] {
  const takesValue = (arg: string) => {
    const long = arg.match(/^--([^=]+)$/);
    if (long) return options[long[1]]?.type === "string";
    const short = arg.match(/^-([^-])$/);
    return !!short &&
      Object.values(options).some((o) => o.short === short[1] && o.type === "string");
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") return out.concat(argv.slice(i));
    if (takesValue(argv[i]) && /^-[\d.]/.test(argv[i + 1] ?? "")) {
      out.push(`${argv[i]}=${argv[i + 1]}`.replace(/^-([^-])=/, "-$1"));
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

function parseErrorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // parseArgs messages carry advice for JavaScript callers on more lines; keep the first.
  return msg.split(/\n|\. (?:To specify|Did you forget)/)[0].replace(/\.$/, "");
}

/** The full help text of a command. */
export function commandHelp(cmd: Command): string {
  const pos = cmd.positionals.map((p) => (p.optional ? `[${p.name}]` : `<${p.name}>`));
  const rest = cmd.rest ? [`-- <${cmd.rest}>`] : [];
  const lines = [
    `socklab ${cmd.name}: ${cmd.summary} (lab part ${cmd.part})`,
    "",
    `Usage: socklab ${cmd.name} [options]${pos.length ? " " + pos.join(" ") : ""}${
      rest.length ? " " + rest.join(" ") : ""
    }`,
  ];
  if (cmd.description) lines.push("", ...cmd.description.trim().split("\n"));
  if (cmd.positionals.length) {
    lines.push("", "Arguments:");
    const width = Math.max(...cmd.positionals.map((p) => p.name.length + 2));
    for (const p of cmd.positionals) {
      lines.push(`  ${`<${p.name}>`.padEnd(width)}  ${p.help}`);
    }
  }
  lines.push("", "Options:");
  const opts = Object.entries({ ...cmd.options, help: HELP_OPTION });
  const labels = opts.map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    const arg = spec.type === "string" ? ` <${spec.arg ?? "VALUE"}>` : "";
    return `${short}--${name}${arg}`;
  });
  const width = Math.max(...labels.map((l) => l.length));
  opts.forEach(([_, spec], i) => {
    let help = spec.help;
    if (spec.type === "string" && spec.default !== undefined) help += ` (default: ${spec.default})`;
    if (spec.multiple) help += " (repeatable)";
    lines.push(`  ${labels[i].padEnd(width)}  ${help}`);
  });
  lines.push("", "Example:", `  ${cmd.example}`);
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------
// Typed access to option and positional values. Each names the bad value.

/** A string option's value (after defaults). */
export function str(args: Args, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

/** A boolean option's value. */
export function flag(args: Args, name: string): boolean {
  return args.values[name] === true;
}

/** Parse a port number 0..65535 (0 = pick a free port where allowed). */
export function parsePort(raw: string, what: string, allowZero = true): number {
  if (!/^\d+$/.test(raw.trim())) {
    throw new UsageError(`${what}: '${raw}' is not a port number (0-65535)`);
  }
  const n = Number(raw);
  if (n > 65535 || (!allowZero && n === 0)) {
    throw new UsageError(`${what}: ${raw} is out of range (${allowZero ? 0 : 1}-65535)`);
  }
  return n;
}

/** Parse a number within bounds (decimals allowed unless `integer`). */
export function parseNumber(
  raw: string,
  what: string,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const re = opts.integer ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)$/;
  if (!re.test(raw.trim())) {
    throw new UsageError(`${what}: '${raw}' is not ${opts.integer ? "an integer" : "a number"}`);
  }
  const n = Number(raw);
  if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    throw new UsageError(
      `${what}: ${raw} is out of range (${opts.min ?? "-inf"}-${opts.max ?? "inf"})`,
    );
  }
  return n;
}

/** A string option that must be one of `choices`. */
export function parseChoice<T extends string>(raw: string, what: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`${what}: '${raw}' is not one of ${choices.join(", ")}`);
  }
  return raw as T;
}

/** The `--port`-style option `name` parsed as a port. */
export function portOpt(args: Args, name = "port", allowZero = true): number {
  return parsePort(str(args, name) ?? "", `--${name}`, allowZero);
}

/** The option `name` parsed as a number. */
export function numOpt(
  args: Args,
  name: string,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number {
  return parseNumber(str(args, name) ?? "", `--${name}`, opts);
}
