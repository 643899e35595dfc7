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
 * everything in it is gone: the namespaces, the cgroups, the files.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { dirname, resolve } from "node:path";
import { selfArgv } from "../proc/self.ts";
import {
  type Cgroup,
  cgroupBase,
  closeInheritedFds,
  cpuQuotaProblem,
  inJailSystem,
  isolationProblem,
  type Jail,
  JAIL_LIMITS,
  makeCgroup,
  removeCgroup,
  type SandboxResult,
} from "../proc/sandbox.ts";
import { type GradeCapture, RunCaptures } from "./capture.ts";
import type { GradeContext } from "./part.ts";
import { PARTS } from "./parts.ts";
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
   * Isolated runs: the program's files, copied into each run's fresh working
   * directory: the path the program sees (relative to that directory, or
   * absolute) -> the file here. Default: {@link programFiles} of `program`.
   * Without isolation the program runs in grade's working directory and this
   * is not used.
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
}

/** One run of the program during grading: which test, and how it ended. */
export interface ProgramRun {
  test: string;
  result: SandboxResult;
}

export interface GradeOutcome {
  report: GradeReport;
  /** Every run of the program, in order (for the service's output/ folder). */
  runs: ProgramRun[];
  /** Whether the program ran isolated. */
  isolated: boolean;
  /** With `capture`: each run's packets, `<slug of its test>.pcap` (empty otherwise). */
  captures: GradeCapture[];
}

/** The outcome as the isolated engine prints it: the captures' bytes in base64. */
type EngineOutcome = Omit<GradeOutcome, "isolated" | "captures"> & {
  captures: (Omit<GradeCapture, "bytes"> & { base64: string })[];
};

/** The names of the gradable parts. */
export const PART_NAMES: readonly string[] = PARTS.map((p) => p.name);

/** The hidden command that runs one isolated job (see the module's documentation). */
export const ENGINE_COMMAND = "grade-engine";

/** /etc/hosts inside a job's namespace: the handout's lab VM. */
const HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
/** The engine's private directory (a tmpfs: runs' files, part 5's CA); bounds their disk use. */
const ENGINE_TMP_BYTES = 256 * 2 ** 20;

/** What the outer grade hands the engine (JSON). */
interface EngineRequest extends Omit<GradeRequest, "log" | "signal" | "isolation"> {
  cgroup: Cgroup;
}

function findPart(name: string) {
  const part = PARTS.find((p) => p.name === name);
  if (!part) throw new Error(`'${name}' is not a gradable part (${PART_NAMES.join(", ")})`);
  return part;
}

/** Grades `req.program` for `req.part`; throws a plain Error for an unknown part. */
export async function gradeProgram(req: GradeRequest): Promise<GradeOutcome> {
  findPart(req.part);
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
    log(`note: grading without isolation (${why}): the program runs as you, with your files`);
  }
  return { ...await gradeHere(req), isolated: false };
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
  const ctx: GradeContext = {
    program: req.program,
    timeLimitMs: req.timeLimitMs,
    outputCapBytes: req.outputCapBytes,
    log,
    verbose: req.verbose ?? false,
    seed: req.seed,
    options: { ...req.options },
    prefix: [],
    record: (test, result) => runs.push({ test, result }),
    jail,
    files: jail ? req.files ?? {} : undefined,
    signal: req.signal,
    captures,
    unbuffered: req.unbuffered,
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

/** Every line of `stream`, to `onLine`, as it arrives. */
async function eachLine(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void) {
  let partial = "";
  for await (const s of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + s).split("\n");
    partial = lines.pop()!;
    for (const l of lines) onLine(l);
  }
  if (partial) onLine(partial);
}

/** A job's directory in the temporary directory: `<prefix><pid of its grade>-...`. */
const JOB_DIR_PREFIX = "socklab-grade-";

/**
 * What jobs of a grade that died (SIGKILL, a crash) left: their processes
 * are gone (--die-with-parent), but their cgroups and temporary directories
 * stay until this, at the next isolated grading, removes those whose grade
 * process is no more.
 */
async function sweepStale(base: Cgroup): Promise<void> {
  const dead = (name: string, prefix: string) => {
    const pid = name.slice(prefix.length).split("-")[0];
    if (!name.startsWith(prefix) || !/^\d+$/.test(pid)) return false;
    try {
      Deno.statSync(`/proc/${pid}`);
      return false;
    } catch {
      return true;
    }
  };
  try {
    for (const e of Deno.readDirSync(base.dirs[0])) {
      if (e.isDirectory && dead(e.name, "job-")) {
        await removeCgroup({ version: base.version, dirs: base.dirs.map((d) => `${d}/${e.name}`) });
      }
    }
  } catch { /* no base yet */ }
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  try {
    for (const e of Deno.readDirSync(tmp)) {
      if (e.isDirectory && dead(e.name, JOB_DIR_PREFIX)) {
        await Deno.remove(`${tmp}/${e.name}`, { recursive: true }).catch(() => {});
      }
    }
  } catch { /* unreadable */ }
}

/** Grade in a private network and pid namespace: socklab re-executed there as the engine. */
async function gradeIsolated(req: GradeRequest): Promise<GradeOutcome> {
  const log = req.log ?? (() => {});
  const base = cgroupBase() as Cgroup;
  await sweepStale(base);
  const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 12)}`;
  const cgroup = makeCgroup(base, `job-${tag}`);
  let dir: string | undefined;
  try {
    dir = await Deno.makeTempDir({ prefix: `${JOB_DIR_PREFIX}${tag}` });
    const work = `${dir}/engine`;
    await Deno.mkdir(work);
    await Deno.writeTextFile(`${dir}/hosts`, HOSTS);
    const argv = [
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
    const request: EngineRequest = {
      ...rest,
      files: req.files ?? programFiles(req.program),
      cgroup,
    };
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(request))).catch(() => {});
    await w.close().catch(() => {});
    const [status, text] = await Promise.all([child.status, out, logged]);
    clearTimeout(watchdog);
    req.signal?.removeEventListener("abort", kill);
    req.signal?.throwIfAborted();
    if (!status.success) {
      const why = stderr.filter((l) => l.trim()).at(-1) ?? `exit ${status.code}`;
      throw new Error(`the grading engine failed: ${why}`);
    }
    const { captures, ...outcome } = JSON.parse(text) as EngineOutcome;
    return {
      ...outcome,
      captures: captures.map(({ base64, ...c }) => ({
        ...c,
        bytes: new Uint8Array(Buffer.from(base64, "base64")),
      })),
      isolated: true,
    };
  } finally {
    await removeCgroup(cgroup);
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * `socklab grade-engine` (hidden): run one job inside the namespace that
 * `gradeProgram` made, the request on stdin, the outcome on stdout, progress on stderr.
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

/** At most this many files (and bytes) of a directory go with a file named on the command line. */
const SIBLINGS = { files: 100, bytes: 10 * 2 ** 20 };

/**
 * The files an isolated program gets (path it sees -> file here): every file
 * named by an argument, and the other regular files of its directory (a
 * student's script may import its own modules), within {@link SIBLINGS}.
 * A relative name stays relative (in the run's working directory); an absolute
 * one keeps its path. The system's own files (/usr...) are visible there anyway.
 */
export function programFiles(program: string[], cwd = Deno.cwd()): Record<string, string> {
  const files: Record<string, string> = {};
  let count = 0, bytes = 0;
  for (const arg of program) {
    const here = resolve(cwd, arg);
    if (inJailSystem(here)) continue; // e.g. /usr/bin/python3: the sandbox shows it anyway
    try {
      if (!Deno.statSync(here).isFile) continue;
    } catch {
      continue;
    }
    const seen = arg.startsWith("/") || arg.split("/").includes("..") ? here : arg;
    files[seen] = here;
    const dir = dirname(here);
    const seenDir = dirname(seen);
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isFile || e.name.startsWith(".")) continue;
      const name = seenDir === "." ? e.name : `${seenDir}/${e.name}`;
      if (name in files) continue;
      const size = Deno.statSync(`${dir}/${e.name}`).size;
      if (count >= SIBLINGS.files || bytes + size > SIBLINGS.bytes) continue;
      count++;
      bytes += size;
      files[name] = `${dir}/${e.name}`;
    }
  }
  return files;
}
