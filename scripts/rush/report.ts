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
  /** The jobs the killed machine was grading (pg-kill). */
  killedJobs: number[];
  /** How CPU was counted: "cgroup" (everything), or a fallback. */
  cpuBy: string;
  /** Every accepted submission read back through the API after the drain. */
  api: { done: number; failed: number; other: number };
  load: string;
}

export interface RushInfo {
  /** When the run ended (ISO). */
  date: string;
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

/** The estimate for a course on paper (pure). */
export interface Estimate {
  /** Submissions in the last hour, and the rate at the deadline (jobs/s). */
  perHour: number;
  peakPerS: number;
  /** Slots busy at the deadline (Little's law: rate x grading time), and slots to keep them 70% busy. */
  busySlots: number;
  slots: number;
  /** Cores busy at the deadline, and machines of `cores` cores to keep them 70% busy. */
  busyCores: number;
  machines: number;
}

/**
 * What a course of `students` needs in its last hour, from the measured
 * grading time (s a job holds its slot) and CPU-seconds per job, keeping
 * slots and cores at most `utilisation` busy (then a job rarely waits, and
 * not for long: p99 wait well under a minute).
 */
export function estimate(
  students: number,
  gradingS: number,
  cpuPerJob: number,
  cores: number,
  utilisation = 0.7,
): Estimate {
  const perHour = students * MEAN_PER_STUDENT;
  const peakPerS = (perHour / 3600) * PEAK_OVER_MEAN;
  const busySlots = peakPerS * gradingS;
  const busyCores = peakPerS * cpuPerJob;
  return {
    perHour,
    peakPerS,
    busySlots,
    slots: Math.max(1, Math.ceil(busySlots / utilisation)),
    busyCores,
    machines: Math.max(1, Math.ceil(busyCores / (cores * utilisation))),
  };
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
    `- Deno ${Deno.version.deno}; ${pg}; the graded programs' python3: ` +
    `${await text("/usr/bin/python3", ["--version"])} (/usr/bin/python3, what isolated jobs ` +
    `run; python3 on PATH: ${await text("python3", ["--version"])})`,
    `- Shared: this machine runs other engineers' work at the same time; the load average is ` +
    `given for each shape (before -> after).`,
  ];
}

function describe(x: ShapeReport): string {
  const s = x.spec;
  if (s.machines === 0) return `serve on SQLite, ${s.serveWorkers} in-process slot(s)`;
  const base = `serve on PostgreSQL (grades ca-sign only) + ${s.machines} worker machines ` +
    `x ${s.slots} slots (netns + veth)`;
  return s.killAtMs === undefined
    ? base
    : `${base}; machine-1 SIGKILLed from ${(s.killAtMs / 1000).toFixed(0)} s as soon as it ` +
      `graded (job(s) ${x.killedJobs?.join(", ") || "none"}), back ` +
      `${((s.restartMs ?? 0) / 1000).toFixed(0)} s later`;
}

const s1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");

/** The measured shapes with as many slots as the estimate asks for, against the rush's rate. */
function measuredAgainst(r: RushInfo, est: Estimate): string[] {
  const rushPeak = (r.planned / r.windowS) * PEAK_OVER_MEAN;
  const enough = r.reports.filter((x) =>
    x.spec.killAtMs === undefined &&
    (x.spec.machines ? x.spec.machines * x.spec.slots : x.spec.serveWorkers) >= est.slots
  );
  if (!enough.length) return [];
  return [
    `- Measured: with that many slots (${enough.map((x) => x.name).join(", ")}), this rush, ` +
    `arriving at ${(rushPeak / est.peakPerS).toFixed(1)}x`,
    `  a 1,000-student course's deadline rate, waited at most ` +
    `${Math.max(...enough.map((x) => x.figures.waitP99)).toFixed(1)} s at p99.`,
  ];
}

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
  const finite = (xs: number[]) => xs.filter(Number.isFinite);
  const cpuMax = Math.max(...finite(r.reports.map((x) => x.cpuPerJob)));
  const dbCpu = Math.max(0, ...finite(r.reports.map((x) => x.dbCpuPerJob)));
  const gradingS = Math.max(...finite(r.reports.map((x) => x.figures.serviceMean)));
  const grading99 = Math.max(...finite(r.reports.map((x) => x.figures.serviceP99)));
  const cores = navigator.hardwareConcurrency;
  const est = estimate(1000, gradingS, cpuMax, cores);
  const perMachine = Math.ceil(est.slots / est.machines);
  const anchorMet = r.reports.map((x) =>
    `${x.name}: e2e p99 ${s1(x.figures.e2eP99)} s ${
      x.figures.e2eP99 <= ANCHOR_S ? "within" : "OVER"
    } the 5 min`
  );
  return [
    "# The deadline hour (`deno task rush`)",
    "",
    `Written by \`deno task rush\` (scripts/rush.ts), run ending ${r.date}. The`,
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
    `Run as \`deno task rush --students ${r.students} --window ${r.windowS}` +
    `${r.timeLimit ? ` --time-limit ${r.timeLimit}` : ""}\` (the five shapes one after the other` +
    (r.students < 300
      ? `; the default 300 students would keep sqlite-1's one slot busy for about ${
        fmtNum(
          (300 * MEAN_PER_STUDENT *
            Math.max(...r.reports.map((x) => x.figures.serviceMean).filter(Number.isFinite))) / 60,
        )
      } minutes alone, so the run was sized to a shared machine's ~10 minutes)`
      : ")") +
    ".",
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
    "finished. CPU-s/job: serve and the worker processes and everything they started (the",
    "sandboxed programs and the grading engine included), over the results, counted by " +
    `${r.reports[0]?.cpuBy ?? "cgroup"};`,
    "DB CPU-s/job: PostgreSQL's server processes. RSS: the peak (VmHWM).",
    "",
    `At ${fmtNum(r.planned / (r.windowS / 60))} submissions a minute on average ` +
    `(${fmtNum((r.planned / (r.windowS / 60)) * PEAK_OVER_MEAN)} at the deadline), this`,
    `rush is the deadline hour of a course of about **${
      fmtNum(r.students * 3600 / r.windowS)
    } students** (${r.students} x ${fmtNum(3600 / r.windowS)}).`,
    "",
    ...r.reports.map((x) => `- **${x.name}**: ${describe(x)}; load ${x.load}`),
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
    `With the plan's mix (${MEAN_PER_STUDENT} submissions a student), 1,000 students make about ` +
    `${fmtNum(est.perHour)} submissions in the`,
    `last hour; at the deadline the rate is ${PEAK_OVER_MEAN}x the hour's mean: ` +
    `**${est.peakPerS.toFixed(2)} jobs/s**. Measured here, a job holds`,
    `its slot ${gradingS.toFixed(1)} s on average (p99 ${grading99.toFixed(1)} s; the largest of ` +
    "the shapes) and costs at most",
    `${cpuMax.toFixed(2)} CPU-seconds (serve or worker, graded programs included; PostgreSQL ` +
    `${dbCpu.toFixed(3)} more).`,
    "",
    `- Slots: at the deadline ${est.peakPerS.toFixed(2)} jobs/s x ${gradingS.toFixed(1)} s = ` +
    `${est.busySlots.toFixed(1)} slots busy on average (Little's law);`,
    `  kept at most 70% busy, **${est.slots} slots** in all. That is what bounds the wait: a job`,
    "  waits only when every slot is taken, and then for the first to free, so with the slots",
    "  70% busy and the p99 grading time above, the p99 wait stays well under a minute. Slots",
    "  that are too few are what the sqlite-1 and sqlite-2 rows show: the queue grows for as long",
    "  as submissions arrive faster than the slots free up.",
    `- Cores: ${est.peakPerS.toFixed(2)} x ${cpuMax.toFixed(2)} = ${est.busyCores.toFixed(2)} ` +
    `cores busy; a ${cores}-core machine kept at most 70% busy`,
    `  gives **${est.machines} worker machine(s) of this size**, each with ` +
    `\`socklab worker --slots ${perMachine}\`.`,
    ...measuredAgainst(r, est),
    `- One more machine than that for the last hour: a machine lost mid-rush (pg-kill) delays`,
    "  its jobs by one lease (30 s) and its slots are gone until it is back.",
    "",
    "The graded programs mostly wait (on the network, the grader's pauses, their time limits),",
    "so slots, not cores, are the resource to plan; a hostile program holds its slot up to the",
    "time limit of each run. Part 5 jobs run one at a time per process (the lab's fixed port",
    "5003) where jobs are not isolated; at 10% of the submissions that stays far from a limit.",
    "",
  ].join("\n");
}
