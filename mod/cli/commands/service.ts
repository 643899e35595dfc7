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
  numOpt,
  optionalNum,
  parseChoice,
  portOpt,
  str,
} from "../command.ts";
import { LIMIT_OPTIONS, parseLimitOptions } from "../fair.ts";
import { listenOptions } from "../options.ts";
import { errorMessage, RunError, UsageError } from "../../errors.ts";
import { type Isolation, ISOLATIONS } from "../../grade/engine.ts";
import { isolationProblem } from "../../proc/sandbox.ts";
import { formatReport, type GradeReport } from "../../grade/report.ts";

import type { CreatedJson, SubmissionJson } from "../../service/api.ts";
import { issueToken } from "../../service/auth.ts";
import {
  courseCa,
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
import { isPostgresUrl, redactUrl } from "../../service/store/open.ts";
import {
  DEFAULT_POLICY,
  isKind,
  type Kind,
  KINDS,
  type Policy,
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
'listening on http://<host>:<port>' on stderr when ready, one line per job.
A client must send its request head within 10 s and its body at 1 KiB/s or
more, else it is cut (408); connections past --max-connections, or past
--max-per-peer from one address, are answered 503 (behind a proxy every
client has its address: give --max-per-peer 0 there).
SIGINT/SIGTERM: stops taking jobs, lets running ones finish (after 30 s it
stops them and hands them back to the queue), exits 0.`,
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
    const isolation = await isolationOpt(str(args, "isolation"));
    const service = await startService({
      dataDir: data,
      db,
      kinds,
      hostname: str(args, "host"),
      port,
      workers,
      leaseMs,
      log: io.log,
      seed: seedRaw ? Number(seedRaw) : undefined,
      isolation,
      ...parseLimitOptions(args),
    });
    const course = (await service.store.getCourse())!;
    const students = (await service.store.listUsers("student")).length;
    const why = service.pool?.unisolated;
    io.log(
      `course '${course.name}': ${students} students; ${workers} worker(s)` +
        `${kinds ? ` grading ${kinds.join(", ")}` : ""}` +
        `${db ? ` on ${redactUrl(db)}` : ""}; ` +
        (why
          ? `grading UNISOLATED (${why}): trusted scripts only; one job at a time`
          : workers
          ? "each job isolated in its own sandbox"
          : "no workers here"),
    );
    io.log(`listening on ${service.url}`);
    const sig = await io.stopped;
    io.log(`${sig}: stopping (running jobs finish or go back to the queue)`);
    await service.close();
    io.log("stopped");
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

export const course = defineCommand({
  name: "course",
  summary: "create a course, import its roster, issue tokens, export the grade book",
  part: "scoring",
  positionals: [
    { name: "action", help: "init, roster, token or export" },
    { name: "arg", help: "roster: the CSV file (id,name,email); token: the id", optional: true },
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
  },
  description: `  course init --data DIR             creates the course (DIR/socklab.db, the course
                                     CA DIR/ca.crt and its private key DIR/ca.key);
                                     prints the teaching assistant's token
  course roster --data DIR FILE.csv  imports students (header: id,name,email;
                                     re-import updates); prints id,token of the new
  course token --data DIR ID         a new token for ID (the old one stops working)
  course export --data DIR           the grade book, CSV: one row per student, the
                                     kept score of each part
With --db URL the course's database is PostgreSQL (init still keeps the CA's
key in --data; roster, token and export need only --db).
Tokens are stored hashed: print them once, hand them out.`,
  example: "socklab course init --data course",
  async run(args, io) {
    const db = dbUrl(args);
    const [action, arg] = args.positionals;
    const data = action === "init" || db === undefined ? dataDir(args) : str(args, "data");
    const needArg = (what: string) => {
      if (!arg) throw new UsageError(`course ${action}: missing <${what}>`);
      return arg;
    };
    const noArg = () => {
      if (arg) throw new UsageError(`course ${action}: unexpected argument '${arg}'`);
    };
    switch (action) {
      case "init": {
        noArg();
        const policy = policyFrom(args);
        io.out(await initCourse(data!, { name: str(args, "name"), policy, db }));
        io.log(
          `course created in ${db ? `${redactUrl(db)} (CA in ${data})` : data}; ` +
            `the line above is the teaching assistant's token`,
        );
        return 0;
      }
      case "roster": {
        const file = needArg("roster.csv");
        let bytes: Uint8Array;
        try {
          bytes = await Deno.readFile(file);
        } catch (e) {
          throw new RunError(`cannot read ${file}: ${errorMessage(e)}`);
        }
        const rows = parseRoster(bytes);
        const store = await openCourse(data, db);
        try {
          const { added, updated } = await importRoster(store, rows);
          if (added.length) io.out("id,token");
          for (const a of added) io.out(`${a.id},${a.token}`);
          io.log(`${added.length} student(s) added, ${updated} updated`);
        } finally {
          await store.close();
        }
        return 0;
      }
      case "token": {
        const id = needArg("id");
        const store = await openCourse(data, db);
        try {
          if (!(await store.getUser(id))) throw new RunError(`no student or TA '${id}'`);
          io.out(await issueToken(store, id));
          io.log(
            `new token for ${id}${
              id === TA_ID ? " (teaching assistant)" : ""
            }; the old one no longer works`,
          );
        } finally {
          await store.close();
        }
        return 0;
      }
      case "export": {
        noArg();
        const store = await openCourse(data, db);
        try {
          io.write(gradeBookCsv(await gradeBook(store)));
        } finally {
          await store.close();
        }
        return 0;
      }
      default:
        throw new UsageError(`'${action}' is not a course action (init, roster, token, export)`);
    }
  },
});

/** An HTTP call to the service; network failures are RunErrors. */
async function call(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new RunError(`cannot reach ${new URL(url).origin}: ${errorMessage(e)}`);
  }
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

export const submit = defineCommand({
  name: "submit",
  summary: "submit a lab script to the course's scoring service and print its score",
  part: "scoring",
  positionals: [
    { name: "kind", help: `the part: ${KINDS.join(", ")}` },
    { name: "file", help: "the script (ca-sign: the certificate request X.csr)" },
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
  },
  description: `Uploads the files, shows the queue position while waiting (stderr), then
prints one line per test and the score, like 'grade'. part5 takes the
script, the certificate and the key; ca-sign takes a request X.csr and writes
the signed certificate to X.crt. Exit 0 on full marks (ca-sign: signed),
1 otherwise, 2 on usage errors.`,
  example: "socklab submit --server http://127.0.0.1:8080 --token slk_... part2 PDC.py",
  async run(args, io) {
    const [kind, ...paths] = args.positionals;
    if (!isKind(kind)) throw new UsageError(`'${kind}' is not a part (${KINDS.join(", ")})`);
    const fields = KIND_FILES[kind];
    if (paths.length !== fields.length) {
      throw new UsageError(
        `${kind} takes ${fields.length} file(s): ${fields.join(", ")}; got ${paths.length}`,
      );
    }
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
    const sciper = str(args, "sciper");
    if (kind === "part4-sender" && (!sciper || !/^\d{6}$/.test(sciper))) {
      throw new UsageError("part4-sender needs --sciper, your 6 digits");
    }
    const form = new FormData();
    form.set("kind", kind);
    if (sciper) form.set("sciper", sciper);
    for (const [i, field] of fields.entries()) {
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await Deno.readFile(paths[i]);
      } catch (e) {
        throw new RunError(`cannot read ${paths[i]}: ${errorMessage(e)}`);
      }
      form.set(field, new File([bytes], paths[i].split("/").at(-1)!));
    }
    const auth = { authorization: `Bearer ${token}` };
    const api = (p: string) => new URL(p, base).href;
    const res = await call(api("/api/submissions"), { method: "POST", body: form, headers: auth });
    if (res.status !== 201) throw new RunError(await errorOf(res));
    const created = await res.json() as CreatedJson;
    const wait = (s: number | null) => (s === null ? "" : `, about ${s} s`);
    if (flag(args, "no-wait")) {
      if (flag(args, "json")) io.out(JSON.stringify({ kind, ...created }));
      else io.out(`submission ${created.id}: ${created.status}, position ${created.position}`);
      return 0;
    }
    io.log(`submission ${created.id} (${kind})`);
    let sub: SubmissionJson | undefined;
    let last = "";
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (Date.now() < deadline) {
      const r = await call(api(`/api/submissions/${created.id}`), { headers: auth });
      if (!r.ok) throw new RunError(await errorOf(r));
      sub = await r.json() as SubmissionJson;
      if (sub.status === "done" || sub.status === "failed") break;
      const line = sub.status === "queued"
        ? `queued: position ${sub.position}${wait(sub.estimated_wait_s)}`
        : `running${wait(sub.estimated_wait_s)}`;
      const state = `${sub.status} ${sub.position}`;
      if (state !== last) io.log(line);
      last = state;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    if (!sub || (sub.status !== "done" && sub.status !== "failed")) {
      throw new RunError(`submission ${created.id} is still ${sub?.status}; gave up waiting`);
    }
    if (flag(args, "json")) {
      const { id, status, max_grade, score, success, tests } = sub;
      io.out(JSON.stringify({ id, kind, status, max_grade, score, success, tests }));
    }
    if (sub.status === "failed") {
      if (!flag(args, "json")) {
        io.out(`submission ${sub.id} could not be graded (not counted): ${sub.error}`);
      }
      return 1;
    }
    if (!flag(args, "json")) {
      const report: GradeReport = {
        part: kind,
        max_grade: sub.max_grade!,
        score: sub.score!,
        success: sub.success!,
        // A test without `scored` (stored before it existed) was scored.
        tests: (sub.tests ?? []).map((t) => ({ ...t, scored: t.scored !== false })),
      };
      const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
      for (const line of formatReport(report, color)) io.out(line);
    }
    if (kind === "ca-sign" && sub.success) {
      const r = await call(api(`/api/submissions/${sub.id}/certificate`), { headers: auth });
      if (!r.ok) throw new RunError(await errorOf(r));
      const out = join(dirname(paths[0]), certName(paths[0]));
      try {
        await Deno.writeFile(out, new Uint8Array(await r.arrayBuffer()));
      } catch (e) {
        throw new RunError(`cannot write ${out}: ${errorMessage(e)}`);
      }
      (flag(args, "json") ? io.log : io.out)(`signed certificate written to ${out}`);
    }
    return sub.success ? 0 : 1;
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
        log: io.log,
        seed: seedRaw ? Number(seedRaw) : undefined,
        name,
        kinds: REMOTE_KINDS,
        isolation,
      });
      await pool.start();
      const why = pool.unisolated;
      io.log(
        `worker ${pool.id}: ${slots} slot(s) on ${redactUrl(db)}, ` +
          `${
            why ? `grading UNISOLATED (${why}): trusted scripts only` : "each job isolated"
          }; ready`,
      );
      const sig = await io.stopped;
      io.log(`${sig}: stopping (running jobs finish or go back to the queue)`);
      await pool.stop(SHUTDOWN_GRACE_MS);
      io.log("stopped");
      return 0;
    } finally {
      await store.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
