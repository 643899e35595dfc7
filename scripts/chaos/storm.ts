/**
 * The chaos storm: start one socklab server through the CLI (as the binary
 * runs), measure it, let hostile peers of every kind loose on it together with
 * well-behaved clients, measure it again, stop it, and report.
 *
 * Bounded everywhere: a fixed number of peers per kind, a concurrency cap, a
 * time limit on every peer (`holdMs`) and on the storm (`stormMs`, after which
 * every peer is aborted), a bounded number of good exchanges each with its own
 * deadline. The server is always stopped.
 *
 * @module
 */
import { within } from "../../mod/deadline.ts";
import { markdownTable } from "../lib/markdown.ts";
import { seededRandom } from "../../mod/random.ts";
import { type Proc, spawnSocklab } from "../lib/proc.ts";
import { crashLines, isAlive, sample, settledFds } from "./measure.ts";
import { type Endpoint, type Outcome, OUTCOMES, type Peer } from "./peers.ts";

export interface Kind {
  name: string;
  /** How many times to run the peer. */
  count: number;
  peer: Peer;
}

/**
 * One well-behaved exchange (number `i`, -1 for the warm-up); resolves with
 * null when everything came back right, else why not. `server` is the server
 * process (a receiver's good exchange reads its stdout).
 */
export type Good = (ep: Endpoint, i: number, server: Proc) => Promise<string | null>;

export interface StormSpec {
  /** Row name in the table. */
  name: string;
  /** socklab arguments that start the server (`--port 0` is appended unless `port` is set). */
  argv: string[];
  /** Where the peers connect (the port comes from the server's `listening on` line). */
  hostname: string;
  kinds: Kind[];
  good: Good;
  /** Good clients running alongside the storm. */
  goodWorkers: number;
  /** At most this many good exchanges in all (they stop earlier when the storm ends). */
  goodMax: number;
  /** At least this many, even if the storm is over first. */
  goodMin: number;
  /** Hostile peers at once. */
  concurrency: number;
  /** A stalling peer's patience, ms. */
  holdMs: number;
  /** The storm's time limit, ms: then every peer is aborted. */
  stormMs: number;
  /** Deadline of one good exchange, ms. */
  goodTimeoutMs?: number;
  /** Seed of the peers' random choices. */
  seed: number;
  /** Prefix for the server's argv (e.g. `ip netns exec NAME`). */
  prefix?: string[];
  /** Multicast: the whole storm must run inside a private network namespace. */
  netns?: boolean;
  /** A fixed port, already in `argv` (a multicast receiver's positional), instead of `--port 0`. */
  port?: number;
  /** The server's ready line, port in group 1 (default: `listening on host:port`). */
  ready?: RegExp;
  /** What the server says it handled, from its shutdown summary (for the table). */
  handled?: (summary: string) => string;
  /** Progress lines (stderr in `deno task chaos`). */
  log?: (line: string) => void;
}

export interface KindResult {
  name: string;
  launched: number;
  outcomes: Record<Outcome, number>;
  /** Peers that failed in a way the harness did not expect (a harness bug, listed). */
  errors: string[];
  /** Longest single run of this kind, seconds. */
  maxSeconds: number;
}

export interface StormResult {
  name: string;
  kinds: KindResult[];
  hostile: number;
  goodAttempted: number;
  goodCorrect: number;
  goodFailures: string[];
  /** stderr lines that look like a crash or an uncaught error, and a bad exit. */
  serverErrors: string[];
  rssStartKiB: number;
  peakRssKiB: number;
  fdsBefore: number;
  /** Most descriptors open at once during the storm (sampled every 200 ms). */
  peakFds: number;
  fdsAfter: number;
  alive: boolean;
  exitCode: number | null;
  seconds: number;
  /** The server's shutdown summary line. */
  summary: string;
  /** What the server wrote on stderr (its log), KiB. */
  logKiB: number;
  /** The server's stderr lines (for checks; not in the tables or the JSON's size budget). */
  serverLog: string[];
  /** What the server handled (from its summary), e.g. `1914 datagrams`. */
  handled: string;
}

/** Run a good exchange, turning exceptions and lateness into a reason. */
async function goodOnce(
  spec: StormSpec,
  ep: Endpoint,
  i: number,
  server: Proc,
): Promise<string | null> {
  try {
    return await within(spec.good(ep, i, server), spec.goodTimeoutMs ?? 15_000, `good #${i}`);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Start the server, storm it, stop it. */
export async function runStorm(spec: StormSpec): Promise<StormResult> {
  const t0 = performance.now();
  const log = spec.log ?? (() => {});
  const args = spec.port === undefined ? [...spec.argv, "--port", "0"] : spec.argv;
  await using proc = spawnSocklab(args, { prefix: spec.prefix });
  const ready = spec.ready ?? /listening on (?:\[[^\]]*\]|[^\s[\]]*?):(\d+)/;
  const m = await proc.stderr.waitFor(ready, 20_000);
  const port = spec.port ?? Number(m[1]);
  const ep: Endpoint = { hostname: spec.hostname, port };
  const pid = proc.child.pid;
  log(`${spec.name}: pid ${pid}, ${ep.hostname}:${ep.port}`);

  // Baseline: one good exchange first (lazy initialisation opens files), then the settled count.
  const warm = await goodOnce(spec, ep, -1, proc);
  if (warm) throw new Error(`${spec.name}: the warm-up exchange failed before any storm: ${warm}`);
  const fdsBefore = await settledFds(pid, { stableMs: 500 });
  const rssStartKiB = sample(pid)?.rssKiB ?? -1;

  // The storm.
  const random = seededRandom(spec.seed);
  const abort = new AbortController();
  const stormTimer = setTimeout(() => abort.abort(), spec.stormMs);
  const jobs: { kind: KindResult; peer: Peer }[] = [];
  const kinds: KindResult[] = spec.kinds.map((k) => {
    const r: KindResult = {
      name: k.name,
      launched: 0,
      outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
      errors: [],
      maxSeconds: 0,
    };
    for (let i = 0; i < k.count; i++) jobs.push({ kind: r, peer: k.peer });
    return r;
  });
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [jobs[i], jobs[j]] = [jobs[j], jobs[i]];
  }

  let next = 0;
  const hostileWorker = async () => {
    while (next < jobs.length && !abort.signal.aborted) {
      const job = jobs[next++];
      const began = performance.now();
      try {
        const out = await job.peer({ ep, random, signal: abort.signal, holdMs: spec.holdMs });
        if (typeof out === "string") {
          job.kind.launched++;
          job.kind.outcomes[out]++;
        } else {
          for (const [o, n] of Object.entries(out) as [Outcome, number][]) {
            job.kind.launched += n;
            job.kind.outcomes[o] += n;
          }
        }
      } catch (e) {
        job.kind.launched++;
        if (job.kind.errors.length < 5) job.kind.errors.push(String(e));
      }
      job.kind.maxSeconds = Math.max(job.kind.maxSeconds, (performance.now() - began) / 1000);
    }
  };

  let goodAttempted = 0;
  let goodCorrect = 0;
  const goodFailures: string[] = [];
  let hostileDone = false;
  const goodWorker = async () => {
    while (goodAttempted < spec.goodMax && (!hostileDone || goodAttempted < spec.goodMin)) {
      const i = goodAttempted++;
      const why = await goodOnce(spec, ep, i, proc);
      if (why === null) goodCorrect++;
      else if (goodFailures.length < 10) goodFailures.push(`#${i}: ${why}`);
    }
  };

  let peakRssKiB = 0;
  let peakFds = fdsBefore;
  const sampler = setInterval(() => {
    const s = sample(pid);
    if (s) {
      peakRssKiB = Math.max(peakRssKiB, s.hwmKiB);
      peakFds = Math.max(peakFds, s.fds);
    }
  }, 200);

  const goods = Array.from({ length: spec.goodWorkers }, goodWorker);
  await Promise.all(Array.from({ length: spec.concurrency }, hostileWorker));
  hostileDone = true;
  clearTimeout(stormTimer);
  abort.abort();
  await Promise.all(goods);

  // After: alive, a last good exchange, descriptors back to the baseline.
  const last = await goodOnce(spec, ep, goodAttempted, proc);
  goodAttempted++;
  if (last === null) goodCorrect++;
  else goodFailures.push(`final: ${last}`);
  const fdsAfter = await settledFds(pid, { target: fdsBefore, timeoutMs: 15_000 });
  clearInterval(sampler);
  const s = sample(pid);
  if (s) peakRssKiB = Math.max(peakRssKiB, s.hwmKiB);
  const alive = isAlive(pid);

  const st = await proc.stop(5_000);
  const serverErrors = crashLines(proc.stderr.text);
  if (st.code !== 0) serverErrors.push(`exit code ${st.code} (signal ${st.signal ?? "none"})`);
  const summary = proc.stderr.lines.findLast((l) => /stopped/.test(l)) ?? "";
  if (!/stopped/.test(summary)) serverErrors.push("no shutdown summary on stderr");

  return {
    name: spec.name,
    kinds,
    hostile: kinds.reduce((n, k) => n + k.launched, 0),
    goodAttempted,
    goodCorrect,
    goodFailures,
    serverErrors,
    rssStartKiB,
    peakRssKiB,
    fdsBefore,
    peakFds,
    fdsAfter,
    alive,
    exitCode: st.code,
    seconds: (performance.now() - t0) / 1000,
    summary,
    handled: spec.handled?.(summary) ?? "",
    logKiB: new TextEncoder().encode(proc.stderr.text).length / 1024,
    serverLog: proc.stderr.lines,
  };
}

/** The invariants every storm must keep; empty when all hold. */
export function violations(r: StormResult): string[] {
  const v: string[] = [];
  if (r.goodCorrect !== r.goodAttempted) {
    v.push(
      `${r.name}: ${r.goodAttempted - r.goodCorrect} of ${r.goodAttempted} good exchanges wrong: ` +
        r.goodFailures.join("; "),
    );
  }
  if (!r.alive) v.push(`${r.name}: the server died during the storm`);
  if (r.serverErrors.length) v.push(`${r.name}: server errors: ${r.serverErrors.join(" | ")}`);
  if (r.fdsAfter !== r.fdsBefore) {
    v.push(`${r.name}: open descriptors ${r.fdsBefore} before, ${r.fdsAfter} after (leak)`);
  }
  for (const k of r.kinds) {
    if (k.errors.length) v.push(`${r.name}: harness errors in ${k.name}: ${k.errors.join("; ")}`);
  }
  return v;
}

const mib = (kib: number) => kib < 0 ? "?" : (kib / 1024).toFixed(1);

/** The summary table (Markdown), one row per server. */
export function summaryTable(results: StormResult[]): string {
  const head = [
    "server",
    "hostile peers",
    "server handled",
    "good attempted",
    "good correct",
    "server errors",
    "RSS start MiB",
    "peak RSS MiB",
    "fds before",
    "peak fds",
    "fds after",
    "log KiB",
    "alive",
    "seconds",
  ];
  const rows = results.map((r) => [
    r.name,
    String(r.hostile),
    r.handled,
    String(r.goodAttempted),
    `${r.goodCorrect} (${
      r.goodAttempted ? Math.floor(100 * r.goodCorrect / r.goodAttempted) : 0
    }%)`,
    String(r.serverErrors.length),
    mib(r.rssStartKiB),
    mib(r.peakRssKiB),
    String(r.fdsBefore),
    String(r.peakFds),
    String(r.fdsAfter),
    r.logKiB.toFixed(0),
    r.alive ? "yes" : "NO",
    r.seconds.toFixed(1),
  ]);
  return markdownTable(head, rows);
}

/**
 * Hostile peers by kind and what the server did with them: `launched`, then
 * the outcomes (closed by the server, reset, held until the peer gave up,
 * refused, sent-and-gone).
 */
export function kindTable(results: StormResult[]): string {
  const head = [
    "server",
    "kind",
    "peers",
    "closed",
    "reset",
    "held",
    "refused",
    "sent",
    "longest s",
  ];
  const rows: string[][] = [];
  for (const r of results) {
    for (const k of r.kinds) {
      rows.push([
        r.name,
        k.name,
        String(k.launched),
        ...(["closed", "reset", "held", "refused", "sent"] as Outcome[]).map((o) =>
          k.outcomes[o] ? String(k.outcomes[o]) : ""
        ),
        k.maxSeconds.toFixed(1),
      ]);
    }
  }
  return markdownTable(head, rows);
}
