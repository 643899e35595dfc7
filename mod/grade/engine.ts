/**
 * The scoring engine's one entry point: grade one program for one part and
 * return the report and what the program printed. `socklab grade` and the
 * scoring service's workers both call it (the service in-process, several
 * jobs at once).
 *
 * With isolation (root and bubblewrap: `isolationProblem()` says why not),
 * a job runs in a private network namespace (loopback only, a multicast
 * route on lo, /etc/hosts mapping localhost to 127.0.0.1 and ::1) and a
 * private pid namespace: `gradeProgram` re-executes socklab there (the
 * hidden command `grade-engine`, request on stdin, outcome on stdout), and
 * that engine runs the part's servers and every run of the program, each
 * jailed by mod/proc/sandbox.ts. So part 5's fixed localhost:5003 never
 * clashes with another job, nothing the program sends leaves the namespace,
 * and when the job ends (or grade is interrupted, or the engine crashes)
 * everything in it is gone: the namespaces, the cgroups, the files. The
 * engine has a memory cgroup of its own; each job a uid of its own.
 *
 * Root without isolation (no bubblewrap), `auto` still never runs the
 * program as root: each run is a bare jail (its own uid, rlimits, a cgroup
 * where there is one, a private directory with its files).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { ENGINE_COMMAND, selfArgv } from "../proc/self.ts";
import {
  type Cgroup,
  cgroupBase,
  cgroupLimitsHit,
  closeInheritedFds,
  cpuQuotaProblem,
  inCgroupArgv,
  isolationProblem,
  type Jail,
  JAIL_LIMITS,
  leaseUid,
  limitCgroup,
  makeCgroup,
  memoryPeak,
  removeCgroup,
  type SandboxResult,
} from "../proc/sandbox.ts";
import { type GradeCapture, RunCaptures } from "./capture.ts";
import type { GradeContext } from "./part.ts";
import { PARTS } from "./parts.ts";
import { checkProgram, programFiles, stageFiles } from "./program.ts";
import { type GradeReport, makeReport } from "./report.ts";

/** How a job's program runs: "required" fails where isolation is not available, "auto" falls back. */
export type Isolation = "required" | "auto" | "off";
export const ISOLATIONS: readonly Isolation[] = ["required", "auto", "off"];

export interface GradeRequest {
  /** part2, part3, part4-receiver, part4-sender, part5, part6. */
  part: string;
  /** The student's program, e.g. ["python3", "PDC.py"]; prototype arguments are appended. */
  program: string[];
  /** Wall-clock limit of one run of the program, ms. */
  timeLimitMs: number;
  /** Output kept per run before the program is stopped. */
  outputCapBytes: number;
  /** Random seed for what the program must not guess. */
  seed: number;
  /** Part-specific options: sciper (part4-sender); cert, key, ca (part5). */
  options?: { sciper?: string; cert?: string; key?: string; ca?: string };
  /** Progress lines (and the program's output with `verbose`). */
  log?: (line: string) => void;
  verbose?: boolean;
  /** Default "auto": isolated where possible, else one log line and today's behaviour. */
  isolation?: Isolation;
  /**
   * The program's files, copied into each run's fresh working directory
   * (isolated, or bare as root): the path the program sees (relative to that
   * directory, or absolute) -> the file here. Default: {@link programFiles}
   * of `program`. Read once, before the first run (as the user under sudo).
   * Unjailed, the program runs in grade's working directory and this is not used.
   */
  files?: Record<string, string>;
  /** Stop grading (and the program) when this aborts; gradeProgram then rejects. */
  signal?: AbortSignal;
  /**
   * Record each run's packets (tcpdump on the run's port; see ./capture.ts):
   * the outcome's `captures`. Without tcpdump or the privilege, one log line.
   */
  capture?: boolean;
  /**
   * Run Python unbuffered (PYTHONUNBUFFERED=1), unlike the course's scorer: a missing
   * flush=True then loses nothing, and the report says its verdict is not the course's.
   */
  unbuffered?: boolean;
  /**
   * Characters of the program's stdout (and of its stderr) kept in the
   * outcome's `runs`, over all runs (default {@link KEPT_OUTPUT}); the rest
   * is cut, marked `[output cut]`. `grade` keeps none: it shows the report.
   */
  keptOutput?: number;
  /** How long judging one run's output may take, ms (GradeContext.checkBudgetMs). */
  checkBudgetMs?: number;
}

/** Characters of the program's output kept in the outcome, per stream, by default. */
export const KEPT_OUTPUT = 2 ** 20;

/** One run of the program during grading: which test, and how it ended. */
export interface ProgramRun {
  test: string;
  result: SandboxResult;
}

export interface GradeOutcome {
  report: GradeReport;
  /** Every run of the program, in order (for the service's output/ folder), output cut. */
  runs: ProgramRun[];
  /** Whether the program ran isolated. */
  isolated: boolean;
  /** With `capture`: each run's packets, `<slug of its test>.pcap` (empty otherwise). */
  captures: GradeCapture[];
  /** Isolated: the most memory the engine's cgroup used, bytes (where the kernel says). */
  enginePeakBytes?: number;
}

/** The outcome as the isolated engine prints it: the captures' bytes in base64. */
type EngineOutcome = Omit<GradeOutcome, "isolated" | "captures"> & {
  captures: (Omit<GradeCapture, "bytes"> & { base64: string })[];
};

/** The names of the gradable parts. */
export const PART_NAMES: readonly string[] = PARTS.map((p) => p.name);

export { ENGINE_COMMAND };

/** /etc/hosts inside a job's namespace: the handout's lab VM. */
const HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
/** The engine's private directory (a tmpfs: runs' files, part 5's CA); bounds their disk use. */
const ENGINE_TMP_BYTES = 256 * 2 ** 20;

/** What the outer grade hands the engine (JSON). */
interface EngineRequest extends Omit<GradeRequest, "log" | "signal" | "isolation"> {
  cgroup: Cgroup;
  /** The job's uid (its programs run as it). */
  uid: number;
}

/** The engine's own cgroup: its memory bounded (it holds at most the output limit per stream). */
const ENGINE_LIMITS = { pids: 512, memoryBytes: 2 ** 30, cpus: 0 };

function findPart(name: string) {
  const part = PARTS.find((p) => p.name === name);
  if (!part) throw new Error(`'${name}' is not a gradable part (${PART_NAMES.join(", ")})`);
  return part;
}

/**
 * Grades `req.program` for `req.part`; throws a plain Error for an unknown
 * part, a program that cannot run (checked before any test) or a file it
 * cannot be given.
 */
export async function gradeProgram(req: GradeRequest): Promise<GradeOutcome> {
  findPart(req.part);
  checkProgram(req.program);
  const log = req.log ?? (() => {});
  const mode = req.isolation ?? "auto";
  if (mode !== "off") {
    const why = await isolationProblem();
    if (why === null) {
      const cpu = await cpuQuotaProblem();
      if (cpu) log(`note: the program's CPU is not capped (${cpu}): it may take every core`);
      return await gradeIsolated(req);
    }
    if (mode === "required") throw new Error(`isolation is required but not available: ${why}`);
    if (Deno.uid() === 0) return await gradeBare(req, why);
    log(`note: grading without isolation (${why}): the program runs as you, with your files`);
  }
  return { ...await gradeHere(req), isolated: false };
}

/** Cut `text` to what is `left` of a stream's budget, marked; the budget shrinks. */
function keepPart(text: string, left: { chars: number }): string {
  if (text.length <= left.chars) {
    left.chars -= text.length;
    return text;
  }
  const kept = text.slice(0, left.chars);
  left.chars = 0;
  return `${kept}\n[output cut]\n`;
}

/** Run the part here, in this process's network namespace (jailing each run if `jail`). */
async function gradeHere(
  req: Omit<GradeRequest, "isolation">,
  jail?: Jail,
): Promise<Omit<GradeOutcome, "isolated">> {
  const part = findPart(req.part);
  const runs: ProgramRun[] = [];
  const log = req.log ?? (() => {});
  const dir = req.capture ? await Deno.makeTempDir({ prefix: "socklab-capture-" }) : undefined;
  const captures = dir === undefined ? undefined : new RunCaptures(dir, log);
  const out = { chars: req.keptOutput ?? KEPT_OUTPUT }, err = { chars: out.chars };
  const ctx: GradeContext = {
    program: req.program,
    timeLimitMs: req.timeLimitMs,
    outputCapBytes: req.outputCapBytes,
    log,
    verbose: req.verbose ?? false,
    seed: req.seed,
    options: { ...req.options },
    prefix: [],
    record: (test, r) =>
      runs.push({
        test,
        result: { ...r, stdout: keepPart(r.stdout, out), stderr: keepPart(r.stderr, err) },
      }),
    jail,
    files: jail ? req.files ?? {} : undefined,
    signal: req.signal,
    captures,
    unbuffered: req.unbuffered,
    checkBudgetMs: req.checkBudgetMs,
  };
  try {
    const tests = await part.run(ctx);
    req.signal?.throwIfAborted();
    const report = makeReport(part.name, tests, { unbuffered: req.unbuffered });
    return { report, runs, captures: captures?.captures ?? [] };
  } finally {
    if (dir !== undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The longest line of the engine's stderr kept; the rest of a longer one is dropped. */
const ENGINE_LINE = 16_384;

/** Every line of `stream`, to `onLine`, as it arrives: each piece scanned once, lines capped. */
async function eachLine(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void) {
  let partial = "";
  for await (const s of stream.pipeThrough(new TextDecoderStream())) {
    let from = 0;
    for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", from)) {
      onLine(partial + s.slice(from, Math.min(i, from + ENGINE_LINE - partial.length)));
      partial = "";
      from = i + 1;
    }
    if (partial.length < ENGINE_LINE) partial += s.slice(from, from + ENGINE_LINE - partial.length);
  }
  if (partial) onLine(partial);
}

/** A job's directory in the temporary directory: `<prefix><pid of its grade>-...`. */
const JOB_DIR_PREFIX = "socklab-grade-";

/** Is `name` (`<prefix><pid>-...`) left by a process that is gone? */
function ofDeadProcess(name: string, prefix: string): boolean {
  const pid = name.slice(prefix.length).split("-")[0];
  if (!name.startsWith(prefix) || !/^\d+$/.test(pid)) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}

/**
 * What jobs of a grade that died (SIGKILL, a crash) left: their processes
 * are gone (--die-with-parent), but their cgroups and temporary directories
 * stay until this, at the next jailed grading, removes those whose grade
 * process is no more, in every cgroup hierarchy.
 */
async function sweepStale(base: Cgroup | string): Promise<void> {
  for (const dir of typeof base === "string" ? [] : base.dirs) {
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (e.isDirectory && ofDeadProcess(e.name, "job-")) {
          await removeCgroup({ version: (base as Cgroup).version, dirs: [`${dir}/${e.name}`] });
        }
      }
    } catch { /* no base yet */ }
  }
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  try {
    for (const e of Deno.readDirSync(tmp)) {
      if (e.isDirectory && ofDeadProcess(e.name, JOB_DIR_PREFIX)) {
        await Deno.remove(`${tmp}/${e.name}`, { recursive: true }).catch(() => {});
      }
    }
  } catch { /* unreadable */ }
}

/**
 * One jailed job on this machine: its own uid (held until the end), its
 * cgroup (where there are cgroups), its private directory, and the
 * program's files read into it. Disposing of it removes them all.
 */
interface JobPlace extends AsyncDisposable {
  dir: string;
  cgroup?: Cgroup;
  /** Why there is no cgroup (bare jails only). */
  noCgroup?: string;
  uid: number;
  files: Record<string, string>;
}

async function openJob(req: GradeRequest): Promise<JobPlace> {
  const base = cgroupBase();
  await sweepStale(base);
  const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 12)}`;
  const lease = leaseUid();
  let cgroup: Cgroup | undefined, dir: string | undefined;
  const dispose = async () => {
    if (cgroup) await removeCgroup(cgroup);
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    lease.release();
  };
  try {
    if (typeof base !== "string") cgroup = makeCgroup(base, `job-${tag}`);
    dir = await Deno.makeTempDir({ prefix: `${JOB_DIR_PREFIX}${tag}` });
    await Deno.mkdir(`${dir}/files`, { mode: 0o700 });
    const files = await stageFiles(req.files ?? programFiles(req.program), `${dir}/files`);
    return {
      dir,
      cgroup,
      noCgroup: typeof base === "string" ? base : undefined,
      uid: lease.uid,
      files,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * Root where isolation is unavailable (`auto`): each run is a bare jail, so
 * that the program never runs as root; one note says what protection remains.
 */
async function gradeBare(req: GradeRequest, why: string): Promise<GradeOutcome> {
  closeInheritedFds(); // as the engine does: no descriptor of grade's parent reaches the program
  await using job = await openJob(req);
  await Deno.chmod(job.dir, 0o711); // the runs' homes are reached through it
  await Deno.mkdir(`${job.dir}/runs`, { mode: 0o711 });
  await Deno.chmod(`${job.dir}/runs`, 0o711);
  (req.log ?? (() => {}))(
    `note: grading without isolation (${why}): the program runs as uid ${job.uid} (not root) ` +
      `in a directory of its own with its files, under rlimits (CPU time, file size, open ` +
      `files, processes)${
        job.cgroup ? " and a cgroup (processes, memory, CPU)" : ` (no cgroup: ${job.noCgroup})`
      }; it shares this machine's network, processes and world-readable files`,
  );
  const jail: Jail = {
    dir: `${job.dir}/runs`,
    cgroup: job.cgroup,
    limits: { ...JAIL_LIMITS, cpuSeconds: Math.ceil(req.timeLimitMs / 1000) + 5 },
    uid: job.uid,
    namespaces: false,
  };
  return { ...await gradeHere({ ...req, files: job.files }, jail), isolated: false };
}

/** bubblewrap's argv for the engine: a private network and pid namespace, its own tmpfs. */
function engineArgv(dir: string, work: string): string[] {
  return [
    "bwrap",
    "--unshare-net",
    "--unshare-pid",
    "--die-with-parent",
    "--dev-bind",
    "/",
    "/",
    "--proc",
    "/proc",
    "--ro-bind",
    `${dir}/hosts`,
    "/etc/hosts",
    "--size",
    String(ENGINE_TMP_BYTES),
    "--perms",
    "0700",
    "--tmpfs",
    work,
    "--chdir",
    work,
    "--setenv",
    "TMPDIR",
    work,
    "--setenv",
    "DENO_NO_UPDATE_CHECK",
    "1",
    "--",
    ...selfArgv([ENGINE_COMMAND]),
  ];
}

/**
 * Why the engine failed, in one line: its own error (which it prints as
 * `{"error"}` on stdout), else how it ended (its memory limit, a signal, an
 * exit code) and, unless it was already logged, its last stderr line.
 */
function engineFailure(
  status: Deno.CommandStatus,
  text: string,
  stderr: string[],
  cgroup: Cgroup,
  logged: boolean,
): Error {
  try {
    const { error } = JSON.parse(text) as { error?: string };
    if (typeof error === "string") return new Error(`the grading engine failed: ${error}`);
  } catch { /* it crashed */ }
  const oom = cgroupLimitsHit(cgroup).includes("memory");
  const how = oom
    ? `it ran out of its ${ENGINE_LIMITS.memoryBytes / 2 ** 20} MiB of memory`
    : status.signal
    ? `killed by ${status.signal}`
    : `exit ${status.code}`;
  const last = logged ? undefined : stderr.filter((l) => l.trim()).at(-1);
  return new Error(`the grading engine failed: ${how}${last ? ` (${last})` : ""}`);
}

/** Grade in a private network and pid namespace: socklab re-executed there as the engine. */
async function gradeIsolated(req: GradeRequest): Promise<GradeOutcome> {
  const log = req.log ?? (() => {});
  await using job = await openJob(req);
  const work = `${job.dir}/engine`;
  await Deno.mkdir(work);
  await Deno.writeTextFile(`${job.dir}/hosts`, HOSTS);
  const engineCg = makeCgroup(job.cgroup!, "engine");
  limitCgroup(engineCg, ENGINE_LIMITS);
  const argv = inCgroupArgv(engineCg, engineArgv(job.dir, work));
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  };
  req.signal?.addEventListener("abort", kill, { once: true });
  // The engine bounds every run; this only guards against the engine itself hanging.
  const watchdog = setTimeout(kill, 12 * (req.timeLimitMs + 15_000) + 60_000);
  const stderr: string[] = [];
  const logged = eachLine(child.stderr, (l) => {
    stderr.push(l);
    if (stderr.length > 50) stderr.shift();
    log(l);
  });
  const out = new Response(child.stdout).text();
  const { log: _l, signal: _s, isolation: _i, ...rest } = req;
  const request: EngineRequest = { ...rest, files: job.files, cgroup: job.cgroup!, uid: job.uid };
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(request))).catch(() => {});
  await w.close().catch(() => {});
  const [status, text] = await Promise.all([child.status, out, logged]);
  clearTimeout(watchdog);
  req.signal?.removeEventListener("abort", kill);
  req.signal?.throwIfAborted();
  if (!status.success) throw engineFailure(status, text, stderr, engineCg, req.log !== undefined);
  const { captures, ...outcome } = JSON.parse(text) as EngineOutcome;
  const peak = memoryPeak(engineCg);
  if (req.verbose && peak !== null) log(`engine: peak memory ${(peak / 2 ** 20).toFixed(0)} MiB`);
  return {
    ...outcome,
    captures: captures.map(({ base64, ...c }) => ({
      ...c,
      bytes: new Uint8Array(Buffer.from(base64, "base64")),
    })),
    isolated: true,
    ...(peak === null ? {} : { enginePeakBytes: peak }),
  };
}

/**
 * `socklab grade-engine` (hidden): run one job inside the namespace that
 * `gradeProgram` made, the request on stdin, the outcome on stdout (or
 * `{"error"}`, printed by the command), progress on stderr.
 */
export async function engineMain(log: (line: string) => void, out: (line: string) => void) {
  // What grade's parent left open without close-on-exec (a shell's, a CI runner's log) would
  // otherwise reach every program this engine runs.
  closeInheritedFds();
  const req = JSON.parse(await new Response(Deno.stdin.readable).text()) as EngineRequest;
  // A multicast route on lo (part 4): without one, sending to a group fails.
  const route = await new Deno.Command("ip", {
    args: ["route", "add", "224.0.0.0/4", "dev", "lo"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!route.success) {
    throw new Error(`cannot route multicast on lo: ${new TextDecoder().decode(route.stderr)}`);
  }
  const jail: Jail = {
    dir: Deno.cwd(),
    cgroup: req.cgroup,
    limits: { ...JAIL_LIMITS, cpuSeconds: Math.ceil(req.timeLimitMs / 1000) + 5 },
    uid: req.uid,
  };
  const { captures, ...outcome } = await gradeHere({ ...req, log }, jail);
  const wire: EngineOutcome = {
    ...outcome,
    captures: captures.map(({ bytes, ...c }) => ({
      ...c,
      base64: Buffer.from(bytes).toString("base64"),
    })),
  };
  out(JSON.stringify(wire));
}
