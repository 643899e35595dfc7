/**
 * `deno task rush`: the deadline hour (issue 19). Plays a course's last hour
 * (compressed into `--window` seconds) against the service in each shape
 * (scripts/rush/shapes.ts), through the real HTTP API, and reports per
 * shape: submissions accepted, results (must equal accepted: nothing lost,
 * nothing twice), drain time, queue wait p50/p95/p99, end-to-end p50/p99,
 * jobs per minute, CPU-seconds per job, peak RSS of serve and the workers.
 * Writes bench/RUSH.md (the machine, the table, the paper estimate for a
 * course of 1,000 students) unless --no-write; --json prints the figures.
 *
 * Usage: deno task rush [--students 300] [--window 180] [--shapes LIST]
 *          [--seed N] [--restart-after 60] [--time-limit S] [--lease S] [--isolation auto]
 *          [--drain-timeout 900] [--out FILE] [--no-write] [--json]
 *        deno task rush --render bench/RUSH.json   (the text again from a run's figures)
 *
 * Exit 1 if any shape lost or duplicated a submission. Speed is reported,
 * never asserted. Every process, namespace and cluster it makes, it removes.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { isolationProblem } from "../mod/proc/sandbox.ts";
import { loadAverage } from "./bench/env.ts";
import { ROOT } from "./lib/proc.ts";
import { figures, processesMarked, readJobs, type ShapeFigures } from "./rush/measure.ts";
import { planRush } from "./rush/plan.ts";
import { busyJobs, play, readBack, signIdentity, waitDrained } from "./rush/player.ts";
import { HOSTILE_MARK, makeIdentity } from "./rush/programs.ts";
import { type RushInfo, rushMarkdown, type ShapeReport } from "./rush/report.ts";
import { shapeSpec, startShape } from "./rush/shapes.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ALL_SHAPES = ["sqlite-1", "sqlite-2", "sqlite-4", "pg", "pg-kill"];

/** The shape running now: Ctrl-C tears it down (processes, namespaces, cluster) before exiting. */
let current: AsyncDisposable | undefined;
/** And removes this (the students' key and request). */
let idDir: string | undefined;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      students: { type: "string", default: "300" },
      window: { type: "string", default: "180" },
      shapes: { type: "string", default: ALL_SHAPES.join(",") },
      seed: { type: "string", default: "19" },
      "restart-after": { type: "string", default: "60" },
      "time-limit": { type: "string" },
      lease: { type: "string", default: "30" },
      isolation: { type: "string", default: "auto" },
      "drain-timeout": { type: "string", default: "900" },
      out: { type: "string", default: resolve(ROOT, "bench/RUSH.md") },
      "no-write": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      render: { type: "string" },
    },
  });
  if (values.render) {
    // Write the Markdown again from a run's figures (after a change to the report's text).
    const info = JSON.parse(await Deno.readTextFile(values.render)) as RushInfo;
    await Deno.writeTextFile(values.out, await rushMarkdown(info));
    console.error(`written ${values.out} from ${values.render}`);
    return 0;
  }
  const log = (line: string) => console.error(line);
  const int = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new RangeError(`rush: --${name} must be a number in ${min}..${max}, not '${v}'`);
    }
    return n;
  };
  const students = int("students", values.students, 1, 5000);
  const windowS = int("window", values.window, 1, 3600);
  const seed = int("seed", values.seed, 0, 2 ** 31);
  const restartS = int("restart-after", values["restart-after"], 0, 3600);
  const leaseS = int("lease", values.lease, 0.5, 3600);
  const drainS = int("drain-timeout", values["drain-timeout"], 1, 7200);
  const shapes = values.shapes.split(",").map((s) => s.trim()).filter((s) => s);
  const windowMs = windowS * 1000;
  // The course's 30 s cooldown, compressed like the hour.
  const cooldown = Math.max(0.1, 30 * windowS / 3600);
  const policyArgs = ["--cooldown", cooldown.toFixed(2)];
  if (values["time-limit"]) {
    policyArgs.push("--time-limit", String(int("time-limit", values["time-limit"], 0.5, 600)));
  }

  if (!["required", "auto", "off"].includes(values.isolation)) {
    throw new RangeError(`rush: --isolation must be required, auto or off`);
  }
  const isolationMissing = await isolationProblem();
  const isolated = values.isolation !== "off" && isolationMissing === null;
  const plan = planRush({ students, windowMs, seed });
  const loadBefore = loadAverage();
  log(
    `rush: ${students} students, ${plan.length} planned submissions over ${windowS} s ` +
      `(one hour compressed ${(3600 / windowS).toFixed(0)}x); shapes ${shapes.join(", ")}; ` +
      `load ${loadBefore}`,
  );
  idDir = await Deno.makeTempDir({ prefix: "socklab-rush-id-" });
  const reports: ShapeReport[] = [];
  const started = Date.now();
  try {
    const identity = await makeIdentity(idDir);
    for (const name of shapes) {
      const spec = shapeSpec(name, windowMs, restartS * 1000);
      log(`shape ${name}:`);
      await using shape = await startShape(
        spec,
        students,
        [...policyArgs],
        leaseS,
        values.isolation,
        log,
      );
      current = shape;
      identity.cert = await signIdentity(shape.base, shape.students[0], identity, 120_000);
      const cpu0 = shape.cpu();
      const load0 = loadAverage();
      const t0 = performance.now();
      const at = () => `${Math.round((performance.now() - t0) / 1000)} s`;
      let killedJobs: number[] = [];
      // pg-kill: at the middle of the window, once machine-1 is grading, the machine dies
      // (SIGKILL: the worker and its programs); a minute later it starts again.
      const chaos = spec.killAtMs === undefined ? Promise.resolve() : (async () => {
        await sleep(spec.killAtMs!);
        killedJobs = await busyJobs(shape.base, shape.taToken, "machine-1", 15_000);
        log(`  ${at()}: SIGKILL worker machine-1 (grading job(s) ${killedJobs.join(", ")})`);
        await shape.kill(0);
        await sleep(spec.restartMs ?? 60_000);
        log(`  ${at()}: starting machine-1 again`);
        await shape.restart(0);
      })().catch((e) => log(`  kill/restart failed: ${e instanceof Error ? e.message : e}`));
      const outcome = await play({
        base: shape.base,
        students: shape.students,
        plan,
        identity,
        windowMs,
        giveUpAfterMs: drainS * 1000,
        log,
      });
      log(`  all submitted at ${(outcome.submitMs / 1000).toFixed(0)} s; draining`);
      await chaos; // the killed machine is back before the queue can drain
      const drained = await waitDrained(shape.base, shape.taToken, drainS * 1000);
      const cpu1 = shape.cpu();
      const api = await readBack(
        shape.base,
        outcome.accepted,
        new Map(shape.students.map((s) => [s.id, s.token])),
      );
      const rss = shape.peakRss();
      const rows = await readJobs(shape.db);
      const f: ShapeFigures = figures(new Set(outcome.accepted.map((a) => a.id)), rows);
      const hostileLeft = processesMarked(HOSTILE_MARK);
      for (const pid of hostileLeft) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      const done = f.results;
      const report: ShapeReport = {
        name,
        spec,
        figures: f,
        drained,
        refused: Object.fromEntries(outcome.refused),
        gaveUp: outcome.gaveUp,
        errors: outcome.errors.length,
        retries429: outcome.accepted.reduce((a, x) => a + x.retries, 0),
        cpuPerJob: done ? (cpu1.serve - cpu0.serve + cpu1.workers - cpu0.workers) / done : NaN,
        dbCpuPerJob: done ? (cpu1.db - cpu0.db) / done : NaN,
        rssServeMiB: rss.serve,
        rssWorkerMiB: rss.worker,
        hostileLeft: hostileLeft.length,
        killedJobs,
        cpuBy: shape.cpuBy,
        api: { done: api.done, failed: api.failed, other: api.other.length },
        load: `${load0} -> ${loadAverage()}`,
      };
      reports.push(report);
      log(
        `  ${name}: accepted ${f.accepted}, results ${f.results}, lost ${f.lost}, ` +
          `duplicated ${f.duplicated}, failed ${f.failed}, drain ${f.drainS.toFixed(0)} s, ` +
          `wait p50/p99 ${f.waitP50.toFixed(1)}/${f.waitP99.toFixed(1)} s, ` +
          `${report.cpuPerJob.toFixed(2)} CPU-s/job`,
      );
      for (const e of outcome.errors.slice(0, 5)) log(`  error: ${e}`);
      for (const e of api.other.slice(0, 5)) log(`  read back: ${e}`);
    }
  } finally {
    await Deno.remove(idDir, { recursive: true }).catch(() => {});
    idDir = undefined;
  }
  const info: RushInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    students,
    windowS,
    seed,
    planned: plan.length,
    cooldown,
    timeLimit: values["time-limit"] ?? null,
    leaseS,
    restartS,
    isolation: isolated
      ? "on (each job in its own sandbox)"
      : `off (${values.isolation === "off" ? "--isolation off" : isolationMissing})`,
    loadBefore,
    loadAfter: loadAverage(),
    wallS: (Date.now() - started) / 1000,
    reports,
  };
  if (values.json) console.log(JSON.stringify(info));
  if (!values["no-write"]) {
    const json = values.out.replace(/\.md$/, "") + ".json";
    await Deno.writeTextFile(json, JSON.stringify(info, null, 2) + "\n");
    await Deno.writeTextFile(values.out, await rushMarkdown(info));
    log(`written ${values.out} and ${json} (the figures: --render ${json} writes the text again)`);
  }
  const bad = reports.filter((r) =>
    r.figures.lost || r.figures.duplicated || !r.drained || r.errors || r.api.other
  );
  for (const r of bad) {
    log(
      `rush: ${r.name}: lost ${r.figures.lost}, duplicated ${r.figures.duplicated}, ` +
        `drained ${r.drained}, errors ${r.errors}, API not done ${r.api.other}`,
    );
  }
  return bad.length ? 1 : 0;
}

if (import.meta.main) {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, async () => {
      console.error(`rush: ${sig}: stopping the shape`);
      await current?.[Symbol.asyncDispose]();
      if (idDir) await Deno.remove(idDir, { recursive: true }).catch(() => {});
      Deno.exit(130);
    });
  }
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(
      e instanceof RangeError ? e.message : `rush: ${e instanceof Error ? e.stack : e}`,
    );
    Deno.exit(e instanceof RangeError ? 2 : 1);
  }
}
