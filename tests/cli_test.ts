import assert from "node:assert/strict";
import {
  commandHelp,
  defineCommand,
  flag,
  given,
  parseCommandArgs,
  parseNumber,
  parsePort,
  str,
} from "../mod/cli/command.ts";
import { parsePmuServerOptions } from "../mod/cli/pmu.ts";
import { pmu } from "../mod/cli/commands/tcp.ts";
import { UsageError } from "../mod/errors.ts";
import { closestCommand } from "../mod/cli/run.ts";
import { closest, didYouMean, editDistance } from "../mod/cli/suggest.ts";
import { COMMANDS, loadCommands } from "../mod/cli/table.ts";
import { runSocklab } from "../scripts/lib/proc.ts";

const fake = defineCommand({
  name: "fake",
  summary: "a command for tests",
  part: "0",
  positionals: [
    { name: "server", help: "the server" },
    { name: "port", help: "the port" },
    { name: "extra", help: "optional", optional: true },
  ],
  options: {
    count: { type: "string", default: "3", arg: "N", help: "how many" },
    trace: { type: "boolean", help: "trace" },
  },
  example: "socklab fake a 1",
  run: () => Promise.resolve(0),
});

Deno.test("parser accepts GNU options in both forms and applies defaults", () => {
  const a = parseCommandArgs(fake, ["h", "--count=7", "5", "--trace"])!;
  assert.deepEqual(a.positionals, ["h", "5"]);
  assert.equal(a.values.count, "7");
  assert.equal(a.values.trace, true);
  const b = parseCommandArgs(fake, ["--count", "9", "h", "5", "x"])!;
  assert.equal(b.values.count, "9");
  assert.equal(parseCommandArgs(fake, ["h", "5"])!.values.count, "3");
});

Deno.test("parser keeps what was given apart from defaults; option values are typed", () => {
  const dflt = parseCommandArgs(fake, ["h", "5"])!;
  assert.equal(dflt.values.count, "3");
  assert.ok(!given(dflt, "count") && !given(dflt, "trace"));
  // Given explicitly, even with the default's value: given.
  const same = parseCommandArgs(fake, ["h", "5", "--count", "3", "--trace"])!;
  assert.ok(given(same, "count") && given(same, "trace"));
  assert.deepEqual([...same.given], ["count", "trace"]);
  // Typed from the table: a defaulted string option is a string, no `!` needed.
  const count: string = str(same, "count");
  assert.equal(count, "3");
  assert.equal(flag(same, "trace"), true);
  // @ts-expect-error: no such option (a misspelt name does not compile)
  assert.equal(str(same, "cuont"), undefined);
  // @ts-expect-error: trace is a boolean option, not a string one
  assert.equal(str(same, "trace"), undefined);
});

Deno.test("pmu: --flood-file with --flood-bytes is a usage error, even at the default's value", async () => {
  for (const bytes of ["57344", "100"]) {
    const args = parseCommandArgs(pmu, ["--flood-bytes", bytes, "--flood-file", "/x"])!;
    await assert.rejects(parsePmuServerOptions(args), {
      name: "UsageError",
      message: "--flood-file and --flood-bytes cannot be used together",
    });
  }
  // --flood-file alone is read (and fails here as a run-time error naming it).
  await assert.rejects(parsePmuServerOptions(parseCommandArgs(pmu, ["--flood-file", "/x"])!), {
    name: "RunError",
    message: /cannot read --flood-file \/x/,
  });
});

Deno.test("parser names the missing positional, the extra one and the unknown option", () => {
  assert.throws(() => parseCommandArgs(fake, ["h"]), {
    name: "UsageError",
    message: "missing <port>",
  });
  assert.throws(() => parseCommandArgs(fake, ["a", "b", "c", "d"]), /unexpected argument 'd'/);
  assert.throws(() => parseCommandArgs(fake, ["a", "b", "--nope"]), {
    message: "unknown option '--nope'",
  });
  assert.throws(() => parseCommandArgs(fake, ["a", "b", "--count"]), {
    message: "--count: missing <N>",
  });
  assert.throws(() => parseCommandArgs(fake, ["a", "b", "--count", "--trace"]), {
    message: "--count: missing <N> (a value that starts with '-': --count=-X)",
  });
  assert.throws(() => parseCommandArgs(fake, ["a", "b", "--trace=yes"]), {
    message: "--trace takes no value",
  });
});

Deno.test("parser returns null for -h and --help, and help lists every option with its default", () => {
  assert.equal(parseCommandArgs(fake, ["-h"]), null);
  assert.equal(parseCommandArgs(fake, ["--help"]), null);
  const help = commandHelp(fake);
  assert.match(help, /Usage: socklab fake \[options\] <server> <port> \[extra\]/);
  assert.match(help, /--count <N>\s+how many \(default: 3\)/);
  assert.match(help, /--trace\s+trace/);
  assert.match(help, /Example:\n {2}socklab fake a 1/);
});

Deno.test("port and number parsers reject bad values and name them", () => {
  assert.equal(parsePort("5003", "--port"), 5003);
  assert.equal(parsePort("0", "--port"), 0);
  assert.throws(() => parsePort("abc", "--port"), /--port: 'abc' is not a port number/);
  assert.throws(() => parsePort("70000", "--port"), /--port: 70000 is out of range/);
  assert.throws(() => parsePort("0", "<port>", false), /out of range \(1-65535\)/);
  // One range in every message: a client's port is 1-65535 whichever check fails.
  assert.throws(() => parsePort("abc", "<port>", false), {
    message: "<port>: 'abc' is not a port number (1-65535)",
  });
  assert.throws(() => parsePort("abc", "--port"), { message: /\(0-65535\)$/ });
  assert.throws(() => parsePort("-1", "--port"), UsageError);
  assert.equal(parseNumber("0.05", "--interval", { min: 0 }), 0.05);
  assert.throws(() => parseNumber("1e3x", "--interval"), /not a number/);
  assert.throws(() => parseNumber("2.5", "--count", { integer: true }), /not an integer/);
});

Deno.test("every command has a summary, a part, an example starting with its name, and help", async () => {
  const names = new Set<string>();
  const loaded = await loadCommands();
  loaded.forEach((c, i) =>
    assert.equal(c.name, COMMANDS[i].name, "the table's name is the command's")
  );
  for (const c of loaded) {
    assert.ok(!names.has(c.name), `duplicate command ${c.name}`);
    names.add(c.name);
    assert.ok(c.summary.length > 5 && c.part.length > 0, c.name);
    assert.ok(c.example.startsWith(`socklab ${c.name}`), `${c.name} example: ${c.example}`);
    for (const [opt, spec] of Object.entries(c.options)) {
      assert.ok(spec.help.length > 3, `${c.name} --${opt} has no help`);
    }
  }
});

Deno.test("closestCommand suggests near names and nothing for far ones", () => {
  assert.equal(closestCommand("echo-clent"), "echo-client");
  assert.equal(closestCommand("socket"), "sockets");
  assert.equal(closestCommand("zzzzzzzzzzzz"), undefined);
  // Two letters swapped are one step (pmu is two substitutions away).
  assert.equal(closestCommand("pcd"), "pdc");
  assert.equal(closestCommand("wspdc"), "ws-pdc");
});

Deno.test("editDistance counts a swap of neighbours as one step; closest uses it", () => {
  assert.equal(editDistance("pcd", "pdc"), 1);
  assert.equal(editDistance("pcd", "pmu"), 2);
  assert.equal(editDistance("verison", "version"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("ca", "abc"), 3, "optimal string alignment: no edit of a swapped pair");
  assert.equal(closest("cont", ["count", "trace"]), "count");
  assert.equal(closest("xyzzy", ["count", "trace"]), undefined);
  assert.equal(didYouMean("cuont", Object.keys(fake.options), "--"), "; did you mean '--count'?");
  assert.throws(() => parseCommandArgs(fake, ["a", "b", "--cuont", "4"]), {
    message: "unknown option '--cuont'; did you mean '--count'?",
  });
});

Deno.test("socklab --help, help <cmd>, <cmd> --help and --version exit 0", async () => {
  const main = await runSocklab(["--help"]);
  assert.equal(main.code, 0);
  for (const c of COMMANDS) assert.match(main.stdout, new RegExp(`^  ${c.name} `, "m"));
  const viaHelp = await runSocklab(["help", "echo-client"]);
  const viaFlag = await runSocklab(["echo-client", "--help"]);
  assert.equal(viaHelp.code, 0);
  assert.equal(viaFlag.code, 0);
  assert.equal(viaHelp.stdout, viaFlag.stdout);
  assert.match(viaHelp.stdout, /--port <PORT>\s+server TCP port \(default: 5002\)/);
  const v = await runSocklab(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^socklab \d+\.\d+\.\d+ \(deno /);
});

Deno.test("an unknown command exits 2 and suggests the closest name", async () => {
  const r = await runSocklab(["echo-clent"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /socklab: error: unknown command 'echo-clent'; did you mean 'echo-client'\?/,
  );
  const swapped = await runSocklab(["pcd"]);
  assert.equal(swapped.code, 2);
  assert.match(swapped.stderr, /^socklab: error: unknown command 'pcd'; did you mean 'pdc'\?\n/);
  const top = await runSocklab(["--verison"]);
  assert.equal(top.code, 2);
  assert.match(
    top.stderr,
    /^socklab: error: unknown option '--verison'; did you mean '--version'\?/,
  );
  const nosuch = await runSocklab(["nosuch"]);
  assert.equal(nosuch.code, 2);
  assert.match(nosuch.stderr, /unknown command 'nosuch'/);
  assert.doesNotMatch(nosuch.stderr, /at .*\.ts:\d+/);
});

Deno.test("bad option values exit 2 with one line naming the value", async () => {
  for (
    const [args, msg] of [
      [["echo-client", "--port", "abc"], /--port: 'abc' is not a port number/],
      [["echo-server", "--port=70000"], /--port: 70000 is out of range/],
      [["sockets", "extra"], /unexpected argument 'extra'/],
      [["sockets", "--proto", "sctp"], /--proto: 'sctp' is not one of tcp, udp/],
      [["hello-send", "--bogus"], /unknown option '--bogus'$/],
      [["pmu", "--cont", "3"], /unknown option '--cont'; did you mean '--count'\?$/],
      [["pmu", "--verison"], /unknown option '--verison'; did you mean 'socklab --version'\?$/],
      [["pmu", "--port", "-5"], /--port: '-5' is not a port number \(0-65535\)$/],
      [["pmu", "--count", "-1"], /--count: -1 is out of range/],
      [["pmu", "--idle-timeout"], /--idle-timeout: missing <SECONDS>$/],
    ] as [string[], RegExp][]
  ) {
    const r = await runSocklab(args);
    assert.equal(r.code, 2, args.join(" "));
    const first = r.stderr.split("\n")[0];
    assert.match(first, new RegExp(`^socklab ${args[0]}: error: `));
    assert.match(first, msg);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  }
});
