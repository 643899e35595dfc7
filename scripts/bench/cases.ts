/**
 * The measurements of `deno task bench` (issues 11 and 29), one function each: 1 (stream),
 * 5a (memory), 5b (start-up) here; 2, 3, 4 (the servers) in servers.ts; 6, 7 (grading, the
 * service) in lab.ts. Every one starts what it needs on 127.0.0.1 port 0, runs each side
 * several times (interleaved, so that a burst of noise hits every side), stops everything,
 * and returns a {@link Section}: rows for the table, the chart's bars, notes on the method.
 * Each side is an anchor, the runtime's floor or socklab (compare.ts).
 *
 * @module
 */
import { resolve } from "node:path";
import { DENO_FLAGS, denoArgv } from "../../mod/cli/flags.ts";
import { bundle, compile } from "../build.ts";
import type { Anchors } from "./env.ts";
import { denoRunArgv, Proc, ROOT, socklabArgv } from "../lib/proc.ts";
import { memoryKiB, startListening, threadsOf, timed, withNofile } from "./proc.ts";
import type { Section } from "./report.ts";
import { fmtBytes, median, percentile } from "./stats.ts";
import { compare, type Side } from "./compare.ts";

export interface BenchContext {
  anchors: Anchors;
  /** Runs per measured side (the median is taken over them). */
  runs: number;
  log: (line: string) => void;
}

export const LOAD_TS = ROOT + "scripts/bench/load.ts";
export const BENCH = ROOT + "bench/";
export const LOCAL = "127.0.0.1";

/** Run each side `runs` times, round-robin; returns the figures of each side. */
export async function interleave(
  runs: number,
  sides: Record<string, () => Promise<number>>,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [k, f] of Object.entries(sides)) out[k].push(await f());
  }
  return out;
}

export async function stopAll(...procs: (Proc | undefined)[]) {
  await Promise.all(procs.map((p) => p?.stop(3000)));
}

/** A side to measure: what it is, and its argv (undefined when a tool it needs is missing). */
export interface Planned extends Omit<Side, "xs"> {
  argv?: string[];
}

/** `argv` when `need` is there, else a side that says which anchor is missing. */
export function needs(
  side: Omit<Planned, "argv" | "missing">,
  need: string | boolean | undefined,
  name: string,
  argv: (tool: string) => string[],
): Planned {
  return need
    ? { ...side, argv: argv(typeof need === "string" ? need : name) }
    : { ...side, missing: `${name} missing` };
}

/** The sides with their figures (the measured ones), in the planned order. */
export function measured(planned: readonly Planned[], figures: Record<string, number[]>): Side[] {
  return planned.map(({ argv: _, ...s }) => ({ ...s, xs: figures[s.tool] }));
}

// ---------------------------------------------------------------- 1 throughput

/** 1. Stream throughput of a 256 MiB flood: socklab pdc vs socat, Python and the floor. */
export async function streamThroughput(ctx: BenchContext, floodBytes = 256 * 2 ** 20): Promise<
  Section
> {
  const id = "1";
  const title = `stream throughput, ${fmtBytes(floodBytes)} CMD_floodme from socklab pmu`;
  const { proc: server, port } = await startListening(
    socklabArgv(["pmu", "--host", LOCAL, "--port", "0", "--flood-bytes", String(floodBytes)]),
  );
  const { socat, python } = ctx.anchors;
  const to = `TCP:${LOCAL}:${port}`;
  const pmuArgs = [LOCAL, String(port), "CMD_floodme"];
  const planned: Planned[] = [
    needs({ tool: "socat (anchor)", role: "anchor" }, socat, "socat", () => [
      "socat",
      "-t",
      "60",
      "-",
      to,
    ]),
    needs({ tool: "socat -b 131072 (anchor)", role: "anchor" }, socat, "socat", () => [
      "socat",
      "-b",
      "131072",
      "-t",
      "60",
      "-",
      to,
    ]),
    needs(
      { tool: "python3 recv loop (anchor)", role: "anchor" },
      python,
      "python3",
      (py) => [py, BENCH + "recv_loop.py", ...pmuArgs],
    ),
    {
      tool: "deno read loop (floor)",
      role: "floor",
      argv: denoRunArgv(BENCH + "floor_pdc.ts", pmuArgs),
    },
    {
      tool: "socklab pdc",
      role: "socklab",
      argv: socklabArgv(["pdc", ...pmuArgs]),
      goals: [{ against: "socat -b 131072", ratio: 0.9 }],
    },
  ];
  const stdinOf = (argv: string[]) => argv[0] === "socat" ? "CMD_floodme" : undefined;
  try {
    // One untimed run each, with stdout counted: it proves every byte arrives (and warms up).
    for (const { tool, argv } of planned.filter((p) => p.argv)) {
      const r = await timed(argv!, { stdin: stdinOf(argv!), countStdout: true });
      const ok = r.code === 0 && r.bytes !== undefined && r.bytes >= floodBytes &&
        r.bytes <= floodBytes + 1;
      if (!ok) {
        throw new Error(
          `${tool} got ${r.bytes} bytes of ${floodBytes} (exit ${r.code}): ${r.stderr.slice(-300)}`,
        );
      }
    }
    const figures = await interleave(
      ctx.runs,
      Object.fromEntries(
        planned.filter((p) => p.argv).map(({ tool, argv }) => [tool, async () => {
          const r = await timed(argv!, { stdin: stdinOf(argv!) });
          if (r.code !== 0) throw new Error(`${tool} exited ${r.code}: ${r.stderr.slice(-300)}`);
          return floodBytes / 1e6 / (r.ms / 1000);
        }]),
      ),
    );
    const { rows, bars } = compare(measured(planned, figures), "MB/s", "higher");
    const notes = [
      `server: \`socklab pmu --flood-bytes ${floodBytes}\` (one send of the whole text, then` +
      " close); each client sends CMD_floodme and reads to EOF with stdout to /dev/null.",
      "MB/s = 10^6 bytes / wall time of the client process from spawn to exit, so it includes" +
      " each client's start-up (see 5b): that is what a user waits for.",
      "socat (anchor): `printf CMD_floodme | socat -t 60 - TCP:127.0.0.1:<port> >/dev/null`," +
      " socat's default 8 KiB buffer (`socat -u TCP:... /dev/null` sends nothing, and the" +
      " server wants the command first); `socat -b 131072` is the same with 128 KiB reads.",
      "python3 recv loop: bench/recv_loop.py, `recv(65536)` until EOF, written to stdout." +
      " The floor: bench/floor_pdc.ts, a Deno client that copies 128 KiB reads to stdout.",
      "Before the timed runs, one run of each client counted its stdout: every client got all" +
      ` ${floodBytes} bytes (pdc adds one final newline).`,
      "Profile (2026-11-24, deno --cpu-prof): pdc first ran at 59 MB/s (0.24x socat): 1 KiB" +
      " reads (op_read 16%), each decoded to a string and re-encoded for stdout" +
      " (TextEncoder.encode 31%). pdc now copies a flood's bytes as received and reads 128 KiB" +
      " at a time unless --trace (mod/tcp/pdc.ts, mod/pmu/splitter.ts). 2026-12-06: op_read" +
      " (the kernel's copy) is 60% of pdc's samples; pdc and the floor are within the noise.",
    ];
    return { id, title, rows, bars, notes };
  } finally {
    await stopAll(server);
  }
}

// ---------------------------------------------------------------- 5a memory

/** 5a. Peak RSS of a server holding `conns` idle connections. */
export async function idleMemory(ctx: BenchContext, conns = 1000): Promise<Section> {
  const id = "5a";
  const title = `peak RSS with ${conns} idle connections`;
  const nofile = conns * 2 + 256;
  const planned: Planned[] = [
    needs(
      { tool: "python threaded (anchor)", role: "anchor" },
      ctx.anchors.python,
      "python3",
      (py) => [py, BENCH + "pmu_server.py", "--backlog", String(conns)],
    ),
    {
      tool: "socklab pmu",
      role: "socklab",
      // pmu serves at most 512 clients at once by default: let it hold them all.
      argv: socklabArgv(["pmu", "--host", LOCAL, "--port", "0", "--max-connections", `${conns}`]),
      goals: [{ limit: 150 }],
    },
  ];
  const idle: Record<string, number[]> = {};
  const held: Record<string, number[]> = {};
  const threads: Record<string, number> = {};
  for (let i = 0; i < ctx.runs; i++) {
    for (const { tool, argv } of planned.filter((p) => p.argv)) {
      const { proc, port } = await startListening(withNofile(nofile, argv!));
      let holder: Proc | undefined;
      try {
        (idle[tool] ??= []).push(memoryKiB(proc.child.pid).hwm / 1024);
        holder = new Proc(
          withNofile(
            nofile,
            denoRunArgv(LOAD_TS, ["hold", LOCAL, `${port}`, "--conns", `${conns}`]),
          ),
          { stdin: true },
        );
        const m = await holder.stderr.waitFor(/held (\d+)/, 30_000);
        if (Number(m[1]) !== conns) throw new Error(`${tool}: only ${m[1]} of ${conns} opened`);
        // Let the server take every accept in before reading its peak.
        await settle(proc.child.pid);
        (held[tool] ??= []).push(memoryKiB(proc.child.pid).hwm / 1024);
        threads[tool] = threadsOf(proc.child.pid);
      } finally {
        await holder?.closeStdin();
        await stopAll(holder, proc);
      }
    }
  }
  const { rows, bars } = compare(measured(planned, held), "MB", "lower");
  return {
    id,
    title,
    rows,
    bars,
    notes: [
      `each run starts a fresh server (open-files limit raised to ${nofile} with \`ulimit -n\`;` +
      ` pmu with --max-connections ${conns}), opens ${conns} TCP connections that send` +
      " nothing (scripts/bench/load.ts hold), waits until the server's memory stops growing," +
      " and reads VmHWM (peak resident set, MB = MiB here) from /proc/<pid>/status; the idle" +
      ` figure is VmHWM before any connection. The Python server listens with a backlog of` +
      ` ${conns} here (128 elsewhere), so that connects are not dropped while its accept loop` +
      " starts threads.",
      `idle (before any connection): ${
        Object.entries(idle).map(([k, xs]) => `${k} ${median(xs).toFixed(1)} MB`).join(", ")
      }; threads at the peak: ${Object.entries(threads).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    ],
  };
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

/** Each command's times in ms: hyperfine's, or the harness's own without it. */
async function startTimes(
  ctx: BenchContext,
  cmds: Record<string, string[]>,
  runs: number,
): Promise<{ times: Record<string, number[]>; how: string }> {
  const times: Record<string, number[]> = {};
  if (!ctx.anchors.hyperfine) {
    for (const [name, argv] of Object.entries(cmds)) {
      for (let i = 0; i < 3; i++) await timed(argv);
      times[name] = [];
      for (let i = 0; i < runs; i++) times[name].push((await timed(argv)).ms);
    }
    return { times, how: `hyperfine absent: 3 warm-up runs, then ${runs} timed runs each.` };
  }
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
  }
  return { times, how: `hyperfine -N --warmup 3 --runs ${runs} (no shell); its runs' medians.` };
}

/** 5b. Start-up of `socklab --version` and `socklab pdc` vs an empty deno script and Python. */
export async function startupTime(ctx: BenchContext): Promise<Section> {
  const id = "5b";
  const title = "start-up, warm";
  const dist = resolve(ROOT, "dist/socklab.js");
  await bundle(dist);
  // The one-file build, as `deno task compile` makes it without reaching the network (the real
  // deno compile output with DENORT_BIN; else the self-unpacking build, unpacked into a temporary
  // cache by its first start, so that the timed runs are second starts).
  const binDir = await Deno.makeTempDir({ prefix: "socklab-bench-bin-" });
  const empty = await Deno.makeTempFile({ prefix: "socklab-bench-empty-", suffix: ".js" });
  Deno.env.set("SOCKLAB_CACHE", `${binDir}/cache`);
  try {
    const built = await compile(`${binDir}/socklab`, { download: false });
    const first = await timed([built.path, "--version"]);
    if (first.code !== 0) throw new Error(`${built.path} --version failed: ${first.stderr}`);
    const twice = [{ against: "floor", ratio: 2 }];
    const planned: Planned[] = [
      needs({ tool: "/usr/bin/python3 -c pass (anchor)", role: "anchor" }, true, "", () => [
        "/usr/bin/python3",
        "-c",
        "pass",
      ]),
      needs(
        { tool: "python3 -c pass (PATH, anchor)", role: "anchor" },
        ctx.anchors.python,
        "python3",
        (py) => [py, "-c", "pass"],
      ),
      needs(
        { tool: "node -e 0 (anchor)", role: "anchor" },
        ctx.anchors.node,
        "node",
        (n) => [n, "-e", "0"],
      ),
      { tool: "deno run <empty script> (floor)", role: "floor", argv: denoArgv(empty, [], null) },
      {
        tool: "socklab --version",
        role: "socklab",
        argv: socklabArgv(["--version"]),
        goals: twice,
      },
      {
        tool: "socklab pdc --help",
        role: "socklab",
        argv: socklabArgv(["pdc", "--help"]),
        goals: twice,
      },
      {
        tool: "socklab --version (bundle)",
        role: "socklab",
        argv: denoArgv(dist, ["--version"], null),
        goals: twice,
      },
      {
        tool: `socklab --version (dist/socklab, ${built.kind})`,
        role: "socklab",
        argv: [built.path, "--version"],
        goals: twice,
      },
    ];
    const { times, how } = await startTimes(
      ctx,
      Object.fromEntries(planned.filter((p) => p.argv).map((p) => [p.tool, p.argv!])),
      Math.max(10, ctx.runs * 4),
    );
    const { rows, bars } = compare(measured(planned, times), "ms", "lower");
    const notes = [
      how,
      `deno run ${DENO_FLAGS.join(" ")} --config deno.json main.ts; the floor is an empty` +
      " script (--no-config); the bundle is dist/socklab.js from `deno task bundle`, run by the" +
      ` same deno; dist/socklab is \`deno task compile\`'s file (${built.kind}, ${
        (built.bytes / 1e6).toFixed(1)
      } MB): ${built.why}. Its first start, which unpacks it into an empty cache, took ${
        first.ms.toFixed(0)
      } ms; the row is the starts after it. \`python3 (PATH)\` is the executable the PATH's` +
      " python3 resolves to (a pyenv build; its site-packages holds a .pth of this machine that" +
      " imports certifi at every start).",
      "What start-up costs (2026-12-06, user CPU): an empty deno script ~10 ms; a node: module" +
      " ~5-15 ms more at every start (node:util 6, node:net with node:dns 15, node:dgram 5)," +
      " npm:ws and node:http ~30. The command table imports each command's module when it is" +
      " chosen (mod/cli/table.ts), so --version loads no command and pdc only node:util" +
      " (tests/startup_test.ts); the bundle is cut where the table imports (deno bundle" +
      " --code-splitting) and joined into one file whose pieces load on demand (scripts/build.ts" +
      " oneFile). 2026-12-06 (second pass): pdc and secure-pdc load no PMU server (its modules," +
      " node:crypto among them, load when it runs: secure-pdc --help 61 -> 43 ms); socklab's" +
      " own modules take ~1.5 ms of JavaScript (deno --cpu-prof). 2026-12-06 (third pass):" +
      " Deno read every module the command table can import before the first ran (132 files" +
      " by strace, 7 now): DENO_FLAGS has --unstable-lazy-dynamic-imports (hyperfine, 100" +
      " runs: --version 26.1 -> 17.4 ms, pdc --help 32.9 -> 25.9, the empty script 16.6);" +
      " the first node: module of a start costs ~5 ms whichever it is (node:path, node:url," +
      " node:util alike), which is pdc's node:util. The bundle's pieces were blob: modules (new" +
      " URLs at every start: deno's caches never hit and grew ~0.3 MB a start); its first start" +
      " now writes them as files into the socklab cache and every start imports those" +
      " (pdc --help 47.6 -> 32.9 ms); reading the ~0.9 MB bundle is what remains over the" +
      " checkout.",
      "p99 of each: " +
      Object.entries(times).map(([k, xs]) => `${k} ${percentile(xs, 99).toFixed(1)} ms`).join(
        ", ",
      ) + ".",
    ];
    return { id, title, rows, bars, notes };
  } finally {
    Deno.env.delete("SOCKLAB_CACHE");
    await Deno.remove(empty).catch(() => {});
    await Deno.remove(binDir, { recursive: true }).catch(() => {});
  }
}
