/**
 * The lab-wide measurements of `deno task bench` (issue 29): 6, grading the whole lab with
 * the good student fixtures (tests/fixtures/students/*_good.py, read as data), as a student's
 * `socklab grade` runs it (isolated where the machine allows); 7, the scoring service's
 * CPU-seconds per job, from a short `deno task rush` (scripts/rush.ts: the real HTTP API,
 * serve with its workers, every job graded; its CPU measured by cgroup).
 *
 * @module
 */
import { denoRunArgv, ROOT, socklabArgv } from "../lib/proc.ts";
import { timed } from "./proc.ts";
import type { Section } from "./report.ts";
import { compare, type Side } from "./compare.ts";
import type { BenchContext } from "./cases.ts";

const FIXTURES = ROOT + "tests/fixtures/students/";

/** Each gradable part and its good fixture. */
export const GOOD: Record<string, string> = {
  part2: "part2_good.py",
  part3: "part3_good.py",
  "part4-receiver": "part4_receiver_good.py",
  "part4-sender": "part4_sender_good.py",
  part5: "part5_good.py",
  part6: "part6_good.py",
};

/** One `socklab grade <part> --json -- python3 <fixture>`: its seconds; full marks or throws. */
async function gradeOnce(part: string, fixture: string): Promise<number> {
  const r = await timed(
    socklabArgv(["grade", part, "--json", "--", "python3", FIXTURES + fixture]),
    { timeoutMs: 120_000, keepStdout: true },
  );
  const report = JSON.parse(r.stdout ?? "{}") as { score?: number; max_grade?: number };
  if (r.code !== 0 || report.score !== report.max_grade) {
    throw new Error(
      `grade ${part} of ${fixture}: exit ${r.code}, ${report.score}/` +
        `${report.max_grade}: ${r.stderr.slice(-300)}`,
    );
  }
  return r.ms / 1000;
}

/** 6. Grading the whole lab, part by part, with the good fixtures. */
export async function wholeLab(ctx: BenchContext): Promise<Section> {
  const id = "6";
  const title = "grading the whole lab (good fixtures)";
  if (!ctx.anchors.python) {
    return { id, title, rows: [], notes: [], skipped: "python3 missing (the fixtures)" };
  }
  const runs = Math.min(ctx.runs, 3);
  const times: Record<string, number[]> = { whole: [] };
  let isolation = "";
  for (let i = 0; i < runs; i++) {
    let sum = 0;
    for (const [part, fixture] of Object.entries(GOOD)) {
      const s = await gradeOnce(part, fixture);
      (times[part] ??= []).push(s);
      sum += s;
    }
    times.whole.push(sum);
  }
  const probe = await timed(socklabArgv(["grade", "part4-sender", "--", "true"]), {
    timeoutMs: 60_000,
  });
  isolation = /isolat[^\n]*/i.exec(probe.stderr)?.[0] ?? "isolated (root with bubblewrap)";
  const sides: Side[] = [
    {
      tool: "socklab grade, the 6 parts one after the other",
      role: "socklab",
      xs: times.whole,
      goals: [{ limit: 5 }],
    },
    ...Object.keys(GOOD).map((part): Side => ({
      tool: `  grade ${part}`,
      role: "anchor",
      xs: times[part],
    })),
  ];
  const { rows } = compare(sides, "s", "lower");
  for (const r of rows) r.ratio = ""; // the parts are not anchors of the whole: no ratio
  return {
    id,
    title,
    rows,
    notes: [
      `each run grades part2, part3, part4-receiver, part4-sender, part5 and part6, one after the` +
      ` other, with tests/fixtures/students/<part>_good.py (\`socklab grade <part> --json --` +
      ` python3 <fixture>\`, the default --isolation auto: ${isolation}); every run must get` +
      ` full marks. Seconds = wall time of each grade process, start-up included; ${runs} runs.`,
      "Each part's time is mostly the lab's own waits: the PMU's CMD_short:1 (1 s of" +
      " messages), part 3's retransmission after a dropped answer (the student's 1 s timeout)," +
      " part 4's TV programme; and each run's sandbox (bwrap, a cgroup, a network namespace).",
    ],
  };
}

/** 7. The service's CPU-seconds per graded job, from a short rush. */
export async function serviceCpu(ctx: BenchContext): Promise<Section> {
  const id = "7";
  const title = "the scoring service, CPU per job";
  const args = [
    "--shapes",
    "sqlite-2",
    "--students",
    "8",
    "--window",
    "15",
    "--json",
    "--no-write",
  ];
  const cpu: number[] = [];
  const perMin: number[] = [];
  for (let i = 0; i < Math.min(ctx.runs, 2); i++) {
    const r = await timed(denoRunArgv(ROOT + "scripts/rush.ts", args), {
      timeoutMs: 600_000,
      keepStdout: true,
    });
    if (r.code !== 0) throw new Error(`rush failed (${r.code}): ${r.stderr.slice(-400)}`);
    const report = JSON.parse(r.stdout!).reports[0];
    if (report.figures.lost || report.figures.duplicated || report.figures.failed) {
      throw new Error(`rush lost or failed jobs: ${JSON.stringify(report.figures)}`);
    }
    cpu.push(report.cpuPerJob);
    perMin.push(report.figures.jobsPerMin);
  }
  const perJob: Side = { tool: "serve + 2 workers (SQLite), per job", role: "socklab", xs: cpu };
  const draining: Side = { tool: "the same, while draining", role: "socklab", xs: perMin };
  const rows = [
    ...compare([perJob], "CPU-s", "lower").rows,
    ...compare([draining], "jobs/min", "higher").rows,
  ];
  return {
    id,
    title,
    rows,
    notes: [
      `\`deno task rush ${args.join(" ")}\` (scripts/rush.ts): 8 students' submissions of` +
      " every part (good, broken and hostile programs) through the HTTP API over 15 s, every" +
      " job graded in its sandbox; CPU-seconds per job = the CPU of serve, its workers and" +
      " every program they ran (their cgroup's cpuacct) over the jobs done. bench/RUSH.md has" +
      " the deadline hour in full.",
    ],
  };
}
