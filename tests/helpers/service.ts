/**
 * Testing the scoring service: a course in a temp directory, the service
 * in-process or as `socklab serve`, students' scripts (the fixtures, or a
 * Python wrapper that execs one of socklab's own clients), and the API calls.
 *
 * @module
 */
import type { Isolation } from "../../mod/grade/engine.ts";
import assert from "node:assert/strict";
import { importRoster, initCourse } from "../../mod/service/course.ts";
import { openStore } from "../../mod/service/store/open.ts";
import {
  isRefusal,
  type Kind,
  MAX_TRIES,
  type Policy,
  type Store,
  type StoredFile,
  type TestRow,
} from "../../mod/service/store/store.ts";
import type { Calendar } from "../../mod/service/store/store.ts";
import { type Service, type ServiceOptions, startService } from "../../mod/service/server.ts";
import type { SubmissionJson } from "../../mod/service/api.ts";
import { socklabArgv } from "../../scripts/lib/proc.ts";
import { STUDENTS } from "./grade.ts";

export interface TestCourse {
  dir: string;
  data: string;
  ta: string;
  /** Student id -> token. */
  tokens: Record<string, string>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A course in a temp dir with `students` (ids), policy and calendar
 * overrides; its database on PostgreSQL at `db` if given (else SQLite in
 * the directory).
 */
export async function makeCourse(
  students: string[],
  policy: Partial<Policy> = {},
  opts: { calendar?: Partial<Calendar>; db?: string } = {},
): Promise<TestCourse & { db?: string }> {
  const dir = await Deno.makeTempDir({ prefix: "socklab-service-" });
  const data = `${dir}/course`;
  const ta = await initCourse(data, {
    policy: { cooldownSeconds: 0, ...policy },
    calendar: opts.calendar,
    db: opts.db,
  });
  const store = await openStore({ data, db: opts.db });
  const { added } = await importRoster(
    store,
    students.map((id) => ({ id, name: `Student ${id}`, email: `${id}@example.org` })),
  );
  await store.close();
  return {
    dir,
    data,
    db: opts.db,
    ta,
    tokens: Object.fromEntries(added.map((a) => [a.id, a.token])),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The service in this process on port 0 (its clock `clock`, if given); closes on dispose. */
export async function serveInProcess(
  course: Pick<TestCourse, "data"> & { db?: string },
  opts: {
    workers?: number;
    leaseMs?: number;
    seed?: number;
    isolation?: Isolation;
    kinds?: Kind[];
    clock?: () => number;
  } & Pick<ServiceOptions, "maxPerPeer" | "maxConnections" | "headTimeoutMs" | "rateWindowMs"> = {},
): Promise<Service & AsyncDisposable & { logs: string[] }> {
  const logs: string[] = [];
  const s = await startService({
    dataDir: course.data,
    db: course.db,
    kinds: opts.kinds,
    clock: opts.clock,
    hostname: "127.0.0.1",
    port: 0,
    workers: opts.workers ?? 0,
    leaseMs: opts.leaseMs ?? 30_000,
    log: (l) => logs.push(l),
    seed: opts.seed ?? 7,
    isolation: opts.isolation,
    maxPerPeer: opts.maxPerPeer,
    maxConnections: opts.maxConnections,
    headTimeoutMs: opts.headTimeoutMs,
    rateWindowMs: opts.rateWindowMs,
  });
  return Object.assign(s, {
    logs,
    async [Symbol.asyncDispose]() {
      await s.close(5_000);
    },
  });
}

/**
 * A student "script" that is one of socklab's own clients: Python that
 * execs `socklab <client>` with the arguments it was given.
 */
export function clientScript(client: string): string {
  const argv = socklabArgv([client]);
  return `import os, sys\nargv = ${JSON.stringify(argv)}\nos.execv(argv[0], argv + sys.argv[1:])\n`;
}

/** A fixture student script's text. */
export function fixture(name: string): string {
  return Deno.readTextFileSync(STUDENTS + name);
}

export interface Upload {
  kind: string;
  files?: Record<string, string | Uint8Array | { name: string; data: string | Uint8Array }>;
  sciper?: string;
}

/** POST /api/submissions; returns the status and the JSON body. */
export async function postSubmission(
  url: string,
  token: string | null,
  up: Upload,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const form = new FormData();
  form.set("kind", up.kind);
  if (up.sciper) form.set("sciper", up.sciper);
  for (const [field, v] of Object.entries(up.files ?? {})) {
    const { name, data } = typeof v === "object" && "data" in v
      ? v
      : { name: `${field}.txt`, data: v };
    form.set(field, new File([data as BlobPart], name));
  }
  const res = await fetch(`${url}/api/submissions`, {
    method: "POST",
    body: form,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** GET a JSON route with a token. */
export async function getJson(
  url: string,
  token: string,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

/** Wait until a submission is done or failed (polling the API, bounded). */
export async function waitGraded(
  url: string,
  token: string,
  id: number,
  timeoutMs = 60_000,
): Promise<SubmissionJson> {
  return await waitStatus(url, token, id, ["done", "failed"], timeoutMs);
}

export async function waitStatus(
  url: string,
  token: string,
  id: number,
  statuses: string[],
  timeoutMs = 60_000,
): Promise<SubmissionJson> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { status, body } = await getJson(url, token, `/api/submissions/${id}`);
    assert.equal(status, 200, JSON.stringify(body));
    if (statuses.includes(body.status as string)) return body as unknown as SubmissionJson;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`submission ${id} did not reach ${statuses.join("/")} within ${timeoutMs} ms`);
}

/** The value of `name` in a response's Set-Cookie headers (`name=value`), or null. */
export function setCookie(res: Response, name: string): string | null {
  for (const c of res.headers.getSetCookie()) {
    if (c.startsWith(`${name}=`)) return c.split(";")[0];
  }
  return null;
}

/**
 * Sign in as a browser does: open the personal link (the confirmation page
 * and its sign-in cookie), press the button (POST /login). Returns the
 * session cookie (`name=value`) and the redirect's Set-Cookie line.
 */
export async function webSignIn(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<{ cookie: string; setCookie: string }> {
  const link = await fetch(`${url}/login?token=${encodeURIComponent(token)}`, {
    headers,
    redirect: "manual",
  });
  const page = await link.text();
  assert.equal(link.status, 200, page);
  const login = setCookie(link, "socklab_login");
  assert.ok(login, "the sign-in page sets its cookie");
  const field = (name: string) => page.match(new RegExp(`name="${name}" value="([^"]+)"`))![1];
  const press = await fetch(`${url}/login`, {
    method: "POST",
    body: new URLSearchParams({ csrf: field("csrf"), pending: field("pending") }),
    headers: { ...headers, cookie: login },
    redirect: "manual",
  });
  await press.body?.cancel();
  assert.equal(press.status, 303);
  assert.equal(press.headers.get("location"), "/");
  const cookie = setCookie(press, "socklab_session");
  assert.ok(cookie, "the press sets the session cookie");
  const line = press.headers.getSetCookie().find((c) => c.startsWith("socklab_session="))!;
  return { cookie, setCookie: line };
}

/** What {@link gradedSubmission} makes: its times, its result. */
export interface GradedOptions {
  /** When it was queued (default: now); the worker takes it `waitMs` later, for `runMs`. */
  at?: number;
  waitMs?: number;
  runMs?: number;
  maxGrade?: number;
  tests?: TestRow[];
  stdout?: string;
  stderr?: string;
  files?: StoredFile[];
}

/** A graded submission of `userId`, made through the store as a worker would; its id. */
export async function gradedSubmission(
  store: Store,
  userId: string,
  kind: Kind,
  score: number,
  o: GradedOptions = {},
): Promise<number> {
  const at = o.at ?? Date.now();
  const sub = await store.createSubmission(
    { userId, kind, files: [{ name: "script.py", bytes: new TextEncoder().encode("print(1)\n") }] },
    { now: at, cooldownMs: 0 },
  );
  assert.ok(!isRefusal(sub), JSON.stringify(sub));
  const started = at + (o.waitMs ?? 0);
  const job = await store.lease("w/0", 3_600_000, started);
  assert.equal(job?.submissionId, sub.id, "the queue was empty");
  const maxGrade = o.maxGrade ?? 4;
  assert.ok(
    await store.complete(job.id, job.leaseId, {
      score,
      maxGrade,
      success: score === maxGrade ? 1 : 0,
      tests: o.tests ?? [{ name: "t", passed: score === maxGrade, scored: true, detail: "d" }],
      stdout: o.stdout ?? "",
      stderr: o.stderr ?? "",
      files: o.files ?? [],
      durationMs: o.runMs ?? 1,
    }, started + (o.runMs ?? 1)),
  );
  return sub.id;
}

/** A clock a test sets: `clock.now` is what the service reads, `clock.at` moves it. */
export class TestClock {
  constructor(public t: number) {}
  readonly now = (): number => this.t;
  at(t: number): void {
    this.t = t;
  }
}

/**
 * Play a worker through the store: lease the next job and finish it with
 * `score` (of 4), or fail it on every try (a grader failure). Returns the
 * submission id it finished.
 */
export async function finishNext(store: Store, score: number | "grader failure"): Promise<number> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const j = await store.lease("test-worker", 60_000, Date.now());
    assert.ok(j, "a job is queued");
    if (score !== "grader failure") {
      const result = {
        score,
        maxGrade: 4,
        success: score === 4 ? 1 as const : 0 as const,
        tests: [{ name: "t", passed: score > 0, detail: `scored ${score}` }],
        stdout: "",
        stderr: "",
        files: [],
        durationMs: 100,
      };
      assert.ok(await store.complete(j.id, j.leaseId, result, Date.now()));
      return j.submissionId;
    }
    await store.fail(j.id, j.leaseId, "grader broke", Date.now());
    if (i === MAX_TRIES - 1) return j.submissionId;
  }
  throw new Error("unreachable");
}

/** The handout's calendar: opens Thu 4 Nov 2021 23:55, closes Wed 17 Nov 2021 23:55, Lausanne (CET). */
export const HANDOUT = {
  opens: Date.UTC(2021, 10, 4, 22, 55),
  closes: Date.UTC(2021, 10, 17, 22, 55),
};

/** A temporary directory, removed on dispose. */
export async function tempDir(prefix = "socklab-service-cli-"): Promise<string & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix });
  return Object.assign(dir, {
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  }) as string & AsyncDisposable;
}
