/**
 * Plays a rush plan against a running service through its JSON API, as the
 * students would: each planned submission is POSTed at its time; one the
 * service refuses for now (429: one already running for that part, or the
 * cooldown) is sent again after `Retry-After`, like a student trying again;
 * one refused for good (4xx: a bad upload) is counted as refused. Then it
 * waits for the queue to drain (the teaching assistant's `/api/course`),
 * and reads every accepted submission back through the API.
 *
 * @module
 */
import type { PlannedSubmission } from "./plan.ts";
import { type Identity, type Upload, uploadFor } from "./programs.ts";

export interface Student {
  id: string;
  token: string;
}

export interface Accepted {
  id: number;
  student: string;
  kind: string;
  label: string;
  quality: string;
  /** When it was POSTed (the accepted try), ms since the rush started. */
  postedMs: number;
  /** 429 answers before it was accepted. */
  retries: number;
}

export interface PlayOutcome {
  accepted: Accepted[];
  /** Refused for good (4xx other than 429), by reason. */
  refused: Map<string, number>;
  /** Still refused (429) when the player gave up. */
  gaveUp: number;
  /** HTTP errors or network failures on POST. */
  errors: string[];
  /** From the first planned time to the last acceptance, ms. */
  submitMs: number;
}

export interface PlayOptions {
  base: string;
  students: Student[];
  plan: PlannedSubmission[];
  identity: Identity;
  /** Stop retrying a refused submission this long after the window's end, ms. */
  giveUpAfterMs: number;
  windowMs: number;
  log: (line: string) => void;
}

/** `fetch` that retries a network failure a few times (a busy server may reset). */
async function request(url: string, init: RequestInit, tries = 3): Promise<Response> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
  }
  throw last;
}

function form(u: Upload): FormData {
  const f = new FormData();
  f.set("kind", u.kind);
  for (const [k, v] of Object.entries(u.fields)) f.set(k, v);
  for (const [field, file] of Object.entries(u.files)) {
    f.set(field, new Blob([file.bytes as BlobPart]), file.name);
  }
  return f;
}

/** POST one upload; the parsed answer. */
export async function postSubmission(
  base: string,
  token: string,
  u: Upload,
): Promise<{ status: number; body: Record<string, unknown>; retryAfterS: number | null }> {
  const res = await request(`${base}/api/submissions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: form(u),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: text.slice(0, 200) };
  }
  const ra = res.headers.get("retry-after");
  return { status: res.status, body, retryAfterS: ra === null ? null : Number(ra) };
}

/** GET a JSON route. */
export async function getJson<T>(base: string, token: string, path: string): Promise<T> {
  const res = await request(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/**
 * Submit a ca-sign request as `student`, wait for it, and return the signed
 * certificate (the rush's part 5 submissions use it, as a student would).
 */
export async function signIdentity(
  base: string,
  student: Student,
  identity: Identity,
  timeoutMs: number,
): Promise<Uint8Array> {
  const up = await uploadFor("ca-sign", "good", 0, identity, "");
  const r = await postSubmission(base, student.token, up);
  if (r.status !== 201) throw new Error(`ca-sign refused: ${r.status} ${JSON.stringify(r.body)}`);
  const id = r.body.id as number;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = await getJson<{ status: string }>(base, student.token, `/api/submissions/${id}`);
    if (s.status === "done") {
      const res = await request(`${base}/api/submissions/${id}/certificate`, {
        headers: { authorization: `Bearer ${student.token}` },
      });
      if (!res.ok) throw new Error(`certificate of ${id}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }
    if (s.status === "failed") throw new Error(`ca-sign ${id} failed`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ca-sign ${id} not done after ${timeoutMs} ms`);
}

/** Play the plan; resolves when every planned submission is accepted, refused, or given up. */
export async function play(o: PlayOptions): Promise<PlayOutcome> {
  const t0 = performance.now();
  const accepted: Accepted[] = [];
  const refused = new Map<string, number>();
  const errors: string[] = [];
  let gaveUp = 0;
  const giveUpAt = o.windowMs + o.giveUpAfterMs;
  const variant = new Map<string, number>();

  const one = async (p: PlannedSubmission) => {
    await new Promise((r) => setTimeout(r, Math.max(0, p.atMs - (performance.now() - t0))));
    const student = o.students[p.student];
    const vkey = `${p.kind}/${p.quality}`;
    const n = variant.get(vkey) ?? 0;
    variant.set(vkey, n + 1);
    const sciper = String(100000 + p.student).slice(-6);
    const up = await uploadFor(p.kind, p.quality, n, o.identity, sciper);
    for (let retries = 0; retries < 1000; retries++) {
      const postedMs = performance.now() - t0;
      let r;
      try {
        r = await postSubmission(o.base, student.token, up);
      } catch (e) {
        errors.push(`POST ${p.kind} for ${student.id}: ${e instanceof Error ? e.message : e}`);
        return;
      }
      if (r.status === 201) {
        accepted.push({
          id: r.body.id as number,
          student: student.id,
          kind: p.kind,
          label: up.label,
          quality: p.quality,
          postedMs,
          retries,
        });
        return;
      }
      if (r.status === 429) {
        const waitMs = Math.min(60_000, Math.max(250, (r.retryAfterS ?? 1) * 1000));
        if (performance.now() - t0 + waitMs > giveUpAt) {
          gaveUp++;
          return;
        }
        await new Promise((res) => setTimeout(res, waitMs));
        continue;
      }
      const why = `${r.status} ${String(r.body.error ?? "").slice(0, 80)}`;
      if (r.status >= 500) errors.push(`POST ${p.kind} for ${student.id}: ${why}`);
      else refused.set(why, (refused.get(why) ?? 0) + 1);
      return;
    }
    gaveUp++;
  };

  let lastLog = 0;
  const ticker = setInterval(() => {
    const s = Math.round((performance.now() - t0) / 1000);
    if (s - lastLog >= 15) {
      lastLog = s;
      o.log(`  ${s} s: ${accepted.length} accepted of ${o.plan.length} planned`);
    }
  }, 1000);
  try {
    await Promise.all(o.plan.map(one));
  } finally {
    clearInterval(ticker);
  }
  const submitMs = accepted.length ? Math.max(...accepted.map((a) => a.postedMs)) : 0;
  return { accepted, refused, gaveUp, errors, submitMs };
}

/**
 * Read every accepted submission back through the API as its student
 * (8 at a time): how many the API shows done (with a score), failed, or
 * anything else (which, after the drain, is a bug).
 */
export async function readBack(
  base: string,
  accepted: readonly Accepted[],
  tokens: ReadonlyMap<string, string>,
): Promise<{ done: number; failed: number; other: string[] }> {
  const out = { done: 0, failed: 0, other: [] as string[] };
  let next = 0;
  const one = async () => {
    while (next < accepted.length) {
      const a = accepted[next++];
      try {
        const s = await getJson<{ status: string; score: number | null }>(
          base,
          tokens.get(a.student)!,
          `/api/submissions/${a.id}`,
        );
        if (s.status === "done" && s.score !== null) out.done++;
        else if (s.status === "failed") out.failed++;
        else out.other.push(`${a.id}: ${s.status}`);
      } catch (e) {
        out.other.push(`${a.id}: ${e instanceof Error ? e.message : e}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, one));
  return out;
}

/**
 * The jobs worker `id` is grading, once it grades any (polling the
 * teaching assistant's `/api/course/workers` every 200 ms, at most
 * `timeoutMs`; then whatever it has, maybe none).
 */
export async function busyJobs(
  base: string,
  taToken: string,
  id: string,
  timeoutMs: number,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let jobs: number[] = [];
  while (Date.now() < deadline) {
    const { workers } = await getJson<{ workers: { id: string; jobs: { id: number }[] }[] }>(
      base,
      taToken,
      "/api/course/workers",
    );
    jobs = workers.find((w) => w.id === id)?.jobs.map((j) => j.id) ?? [];
    if (jobs.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return jobs;
}

/** The teaching assistant's view of the queue. */
export interface CourseJson {
  queued: number;
  running: number;
}

/**
 * Wait until nothing is queued or running (polling `/api/course` every
 * `everyMs`), at most `timeoutMs`; returns when it drained (ms since `t0`), or
 * null on timeout. `onTick` runs at each poll (e.g. to restart a worker).
 */
export async function waitDrained(
  base: string,
  taToken: string,
  timeoutMs: number,
  everyMs = 500,
  onTick?: () => Promise<void>,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await onTick?.();
    const c = await getJson<CourseJson>(base, taToken, "/api/course");
    if (c.queued === 0 && c.running === 0) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}
