/**
 * `socklab lab`: every course server at once on its lab port, for a
 * teaching assistant's lab VM. One status table on stderr; Ctrl-C stops all.
 *
 * @module
 */
import { defineCommand, numOpt, str } from "../command.ts";
import { errorMessage, RunError, UsageError } from "../../errors.ts";
import { FAIR_OPTIONS, parseMaxPerPeer } from "../fair.ts";
import { type EventLog, eventLog, LOG_OPTIONS } from "../log.ts";
import type { Server } from "../../net/server.ts";
import { runDemo } from "../../lab/demo.ts";
import { SERVICES } from "../../lab/services.ts";

function nameList(raw: string | undefined, what: string): string[] | undefined {
  if (raw === undefined) return undefined;
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!SERVICES.some((s) => s.name === n)) {
      throw new UsageError(
        `${what}: '${n}' is not a service (${SERVICES.map((s) => s.name).join(", ")})`,
      );
    }
  }
  return names;
}

export const lab = defineCommand({
  name: "lab",
  summary: "every course server at once, on the lab's ports",
  part: "all",
  positionals: [],
  options: {
    only: { type: "string", arg: "LIST", help: "start only these services (comma-separated)" },
    skip: { type: "string", arg: "LIST", help: "start all but these services (comma-separated)" },
    host: {
      type: "string",
      default: "0.0.0.0",
      arg: "HOST",
      help: "IPv4 address the servers listen on (0.0.0.0 and 127.0.0.1 bring their IPv6 twin)",
    },
    ttl: {
      type: "string",
      default: "1",
      arg: "N",
      help: "multicast TTL of the TV (0: receivers on this host only)",
    },
    "max-per-peer": FAIR_OPTIONS["max-per-peer"],
    ...LOG_OPTIONS,
  },
  description: `Services: ${SERVICES.map((s) => `${s.name} (${s.port})`).join(", ")}.
Prints one status table on stderr once every service is up; Ctrl-C stops them all.`,
  example: "socklab lab --skip hello",
  async run(args, io) {
    const only = nameList(str(args, "only"), "--only");
    const skip = nameList(str(args, "skip"), "--skip") ?? [];
    const host = str(args, "host");
    const ttl = numOpt(args, "ttl", { min: 0, max: 255, integer: true });
    const maxPerPeer = parseMaxPerPeer(args);
    const logs: EventLog[] = [];
    const chosen = SERVICES.filter((s) =>
      (!only || only.includes(s.name)) && !skip.includes(s.name)
    );
    if (chosen.length === 0) throw new UsageError("no service left to start");

    const started: [typeof chosen[number], Server][] = [];
    const stopAll = async () => {
      for (const [, srv] of [...started].reverse()) await srv.close().catch(() => {});
    };
    for (const svc of chosen) {
      try {
        // One bounded log per service: a flood on one does not hide the others.
        // Every line prefixed (pmu-udp logs a datagram's two lines in one entry).
        const events = eventLog(args, (l) => io.log(l.replace(/^/gm, `[${svc.name}] `)));
        logs.push(events);
        const srv = await svc.start({ host, ttl, maxPerPeer, log: events.log }, svc.port);
        started.push([svc, srv]);
      } catch (e) {
        await stopAll();
        const why = errorMessage(e).split(";")[0];
        throw new RunError(
          `${svc.name} (lab part ${svc.part}) cannot start: ${why}; ` +
            `free the port, or run without it: socklab lab --skip ${svc.name}`,
        );
      }
    }
    const rows = [
      ["service", "part", "protocol", "address"],
      ...started.map(([s, srv]) => [
        s.name,
        s.part,
        s.protocol,
        srv.address,
      ]),
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) io.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
    io.log(`lab ready: ${started.length} service(s); Ctrl-C stops them all`);
    const why = await Promise.race([
      io.stopped,
      ...started.map(([s, srv]) => srv.closed.then(() => `${s.name} stopped`)),
    ]);
    await stopAll();
    for (const events of logs) events.flush();
    io.log(
      `lab stopped (${why}): ${
        started.map(([s, srv]) => `${s.name}: ${srv.summary()}`).join("; ")
      }`,
    );
    return 0;
  },
});

export const demo = defineCommand({
  name: "demo",
  summary: "every part of the lab end to end on free loopback ports, with pass/fail",
  part: "all",
  positionals: [],
  options: {
    json: { type: "boolean", help: "print the results as one JSON document" },
  },
  description: `Runs each part in this one process with socklab's own servers and
clients, on free loopback ports (multicast with TTL 0: nothing leaves the
host). Prints a short transcript per part; exits 0 only if every part passed.`,
  example: "socklab demo",
  async run(args, io) {
    const json = args.values.json === true;
    const t0 = performance.now();
    const results = await runDemo(json ? io.log : io.out);
    const passed = results.filter((r) => r.passed).length;
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (json) io.out(JSON.stringify({ passed, total: results.length, results }));
    else io.out(`demo: ${passed}/${results.length} parts passed in ${secs} s`);
    return passed === results.length ? 0 : 1;
  },
});
