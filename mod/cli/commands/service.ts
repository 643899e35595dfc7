/**
 * The service's commands: `serve` (HTTP + workers), `course` (init, roster,
 * token, export) and `submit` (the command-line client of the JSON API).
 *
 * @module
 */
import { dirname, join } from "node:path";
import {
  type Args,
  defineCommand,
  flag,
  given,
  numOpt,
  optionalNum,
  parseChoice,
  portOpt,
  str,
} from "../command.ts";
import { LIMIT_OPTIONS, parseLimitOptions } from "../fair.ts";
import { listenOptions } from "../options.ts";
import type { Io } from "../io.ts";
import {
  CALENDAR_OPTIONS,
  calendarChange,
  calendarFrom,
  checkCalendar,
  partOpt,
  timeOpt,
} from "../calendar.ts";
import { calendarLines, changeCalendar, formatTime, parseZone } from "../../service/calendar.ts";
import { errorMessage, RunError, UsageError } from "../../errors.ts";
import { readInput, readInputText } from "../../net/files.ts";
import { type Isolation, ISOLATIONS } from "../../grade/engine.ts";
import { isolationProblem } from "../../proc/sandbox.ts";
import { formatReport, type GradeReport } from "../../grade/report.ts";

import type { CreatedJson, MeJson, PartJson, SubmissionJson } from "../../service/api.ts";
import { issueToken } from "../../service/auth.ts";
import {
  courseCa,
  extend,
  gradeBook,
  gradeBookCsv,
  importRoster,
  initCourse,
  openCourse,
  parseRoster,
  TA_ID,
} from "../../service/course.ts";
import { certName, KIND_FILES } from "../../service/job.ts";
import {
  SERVICE_MAX_CONNECTIONS,
  SERVICE_MAX_PER_PEER,
  SHUTDOWN_GRACE_MS,
  startService,
} from "../../service/server.ts";
import { WorkerPool } from "../../service/worker.ts";
import { backupCourse, checkCourse, restoreCourse } from "../../service/backup.ts";
import { courseIdentity, type Identity, readIdentity, serviceNames } from "../../service/https.ts";
import { LOG_FORMATS, type ServiceLog, serviceLog } from "../../service/log.ts";
import { PEM_CERT } from "../../tls/ca.ts";
import { isPostgresUrl, redactUrl } from "../../service/store/open.ts";
import {
  DEFAULT_POLICY,
  isKind,
  type Kind,
  KINDS,
  type Policy,
  type Store,
} from "../../service/store/store.ts";

const DATA_OPTION = {
  type: "string",
  arg: "DIR",
  help: "the course's data directory (database, course CA)",
} as const;

const DB_OPTION = {
  type: "string",
  arg: "URL",
  help: "the course's database on PostgreSQL (postgres://user:password@host:port/db; " +
    "default: SQLite in --data)",
} as const;

function dataDir(args: Args): string {
  const d = str(args, "data");
  if (!d) throw new UsageError("--data DIR is required (the course's data directory)");
  return d;
}

/** `--db URL`, checked: a PostgreSQL URL, or undefined. */
function dbUrl(args: Args): string | undefined {
  const db = str(args, "db");
  if (db !== undefined && !isPostgresUrl(db)) {
    throw new UsageError(
      `--db: '${redactUrl(db)}' is not a postgres://user:password@host:port/db URL`,
    );
  }
  return db;
}

const LOG_FORMAT_OPTION = {
  type: "string",
  default: "text",
  arg: "FORMAT",
  help: "text, or json: one object a line (time, level, event, msg, submission, student, " +
    "part, duration_ms...) for a log collector",
} as const;

/** `--log-format F`: the service's log on stderr in that format. */
function logOpt(args: Args, io: Io): ServiceLog {
  return serviceLog(
    parseChoice(str(args, "log-format") ?? "text", "--log-format", LOG_FORMATS),
    io.log,
  );
}

/** `--tls-cert F --tls-key K` or `--tls-self-signed NAMES`: HTTPS, or undefined for HTTP. */
async function tlsOpt(args: Args, data: string, log: ServiceLog): Promise<Identity | undefined> {
  const cert = str(args, "tls-cert"), key = str(args, "tls-key");
  const self = str(args, "tls-self-signed");
  if (self !== undefined && (cert !== undefined || key !== undefined)) {
    throw new UsageError(
      "--tls-self-signed makes its own certificate: leave out --tls-cert/--tls-key",
    );
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (cert !== undefined) return await readIdentity(cert, key!);
  if (self === undefined) return undefined;
  const names = serviceNames(self);
  const id = await courseIdentity(data, names);
  log(
    `https: ${id.made ? "made" : "using"} a certificate for ${names.join(", ")} signed by ` +
      `the course CA (${courseCa(data).cert}: students trust it with 'submit --ca')`,
    { event: "https.certificate" },
  );
  return id;
}

const ISOLATION_OPTION = {
  type: "string",
  default: "required",
  arg: "MODE",
  help: "required (root and bubblewrap: each job in its own sandbox, see grade --help), " +
    "auto, or off (trusted scripts only)",
} as const;

/** `--isolation MODE`, checked: `required` where isolation is unavailable is a RunError. */
async function isolationOpt(raw: string): Promise<Isolation> {
  const isolation = parseChoice(raw, "--isolation", ISOLATIONS);
  const missing = isolation === "required" ? await isolationProblem() : null;
  if (missing) {
    throw new RunError(
      `isolation is required but not available: ${missing} ` +
        `(--isolation off grades unisolated: trusted scripts only)`,
    );
  }
  return isolation;
}

/** `--kinds a,b`: the kinds a worker grades. */
function kindsOpt(args: Args): Kind[] | undefined {
  const raw = str(args, "kinds");
  if (raw === undefined) return undefined;
  const kinds = raw.split(",").map((k) => k.trim()).filter((k) => k);
  for (const k of kinds) {
    if (!isKind(k)) throw new UsageError(`--kinds: '${k}' is not a part (${KINDS.join(", ")})`);
  }
  if (kinds.length === 0) throw new UsageError("--kinds: give at least one part");
  return kinds as Kind[];
}

export const serve = defineCommand({
  name: "serve",
  summary: "run the course's scoring service: the JSON API and the grading workers",
  part: "scoring",
  positionals: [],
  options: {
    data: DATA_OPTION,
    db: DB_OPTION,
    ...listenOptions("127.0.0.1", 8080, "TCP"),
    workers: {
      type: "string",
      arg: "N",
      help: "jobs graded at once in this process (default: one per core; 0: none)",
    },
    kinds: {
      type: "string",
      arg: "LIST",
      help: "the parts this process grades, e.g. ca-sign when workers on other machines " +
        "grade the rest (default: all)",
    },
    lease: {
      type: "string",
      default: "30",
      arg: "SECONDS",
      help: "how long a job stays with a worker that stopped answering before it runs again",
    },
    isolation: ISOLATION_OPTION,
    "tls-cert": {
      type: "string",
      arg: "FILE",
      help: "serve HTTPS (HTTP/1.1) with this PEM certificate (chain first)",
    },
    "tls-key": { type: "string", arg: "FILE", help: "the PEM private key of --tls-cert" },
    "tls-self-signed": {
      type: "string",
      arg: "NAMES",
      help: "serve HTTPS with a certificate the course CA signs for these host names " +
        "(comma-separated; localhost, 127.0.0.1 and ::1 added), kept in DIR/https/",
    },
    "log-format": LOG_FORMAT_OPTION,
    ...LIMIT_OPTIONS,
    "max-connections": {
      ...LIMIT_OPTIONS["max-connections"],
      default: String(SERVICE_MAX_CONNECTIONS),
      help: "most connections at once (a browser opens a few); one more is answered 503",
    },
    "max-per-peer": {
      ...LIMIT_OPTIONS["max-per-peer"],
      help: `most connections at once from one address (default: ${SERVICE_MAX_PER_PEER}; ` +
        "0: no cap, as behind a proxy)",
    },
  },
  description: `Serves the JSON API under /api/ (see 'socklab submit') and the web pages,
and grades the queued submissions with N workers in this process. Prints
'listening on http://<host>:<port>' (https:// with TLS) on stderr when ready,
one line per job. GET /healthz: {"db": "ok", "workers": N, "queue": N}, or
503 when the database does not answer. GET /metrics: Prometheus, from this
machine or with the teaching assistant's token. Never logs a token, a
cookie or an upload. A client must send its request head within 10 s and its
body at 1 KiB/s or more, else it is cut (408); connections past
--max-connections, or past --max-per-peer from one address, are answered 503
(behind a proxy every client has its address: give --max-per-peer 0 there).
SIGINT/SIGTERM: stops taking jobs, lets running ones
finish (after 30 s it stops them and hands them back to the queue), exits 0.`,
  example: "socklab serve --data course --host 0.0.0.0 --port 8080",
  async run(args, io) {
    const data = dataDir(args);
    const db = dbUrl(args);
    const kinds = kindsOpt(args);
    const port = portOpt(args);
    const workers = optionalNum(args, "workers", { integer: true, min: 0, max: 256 }) ??
      navigator.hardwareConcurrency;
    const leaseMs = numOpt(args, "lease", { min: 0.5, max: 3600 }) * 1000;
    const seedRaw = Deno.env.get("SOCKLAB_GRADE_SEED");
    const log = logOpt(args, io);
    const isolation = await isolationOpt(str(args, "isolation"));
    const service = await startService({
      dataDir: data,
      db,
      kinds,
      hostname: str(args, "host"),
      port,
      workers,
      leaseMs,
      log,
      seed: seedRaw ? Number(seedRaw) : undefined,
      isolation,
      ...parseLimitOptions(args),
      tls: await tlsOpt(args, data, log),
    });
    const course = (await service.store.getCourse())!;
    const students = (await service.store.listUsers("student")).length;
    const why = service.pool?.unisolated;
    log(
      `course '${course.name}': ${students} students; ${workers} worker(s)` +
        `${kinds ? ` grading ${kinds.join(", ")}` : ""}` +
        `${db ? ` on ${redactUrl(db)}` : ""}; ` +
        (why
          ? `grading UNISOLATED (${why}): trusted scripts only; one job at a time`
          : workers
          ? "each job isolated in its own sandbox"
          : "no workers here"),
      { event: "service.course" },
    );
    log(`listening on ${service.url}`, { event: "service.listening", url: service.url });
    const sig = await io.stopped;
    log(`${sig}: stopping (running jobs finish or go back to the queue)`, {
      event: "service.stopping",
    });
    await service.close();
    log("stopped", { event: "service.stopped" });
    return 0;
  },
});

function policyFrom(args: Args): Partial<Policy> {
  const p: Partial<Policy> = {};
  const keep = str(args, "keep");
  if (keep !== undefined) p.keep = parseChoice(keep, "--keep", ["best", "last"] as const);
  if (str(args, "cooldown") !== undefined) {
    p.cooldownSeconds = numOpt(args, "cooldown", { min: 0, max: 86400 });
  }
  if (str(args, "time-limit") !== undefined) {
    p.timeLimitSeconds = numOpt(args, "time-limit", { min: 0.5, max: 600 });
  }
  return p;
}

/** The largest roster file `course roster` reads (a class of thousands is a few hundred KB). */
const ROSTER_MAX_BYTES = 16 * 2 ** 20;

/** What a `course` action gets: its arguments, the data directory and database, its output. */
interface CourseCall {
  args: Args;
  io: Io;
  data: string | undefined;
  db: string | undefined;
  /** The positional after the action (a roster file, a student's id). */
  arg: string | undefined;
}

/** Run `fn` on the course's store, closed after. */
async function withCourse<T>(c: CourseCall, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openCourse(c.data, c.db);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `course init`: the database, the CA, the policy and calendar; prints the TA's token. */
async function courseInit({ args, io, data, db }: CourseCall): Promise<number> {
  const policy = policyFrom(args);
  const calendar = calendarFrom(args);
  io.out(await initCourse(data!, { name: str(args, "name"), policy, calendar, db }));
  io.log(
    `course created in ${db ? `${redactUrl(db)} (CA in ${data})` : data}; ` +
      `the line above is the teaching assistant's token`,
  );
  return 0;
}

async function courseRoster(c: CourseCall): Promise<number> {
  const rows = parseRoster(await readInput(c.arg!, "cannot read roster", ROSTER_MAX_BYTES));
  return await withCourse(c, async (store) => {
    const { added, updated } = await importRoster(store, rows);
    if (added.length) c.io.out("id,token");
    for (const a of added) c.io.out(`${a.id},${a.token}`);
    c.io.log(`${added.length} student(s) added, ${updated} updated`);
    return 0;
  });
}

async function courseToken(c: CourseCall): Promise<number> {
  const id = c.arg!;
  return await withCourse(c, async (store) => {
    if (!(await store.getUser(id))) throw new RunError(`no student or TA '${id}'`);
    c.io.out(await issueToken(store, id));
    c.io.log(
      `new token for ${id}${id === TA_ID ? " (teaching assistant)" : ""}; ` +
        "the old one no longer works",
    );
    return 0;
  });
}

/** `course export [--as-of T]`: the grade book as it stood at T (default: now). */
async function courseExport(c: CourseCall): Promise<number> {
  return await withCourse(c, async (store) => {
    const { timezone } = (await store.getCourse())!.calendar;
    const asOf = timeOpt(c.args, "as-of", timezone) ?? Date.now();
    c.io.write(gradeBookCsv(await gradeBook(store, asOf)));
    c.io.log(`grade book as of ${formatTime(asOf, timezone)}`);
    return 0;
  });
}

/** `course calendar`: change what is given, then print the calendar, a part a line. */
async function courseCalendar(c: CourseCall): Promise<number> {
  return await withCourse(c, async (store) => {
    let cal = (await store.getCourse())!.calendar;
    const zone = str(c.args, "timezone");
    if (zone !== undefined) cal = { ...cal, timezone: parseZone(zone) };
    const change = calendarChange(c.args, cal.timezone);
    const kind = partOpt(c.args);
    if (zone !== undefined || Object.keys(change).length > 0) {
      cal = checkCalendar(changeCalendar(cal, kind, change));
      await store.setCalendar(cal);
      c.io.log(`calendar of ${kind ?? "the course"} changed`);
    } else if (kind !== null) {
      throw new UsageError(
        "course calendar --part KIND: give --opens, --closes or --attempt-limit",
      );
    }
    for (const line of calendarLines(cal, KINDS)) c.io.out(line);
    return 0;
  });
}

/** `course extend <student> --until T [--part KIND] [--attempts N]`. */
async function courseExtend(c: CourseCall): Promise<number> {
  const attempts = optionalNum(c.args, "attempts", { integer: true, min: 0, max: 1_000_000 });
  if (str(c.args, "until") === undefined && attempts === undefined) {
    throw new UsageError("course extend: give --until T, --attempts N or both");
  }
  return await withCourse(c, async (store) => {
    const { timezone } = (await store.getCourse())!.calendar;
    const until = timeOpt(c.args, "until", timezone) ?? undefined;
    const kind = partOpt(c.args);
    const e = await extend(store, c.arg!, { kind, until, attempts }, Date.now());
    const close = e.until === null ? "the calendar's close" : formatTime(e.until, timezone);
    c.io.out(
      `${e.userId} ${e.kind ?? "every part"}: until ${close}, ${e.attempts} more attempt(s)`,
    );
    return 0;
  });
}

/** `course backup --out F`: a consistent copy of the course while serve runs. */
async function courseBackup(c: CourseCall): Promise<number> {
  const data = dataDir(c.args);
  const out = str(c.args, "out");
  if (!out) throw new UsageError("course backup: --out FILE is required (e.g. course.tar.gz)");
  const m = await backupCourse({ data, db: c.db, out });
  const what = m.counts
    ? `${m.counts.submissions} submissions, ${m.counts.results} results`
    : "the keys of DIR only";
  c.io.log(`backup ${out}: ${what}, ${Object.keys(m.files).length} file(s)`);
  if (c.db !== undefined) {
    c.io.log(
      `the database is on PostgreSQL: dump it too, e.g. ` +
        `pg_dump --format=custom --file course.pgdump '${redactUrl(c.db)}' ` +
        `(restore: pg_restore --no-owner --dbname URL course.pgdump, then course check)`,
    );
  }
  return 0;
}

/** `course restore --from F --data NEW`: a backup unpacked into a new directory. */
async function courseRestore(c: CourseCall): Promise<number> {
  const data = dataDir(c.args);
  const from = str(c.args, "from");
  if (!from) throw new UsageError("course restore: --from FILE is required");
  const m = await restoreCourse({ from, data });
  c.io.log(
    `restored the backup of ${m.created_at} into ${data}` +
      (m.database === "postgresql" ? " (the keys; pg_restore the database)" : ""),
  );
  return 0;
}

/** `course check`: the database's integrity and every result's files; exit 1 on a problem. */
async function courseCheck(c: CourseCall): Promise<number> {
  const findings = await checkCourse({ data: dataDir(c.args), db: c.db });
  for (const f of findings) c.io.out(`${f.ok ? "ok" : "PROBLEM"}: ${f.what}`);
  const bad = findings.filter((f) => !f.ok).length;
  c.io.log(bad ? `${bad} problem(s) in the course` : "the course is sound");
  return bad ? 1 : 0;
}

/** Each `course` action: its function, and the positional it needs (if any). */
const COURSE_ACTIONS: Record<string, { run: (c: CourseCall) => Promise<number>; arg?: string }> = {
  init: { run: courseInit },
  roster: { run: courseRoster, arg: "roster.csv" },
  token: { run: courseToken, arg: "id" },
  export: { run: courseExport },
  calendar: { run: courseCalendar },
  extend: { run: courseExtend, arg: "student" },
  backup: { run: courseBackup },
  restore: { run: courseRestore },
  check: { run: courseCheck },
};

export const course = defineCommand({
  name: "course",
  summary: "create a course, its calendar and roster, issue tokens, extend, export the grade book",
  part: "scoring",
  positionals: [
    {
      name: "action",
      help: "init, roster, token, export, calendar, extend, backup, restore or check",
    },
    {
      name: "arg",
      help: "roster: the CSV file (id,name,email); token, extend: the id",
      optional: true,
    },
  ],
  options: {
    data: DATA_OPTION,
    db: DB_OPTION,
    name: { type: "string", arg: "NAME", help: "init: the course's name" },
    keep: {
      type: "string",
      arg: "best|last",
      help: `init: which submission's score counts (default: ${DEFAULT_POLICY.keep})`,
    },
    cooldown: {
      type: "string",
      arg: "SECONDS",
      help:
        `init: time between two submissions of one part (default: ${DEFAULT_POLICY.cooldownSeconds})`,
    },
    "time-limit": {
      type: "string",
      arg: "SECONDS",
      help:
        `init: limit of each run of a student's program (default: ${DEFAULT_POLICY.timeLimitSeconds})`,
    },
    out: { type: "string", arg: "FILE", help: "backup: the new backup file (.tar, .tar.gz)" },
    from: { type: "string", arg: "FILE", help: "restore: the backup file" },
    ...CALENDAR_OPTIONS,
  },
  description: `  course init --data DIR             creates the course (DIR/socklab.db, the course
                                     CA DIR/ca.crt and its private key DIR/ca.key);
                                     prints the teaching assistant's token
  course roster --data DIR FILE.csv  imports students (header: id,name,email;
                                     re-import updates); prints id,token of the new
  course token --data DIR ID         a new token for ID (the old one stops working)
  course export --data DIR           the grade book, CSV: one row per student, the
                                     kept score of each part among the submissions
                                     received before the student's close (--as-of T:
                                     and before T)
  course calendar --data DIR         prints the calendar, a part a line; with
                                     --opens/--closes/--attempt-limit changes the
                                     course's (or --part's own) first
  course extend --data DIR ID        a later close (--until T) and/or more attempts
                                     (--attempts N) for one student, one --part or all
  course backup --data DIR --out F   a consistent copy while serve runs: the database,
                                     the course CA, the keys, in one tar file (F.tar,
                                     F.tar.gz); with --db, only DIR's keys: pg_dump
                                     the database (the command is printed)
  course restore --from F --data NEW unpacks a backup into the new directory NEW,
                                     checking every file and the database first
  course check --data DIR            the database's integrity, every result and file,
                                     the course CA; exit 1 if anything is wrong
Times: ISO 8601 in the course's zone (2021-11-17T23:55) or with an offset
(2021-11-17T23:55+01:00); a local time a clock change repeats or skips is
refused. Submissions received outside the window are refused (403), past the
attempt limit too (429); what was received before the close is graded and
counts, however late it is graded.
With --db URL the course's database is PostgreSQL (init still keeps the CA's
key in --data, backup, restore and check work on it; the others need only --db).
Tokens are stored hashed: print them once, hand them out.`,
  example: "socklab course init --data course --opens 2021-11-04T23:55 --closes 2021-11-17T23:55",
  async run(args, io) {
    const db = dbUrl(args);
    const [action, arg] = args.positionals;
    if (!Object.hasOwn(COURSE_ACTIONS, action)) {
      throw new UsageError(
        `'${action}' is not a course action (${Object.keys(COURSE_ACTIONS).join(", ")})`,
      );
    }
    const what = COURSE_ACTIONS[action];
    if (what.arg && !arg) throw new UsageError(`course ${action}: missing <${what.arg}>`);
    if (!what.arg && arg) throw new UsageError(`course ${action}: unexpected argument '${arg}'`);
    const data = action === "init" || db === undefined ? dataDir(args) : str(args, "data");
    return await what.run({ args, io, data, db, arg });
  },
});

/**
 * An HTTP call to the service (through `client`: `--ca`); a network failure is a RunError
 * with its cause in a few words (fetch's own message nests the URL and every layer) and the
 * likely fix.
 */
async function call(url: string, init: RequestInit, client?: Deno.HttpClient): Promise<Response> {
  try {
    return await fetch(url, client ? { ...init, client } : init);
  } catch (e) {
    const origin = new URL(url).origin;
    const m = errorMessage(e);
    const cert = /invalid peer certificate: (\w+)|certificate/i.exec(m);
    if (cert) {
      throw new RunError(
        `cannot reach ${origin} (its certificate is not trusted${
          cert[1] ? `: ${cert[1]}` : ""
        }): ` +
          `if the course signed it, give --ca FILE (the course's ca.crt)`,
      );
    }
    const why = /connection refused/i.test(m)
      ? "connection refused"
      : /dns error|lookup|resolve/i.test(m)
      ? "cannot resolve its name"
      : /timed? ?out/i.test(m)
      ? "timed out"
      : m.replace(/^fetch failed: /i, "");
    throw new RunError(
      `cannot reach ${origin} (${why}): is \`socklab serve\` running at ${origin}?`,
    );
  }
}

/** `--ca FILE`: an HTTP client trusting that CA (as well as the system's), or undefined. */
async function caClient(file: string | undefined): Promise<Deno.HttpClient | undefined> {
  if (file === undefined) return undefined;
  const pem = await readInputText(file, "CA certificate");
  if (!PEM_CERT.test(pem)) throw new RunError(`${file} holds no PEM certificate`);
  return Deno.createHttpClient({ caCerts: [pem] });
}

/** The body of an error response, as one sentence. */
async function errorOf(res: Response): Promise<string> {
  const text = await res.text();
  try {
    return JSON.parse(text).error ?? text;
  } catch {
    return `HTTP ${res.status} ${text.slice(0, 200)}`;
  }
}

const POLL_MS = 500;
/** How long `submit` waits for a result before giving up (the job goes on). */
const WAIT_LIMIT_MS = 60 * 60 * 1000;

/** The service's address and the student's token, from the options; API calls with them. */
interface Client {
  io: Io;
  args: Args;
  /** A GET or POST to a path of the API, authorised; network failures are RunErrors. */
  call(path: string, init?: RequestInit): Promise<Response>;
  /** A GET whose answer must be 2xx JSON (else its error, a RunError). */
  get<T>(path: string): Promise<T>;
}

function client(args: Args, io: Io, http?: Deno.HttpClient): Client {
  const server = str(args, "server");
  if (!server) throw new UsageError("--server URL is required");
  let base: URL;
  try {
    base = new URL(server);
    if (!/^https?:$/.test(base.protocol)) throw new Error();
  } catch {
    throw new UsageError(`--server: '${server}' is not an http:// or https:// URL`);
  }
  const token = str(args, "token") ?? Deno.env.get("SOCKLAB_TOKEN");
  if (!token) throw new UsageError("--token is required (or set SOCKLAB_TOKEN)");
  const headers = { authorization: `Bearer ${token}` };
  const c: Client = {
    io,
    args,
    call: (path, init = {}) => call(new URL(path, base).href, { ...init, headers }, http),
    async get<T>(path: string) {
      const r = await c.call(path);
      if (!r.ok) throw new RunError(await errorOf(r));
      return await r.json() as T;
    },
  };
  return c;
}

/** Print a graded submission like `grade` (or why it could not be graded); its exit code. */
function printResult(io: Io, sub: SubmissionJson): number {
  if (sub.status === "failed") {
    io.out(`submission ${sub.id} could not be graded (not counted): ${sub.error}`);
    return 1;
  }
  if (sub.status !== "done") {
    io.out(
      `submission ${sub.id} is ${sub.status}${sub.position ? `, position ${sub.position}` : ""}`,
    );
    return 1;
  }
  const report: GradeReport = {
    part: sub.kind,
    max_grade: sub.max_grade!,
    score: sub.score!,
    success: sub.success!,
    // A test without `scored` (stored before it existed) was scored.
    tests: (sub.tests ?? []).map((t) => ({ ...t, scored: t.scored !== false })),
  };
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  for (const line of formatReport(report, color)) io.out(line);
  return sub.success ? 0 : 1;
}

/** The ISO 8601 times of the API in the course's zone, as people read them. */
const shown = (iso: string | null, zone: string) =>
  iso === null ? "-" : formatTime(Date.parse(iso), zone);

/** A part's calendar line: `part2  open, closes 17 Nov 2021 23:55 CET; attempt 3 of 100; kept 4/4`. */
function partLine(p: PartJson, zone: string): string {
  const when = p.state === "not-open"
    ? `opens ${shown(p.opens, zone)}`
    : p.state === "closed"
    ? `closed on ${shown(p.closes, zone)}`
    : p.closes === null
    ? "open"
    : `open, closes ${shown(p.closes, zone)}`;
  const kept = p.kept_score === null ? "" : `; kept ${p.kept_score}/${p.max_grade}`;
  return `${p.kind.padEnd(14)}  ${when}; ${p.attempts} of ${p.attempt_limit} attempts${kept}`;
}

/** Submissions as a table: id, part, accepted time, status, score, attempt, which one counts. */
function historyLines(subs: SubmissionJson[], zone: string): string[] {
  const rows = subs.map((s) => [
    String(s.id),
    s.kind,
    shown(s.created_at, zone),
    s.status,
    s.score === null ? "-" : `${s.score}/${s.max_grade}`,
    s.attempt === null ? "-" : String(s.attempt),
    s.kept ? "counts" : "",
  ]);
  const head = ["id", "part", "accepted", "status", "score", "attempt", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd());
}

/** `submit --list [KIND]`: the calendar of the part(s), then every submission. */
async function submitList(c: Client, kind: string | undefined): Promise<number> {
  if (kind !== undefined && !isKind(kind)) {
    throw new UsageError(`'${kind}' is not a part (${KINDS.join(", ")})`);
  }
  const me = await c.get<MeJson>("/api/me");
  const q = kind ? `?kind=${kind}` : "";
  const { submissions } = await c.get<{ submissions: SubmissionJson[] }>(`/api/submissions${q}`);
  if (flag(c.args, "json")) {
    c.io.out(JSON.stringify({ timezone: me.timezone, parts: me.parts, submissions }));
    return 0;
  }
  for (const p of me.parts) if (!kind || p.kind === kind) c.io.out(partLine(p, me.timezone));
  c.io.out("");
  if (submissions.length === 0) c.io.out("no submissions yet");
  else for (const line of historyLines(submissions, me.timezone)) c.io.out(line);
  return 0;
}

/** `submit --show ID [--archive FILE]`: a past result like `grade`, its archive saved. */
async function submitShow(c: Client, id: string): Promise<number> {
  if (!/^\d{1,15}$/.test(id)) throw new UsageError(`--show: '${id}' is not a submission id`);
  const sub = await c.get<SubmissionJson>(`/api/submissions/${id}`);
  const archive = str(c.args, "archive");
  if (archive !== undefined) {
    const r = await c.call(`/api/submissions/${id}/archive`);
    if (!r.ok) throw new RunError(await errorOf(r));
    try {
      await Deno.writeFile(archive, new Uint8Array(await r.arrayBuffer()));
    } catch (e) {
      throw new RunError(`cannot write ${archive}: ${errorMessage(e)}`);
    }
  }
  const { timezone } = await c.get<MeJson>("/api/me");
  const attempt = sub.attempt === null ? "not an attempt" : `attempt ${sub.attempt}`;
  c.io.log(
    `submission ${sub.id} (${sub.kind}), accepted ${shown(sub.created_at, timezone)}, ` +
      `${attempt}${sub.kept ? ", the one that counts" : ""}`,
  );
  if (archive !== undefined) c.io.log(`archive written to ${archive}`);
  if (flag(c.args, "json")) {
    const { status, max_grade, score, success, tests } = sub;
    c.io.out(
      JSON.stringify({ id: sub.id, kind: sub.kind, status, max_grade, score, success, tests }),
    );
    return sub.success ? 0 : 1;
  }
  return printResult(c.io, sub);
}

/** The upload's form: the kind, the sciper, each file the kind takes. */
async function uploadForm(args: Args, kind: Kind, paths: string[]): Promise<FormData> {
  const fields = KIND_FILES[kind];
  if (paths.length !== fields.length) {
    throw new UsageError(
      `${kind} takes ${fields.length} file(s): ${fields.join(", ")}; got ${paths.length}`,
    );
  }
  const sciper = str(args, "sciper");
  if (kind === "part4-sender" && (!sciper || !/^\d{6}$/.test(sciper))) {
    throw new UsageError("part4-sender needs --sciper, your 6 digits");
  }
  const form = new FormData();
  form.set("kind", kind);
  if (sciper) form.set("sciper", sciper);
  for (const [i, field] of fields.entries()) {
    const bytes = await readInput(paths[i], `cannot read ${field}`);
    form.set(field, new File([new Uint8Array(bytes)], paths[i].split("/").at(-1)!));
  }
  return form;
}

/** Poll a submission until it is graded (its progress on stderr), bounded by WAIT_LIMIT_MS. */
async function waitResult(c: Client, id: number): Promise<SubmissionJson> {
  const wait = (s: number | null) => (s === null ? "" : `, about ${s} s`);
  let last = "";
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (Date.now() < deadline) {
    const sub = await c.get<SubmissionJson>(`/api/submissions/${id}`);
    if (sub.status === "done" || sub.status === "failed") return sub;
    const line = sub.status === "queued"
      ? `queued: position ${sub.position}${wait(sub.estimated_wait_s)}`
      : `running${wait(sub.estimated_wait_s)}`;
    const state = `${sub.status} ${sub.position}`;
    if (state !== last) c.io.log(line);
    last = state;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new RunError(`submission ${id} is not graded yet; gave up waiting`);
}

/** Where a new submission is: `queued, position 3 (about 40 s)`, `running`, `done`. */
export function createdState(c: CreatedJson): string {
  const about = c.estimated_wait_s === null ? "" : ` (result in about ${c.estimated_wait_s} s)`;
  if (c.status === "queued" && c.position !== null) return `queued, position ${c.position}${about}`;
  return c.status === "running" ? `running${about}` : c.status;
}

/** `submit KIND FILE...`: upload, wait, print the result like `grade`. */
async function submitUpload(c: Client, kind: string, paths: string[]): Promise<number> {
  if (!isKind(kind)) throw new UsageError(`'${kind}' is not a part (${KINDS.join(", ")})`);
  if (paths.length === 0) throw new UsageError(`missing <file>`);
  const form = await uploadForm(c.args, kind, paths);
  const res = await c.call("/api/submissions", { method: "POST", body: form });
  if (res.status !== 201) throw new RunError(await errorOf(res));
  const created = await res.json() as CreatedJson;
  if (flag(c.args, "no-wait")) {
    if (flag(c.args, "json")) c.io.out(JSON.stringify({ kind, ...created }));
    else c.io.out(`submission ${created.id}: ${createdState(created)}`);
    return 0;
  }
  c.io.log(`submission ${created.id} (${kind})`);
  const sub = await waitResult(c, created.id);
  const json = flag(c.args, "json");
  if (json) {
    const { id, status, max_grade, score, success, tests } = sub;
    c.io.out(JSON.stringify({ id, kind, status, max_grade, score, success, tests }));
  }
  const code = json ? (sub.success ? 0 : 1) : printResult(c.io, sub);
  if (kind === "ca-sign" && sub.status === "done" && sub.success) {
    const r = await c.call(`/api/submissions/${sub.id}/certificate`);
    if (!r.ok) throw new RunError(await errorOf(r));
    const out = join(dirname(paths[0]), certName(paths[0]));
    try {
      await Deno.writeFile(out, new Uint8Array(await r.arrayBuffer()));
    } catch (e) {
      throw new RunError(`cannot write ${out}: ${errorMessage(e)}`);
    }
    (json ? c.io.log : c.io.out)(`signed certificate written to ${out}`);
  }
  return code;
}

export const submit = defineCommand({
  name: "submit",
  summary: "submit a lab script to the course's scoring service and print its score",
  part: "scoring",
  positionals: [
    {
      name: "kind",
      help: `the part: ${KINDS.join(", ")} (--list: only this part)`,
      optional: true,
    },
    { name: "file", help: "the script (ca-sign: the certificate request X.csr)", optional: true },
    { name: "cert", help: "part5: the certificate", optional: true },
    { name: "key", help: "part5: the private key", optional: true },
  ],
  options: {
    server: { type: "string", arg: "URL", help: "the service, e.g. http://127.0.0.1:8080" },
    token: {
      type: "string",
      arg: "TOKEN",
      help: "your token (default: the SOCKLAB_TOKEN environment variable)",
    },
    sciper: { type: "string", arg: "SCIPER", help: "part4-sender: your 6-digit sciper" },
    json: {
      type: "boolean",
      help: 'print {"id", "kind", "status", "max_grade", "score", "success", "tests"}',
    },
    "no-wait": { type: "boolean", help: "print the submission's id and queue position, and exit" },
    list: {
      type: "boolean",
      help: "print the calendar of your parts and every submission you made (of KIND)",
    },
    show: { type: "string", arg: "ID", help: "print a past submission's result like 'grade'" },
    archive: {
      type: "string",
      arg: "FILE",
      help: "with --show: save the submission and its output/ (zip) to FILE",
    },
    ca: {
      type: "string",
      arg: "FILE",
      help: "trust this CA certificate (PEM) for an https:// server, e.g. the course's ca.crt",
    },
  },
  description: `Uploads the files, shows the queue position while waiting (stderr), then
prints one line per test and the score, like 'grade'. part5 takes the
script, the certificate and the key; ca-sign takes a request X.csr and writes
the signed certificate to X.crt. Exit 0 on full marks (ca-sign: signed),
1 otherwise, 2 on usage errors. Outside the course's calendar the service
refuses the upload with a sentence that says when (exit 1).
  submit --list [KIND]          your parts' calendar (times in the course's zone)
                                and every submission: accepted time, status,
                                score, attempt number, which one counts
  submit --show ID [--archive F]  a past result, like 'grade' (and its zip)`,
  example: "socklab submit --server http://127.0.0.1:8080 --token slk_... part2 PDC.py",
  async run(args, io) {
    const [kind, ...paths] = args.positionals;
    const show = str(args, "show");
    if (flag(args, "list") && show !== undefined) {
      throw new UsageError("--list and --show: give one of them");
    }
    if (kind === undefined && !flag(args, "list") && show === undefined) {
      throw new UsageError("missing <kind> (or --list, or --show ID)");
    }
    if ((flag(args, "list") && paths.length) || (show !== undefined && kind !== undefined)) {
      throw new UsageError(`unexpected argument '${flag(args, "list") ? paths[0] : kind}'`);
    }
    if (given(args, "archive") && show === undefined) {
      throw new UsageError("--archive FILE goes with --show ID");
    }
    using http = await caClient(str(args, "ca"));
    const c = client(args, io, http);
    if (flag(args, "list")) return await submitList(c, kind);
    if (show !== undefined) return await submitShow(c, show);
    return await submitUpload(c, kind!, paths);
  },
});

/** Everything a worker without the CA key can grade (ca-sign stays with `serve`). */
export const REMOTE_KINDS: readonly Kind[] = KINDS.filter((k) => k !== "ca-sign");

export const worker = defineCommand({
  name: "worker",
  summary: "grade the queued submissions of a course on PostgreSQL (no HTTP): a worker machine",
  part: "scoring",
  positionals: [],
  options: {
    db: { ...DB_OPTION, help: "the course's database (postgres://user:password@host:port/db)" },
    slots: {
      type: "string",
      arg: "N",
      help: "jobs graded at once (default: one per core)",
    },
    name: {
      type: "string",
      arg: "NAME",
      help: "this worker's name in the teaching assistant's list (default: <host>:<pid>)",
    },
    lease: {
      type: "string",
      default: "30",
      arg: "SECONDS",
      help: "how long a job stays with this worker if it stops answering",
    },
    isolation: ISOLATION_OPTION,
    "log-format": LOG_FORMAT_OPTION,
  },
  description: `A worker machine needs nothing but this executable and the database's URL:
submissions, the course CA's certificate (part 5) and results live in the
database. It registers, heartbeats, takes the oldest queued job of every part
but ca-sign (the CA's key stays with 'serve'), grades it, and writes its one
result. Prints 'worker <name>: ... ready' on stderr, one line per job.
SIGINT/SIGTERM: stops taking jobs, lets running ones finish (or hands them
back to the queue after 30 s), exits 0. If it dies, its jobs go back to the
queue when their leases expire.`,
  example: "socklab worker --db postgres://socklab:secret@db.example:5432/socklab --slots 2",
  async run(args, io) {
    const db = dbUrl(args);
    if (db === undefined) throw new UsageError("--db URL is required (the course's database)");
    const slots = optionalNum(args, "slots", { integer: true, min: 1, max: 256 }) ??
      navigator.hardwareConcurrency;
    const name = str(args, "name");
    if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/.test(name)) {
      throw new UsageError(`--name: '${name}' is not a name (letters, digits, . _ : @ -)`);
    }
    const leaseMs = numOpt(args, "lease", { min: 0.5, max: 3600 }) * 1000;
    const log = logOpt(args, io);
    const isolation = await isolationOpt(str(args, "isolation"));
    const store = await openCourse(undefined, db);
    // Part 5 is graded against the course CA's certificate: from the database.
    const dir = await Deno.makeTempDir({ prefix: "socklab-worker-" });
    try {
      const ca = await store.getCaCert();
      if (ca === null) {
        throw new RunError(
          `the course in ${redactUrl(db)} has no CA certificate yet: start 'socklab serve' once`,
        );
      }
      await Deno.writeTextFile(courseCa(dir).cert, ca);
      const seedRaw = Deno.env.get("SOCKLAB_GRADE_SEED");
      const pool = new WorkerPool({
        store,
        dataDir: dir,
        slots,
        leaseMs,
        log,
        seed: seedRaw ? Number(seedRaw) : undefined,
        name,
        kinds: REMOTE_KINDS,
        isolation,
      });
      await pool.start();
      const why = pool.unisolated;
      log(
        `worker ${pool.id}: ${slots} slot(s) on ${redactUrl(db)}, ` +
          `${
            why ? `grading UNISOLATED (${why}): trusted scripts only` : "each job isolated"
          }; ready`,
        { event: "worker.ready", worker: pool.id },
      );
      const sig = await io.stopped;
      log(`${sig}: stopping (running jobs finish or go back to the queue)`, {
        event: "worker.stopping",
        worker: pool.id,
      });
      await pool.stop(SHUTDOWN_GRACE_MS);
      log("stopped", { event: "worker.stopped", worker: pool.id });
      return 0;
    } finally {
      await store.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
