/**
 * The service on PostgreSQL with a worker on another machine: a private
 * cluster listening on 127.0.0.1 and on the host end of a veth pair into a
 * network namespace (scripts/lib/machine.ts); `socklab serve` here,
 * `socklab worker` in the namespace, reaching the database over the link
 * and nothing else. Needs root (namespaces) and PostgreSQL's binaries: in
 * CI both are required; elsewhere the tests are skipped, saying why.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { freeTcpPort } from "../mod/net/ports.ts";
import { processesMarked } from "../scripts/rush/measure.ts";
import { SimulatedMachine } from "../scripts/lib/machine.ts";
import { type PgCluster, startPgCluster } from "../scripts/lib/pg_cluster.ts";
import { Proc, runSocklab, socklabArgv, spawnSocklab } from "../scripts/lib/proc.ts";
import { netnsUnavailable } from "./helpers/netns.ts";
import { pgUnavailable } from "./helpers/pg.ts";
import { PostgresStore } from "../mod/service/store/postgres.ts";
import { isStoreBusy } from "../mod/service/store/open.ts";
import { within } from "../mod/deadline.ts";

const FIXTURES = new URL("./fixtures/students/", import.meta.url);
const UNAVAILABLE = netnsUnavailable() ?? pgUnavailable();
const IN_CI = Deno.env.get("CI") === "true";

function machineTest(name: string, fn: () => Promise<void>) {
  if (UNAVAILABLE && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${UNAVAILABLE})`, ignore: true, fn() {} });
    return;
  }
  Deno.test(name, async () => {
    if (UNAVAILABLE) throw new Error(`CI needs namespaces and PostgreSQL: ${UNAVAILABLE}`);
    await fn();
  });
}

/** A course on `pg` (data directory for the CA key) with one student. */
async function course(pg: PgCluster, policy: string[] = []) {
  const data = await Deno.makeTempDir({ prefix: "socklab-pgcourse-" });
  const init = await runSocklab([
    "course",
    "init",
    "--data",
    data,
    "--db",
    pg.url,
    "--cooldown",
    "0",
    ...policy,
  ]);
  assert.equal(init.code, 0, init.stderr);
  assert.doesNotMatch(init.stderr, new RegExp(pg.password), "the password is never printed");
  await Deno.writeTextFile(`${data}/roster.csv`, "id,name,email\nalice,Alice,a@example.org\n");
  const roster = await runSocklab(["course", "roster", "--db", pg.url, `${data}/roster.csv`]);
  assert.equal(roster.code, 0, roster.stderr);
  const tmp = await Deno.makeTempDir({ prefix: "socklab-pgworkers-" });
  return {
    data,
    tmp,
    ta: init.stdout.trim(),
    alice: roster.stdout.trim().split("\n")[1].split(",")[1],
    async [Symbol.asyncDispose]() {
      await Deno.remove(data, { recursive: true });
      await Deno.remove(tmp, { recursive: true });
    },
  };
}

async function serveOn(data: string, pg: PgCluster, extra: string[]) {
  // Isolated where this machine can (tests/isolation_test.ts covers isolation itself).
  const serve = spawnSocklab([
    "serve",
    "--data",
    data,
    "--db",
    pg.url,
    "--port",
    "0",
    "--isolation",
    "auto",
    ...extra,
  ]);
  const m = await serve.stderr.waitFor(/listening on (http:\/\/\S+)/, 30_000);
  return { serve, base: m[1] };
}

/** `socklab worker` on machine `m`; its temporary files go to `tmp` (a killed one cannot clean up). */
function workerOn(
  m: SimulatedMachine,
  pg: PgCluster,
  name: string,
  tmp: string,
  extra: string[] = [],
): Proc {
  return new Proc(
    socklabArgv([
      "worker",
      "--db",
      pg.urlFor(m.hostAddr),
      "--name",
      name,
      "--isolation",
      "auto",
      ...extra,
    ]),
    { prefix: m.prefix, env: { TMPDIR: tmp } },
  );
}

interface WorkerJson {
  id: string;
  state: string;
  jobs: { id: number; submission: number }[];
}

async function workers(base: string, ta: string): Promise<WorkerJson[]> {
  const r = await fetch(`${base}/api/course/workers`, {
    headers: { authorization: `Bearer ${ta}` },
  });
  assert.equal(r.status, 200);
  return (await r.json()).workers;
}

/** Poll `probe` every 100 ms until it returns a value, at most `ms`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

machineTest("a worker on another machine grades a submission made through serve", async () => {
  await using m = await SimulatedMachine.create();
  await using pg = await startPgCluster({ listen: [m.hostAddr], allow: [m.cidr] });
  await using c = await course(pg);

  // The machine reaches the database on the link only: not this namespace's loopback.
  const refused = await runSocklab(["worker", "--db", pg.url, "--isolation", "auto"], {
    prefix: m.prefix,
  });
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^socklab worker: error: cannot open the database postgres:\/\/socklab:\*\*\*@127\.0\.0\.1:\d+\/socklab: connection refused$/m,
  );

  const { serve, base } = await serveOn(c.data, pg, ["--workers", "1", "--kinds", "ca-sign"]);
  await using _serve = serve;
  await using worker = workerOn(m, pg, "machine-1", c.tmp, ["--slots", "1"]);
  await worker.stderr.waitFor(
    /^worker machine-1: 1 slot\(s\) on postgres:\/\/socklab:\*\*\*@10\.231\.[\d.]+:\d+\/socklab, (each job isolated|grading UNISOLATED .*); ready$/,
    30_000,
  );

  const r = await runSocklab([
    "submit",
    "--server",
    base,
    "--token",
    c.alice,
    "part2",
    new URL("part2_good.py", FIXTURES).pathname,
  ], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /score: 4\/4/);
  await worker.stderr.waitFor(
    /^job \d+ \(submission \d+, alice part2\): score 4\/4 in [\d.]+ s on machine-1\/0$/,
    5_000,
  );
  assert.doesNotMatch(serve.stderr.text, /alice part2/, "serve graded nothing but ca-sign");
  const ws = await workers(base, c.ta);
  assert.deepEqual(ws.find((w) => w.id === "machine-1")?.state, "alive");

  const stop = await worker.stop(20_000);
  assert.equal(stop.code, 0);
  assert.match(worker.stderr.text, /SIGTERM: stopping/);
});

const MARK = "socklab-pg-test-sleeper";

machineTest(
  "a killed worker is shown lost; its job runs again on another machine, one result",
  async () => {
    await using m1 = await SimulatedMachine.create();
    await using m2 = await SimulatedMachine.create();
    await using pg = await startPgCluster({
      listen: [m1.hostAddr, m2.hostAddr],
      allow: [m1.cidr, m2.cidr],
    });
    await using c = await course(pg, ["--time-limit", "1"]);
    // serve's 1 s lease: a worker silent for 3 s is lost.
    const { serve, base } = await serveOn(c.data, pg, ["--workers", "0", "--lease", "1"]);
    await using _serve = serve;
    const w1 = workerOn(m1, pg, "machine-1", c.tmp, ["--slots", "1", "--lease", "1"]);
    await using _w1 = w1;
    await w1.stderr.waitFor(/ready$/, 30_000);

    // A program that outlives its time limit (it becomes a process marked MARK).
    const script =
      `import os, sys\nos.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "${MARK}"])\n`;
    const form = new FormData();
    form.set("kind", "part2");
    form.set("script", new Blob([script]), "PDC.py");
    const posted = await fetch(`${base}/api/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${c.alice}` },
      body: form,
    });
    assert.equal(posted.status, 201);
    const { id } = await posted.json();
    try {
      const running = await until("machine-1 running the job", 30_000, async () => {
        const w = (await workers(base, c.ta)).find((w) => w.id === "machine-1");
        return w?.jobs.find((j) => j.submission === id);
      });
      w1.kill("SIGKILL");
      await w1.status;
      const lost = await until("machine-1 shown lost", 15_000, async () => {
        const w = (await workers(base, c.ta)).find((w) => w.id === "machine-1");
        return w?.state === "lost" ? w : undefined;
      });
      assert.deepEqual(lost.jobs, [], "its job is no longer its own (the lease expired)");

      await using w2 = workerOn(m2, pg, "machine-2", c.tmp, ["--slots", "1", "--lease", "1"]);
      await w2.stderr.waitFor(
        new RegExp(
          `^job ${running.id} \\(submission ${id}, alice part2\\): score 0/4 .* on machine-2/0$`,
        ),
        60_000,
      );

      const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        const jobs =
          await sql`SELECT id, status, tries, worker FROM jobs WHERE submission_id = ${id}`;
        assert.equal(jobs.length, 1);
        assert.equal(jobs[0].status, "done");
        assert.equal(jobs[0].tries, 2);
        assert.equal(jobs[0].worker, "machine-2/0");
        const results = await sql`SELECT worker FROM results WHERE submission_id = ${id}`;
        assert.deepEqual(results.map((r) => r.worker), ["machine-2/0"]);
      } finally {
        await sql.end();
      }
    } finally {
      // What the killed worker was running had no one left to stop it.
      for (const pid of processesMarked(MARK)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  },
);

Deno.test("worker and --db: a bad or unreachable database is one clear line", async () => {
  const none = await runSocklab(["worker"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^socklab worker: error: --db URL is required/m);
  const mysql = await runSocklab(["worker", "--db", "mysql://u:secret@127.0.0.1/x"]);
  assert.equal(mysql.code, 2);
  assert.match(mysql.stderr, /--db: 'mysql:\/\/u:secret@127\.0\.0\.1\/x' is not a postgres:/);
  const slots = await runSocklab([
    "worker",
    "--db",
    "postgres://u:p@127.0.0.1:1/x",
    "--slots",
    "0",
  ]);
  assert.equal(slots.code, 2);
  const kinds = await runSocklab(["serve", "--data", "/nonexistent", "--kinds", "part9"]);
  assert.equal(kinds.code, 2);
  assert.match(kinds.stderr, /--kinds: 'part9' is not a part/);
  // Nothing listens on the port: refused, said in one line, the password hidden.
  const port = freeTcpPort();
  const refused = await runSocklab([
    "course",
    "export",
    "--db",
    `postgres://socklab:hunter2@127.0.0.1:${port}/socklab`,
  ]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr.trim(),
    `socklab course: error: cannot open the database postgres://socklab:***@127.0.0.1:${port}/socklab: connection refused`,
  );
});

machineTest(
  "postgres store: a lock held by another session is a busy store (55P03) within the lock timeout, not a wait for ever",
  async () => {
    await using pg = await startPgCluster();
    const a = new PostgresStore(pg.url, { lockTimeoutMs: 300 });
    const b = new PostgresStore(pg.url, { lockTimeoutMs: 300 });
    try {
      await a.migrate();
      await a.upsertUser({ id: "x", name: "X", email: "", role: "student" });
      let release!: () => void;
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => locked = r);
      const held = a.sql.begin(async (tx) => {
        await tx`SELECT id FROM users WHERE id = 'x' FOR UPDATE`;
        locked();
        await new Promise<void>((r) => release = r);
      });
      await isLocked;
      const err = await within(
        b.createSubmission({
          userId: "x",
          kind: "part2",
          files: [{ name: "PDC.py", bytes: new TextEncoder().encode("print(1)") }],
        }, { now: 1, cooldownMs: 0 }),
        5000,
        "a submission while the student's row is locked",
      ).then(() => null, (e) => e);
      release();
      await held;
      assert.ok(isStoreBusy(err), String(err));
      assert.equal((await b.listSubmissions({})).length, 0, "nothing queued");
    } finally {
      await a.close();
      await b.close();
    }
  },
);
