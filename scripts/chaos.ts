/**
 * `deno task chaos`: a bounded storm of hostile peers against every socklab
 * server, alongside well-behaved clients, and a table of what happened.
 * Loopback only; the multicast receiver's storm runs in a private network
 * namespace (this script runs itself there with --in-netns). Exit 0 when
 * every invariant holds: every good exchange correct, the server alive and
 * error-free, its descriptors back to the baseline.
 *
 *   deno task chaos [--only NAME[,NAME]] [--reduced] [--json] [--seed N] [--doc FILE]
 *
 * `--doc RELIABILITY.md` also writes the tables of the run into that file,
 * between its `<!-- chaos:begin -->` and `<!-- chaos:end -->` lines.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { stormsInNetns } from "./chaos/netns.ts";
import {
  kindTable,
  runStorm,
  type StormResult,
  type StormSpec,
  summaryTable,
  violations,
} from "./chaos/storm.ts";
import {
  echoStorm,
  FULL,
  pmuAtLimitStorm,
  pmuEmfileStorm,
  pmuFairStorm,
  pmuStorm,
  pmuUdpStorm,
  receiverStorm,
  REDUCED,
  securePmuStalledStorm,
  securePmuStorm,
  wsPmuFairStorm,
  wsPmuStorm,
} from "./chaos/targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    reduced: { type: "boolean" },
    json: { type: "boolean" },
    seed: { type: "string", default: "1" },
    "in-netns": { type: "boolean" },
    doc: { type: "string" },
  },
});

const scale = values.reduced ? REDUCED : FULL;
const seed = Number(values.seed);
const all: StormSpec[] = [
  echoStorm(scale, seed),
  pmuStorm(scale, seed),
  pmuAtLimitStorm(scale, seed),
  securePmuStorm(scale, seed),
  wsPmuStorm(scale, seed),
  pmuUdpStorm(scale, seed),
  receiverStorm(scale, seed),
  pmuFairStorm(scale, seed),
  wsPmuFairStorm(scale, seed),
  securePmuStalledStorm(scale, seed),
  pmuEmfileStorm(scale, seed),
];
const only = values.only?.split(",");
const specs = only ? all.filter((s) => only.includes(s.name)) : all;
if (only && specs.length !== only.length) {
  console.error(`chaos: unknown server in --only (known: ${all.map((s) => s.name).join(", ")})`);
  Deno.exit(2);
}

const log = (l: string) => console.error(l);
const results: StormResult[] = [];
for (const spec of specs) {
  if (spec.netns && !values["in-netns"]) {
    log(`chaos: storming ${spec.name} inside a private network namespace`);
    results.push(...await stormsInNetns([spec.name], { reduced: !!values.reduced, seed }));
    continue;
  }
  log(`chaos: storming ${spec.name} (${spec.kinds.reduce((n, k) => n + k.count, 0)} peer runs)`);
  results.push(await runStorm({ ...spec, log }));
}

const bad = results.flatMap(violations);
const report = [
  summaryTable(results),
  "",
  kindTable(results),
  ...bad.map((v) => `\nVIOLATION: ${v}`),
].join("\n");
if (values.json) {
  console.log(JSON.stringify({ results, violations: bad }, null, 2));
} else {
  console.log(report);
}
if (values.doc) {
  const doc = await Deno.readTextFile(values.doc);
  const m = /(<!-- chaos:begin -->\n)[^]*?(<!-- chaos:end -->)/.exec(doc);
  if (!m) {
    console.error(`chaos: ${values.doc} has no <!-- chaos:begin --> ... <!-- chaos:end --> lines`);
    Deno.exit(2);
  }
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const args = Deno.args.filter((a, i) => !a.startsWith("--doc") && Deno.args[i - 1] !== "--doc")
    .join(" ");
  const block = `${m[1]}\nRun of ${when} UTC, \`deno task chaos${args ? " " + args : ""}\`, ` +
    `seed ${seed}, ${Deno.build.os}, Deno ${Deno.version.deno}:\n\n${report}\n\n${m[2]}`;
  await Deno.writeTextFile(values.doc, doc.replace(m[0], block));
  console.error(`chaos: tables written to ${values.doc}`);
}
Deno.exit(bad.length ? 1 : 0);
