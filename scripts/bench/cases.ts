/**
 * The measurements of `deno task bench` (issue 11), one function each. Every
 * one starts what it needs on 127.0.0.1 port 0, runs each side several times
 * (interleaved, so that a burst of noise hits both sides), stops everything,
 * and returns a {@link Section}: rows for the table and notes on the method.
 *
 * @module
 */
import { resolve } from "node:path";
import { DENO_FLAGS, denoArgv } from "../../mod/cli/flags.ts";
import { bundle, compile } from "../build.ts";
import type { Anchors } from "./env.ts";
import { denoRunArgv, Proc, ROOT, socklabArgv } from "../lib/proc.ts";
import {
  cpuSeconds,
  memoryKiB,
  runJson,
  startListening,
  threadsOf,
  timed,
  withNofile,
} from "./proc.ts";
import type { Section } from "./report.ts";
import {
  fmtBytes,
  fmtRatio,
  fmtRuns,
  fmtValue,
  median,
  percentile,
  type Row,
  targetVerdict,
} from "./stats.ts";

export interface BenchContext {
  anchors: Anchors;
  /** Runs per measured side (the median is taken over them). */
  runs: number;
  log: (line: string) => void;
}

const LOAD_TS = ROOT + "scripts/bench/load.ts";
const BENCH = ROOT + "bench/";
const LOCAL = "127.0.0.1";

/** Run each side `runs` times, round-robin; returns the figures of each side. */
async function interleave(
  runs: number,
  sides: Record<string, () => Promise<number>>,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [k, f] of Object.entries(sides)) out[k].push(await f());
  }
  return out;
}

function row(
  tool: string,
  xs: number[],
  unit: string,
  ratio = "",
  target = "",
): Row {
  return {
    measure: "",
    tool,
    median: fmtValue(median(xs), unit),
    runs: fmtRuns(xs),
    ratio,
    target,
  };
}

/**
 * The same sides measured per CPU-second of the server (its user + system time over the
 * run, all threads): what the server itself costs, whoever else shares the cores.
 */
function cpuRows(perCpu: Record<string, number[]>, anchorKey: string, unit: string): Row[] {
  const anchor = perCpu[anchorKey];
  return Object.entries(perCpu)
    .sort(([a], [b]) => (a === anchorKey ? -1 : b === anchorKey ? 1 : 0))
    .map(([k, xs]) =>
      row(
        `${k}, per server CPU-second`,
        xs,
        unit,
        k === anchorKey || !anchor ? "" : `${fmtRatio(median(xs) / median(anchor))} python`,
      )
    );
}

const CPU_NOTE = "per server CPU-second: the figures divided by the CPU time (user + system," +
  " all threads, from /proc/<pid>/stat) the server used during the run. On 2 cores the load" +
  " client, the server and any other work share the CPUs, so the wall-clock rate is partly" +
  " the client's; this one is the server's own cost.";

async function stopAll(...procs: (Proc | undefined)[]) {
  await Promise.all(procs.map((p) => p?.stop(3000)));
}

// ---------------------------------------------------------------- 1 throughput

/** 1. Stream throughput of a 256 MiB flood: socklab pdc vs socat vs a Python recv loop. */
export async function streamThroughput(ctx: BenchContext, floodBytes = 256 * 2 ** 20): Promise<
  Section
> {
  const id = "1";
  const title = `stream throughput, ${fmtBytes(floodBytes)} CMD_floodme from socklab pmu`;
  const notes: string[] = [];
  const { proc: server, port } = await startListening(
    socklabArgv(["pmu", "--host", LOCAL, "--port", "0", "--flood-bytes", String(floodBytes)]),
  );
  try {
    const clients: Record<string, { argv: string[]; stdin?: string }> = {};
    if (ctx.anchors.socat) {
      clients["socat (anchor)"] = {
        argv: ["socat", "-t", "60", "-", `TCP:${LOCAL}:${port}`],
        stdin: "CMD_floodme",
      };
      clients["socat -b 131072"] = {
        argv: ["socat", "-b", "131072", "-t", "60", "-", `TCP:${LOCAL}:${port}`],
        stdin: "CMD_floodme",
      };
    }
    clients["socklab pdc"] = { argv: socklabArgv(["pdc", LOCAL, String(port), "CMD_floodme"]) };
    if (ctx.anchors.python) {
      clients["python3 recv loop"] = {
        argv: [ctx.anchors.python, BENCH + "recv_loop.py", LOCAL, String(port), "CMD_floodme"],
      };
    }
    // One untimed run each, with stdout counted: it proves every byte arrives (and warms up).
    for (const [name, c] of Object.entries(clients)) {
      const r = await timed(c.argv, { stdin: c.stdin, countStdout: true, timeoutMs: 60_000 });
      const ok = r.code === 0 && r.bytes !== undefined && r.bytes >= floodBytes &&
        r.bytes <= floodBytes + 1;
      if (!ok) {
        throw new Error(
          `${name} got ${r.bytes} bytes of ${floodBytes} (exit ${r.code}): ${r.stderr.slice(-300)}`,
        );
      }
    }
    const sides = Object.fromEntries(
      Object.entries(clients).map(([name, c]) => [name, async () => {
        const r = await timed(c.argv, { stdin: c.stdin, timeoutMs: 60_000 });
        if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${r.stderr.slice(-300)}`);
        return floodBytes / 1e6 / (r.ms / 1000);
      }]),
    );
    const res = await interleave(ctx.runs, sides);
    const anchor = res["socat (anchor)"];
    const rows: Row[] = [];
    for (const [name, xs] of Object.entries(res)) {
      const ratio = anchor && name !== "socat (anchor)" ? median(xs) / median(anchor) : NaN;
      const target = name === "socklab pdc" && anchor
        ? `>= 0.8x socat: ${targetVerdict(ratio, 0.8, true)}`
        : "";
      rows.push(
        row(
          name,
          xs,
          "MB/s",
          anchor && name !== "socat (anchor)" ? `${fmtRatio(ratio)} socat` : "",
          target,
        ),
      );
    }
    notes.push(
      `server: \`socklab pmu --flood-bytes ${floodBytes}\` (one send of the whole text, then close);` +
        " each client sends CMD_floodme and reads to EOF with stdout to /dev/null.",
      "MB/s = 10^6 bytes / wall time of the client process from spawn to exit, so it includes" +
        " each client's start-up (see 5b): that is what a user waits for.",
      "socat (anchor): `printf CMD_floodme | socat -t 60 - TCP:127.0.0.1:<port> >/dev/null`," +
        " socat's default 8 KiB buffer (`socat -u TCP:... /dev/null` sends nothing, and the" +
        " server wants the command first); `socat -b 131072` is the same with 128 KiB reads.",
      "python3 recv loop: bench/recv_loop.py, `recv(65536)` until EOF, written to stdout.",
      "Before the timed runs, one run of each client counted its stdout: every client got all" +
        ` ${floodBytes} bytes (pdc adds one final newline).`,
      "Profile (2026-11-24, deno --cpu-prof): pdc first ran at 59 MB/s (0.24x socat): 1 KiB reads" +
        " (op_read 16%), each decoded to a string and re-encoded for stdout (TextEncoder.encode" +
        " 31%). pdc now copies a flood's bytes as received and reads 64 KiB at a time unless" +
        " --trace (mod/tcp/pdc.ts, mod/pmu/splitter.ts).",
    );
    return { id, title, rows, notes };
  } finally {
    await stopAll(server);
  }
}

// ---------------------------------------------------------------- 2 connection rate

/** 2. Connection service rate: concurrent verified CMD_short:0 exchanges (n=15). */
export async function connectionRate(
  ctx: BenchContext,
  opts = { conc: 32, seconds: 2, count: 15 },
): Promise<Section> {
  const id = "2";
  const title = `connection service rate, CMD_short:0 n=${opts.count}, ${opts.conc} clients`;
  if (!ctx.anchors.python) {
    return { id, title, rows: [], notes: [], skipped: "no python3 for the reference server" };
  }
  const servers: Record<string, string[]> = {
    "socklab pmu": socklabArgv([
      "pmu",
      "--host",
      LOCAL,
      "--port",
      "0",
      "--count",
      String(opts.count),
    ]),
    "python threaded (anchor)": [
      ctx.anchors.python,
      BENCH + "pmu_server.py",
      "--port",
      "0",
      "--count",
      String(opts.count),
    ],
  };
  const started: Record<string, { proc: Proc; port: number }> = {};
  try {
    for (const [k, argv] of Object.entries(servers)) started[k] = await startListening(argv);
    const problems: string[] = [];
    const perCpu: Record<string, number[]> = {};
    const sides = Object.fromEntries(
      Object.entries(started).map(([k, s]) => [k, async () => {
        const cpu0 = cpuSeconds(s.proc.child.pid);
        const r = await runJson<
          { ok: number; bad: number; errors: number; rate: number; firstProblem?: string }
        >(
          denoRunArgv(LOAD_TS, [
            "tcp-short",
            LOCAL,
            String(s.port),
            "--conc",
            String(opts.conc),
            "--seconds",
            String(opts.seconds),
            "--max",
            "200000",
            "--count",
            String(opts.count),
          ]),
          opts.seconds * 1000 + 30_000,
        );
        (perCpu[k] ??= []).push(r.ok / (cpuSeconds(s.proc.child.pid) - cpu0));
        if (r.bad || r.errors) {
          problems.push(
            `${k}: ${r.bad} wrong and ${r.errors} failed exchanges (${r.firstProblem})`,
          );
        }
        return r.rate;
      }]),
    );
    const res = await interleave(ctx.runs, sides);
    const anchor = res["python threaded (anchor)"];
    const ratio = median(res["socklab pmu"]) / median(anchor);
    const rows = [
      row("python threaded (anchor)", anchor, "exchanges/s"),
      row(
        "socklab pmu",
        res["socklab pmu"],
        "exchanges/s",
        `${fmtRatio(ratio)} python`,
        `>= 3x python: ${targetVerdict(ratio, 3, true)}`,
      ),
      ...cpuRows(perCpu, "python threaded (anchor)", "exchanges/CPU-s"),
    ];
    const notes = [
      `load: scripts/bench/load.ts tcp-short, ${opts.conc} concurrent lanes for ${opts.seconds} s` +
      " per run; each exchange is connect, send CMD_short:0, read to EOF, and the bytes must be" +
      ` exactly "This is PMU data 0".."This is PMU data ${opts.count - 1}".`,
      "anchor: bench/pmu_server.py, a thread per connection, one send() per message, listen(128).",
      CPU_NOTE,
      "What limits pmu (2026-11-24, deno --cpu-prof and strace -c under this load): about 25" +
      " syscalls an exchange (15 sendto, 2 recvfrom, 2 epoll_ctl, accept4, shutdown, close," +
      " getsockname, getpeername, the stderr log line); op_write is 34% of the samples. A bare" +
      " Deno server doing only accept, read, 15 awaited writes, close reaches ~6,500" +
      " exchanges/CPU-s (~4.8x the Python server); pmu's session bookkeeping (a timer and an" +
      " AbortSignal listener per read, incremental command parsing, shutdown then linger, the" +
      " log line, encoding each message anew) costs the rest, no single item above ~4%. On" +
      " wall clock the load client shares the 2 cores, so the ratio there is lower.",
      problems.length === 0
        ? "every exchange of every run was verified correct."
        : `VERIFICATION FAILED: ${problems.join("; ")}`,
    ];
    return { id, title, rows, notes };
  } finally {
    await stopAll(...Object.values(started).map((s) => s.proc));
  }
}

// ---------------------------------------------------------------- 5a memory

/** 5a. Peak RSS of a server holding `conns` idle connections. */
export async function idleMemory(ctx: BenchContext, conns = 1000): Promise<Section> {
  const id = "5a";
  const title = `peak RSS with ${conns} idle connections`;
  const nofile = conns * 2 + 256;
  const servers: Record<string, string[]> = {
    "socklab pmu": socklabArgv([
      "pmu",
      "--host",
      LOCAL,
      "--port",
      "0",
      // pmu serves at most 512 clients at once by default: let it hold them all.
      "--max-connections",
      String(conns),
    ]),
  };
  if (ctx.anchors.python) {
    servers["python threaded (anchor)"] = [
      ctx.anchors.python,
      BENCH + "pmu_server.py",
      "--backlog",
      String(conns),
    ];
  }
  const idle: Record<string, number[]> = {};
  const held: Record<string, number[]> = {};
  const threads: Record<string, number> = {};
  for (let i = 0; i < ctx.runs; i++) {
    for (const [k, argv] of Object.entries(servers)) {
      const { proc, port } = await startListening(withNofile(nofile, argv));
      let holder: Proc | undefined;
      try {
        (idle[k] ??= []).push(memoryKiB(proc.child.pid).hwm / 1024);
        holder = new Proc(
          withNofile(
            nofile,
            denoRunArgv(LOAD_TS, [
              "hold",
              LOCAL,
              String(port),
              "--conns",
              String(conns),
              "--seconds",
              "20",
            ]),
          ),
          { stdin: true },
        );
        const m = await holder.stderr.waitFor(/held (\d+)/, 30_000);
        if (Number(m[1]) !== conns) {
          throw new Error(`${k}: only ${m[1]} of ${conns} connections opened`);
        }
        // Let the server take every accept in before reading its peak.
        await settle(proc.child.pid);
        (held[k] ??= []).push(memoryKiB(proc.child.pid).hwm / 1024);
        threads[k] = threadsOf(proc.child.pid);
      } finally {
        await holder?.closeStdin();
        await stopAll(holder, proc);
      }
    }
  }
  const rows: Row[] = [];
  const py = held["python threaded (anchor)"];
  if (py) {
    rows.push(
      row(
        `python threaded (anchor), idle ${
          fmtValue(median(idle["python threaded (anchor)"]), "MB")
        }`,
        py,
        "MB",
      ),
    );
  }
  const mine = held["socklab pmu"];
  rows.push(
    row(
      `socklab pmu, idle ${fmtValue(median(idle["socklab pmu"]), "MB")}`,
      mine,
      "MB",
      py ? `${fmtRatio(median(mine) / median(py))} python` : "",
      `< 150 MB: ${targetVerdict(median(mine), 150, false)}`,
    ),
  );
  return {
    id,
    title,
    rows,
    notes: [
      `each run starts a fresh server (open-files limit raised to ${nofile} with \`ulimit -n\`;` +
      ` pmu with --max-connections ${conns}),` +
      ` opens ${conns} TCP connections that send nothing (scripts/bench/load.ts hold), waits` +
      " until the server's memory stops growing, and reads VmHWM (peak resident set, MB =" +
      " MiB here) from /proc/<pid>/status; the idle figure is VmHWM before any connection." +
      ` The Python server listens with a backlog of ${conns} here (128 elsewhere), so that` +
      " connects are not dropped while its accept loop starts threads.",
      `threads at the peak: ${Object.entries(threads).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    ],
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Wait (at most 3 s) until the resident set of `pid` stops changing for 300 ms. */
async function settle(pid: number) {
  let last = memoryKiB(pid).rss;
  let stable = 0;
  for (let i = 0; i < 30 && stable < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = memoryKiB(pid).rss;
    stable = Math.abs(now - last) < 64 ? stable + 1 : 0;
    last = now;
  }
}

// ---------------------------------------------------------------- 5b start-up

interface HyperfineJson {
  results: { command: string; median: number; times: number[] }[];
}

/** 5b. Start-up time of `socklab --version` (deno run, bundle) vs `python3 -c pass`. */
export async function startupTime(ctx: BenchContext): Promise<Section> {
  const id = "5b";
  const title = "start-up, warm";
  const notes: string[] = [];
  const dist = resolve(ROOT, "dist/socklab.js");
  await bundle(dist);
  const cmds: Record<string, string[]> = {
    "socklab --version (deno run main.ts)": socklabArgv(["--version"]),
    "socklab --version (bundle)": denoArgv(dist, ["--version"], null),
  };
  // The one-file build, as `deno task compile` makes it without reaching the network (the real
  // deno compile output with DENORT_BIN; else the self-unpacking build, unpacked into a temporary
  // cache by its first start, so that the timed runs are second starts).
  const binDir = await Deno.makeTempDir({ prefix: "socklab-bench-bin-" });
  const built = await compile(`${binDir}/socklab`, { download: false });
  Deno.env.set("SOCKLAB_CACHE", `${binDir}/cache`);
  const first = await timed([built.path, "--version"]);
  if (first.code !== 0) throw new Error(`${built.path} --version failed: ${first.stderr}`);
  const BINARY = `socklab --version (dist/socklab, ${built.kind})`;
  cmds[BINARY] = [built.path, "--version"];
  const empty = await Deno.makeTempFile({ prefix: "socklab-bench-empty-", suffix: ".js" });
  cmds["deno run <empty script> (deno's floor)"] = denoArgv(empty, [], null);
  const ANCHOR = "/usr/bin/python3 -c pass (anchor)";
  if (ctx.anchors.python) cmds["python3 -c pass (PATH)"] = [ctx.anchors.python, "-c", "pass"];
  if (await exists("/usr/bin/python3")) cmds[ANCHOR] = ["/usr/bin/python3", "-c", "pass"];
  const runs = Math.max(10, ctx.runs * 4);
  const times: Record<string, number[]> = {};
  if (ctx.anchors.hyperfine) {
    const json = await Deno.makeTempFile({ prefix: "socklab-bench-", suffix: ".json" });
    try {
      const args = ["-N", "--warmup", "3", "--runs", String(runs), "--export-json", json];
      for (const [name, argv] of Object.entries(cmds)) args.push("-n", name, argv.join(" "));
      const r = await new Deno.Command("hyperfine", {
        args,
        stdout: "null",
        stderr: "piped",
        env: { DENO_NO_UPDATE_CHECK: "1" },
      }).output();
      if (!r.success) throw new Error(`hyperfine failed: ${new TextDecoder().decode(r.stderr)}`);
      const doc = JSON.parse(await Deno.readTextFile(json)) as HyperfineJson;
      for (const res of doc.results) times[res.command] = res.times.map((t) => t * 1000);
    } finally {
      await Deno.remove(json).catch(() => {});
      await Deno.remove(empty).catch(() => {});
      await Deno.remove(binDir, { recursive: true }).catch(() => {});
    }
    notes.push(
      `hyperfine -N --warmup 3 --runs ${runs} (no shell); the medians of its runs.`,
    );
  } else {
    for (const [name, argv] of Object.entries(cmds)) {
      for (let i = 0; i < 3; i++) await timed(argv);
      times[name] = [];
      for (let i = 0; i < runs; i++) times[name].push((await timed(argv)).ms);
    }
    await Deno.remove(empty).catch(() => {});
    await Deno.remove(binDir, { recursive: true }).catch(() => {});
    notes.push(`hyperfine absent: 3 warm-up runs, then ${runs} timed runs from spawn to exit.`);
  }
  const anchor = times[ANCHOR];
  const rows: Row[] = [];
  if (anchor) rows.push(row(ANCHOR, anchor, "ms"));
  for (const [name, xs] of Object.entries(times)) {
    if (name === ANCHOR) continue;
    rows.push(
      row(
        name,
        xs,
        "ms",
        anchor ? `${fmtRatio(median(xs) / median(anchor))} python` : "",
        name.startsWith("socklab") ? `< 150 ms: ${targetVerdict(median(xs), 150, false)}` : "",
      ),
    );
  }
  Deno.env.delete("SOCKLAB_CACHE");
  notes.push(
    `dist/socklab is \`deno task compile\`'s file (${built.kind}, ${
      (built.bytes / 1e6).toFixed(1)
    } MB): ${built.why}. Its first start, which unpacks it into an empty cache, took ${
      first.ms.toFixed(0)
    } ms; the row is the starts after it.`,
  );
  notes.push(
    `deno run ${DENO_FLAGS.join(" ")}; the bundle is dist/socklab.js from \`deno task bundle\`` +
      " (scripts/build.ts), run by the same deno. The anchor is Debian's /usr/bin/python3;" +
      " `python3 (PATH)` is the executable the PATH's python3 resolves to (a pyenv build; its" +
      " site-packages holds a .pth of this machine that imports certifi at every start).",
    "What --version costs (2026-11-24, quiet machine, user CPU): an empty deno script ~40 ms;" +
      " socklab --version was ~117 ms (169 ms wall) because main.ts imports every command and" +
      " with them node:http + npm:ws (mod/ws), node:crypto (X509Certificate in" +
      " mod/tls/server.ts) and node:net (isIP in mod/net/address.ts, mod/multicast/datagram.ts," +
      " mod/tls/ca.ts). mod/ws now imports ws lazily (-> ~135 ms wall); a prototype that also" +
      " loads node:crypto inside describeServerCert and uses a local isIP measured ~110 ms.",
    "p99 of each: " +
      Object.entries(times).map(([k, xs]) => `${k} ${percentile(xs, 99).toFixed(1)} ms`).join(
        ", ",
      ) +
      ".",
  );
  return { id, title, rows, notes };
}

// ---------------------------------------------------------------- 3 UDP

/** 3. UDP: answered RESET:20 per second, and the pdc-udp round trip. */
export async function udpService(
  ctx: BenchContext,
  opts = { window: 32, seconds: 2, rttRuns: 1000 },
): Promise<Section> {
  const id = "3";
  const title = "UDP RESET:20 -> OFFSET";
  if (!ctx.anchors.python) {
    return { id, title, rows: [], notes: [], skipped: "no python3 for the reference and the load" };
  }
  const py = ctx.anchors.python;
  const servers: Record<string, string[]> = {
    "socklab pmu-udp --drop 0": socklabArgv([
      "pmu-udp",
      "--host",
      LOCAL,
      "--port",
      "0",
      "--family",
      "4",
      "--drop",
      "0",
    ]),
    "python loop (anchor)": [py, BENCH + "udp_server.py", "--drop", "0"],
  };
  const started: Record<string, { proc: Proc; port: number }> = {};
  try {
    for (const [k, argv] of Object.entries(servers)) started[k] = await startListening(argv);
    const problems: string[] = [];
    const perCpu: Record<string, number[]> = {};
    const sides = Object.fromEntries(
      Object.entries(started).map(([k, s]) => [k, async () => {
        const cpu0 = cpuSeconds(s.proc.child.pid);
        const r = await runJson<
          { answered: number; bad: number; timeouts: number; rate: number; firstProblem?: string }
        >(
          [
            py,
            BENCH + "udp_load.py",
            LOCAL,
            String(s.port),
            "--window",
            String(opts.window),
            "--seconds",
            String(opts.seconds),
          ],
          opts.seconds * 1000 + 20_000,
        );
        (perCpu[k] ??= []).push(r.answered / (cpuSeconds(s.proc.child.pid) - cpu0));
        if (r.bad) problems.push(`${k}: ${r.bad} wrong answers (${r.firstProblem})`);
        if (r.timeouts) problems.push(`${k}: ${r.timeouts} window(s) lost and resent`);
        return r.rate;
      }]),
    );
    const res = await interleave(ctx.runs, sides);
    const anchor = res["python loop (anchor)"];
    const mine = res["socklab pmu-udp --drop 0"];
    const rows: Row[] = [
      row("python loop (anchor)", anchor, "answers/s"),
      row(
        "socklab pmu-udp --drop 0",
        mine,
        "answers/s",
        `${fmtRatio(median(mine) / median(anchor))} python`,
      ),
      ...cpuRows(perCpu, "python loop (anchor)", "answers/CPU-s"),
    ];
    // Round trip of the pdc-udp exchange (socklab's own client code, timed in process)
    // and of the student's Python client, both against socklab pmu-udp.
    const port = started["socklab pmu-udp --drop 0"].port;
    const rtt: Record<string, number[]> = {};
    for (let i = 0; i < ctx.runs; i++) {
      const a = await runJson<{ ms: number[] }>(
        denoRunArgv(LOAD_TS, ["rtt", LOCAL, String(port), "--max", String(opts.rttRuns)]),
        60_000,
      );
      (rtt["socklab pdc-udp exchange"] ??= []).push(...a.ms);
      const b = await runJson<{ ms: number[] }>(
        [py, BENCH + "udp_rtt.py", LOCAL, String(port), "--runs", String(opts.rttRuns)],
        60_000,
      );
      (rtt["python sendto/recvfrom (anchor)"] ??= []).push(...b.ms);
    }
    for (const [k, xs] of Object.entries(rtt).reverse()) {
      const p99 = percentile(xs, 99);
      rows.push({
        measure: "",
        tool: `${k} round trip`,
        median: `p50 ${fmtValue(percentile(xs, 50), "ms")}`,
        runs: `p99 ${fmtValue(p99, "ms")} (${xs.length})`,
        ratio: "",
        target: k.startsWith("socklab") ? `p99 < 2 ms: ${targetVerdict(p99, 2, false)}` : "",
      });
    }
    const notes = [
      `servers: \`socklab pmu-udp --host 127.0.0.1 --family 4 --drop 0\` and bench/udp_server.py` +
      " (the course's recvfrom/sendto loop, logging each datagram on stderr as the course server" +
      " and pmu-udp both do).",
      `load: bench/udp_load.py keeps ${opts.window} RESET:20 in flight for ${opts.seconds} s a` +
      " run and checks every answer is OFFSET:<0..20> (a blocking Python loop costs less per" +
      " datagram than Deno's async datagram ops, so the server is the bottleneck).",
      `round trip: ${ctx.runs} x ${opts.rttRuns} exchanges one after the other against socklab` +
      " pmu-udp; socklab's is resetExchange() of mod/udp/pdc_udp.ts, the code of `pdc-udp`" +
      " (fresh socket per exchange, as the CLI does), timed in process by scripts/bench/load.ts" +
      " rtt; the anchor is bench/udp_rtt.py (a student's socket/sendto/recvfrom/close).",
      CPU_NOTE,
      "What limits pmu-udp (2026-11-24, deno --cpu-prof): op_net_send_udp 17%, op_write_sync" +
      " 16% (the two course-style log lines per datagram, one write each), op_net_recv_udp 10%." +
      " A bare Deno receive -> send loop answers 20-34k datagrams/CPU-s, Python's blocking loop" +
      " 84k (36k while logging): Deno's async datagram ops are the floor; writing both log lines" +
      " in one io.log call saves one syscall per datagram.",
      "The round-trip p99 follows the machine's load: compare it with the Python client's p99" +
      " in the same run.",
      problems.length === 0
        ? "no answer was wrong and none was lost."
        : `PROBLEMS: ${problems.join("; ")}`,
    ];
    return { id, title, rows, notes };
  } finally {
    await stopAll(...Object.values(started).map((s) => s.proc));
  }
}

// ---------------------------------------------------------------- 4 WebSocket

/** 4. WebSocket messages/s: ws-pmu and the Python server, each read by ws-pdc and by Python. */
export async function websocketRate(
  ctx: BenchContext,
  opts = { messages: 20_000 },
): Promise<Section> {
  const id = "4";
  const title = `WebSocket, ${opts.messages.toLocaleString("en-US")} messages in one connection`;
  const wsPy = ctx.anchors.wsPython;
  const n = String(opts.messages);
  const servers: Record<string, string[]> = {
    "ws-pmu": socklabArgv(["ws-pmu", "--host", LOCAL, "--port", "0", "--count", n]),
  };
  if (wsPy) servers["python websockets"] = [wsPy, BENCH + "ws_server.py", "--count", n];
  const started: Record<string, { proc: Proc; port: number }> = {};
  try {
    for (const [k, argv] of Object.entries(servers)) started[k] = await startListening(argv);
    const clients: Record<string, (port: number) => string[]> = {
      "ws-pdc": (port) => socklabArgv(["ws-pdc", LOCAL, String(port), "CMD_short:0"]),
    };
    if (wsPy) {
      clients["python websockets"] = (port) => [
        wsPy,
        BENCH + "ws_client.py",
        LOCAL,
        String(port),
        "CMD_short:0",
      ];
    }
    const pairs: Record<string, string[]> = {};
    const serverOf: Record<string, { proc: Proc; port: number }> = {};
    for (const [s, srv] of Object.entries(started)) {
      for (const [c, argv] of Object.entries(clients)) {
        pairs[`${s} -> ${c}`] = argv(srv.port);
        serverOf[`${s} -> ${c}`] = srv;
      }
    }
    // One counted run each: every message arrives, one a line.
    const want = Array.from({ length: opts.messages }, (_, i) => `This is PMU data ${i}\n`)
      .join("").length;
    for (const [k, argv] of Object.entries(pairs)) {
      const r = await timed(argv, { countStdout: true, timeoutMs: 60_000 });
      if (r.code !== 0 || r.bytes !== want) {
        throw new Error(
          `${k}: ${r.bytes} bytes of ${want} (exit ${r.code}) ${r.stderr.slice(-300)}`,
        );
      }
    }
    const perCpu: Record<string, number[]> = {};
    const res = await interleave(
      ctx.runs,
      Object.fromEntries(
        Object.entries(pairs).map(([k, argv]) => [k, async () => {
          const pid = serverOf[k].proc.child.pid;
          const cpu0 = cpuSeconds(pid);
          const r = await timed(argv, { timeoutMs: 60_000 });
          (perCpu[k] ??= []).push(opts.messages / (cpuSeconds(pid) - cpu0));
          if (r.code !== 0) throw new Error(`${k} exited ${r.code}: ${r.stderr.slice(-300)}`);
          return opts.messages / (r.ms / 1000);
        }]),
      ),
    );
    const ANCHOR = "python websockets -> python websockets";
    const anchor = res[ANCHOR];
    const rows: Row[] = [];
    if (anchor) rows.push(row(`${ANCHOR} (anchor)`, anchor, "msg/s"));
    for (const [k, xs] of Object.entries(res)) {
      if (k === ANCHOR) continue;
      rows.push(
        row(`${k}`, xs, "msg/s", anchor ? `${fmtRatio(median(xs) / median(anchor))} python` : ""),
      );
    }
    rows.push(...cpuRows(perCpu, ANCHOR, "msg/server CPU-s"));
    return {
      id,
      title,
      rows,
      notes: [
        `servers: \`socklab ws-pmu --count ${n}\` and bench/ws_server.py (Debian's` +
        " python3-websockets on /usr/bin/python3, binary frames, one message per PMU message);" +
        " clients: `socklab ws-pdc 127.0.0.1 <port> CMD_short:0` and bench/ws_client.py, stdout" +
        " to /dev/null.",
        "msg/s = messages / wall time of the client process from spawn to exit (start-up," +
        " handshake and close included).",
        "Before the timed runs one run of each pair counted its stdout: every message arrived," +
        " one a line.",
        CPU_NOTE,
        "What limits ws-pmu (2026-11-24, deno --cpu-prof): writev 19%, garbage collection 11%," +
        " node stream machinery (Writable buffering, nextTick, WriteWrap) ~15%: npm:ws on Deno's" +
        " node:http/node:net layer, one Buffer and one stream write per message.",
      ],
    };
  } finally {
    await stopAll(...Object.values(started).map((s) => s.proc));
  }
}
