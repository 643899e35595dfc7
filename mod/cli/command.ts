/**
 * What a subcommand is, how its arguments are parsed and how its help is
 * written. Every command is a {@link Command} made with {@link defineCommand}
 * (which types `args` from the option table: `str(args, "host")` is a
 * `string` when `--host` has a default, a misspelt name does not compile):
 * the table in `table.ts` lists them, `main.ts` dispatches to them. Parsing
 * uses `node:util` parseArgs (the role `@std/cli` would play; JSR is out of
 * reach here), in this file only.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Io } from "./io.ts";
import { errorMessage, UsageError } from "../errors.ts";
import { didYouMean } from "./suggest.ts";
import { escapeControls } from "../escape.ts";

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

/** A command's option table: option name (without `--`) to its spec. */
export type Options = Record<string, OptionSpec>;

/** An option value of an untyped option table. */
type RawValue = string | boolean | string[] | undefined;

/** The value of one option after defaults, from its spec. */
type OptionValue<S extends OptionSpec> = S extends { type: "boolean" } ? boolean | undefined
  : S extends { multiple: true } ? string[] | undefined
  : S extends { default: string } ? string
  : string | undefined;

/** Every option's value after defaults, typed from the table (raw for an untyped table). */
export type OptionValues<O extends Options> = string extends keyof O ? Record<string, RawValue>
  : { [K in keyof O]: OptionValue<O[K]> };

/** Arguments after parsing: option values, positionals, and what followed `--`. */
export interface Args<O extends Options = Options> {
  /** Option values, defaults filled in. */
  values: OptionValues<O>;
  /** The options given on the command line (an option left at its default is not given). */
  given: ReadonlySet<string>;
  positionals: string[];
  /** Everything after a `--` (only for commands with `rest`). */
  rest: string[];
}

export interface Command<O extends Options = Options> {
  name: string;
  /** One line, shown in `socklab --help`. */
  summary: string;
  /** The lab part it belongs to, e.g. `1.2`, `2 server`. */
  part: string;
  positionals: PositionalSpec[];
  options: O;
  /** Name of the arguments after `--`, e.g. `program...`; absent: `--` is not accepted. */
  rest?: string;
  /** Extra paragraphs for the help text. */
  description?: string;
  example: string;
  run(args: Args<O>, io: Io): Promise<number>;
}

/** A command, its `run` getting `args` typed from its option table. */
export function defineCommand<O extends Options>(cmd: Command<O>): Command<O> {
  return cmd;
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", help: "show this help" };

/** Parse argv for one command. Throws {@link UsageError}. Returns null if help was asked. */
export function parseCommandArgs<O extends Options>(
  cmd: Command<O>,
  argv: string[],
): Args<O> | null {
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
    throw new UsageError(parseErrorMessage(e, options));
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

  const values: Record<string, RawValue> = {};
  const given = new Set<string>();
  for (const [name, spec] of Object.entries(cmd.options)) {
    const v = parsed.values[name] as RawValue;
    if (v !== undefined) given.add(name);
    values[name] = v ?? spec.default;
  }
  return { values: values as OptionValues<O>, given, positionals, rest };
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

/**
 * parseArgs's error in socklab's words (its messages carry advice for JavaScript callers):
 * `unknown option '--cont'; did you mean '--count'?`, `--count: missing <N>`,
 * `--trace takes no value`.
 */
function parseErrorMessage(e: unknown, options: Record<string, OptionSpec>): string {
  const msg = errorMessage(e);
  const unknown = msg.match(/^Unknown option '([^']*)'/);
  if (unknown) {
    const typed = unknown[1].startsWith("--") ? unknown[1].slice(2) : "";
    // `--version` belongs to socklab itself, not to a command.
    const near = typed && (didYouMean(typed, Object.keys(options), "--") ||
      didYouMean(typed, ["version"], "socklab --"));
    return `unknown option '${escapeControls(unknown[1])}'${near}`;
  }
  const short = msg.match(/^Option '-(\w)'/)?.[1];
  const name = msg.match(/--([\w-]+)/)?.[1] ??
    Object.keys(options).find((n) => short !== undefined && options[n].short === short);
  if (name !== undefined && options[name]) {
    if (/does not take an argument/.test(msg)) return `--${name} takes no value`;
    const missing = `--${name}: missing <${options[name].arg ?? "VALUE"}>`;
    if (/argument missing/.test(msg)) return missing;
    if (/ambiguous/.test(msg)) return `${missing} (a value that starts with '-': --${name}=-X)`;
  }
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

/** The names of the options of `O` whose spec extends `S` (any name for an untyped table). */
type OptionName<O extends Options, S> = string extends keyof O ? string
  : { [K in keyof O & string]: O[K] extends S ? K : never }[keyof O & string];

/** The names of the string options of `O`. */
type StringOption<O extends Options> = OptionName<O, { type: "string" }>;

/** What {@link str} returns: a string when the option has a default. */
type StrValue<O extends Options, K extends keyof O> = string extends keyof O ? string | undefined
  : O[K] extends { default: string } ? string
  : string | undefined;

/** A string option's value (after defaults). */
export function str<O extends Options, K extends StringOption<O>>(
  args: Args<O>,
  name: K,
): StrValue<O, K> {
  const v = (args.values as Record<string, RawValue>)[name];
  return (typeof v === "string" ? v : undefined) as StrValue<O, K>;
}

/** A boolean option's value. */
export function flag<O extends Options>(
  args: Args<O>,
  name: OptionName<O, { type: "boolean" }>,
): boolean {
  return (args.values as Record<string, RawValue>)[name] === true;
}

/** Was option `name` given on the command line (not left at its default)? */
export function given<O extends Options>(args: Args<O>, name: keyof O & string): boolean {
  return args.given.has(name);
}

/** Parse a port number 0..65535 (0 = pick a free port where allowed). */
export function parsePort(raw: string, what: string, allowZero = true): number {
  // One wording of the range, whichever check fails: 0 only where it picks a free port.
  const range = `${allowZero ? 0 : 1}-65535`;
  if (!/^\d+$/.test(raw.trim())) {
    throw new UsageError(`${what}: '${raw}' is not a port number (${range})`);
  }
  const n = Number(raw);
  if (n > 65535 || (!allowZero && n === 0)) {
    throw new UsageError(`${what}: ${raw} is out of range (${range})`);
  }
  return n;
}

/** What a number option accepts: the bounds (included) and whether decimals are allowed. */
export interface NumberRange {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** Parse a number within bounds (decimals allowed unless `integer`). */
export function parseNumber(raw: string, what: string, opts: NumberRange = {}): number {
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
export function portOpt<O extends Options>(
  args: Args<O>,
  name: StringOption<O> = "port" as StringOption<O>,
  allowZero = true,
): number {
  return parsePort(str(args, name) ?? "", `--${name}`, allowZero);
}

/** The option `name` parsed as a number. */
export function numOpt<O extends Options>(
  args: Args<O>,
  name: StringOption<O>,
  opts: NumberRange = {},
): number {
  return parseNumber(str(args, name) ?? "", `--${name}`, opts);
}

/**
 * The option `name` parsed as a number, or undefined when it has no value (an option
 * without a default, not given): `optionalNum(args, "workers", ...) ?? cores`.
 */
export function optionalNum<O extends Options>(
  args: Args<O>,
  name: StringOption<O>,
  opts: NumberRange = {},
): number | undefined {
  return str(args, name) === undefined ? undefined : numOpt(args, name, opts);
}
