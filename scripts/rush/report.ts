/**
 * bench/RUSH.md: the machine, how the rush was played, the table of every
 * shape against the course's "grading might take up to 5 min", and the
 * estimate on paper for a course of 1,000 students from the measured
 * CPU-seconds per job.
 *
 * @module
 */
import { fmtNum } from "../bench/stats.ts";
import { markdownTable } from "../lib/markdown.ts";
import { pgBinDir } from "../lib/pg_cluster.ts";
import type { ShapeFigures } from "./measure.ts";
import type { ShapeSpec } from "./shapes.ts";

export interface ShapeReport {
  name: string;
  spec: ShapeSpec;
  figures: ShapeFigures;
  drained: boolean;
  refused: Record<string, number>;
  gaveUp: number;
  errors: number;
  retries429: number;
  /** CPU-seconds of serve and workers (with the graded programs they reaped) per result. */
  cpuPerJob: number;
  /** CPU-seconds of PostgreSQL per result (0 on SQLite: inside serve). */
  dbCpuPerJob: number;
  rssServeMiB: number;
  rssWorkerMiB: number;
  hostileLeft: number;
  /** Every accepted submission read back through the API after the drain. */
  api: { done: number; failed: number; other: number };
  load: string;
}

export interface RushInfo {
  students: number;
  windowS: number;
  seed: number;
  planned: number;
  cooldown: number;
  timeLimit: string | null;
  leaseS: number;
  restartS: number;
  /** Whether the graded programs ran isolated, and why not. */
  isolation: string;
  loadBefore: string;
  loadAfter: string;
  wallS: number;
  reports: ShapeReport[];
}

/** The course's promise to students: "grading might take up to 5 min". */
export const ANCHOR_S = 300;

/** Mean submissions per student of the plan (1..4 with weights 30/35/20/15). */
export const MEAN_PER_STUDENT = (1 * 30 + 2 * 35 + 3 * 20 + 4 * 15) / 100;
/** Peak over mean arrival rate of the rising density 1 + 3x: 4 / 2.5. */
export const PEAK_OVER_MEAN = 4 / 2.5;

/**
 * Worker machines of `cores` cores a course of `students` needs in its last
 * hour so that the queue stays short (p99 wait well under a minute): the
 * peak arrival rate times the CPU-seconds per job, over the cores kept at
 * most `utilisation` busy.
 */
export function machinesFor(
  students: number,
  cpuPerJob: number,
  cores: number,
  utilisation = 0.7,
): { perHour: number; peakPerS: number; machines: number } {
  const perHour = students * MEAN_PER_STUDENT;
  const peakPerS = (perHour / 3600) * PEAK_OVER_MEAN;
  const machines = Math.max(1, Math.ceil((peakPerS * cpuPerJob) / (cores * utilisation)));
  return { perHour, peakPerS, machines };
}

/**
 * Slots one machine needs to keep its cores `utilisation` busy when a job
 * holds its slot `serviceS` seconds for `cpuPerJob` CPU-seconds.
 */
export function slotsFor(cores: number, serviceS: number, cpuPerJob: number, utilisation = 0.7) {
  return Math.max(1, Math.ceil((cores * utilisation * serviceS) / cpuPerJob));
}

async function text(cmd: string, args: string[]): Promise<string> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return (new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr)).trim();
  } catch {
    return "absent";
  }
}

async function machine(): Promise<string[]> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const os = await Deno.readTextFile("/etc/os-release").catch(() => "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const mem = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? NaN) / 2 ** 20;
  let pg = "PostgreSQL absent";
  try {
    pg = await text(`${pgBinDir()}/postgres`, ["--version"]);
  } catch { /* absent */ }
  return [
    `- CPU: ${navigator.hardwareConcurrency} cores, ${model}; memory ${mem.toFixed(1)} GiB`,
    `- OS: ${/^PRETTY_NAME="?([^"\n]+)"?/m.exec(os)?.[1] ?? "unknown"}, kernel ` +
    `${Deno.osRelease()} ${Deno.build.arch}`,
    `- Deno ${Deno.version.deno}; ${pg}; python3 for the graded programs: ` +
    `${await text("python3", ["--version"])}`,
    `- Shared: this machine runs other engineers' work at the same time; the load average is ` +
    `given for each shape (before -> after).`,
  ];
}

function describe(s: ShapeSpec): string {
  if (s.machines === 0) return `serve on SQLite, ${s.serveWorkers} in-process slot(s)`;
  const base = `serve on PostgreSQL (grades ca-sign only) + ${s.machines} worker machines ` +
    `x ${s.slots} slots (netns + veth)`;
  return s.killAtMs === undefined
    ? base
    : `${base}; machine-1 SIGKILLed at ${(s.killAtMs / 1000).toFixed(0)} s, back ` +
      `${((s.restartMs ?? 0) / 1000).toFixed(0)} s later`;
}

const s1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");

/** The whole of bench/RUSH.md. */
export async function rushMarkdown(r: RushInfo): Promise<string> {
  const head = [
    "shape",
    "accepted",
    "results",
    "lost",
    "twice",
    "failed",
    "re-run",
    "drain s",
    "wait p50 s",
    "wait p95 s",
    "wait p99 s",
    "e2e p50 s",
    "e2e p99 s",
    "grading mean s",
    "jobs/min",
    "CPU-s/job",
    "DB CPU-s/job",
    "serve RSS MiB",
    "worker RSS MiB",
  ];
  const rows = r.reports.map((x) => {
    const f = x.figures;
    return [
      x.name,
      f.accepted,
      f.results,
      f.lost,
      f.duplicated,
      f.failed,
      f.rerun,
      fmtNum(f.drainS),
      s1(f.waitP50),
      s1(f.waitP95),
      s1(f.waitP99),
      s1(f.e2eP50),
      s1(f.e2eP99),
      s1(f.serviceMean),
      fmtNum(f.jobsPerMin),
      x.cpuPerJob.toFixed(2),
      x.spec.machines ? x.dbCpuPerJob.toFixed(3) : "(in serve)",
      fmtNum(x.rssServeMiB),
      x.spec.machines ? fmtNum(x.rssWorkerMiB) : "-",
    ].map(String);
  });
  const table = markdownTable(head, rows);
  const cpu = r.reports.map((x) => x.cpuPerJob).filter(Number.isFinite);
  const cpuMax = cpu.length ? Math.max(...cpu) : NaN;
  const dbCpu = Math.max(0, ...r.reports.map((x) => x.dbCpuPerJob).filter(Number.isFinite));
  const cores = navigator.hardwareConcurrency;
  const est = machinesFor(1000, cpuMax, cores);
  const service = Math.max(...r.reports.map((x) => x.figures.serviceMean).filter(Number.isFinite));
  const slots = slotsFor(cores, service, cpuMax);
  const anchorMet = r.reports.map((x) =>
    `${x.name}: e2e p99 ${s1(x.figures.e2eP99)} s ${
      x.figures.e2eP99 <= ANCHOR_S ? "within" : "OVER"
    } the 5 min`
  );
  return [
    "# The deadline hour (`deno task rush`)",
    "",
    `Written by \`deno task rush\` (scripts/rush.ts) on ${new Date().toISOString()}. The`,
    'course\'s own system told students **"grading might take up to 5 min"**: that is the',
    "anchor for the waits below.",
    "",
    "## Machine",
    "",
    ...await machine(),
    `- Load average before the run: ${r.loadBefore}; after: ${r.loadAfter}; wall clock of the ` +
    `whole run: ${fmtNum(r.wallS)} s.`,
    "",
    "## The rush",
    "",
    `${r.students} students, ${r.planned} planned submissions (1 to 4 each), across all parts,`,
    "mostly good scripts (the fixtures of tests/fixtures/students), 17% broken, 3% hostile",
    "(endless output; a fork bomb, bounded at 60 processes on this shared machine; a daemon),",
    `through the real HTTP API. The hour is compressed into ${r.windowS} s ` +
    `(${fmtNum(3600 / r.windowS)}x), with the rate`,
    "rising toward the deadline (four times as many per second at the end as at the start).",
    `The course's 30 s cooldown is compressed the same way (${r.cooldown.toFixed(2)} s); a`,
    "submission refused for now (one already running for that part, or the cooldown) is sent",
    "again after Retry-After, as a student would. The grading time limit is " +
    (r.timeLimit
      ? `${r.timeLimit} s a run (the course's default is 20 s)`
      : "the course's 20 s a run") +
    ",",
    "not compressed: the compressed rush is a much denser load than a real hour. Leases " +
    `${r.leaseS} s. Seed ${r.seed}. Isolation of the graded programs: ${r.isolation}.`,
    "",
    "Every figure comes from the database's job rows after the queue drained: wait = leased",
    "(the last time) - queued; end-to-end = finished - queued; drain = first accepted to last",
    "finished. CPU-s/job: serve and the worker processes with the graded programs they reaped,",
    "over the results; DB CPU-s/job: PostgreSQL's server processes. RSS: the peak (VmHWM).",
    "",
    ...r.reports.map((x) => `- **${x.name}**: ${describe(x.spec)}; load ${x.load}`),
    "",
    table,
    "",
    "lost = accepted with no result and not failed; twice = more than one job or result for one",
    "submission; failed = the grader gave up after 4 tries (not the student's fault); re-run = a",
    "job that ran more than once (a lost lease).",
    "",
    ...r.reports.flatMap((x) => {
      const extra: string[] = [];
      const refused = Object.entries(x.refused).map(([k, v]) => `${v} x ${k}`).join("; ");
      if (refused) extra.push(`- ${x.name}: refused at upload (not queued): ${refused}`);
      if (x.gaveUp) {
        extra.push(`- ${x.name}: ${x.gaveUp} still refused (429) when the player gave up`);
      }
      if (x.errors) extra.push(`- ${x.name}: ${x.errors} HTTP errors`);
      if (!x.drained) extra.push(`- ${x.name}: the queue did NOT drain in time`);
      extra.push(
        `- ${x.name}: read back through the API: ${x.api.done} done with a score, ` +
          `${x.api.failed} failed, ${x.api.other} neither; ${x.retries429} submissions sent again after a 429; ` +
          `${x.hostileLeft} hostile processes left running after the shape (stopped by the rush)`,
      );
      return extra;
    }),
    "",
    "## Against the anchor",
    "",
    ...anchorMet.map((l) => `- ${l}`),
    "",
    "## A course of 1,000 students, on paper",
    "",
    `With the plan's mix, 1,000 students make about ${fmtNum(est.perHour)} submissions in the last`,
    `hour; at the deadline the rate is ${PEAK_OVER_MEAN}x the hour's mean: ` +
    `${est.peakPerS.toFixed(2)} jobs/s.`,
    `Grading costs at most ${
      cpuMax.toFixed(2)
    } CPU-seconds per job here (the largest of the shapes,`,
    `graded programs included), so the peak needs ${
      (est.peakPerS * cpuMax).toFixed(2)
    } cores busy.`,
    `Keeping a ${navigator.hardwareConcurrency}-core worker machine at most 70% busy (so that the`,
    "queue does not grow and a job waits for a free slot, not for a backlog: p99 wait under a",
    `minute), that is **${est.machines} worker machine(s) of this size**. A job holds its slot`,
    `${service.toFixed(1)} s on average (the longest mean of the shapes) for ${
      cpuMax.toFixed(2)
    } ` +
    "CPU-s: the programs mostly wait",
    `on the network and their time limits, so each machine needs about ${slots} slots ` +
    `(\`socklab worker --slots ${slots}\`) to keep`,
    "its cores that busy; fewer slots, and the slots, not the cores, are the limit (the sqlite-1",
    "and sqlite-2 rows). PostgreSQL is not the limit: " +
    `${dbCpu.toFixed(3)} CPU-s per job.`,
    "Hostile programs cost wall time (a slot held up to the time limit of each run), not CPU; a",
    "course expecting many should add slots, not machines. Part 5 jobs run one at a time per",
    "process (the lab's fixed port 5003): at 10% of the submissions and a few seconds each, that is",
    "far from a limit at this size.",
    "",
  ].join("\n");
}
