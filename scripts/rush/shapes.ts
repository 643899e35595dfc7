/**
 * The shapes the rush runs the service in, each set up from nothing and
 * torn down completely (processes stopped, namespaces and clusters removed):
 *
 * - `sqlite-N`: `socklab serve` on SQLite with N in-process workers;
 * - `pg`: `serve` on PostgreSQL (a private cluster) grading nothing but
 *   ca-sign (it holds the CA key), plus two `socklab worker` processes,
 *   each on its own simulated machine: a network namespace joined to this
 *   one by a veth pair, reaching PostgreSQL on the link's address and
 *   nothing else;
 * - `pg-kill`: `pg` with machine 1's worker killed (SIGKILL) in the middle
 *   of the window and started again a minute later.
 *
 * @module
 */
import { descendants } from "../../mod/proc/sandbox.ts";
import { memoryKiB } from "../bench/proc.ts";
import { type PgCluster, startPgCluster } from "../lib/pg_cluster.ts";
import { SimulatedMachine } from "../lib/machine.ts";
import { Proc, socklabArgv } from "../lib/proc.ts";
import { CpuGroup } from "./cpuacct.ts";
import { cpuOfTree, cpuWithChildren } from "./measure.ts";
import type { Student } from "./player.ts";

export interface ShapeSpec {
  name: string;
  /** In-process workers of serve. */
  serveWorkers: number;
  /** Worker machines (0: none), and the slots of each. */
  machines: number;
  slots: number;
  /** Kill machine 1's worker at this offset of the window (ms), restart after `restartMs`. */
  killAtMs?: number;
  restartMs?: number;
}

export function shapeSpec(name: string, windowMs: number, restartMs: number): ShapeSpec {
  const m = /^sqlite-(\d+)$/.exec(name);
  if (m) return { name, serveWorkers: Number(m[1]), machines: 0, slots: 0 };
  if (name === "pg") return { name, serveWorkers: 1, machines: 2, slots: 2 };
  if (name === "pg-kill") {
    return { name, serveWorkers: 1, machines: 2, slots: 2, killAtMs: windowMs / 2, restartMs };
  }
  throw new Error(`unknown shape '${name}' (sqlite-N, pg, pg-kill)`);
}

/** A shape, running. */
export interface RunningShape extends AsyncDisposable {
  spec: ShapeSpec;
  base: string;
  taToken: string;
  students: Student[];
  /** Where its rows are (for readJobs). */
  db: { data: string } | { url: string };
  serve: Proc;
  workers: (Proc | null)[];
  /** Kill worker `i` with SIGKILL (its leases will expire). */
  kill(i: number): Promise<void>;
  /** Start worker `i` again. */
  restart(i: number): Promise<void>;
  /** CPU seconds so far: serve, workers (live and killed), PostgreSQL. */
  cpu(): { serve: number; workers: number; db: number };
  /** How cpu() counts: "cgroup" (everything), or the fallbacks. */
  cpuBy: string;
  /** Peak RSS, MiB: serve and the largest worker. */
  peakRss(): { serve: number; worker: number };
}

async function runOk(argv: string[], what: string): Promise<string> {
  const p = new Proc(argv);
  const st = await p.exited(120_000);
  if (st.code !== 0) throw new Error(`${what} exited ${st.code}: ${p.stderr.text.slice(-400)}`);
  return p.stdout.text;
}

/**
 * Set up a shape: the course (`course init`, the roster of `students`
 * students), the database, serve, and the workers. `policy` holds the
 * `course init` options (cooldown...).
 */
export async function startShape(
  spec: ShapeSpec,
  nStudents: number,
  policyArgs: string[],
  leaseS: number,
  isolation: string,
  log: (line: string) => void,
): Promise<RunningShape> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const data = await Deno.makeTempDir({ prefix: `socklab-rush-${spec.name}-` });
    cleanups.push(() => Deno.remove(data, { recursive: true }));
    const machines: SimulatedMachine[] = [];
    for (let i = 0; i < spec.machines; i++) {
      const m = await SimulatedMachine.create();
      machines.push(m);
      cleanups.push(() => m[Symbol.asyncDispose]());
    }
    let pg: PgCluster | undefined;
    const dbArgs: string[] = [];
    if (spec.machines > 0) {
      pg = await startPgCluster({
        listen: machines.map((m) => m.hostAddr),
        allow: machines.map((m) => m.cidr),
        durable: true,
      });
      const cluster = pg;
      cleanups.push(() => cluster.stop());
      dbArgs.push("--db", pg.url);
    }
    const taToken = (await runOk(
      socklabArgv(["course", "init", "--data", data, ...dbArgs, "--name", "rush", ...policyArgs]),
      "course init",
    )).trim().split("\n").pop()!;
    const roster = ["id,name,email"];
    for (let i = 0; i < nStudents; i++) {
      const id = `s${String(i).padStart(4, "0")}`;
      roster.push(`${id},Student ${i},${id}@example.invalid`);
    }
    await Deno.writeTextFile(`${data}/roster.csv`, roster.join("\n") + "\n");
    const out = await runOk(
      socklabArgv(["course", "roster", "--data", data, ...dbArgs, `${data}/roster.csv`]),
      "course roster",
    );
    const students: Student[] = out.trim().split("\n").slice(1).map((l) => {
      const [id, token] = l.split(",");
      return { id, token };
    });
    if (students.length !== nStudents) {
      throw new Error(`course roster gave ${students.length} tokens for ${nStudents} students`);
    }

    // Their CPU, graded programs included, by cgroup (see cpuacct.ts); cutime where none.
    const tag = `socklab-rush-${Deno.pid}-${spec.name}`;
    const groups = {
      serve: CpuGroup.make(`${tag}-serve`),
      workers: CpuGroup.make(`${tag}-workers`),
    };
    cleanups.push(async () => {
      await groups.serve?.remove();
      await groups.workers?.remove();
    });
    const inGroup = (g: CpuGroup | null, argv: string[]) => (g ? g.wrap(argv) : argv);
    const serve = new Proc(inGroup(
      groups.serve,
      socklabArgv([
        "serve",
        "--data",
        data,
        ...dbArgs,
        "--port",
        "0",
        "--workers",
        String(spec.serveWorkers),
        "--lease",
        String(leaseS),
        "--isolation",
        isolation,
        // The whole simulated class comes from 127.0.0.1: no cap per address.
        "--max-per-peer",
        "0",
        ...(spec.machines > 0 ? ["--kinds", "ca-sign"] : []),
      ]),
    ));
    cleanups.push(async () => void await serve.stop(60_000));
    const m = await serve.stderr.waitFor(/listening on (http:\/\/\S+)/, 60_000);
    const base = m[1];
    log(`  serve at ${base} (${spec.serveWorkers} in-process worker(s))`);

    const peaks = { serve: 0, worker: 0 };
    let deadWorkersCpu = 0;
    const workers: (Proc | null)[] = [];
    const startWorker = async (i: number) => {
      const mach = machines[i];
      const p = new Proc(
        inGroup(
          groups.workers,
          socklabArgv([
            "worker",
            "--db",
            pg!.urlFor(mach.hostAddr),
            "--slots",
            String(spec.slots),
            "--name",
            `machine-${i + 1}`,
            "--lease",
            String(leaseS),
            "--isolation",
            isolation,
          ]),
        ),
        // Its job directories go under the shape's directory (a killed worker leaves them).
        { prefix: mach.prefix, env: { TMPDIR: data } },
      );
      workers[i] = p;
      await p.stderr.waitFor(/ready/, 60_000);
      log(`  worker machine-${i + 1} ready at ${mach.addr} (${spec.slots} slots)`);
    };
    cleanups.push(async () => {
      for (const w of workers) await w?.stop(60_000);
    });
    for (let i = 0; i < spec.machines; i++) await startWorker(i);

    const samplePeaks = () => {
      try {
        peaks.serve = Math.max(peaks.serve, memoryKiB(serve.child.pid).hwm);
      } catch { /* gone */ }
      for (const w of workers) {
        if (!w) continue;
        try {
          peaks.worker = Math.max(peaks.worker, memoryKiB(w.child.pid).hwm);
        } catch { /* gone */ }
      }
    };
    const tree = (pid: number) => {
      try {
        return cpuWithChildren(pid);
      } catch {
        return 0;
      }
    };
    return {
      spec,
      base,
      taToken,
      students,
      db: pg ? { url: pg.url } : { data },
      serve,
      workers,
      async kill(i) {
        const w = workers[i];
        if (!w) return;
        samplePeaks();
        deadWorkersCpu += tree(w.child.pid);
        // The machine dies: the worker and every program it was grading.
        const orphans = descendants(w.child.pid);
        w.kill("SIGKILL");
        for (const pid of orphans) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch { /* gone */ }
        }
        await w.status;
        workers[i] = null;
      },
      restart: startWorker,
      cpu() {
        samplePeaks();
        return {
          serve: groups.serve ? groups.serve.seconds() : tree(serve.child.pid),
          workers: groups.workers ? groups.workers.seconds() : deadWorkersCpu +
            workers.reduce((a, w) => a + (w ? tree(w.child.pid) : 0), 0),
          db: pg ? cpuOfTree(pg.pid) : 0,
        };
      },
      cpuBy: groups.serve
        ? (groups.serve.v2 ? "cgroup v2 (isolated programs not counted)" : "cgroup")
        : "cutime",
      peakRss() {
        samplePeaks();
        return { serve: peaks.serve / 1024, worker: peaks.worker / 1024 };
      },
      [Symbol.asyncDispose]: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
