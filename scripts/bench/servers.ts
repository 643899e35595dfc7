/**
 * The server measurements of `deno task bench`: 2 (PMU connections), 3 (UDP), 4 (WebSocket).
 * Each server side (the anchors: Python, Node.js; the runtime's floor: bench/floor_*.ts;
 * socklab) is started once, loaded in turn with the same client, and measured twice: on the
 * wall clock, and per CPU-second of the server itself (the load client shares the 2 cores).
 *
 * @module
 */
import { denoRunArgv, type Proc, socklabArgv } from "../lib/proc.ts";
import { cpuSeconds, runJson, startListening, timed } from "./proc.ts";
import type { Section } from "./report.ts";
import { fmtValue, percentile, type Row } from "./stats.ts";
import { type Bar, compare } from "./compare.ts";
import {
  BENCH,
  type BenchContext,
  interleave,
  LOAD_TS,
  LOCAL,
  measured,
  needs,
  type Planned,
  stopAll,
} from "./cases.ts";

const PER_CPU = ", per server CPU-second";

const CPU_NOTE = "per server CPU-second: the figures divided by the CPU time (user + system," +
  " all threads, from /proc/<pid>/stat) the server used during the run. On 2 cores the load" +
  " client, the server and any other work share the CPUs, so the wall-clock rate is partly" +
  " the client's; this one is the server's own cost.";

/** What one run of the load made: how many correct answers, at what rate, what went wrong. */
interface Load {
  count: number;
  rate: number;
  problem?: string;
}

/**
 * Starts every server of `planned`, runs `load` against each in turn `runs` times, then
 * `after` (with the servers' ports), stops them; the rows and bars on the wall clock and per
 * server CPU-second, then `after`'s rows.
 */
async function measureServers(
  ctx: BenchContext,
  planned: Planned[],
  unit: string,
  load: (port: number) => Promise<Load>,
  after: (ports: Record<string, number>) => Promise<Row[]> = () => Promise.resolve([]),
): Promise<{ rows: Row[]; bars: Bar[]; problems: string[] }> {
  const started: Record<string, { proc: Proc; port: number }> = {};
  try {
    for (const p of planned.filter((p) => p.argv)) started[p.tool] = await startListening(p.argv!);
    const problems: string[] = [];
    const perCpu: Record<string, number[]> = {};
    const wall = await interleave(
      ctx.runs,
      Object.fromEntries(
        Object.entries(started).map(([tool, s]) => [tool, async () => {
          const cpu0 = cpuSeconds(s.proc.child.pid);
          const r = await load(s.port);
          (perCpu[tool] ??= []).push(r.count / (cpuSeconds(s.proc.child.pid) - cpu0));
          if (r.problem) problems.push(`${tool}: ${r.problem}`);
          return r.rate;
        }]),
      ),
    );
    const onWall = compare(measured(planned, wall), unit, "higher");
    const onCpu = compare(
      measured(planned, perCpu),
      `${unit.replace(/\/s$/, "")}/CPU-s`,
      "higher",
      PER_CPU,
    );
    const extra = await after(
      Object.fromEntries(Object.entries(started).map(([k, s]) => [k, s.port])),
    );
    return {
      rows: [...onWall.rows, ...onCpu.rows, ...extra],
      bars: [...onWall.bars, ...onCpu.bars],
      problems,
    };
  } finally {
    await stopAll(...Object.values(started).map((s) => s.proc));
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
  const n = String(opts.count);
  const planned: Planned[] = [
    needs(
      { tool: "python threaded (anchor)", role: "anchor" },
      ctx.anchors.python,
      "python3",
      (py) => [py, BENCH + "pmu_server.py", "--port", "0", "--count", n],
    ),
    needs(
      { tool: "node:net (anchor)", role: "anchor" },
      ctx.anchors.node,
      "node",
      (node) => [node, BENCH + "pmu_server.mjs", "--count", n],
    ),
    {
      tool: "deno minimal server (floor)",
      role: "floor",
      argv: denoRunArgv(BENCH + "floor_pmu.ts", ["--count", n]),
    },
    {
      tool: "socklab pmu",
      role: "socklab",
      argv: socklabArgv(["pmu", "--host", LOCAL, "--port", "0", "--count", n]),
      goals: [{ against: "floor", ratio: 0.9 }, { against: "python threaded", ratio: 3 }],
    },
  ];
  const { rows, bars, problems } = await measureServers(
    ctx,
    planned,
    "exchanges/s",
    async (port) => {
      const r = await runJson<
        { ok: number; bad: number; errors: number; rate: number; firstProblem?: string }
      >(
        denoRunArgv(LOAD_TS, [
          "tcp-short",
          LOCAL,
          String(port),
          "--conc",
          String(opts.conc),
          "--seconds",
          String(opts.seconds),
          "--max",
          "400000",
          "--count",
          n,
        ]),
        opts.seconds * 1000 + 30_000,
      );
      const problem = r.bad || r.errors
        ? `${r.bad} wrong and ${r.errors} failed exchanges (${r.firstProblem})`
        : undefined;
      return { count: r.ok, rate: r.rate, problem };
    },
  );
  const notes = [
    `load: scripts/bench/load.ts tcp-short, ${opts.conc} concurrent lanes for ${opts.seconds} s` +
    " per run; each exchange is connect, send CMD_short:0, read to EOF, and the bytes must be" +
    ` exactly "This is PMU data 0".."This is PMU data ${opts.count - 1}".`,
    "anchors: bench/pmu_server.py (a thread per connection, one send() per message," +
    " listen(128)) and bench/pmu_server.mjs (node:net, one write() per message); the floor:" +
    " bench/floor_pmu.ts (Deno.listen, one read, 15 awaited writes, close: nothing else).",
    CPU_NOTE,
    "What socklab pmu does above the floor: the connection limits (in all, per address), the" +
    " idle timeout and the stalled-client watch, the session limit, FIN then linger (so that" +
    " unread client bytes never reset the answer), one log line per connection (at most 500" +
    " per 10 s). Profile (2026-12-06, deno --cpu-prof, samples): the timers were 16% of the" +
    " server's time (one per read, two per write: a node:timers Timeout costs ~6 us to make" +
    " and clear), clock reads and 0 ms pauses between CMD_short:0's messages 6%; a session's" +
    " waits now share one SessionClock (mod/deadline.ts), which makes no timer at all for a" +
    " session shorter than a tick; each connection's read buffer is reused. Per 1,000" +
    " exchanges against the floor (samples, back to back): op_write 125 vs 114 (the same" +
    " writes; loopback writes cost more when the reader sleeps), the FIN 19 vs 23 (socklab's" +
    " shutdown then close, the floor's close), accept 11 vs 8, socklab's own JavaScript ~15;" +
    " V8's helper threads (concurrent GC) ~7 us per exchange vs 2.5. Second pass (2026-12-06):" +
    " a CMD_short message goes out with one async step, the shutdown hook is one listener per" +
    " server, no clock read per log line; paired, 8 s each: all the JavaScript (socklab's, the" +
    " runtime's, GC) 11.5 samples per 1,000 exchanges vs the floor's 4.8 (12.6 before), op_write" +
    " 100-110 on every side (it moves by 10% between runs), the FIN then close 4.6 + 4.8 vs" +
    " the floor's close 6.4. Without the FIN-then-drain close (tried, 7 paired rounds) pmu" +
    " did 0.84x the floor per CPU-second instead of 0.79x. Third pass (2026-12-06, strace -c" +
    " -f of each under this load): per exchange both make 1 accept4, 1 getsockname, 1" +
    " getpeername, 2 epoll_ctl, 15 sendto, 1 shutdown, 1 close and no setsockopt; socklab's" +
    " only extra call is the drain's second recvfrom (2 vs 1), and its writes to stderr are" +
    " the log's (at most 500 lines per 10 s). Paired again (5 rounds of 2 s): pmu 0.89-0.93x" +
    " the floor's rate and 0.86-0.90x per CPU-second, --quiet and a close without the drain" +
    " within that noise.",
    problems.length === 0
      ? "every exchange of every run was verified correct."
      : `VERIFICATION FAILED: ${problems.join("; ")}`,
  ];
  return { id, title, rows, bars, notes };
}

// ---------------------------------------------------------------- 3 UDP

/** 3. UDP: answered RESET:20 per second, and the pdc-udp round trip. */
export async function udpService(
  ctx: BenchContext,
  opts = { window: 32, seconds: 2, rttRuns: 1000 },
): Promise<Section> {
  const id = "3";
  const title = "UDP RESET:20 -> OFFSET";
  const py = ctx.anchors.python;
  if (!py) return { id, title, rows: [], notes: [], skipped: "python3 missing (the UDP load)" };
  const planned: Planned[] = [
    {
      tool: "python loop (anchor)",
      role: "anchor",
      argv: [py, BENCH + "udp_server.py", "--drop", "0", "--quiet"],
    },
    needs(
      { tool: "node:dgram (anchor)", role: "anchor" },
      ctx.anchors.node,
      "node",
      (node) => [node, BENCH + "udp_server.mjs"],
    ),
    {
      tool: "deno minimal server (floor)",
      role: "floor",
      argv: denoRunArgv(BENCH + "floor_udp.ts", []),
    },
    {
      tool: "socklab pmu-udp --drop 0",
      role: "socklab",
      argv: socklabArgv([
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
      goals: [{ against: "floor", ratio: 0.9 }],
    },
  ];
  const load = async (port: number) => {
    const r = await runJson<
      { answered: number; bad: number; timeouts: number; rate: number; firstProblem?: string }
    >(
      [
        py,
        BENCH + "udp_load.py",
        LOCAL,
        String(port),
        "--window",
        String(opts.window),
        "--seconds",
        String(opts.seconds),
      ],
      opts.seconds * 1000 + 20_000,
    );
    const problem = [
      r.bad ? `${r.bad} wrong answers (${r.firstProblem})` : "",
      r.timeouts ? `${r.timeouts} window(s) lost and resent` : "",
    ].filter((s) => s).join(", ");
    return { count: r.answered, rate: r.rate, problem: problem || undefined };
  };
  const { rows, bars, problems } = await measureServers(
    ctx,
    planned,
    "answers/s",
    load,
    (ports) => roundTrips(ctx, py, ports["socklab pmu-udp --drop 0"], opts.rttRuns),
  );
  const notes = [
    "servers: `socklab pmu-udp --host 127.0.0.1 --family 4 --drop 0` (its default log: at most" +
    " 500 lines per 10 s, then a count), bench/udp_server.py --quiet (the course's" +
    " recvfrom/sendto loop), bench/udp_server.mjs (node:dgram) and the floor," +
    " bench/floor_udp.ts (Deno.listenDatagram: receive, send, nothing else).",
    `load: bench/udp_load.py keeps ${opts.window} RESET:20 in flight for ${opts.seconds} s a` +
    " run and checks every answer is OFFSET:<0..20> (a blocking Python loop costs less per" +
    " datagram than Deno's async datagram ops, so the server is the bottleneck).",
    `round trip: ${ctx.runs} x ${opts.rttRuns} exchanges one after the other against socklab` +
    " pmu-udp; socklab's is resetExchange() of mod/udp/pdc_udp.ts, the code of `pdc-udp`" +
    " (fresh socket per exchange, as the CLI does), timed in process by scripts/bench/load.ts" +
    " rtt; the anchor is bench/udp_rtt.py (a student's socket/sendto/recvfrom/close).",
    CPU_NOTE,
    "What limits pmu-udp (2026-12-06, deno --cpu-prof): op_net_send_udp 35% of the samples," +
    " idle 44% (the load client is the bottleneck). Before: Deno's receive() without a buffer" +
    " allocates and zeroes 64 KiB per datagram (receive 11% + garbage collection 9%), and a" +
    " 1-hour timer per datagram: DatagramReader now receives into one buffer per socket and" +
    " a server's wait has no timer (mod/udp/receiver.ts). Second pass (2026-12-06): each" +
    " datagram still made two ArrayBuffers (~2 us each: its copy out of the receive buffer, the" +
    " answer's encoding) and read the clock for the log's period: pmu-udp now answers from" +
    " views of its own buffers and the period ends by a timer (5 paired rounds: 0.96x the" +
    " floor per CPU-second, 0.86x before).",
    "The round-trip p99 follows the machine's load: compare it with the Python client's p99" +
    " in the same run.",
    problems.length === 0
      ? "no answer was wrong and none was lost."
      : `PROBLEMS: ${problems.join("; ")}`,
  ];
  return { id, title, rows, bars, notes };
}

/** The pdc-udp exchange's round trip and a student's Python client's, against pmu-udp. */
async function roundTrips(ctx: BenchContext, py: string, port: number, n: number) {
  const rtt: Record<string, number[]> = {};
  for (let i = 0; i < ctx.runs; i++) {
    const a = await runJson<{ ms: number[] }>(
      denoRunArgv(LOAD_TS, ["rtt", LOCAL, String(port), "--max", String(n)]),
      60_000,
    );
    (rtt["socklab pdc-udp exchange"] ??= []).push(...a.ms);
    const b = await runJson<{ ms: number[] }>(
      [py, BENCH + "udp_rtt.py", LOCAL, String(port), "--runs", String(n)],
      60_000,
    );
    (rtt["python sendto/recvfrom (anchor)"] ??= []).push(...b.ms);
  }
  return Object.entries(rtt).reverse().map(([k, xs]): Row => {
    const p99 = percentile(xs, 99);
    return {
      measure: "",
      tool: `${k} round trip`,
      median: `p50 ${fmtValue(percentile(xs, 50), "ms")}`,
      runs: `p99 ${fmtValue(p99, "ms")} (${xs.length})`,
      ratio: "",
      floor: "",
      target: k.startsWith("socklab") ? `p99 < 2 ms: ${p99 < 2 ? "met" : "MISSED"}` : "",
    };
  });
}

// ---------------------------------------------------------------- 4 WebSocket

/** 4. WebSocket messages/s: ws-pmu, Python's and Node's servers, read by one client each. */
export async function websocketRate(
  ctx: BenchContext,
  opts = { messages: 20_000 },
): Promise<Section> {
  const id = "4";
  const title = `WebSocket, ${opts.messages.toLocaleString("en-US")} messages in one connection`;
  const { wsPython, node, nodeWs } = ctx.anchors;
  const n = String(opts.messages);
  const servers: Record<string, string[] | undefined> = {
    "python websockets": wsPython ? [wsPython, BENCH + "ws_server.py", "--count", n] : undefined,
    "node ws": node && nodeWs ? [node, BENCH + "ws_server.mjs", "--count", n] : undefined,
    "ws-pmu": socklabArgv(["ws-pmu", "--host", LOCAL, "--port", "0", "--count", n]),
  };
  type Client = (port: number) => string[] | undefined;
  const python: Client = (port) =>
    wsPython ? [wsPython, BENCH + "ws_client.py", LOCAL, String(port), "CMD_short:0"] : undefined;
  const wsPdc: Client = (port) => socklabArgv(["ws-pdc", LOCAL, String(port), "CMD_short:0"]);
  const pyWs = "python3-websockets missing";
  const pairs: {
    tool: string;
    role: Planned["role"];
    server: string;
    client: Client;
    why: string;
  }[] = [
    {
      tool: "python websockets -> python (anchor)",
      role: "anchor",
      server: "python websockets",
      client: python,
      why: pyWs,
    },
    {
      tool: "node ws -> python (anchor)",
      role: "anchor",
      server: "node ws",
      client: python,
      why: node ? (nodeWs ? pyWs : "npm:ws missing") : "node missing",
    },
    { tool: "ws-pmu -> python", role: "socklab", server: "ws-pmu", client: python, why: pyWs },
    { tool: "ws-pmu -> ws-pdc", role: "socklab", server: "ws-pmu", client: wsPdc, why: "" },
    {
      tool: "python websockets -> ws-pdc",
      role: "socklab",
      server: "python websockets",
      client: wsPdc,
      why: pyWs,
    },
  ];
  const started: Record<string, { proc: Proc; port: number }> = {};
  try {
    for (const [k, argv] of Object.entries(servers)) {
      if (argv) started[k] = await startListening(argv, 60_000, nodeWsEnv(ctx));
    }
    const runnable = pairs.filter((p) => started[p.server] && p.client(started[p.server].port));
    const planned: Planned[] = pairs.map((p) =>
      runnable.includes(p)
        ? { tool: p.tool, role: p.role, argv: p.client(started[p.server].port)! }
        : { tool: p.tool, role: p.role, missing: p.why }
    );
    // One counted run each: every message arrives, one a line.
    const want = Array.from({ length: opts.messages }, (_, i) => `This is PMU data ${i}\n`)
      .join("").length;
    for (const p of planned.filter((p) => p.argv)) {
      const r = await timed(p.argv!, { countStdout: true, timeoutMs: 60_000 });
      if (r.code !== 0 || r.bytes !== want) {
        throw new Error(
          `${p.tool}: ${r.bytes} bytes of ${want} (exit ${r.code}) ${r.stderr.slice(-300)}`,
        );
      }
    }
    const perCpu: Record<string, number[]> = {};
    const wall = await interleave(
      ctx.runs,
      Object.fromEntries(runnable.map((p) => [p.tool, async () => {
        const pid = started[p.server].proc.child.pid;
        const cpu0 = cpuSeconds(pid);
        const r = await timed(p.client(started[p.server].port)!, { timeoutMs: 60_000 });
        (perCpu[p.tool] ??= []).push(opts.messages / (cpuSeconds(pid) - cpu0));
        if (r.code !== 0) throw new Error(`${p.tool} exited ${r.code}: ${r.stderr.slice(-300)}`);
        return opts.messages / (r.ms / 1000);
      }])),
    );
    const onWall = compare(measured(planned, wall), "msg/s", "higher");
    const onCpu = compare(measured(planned, perCpu), "msg/server CPU-s", "higher", PER_CPU);
    return {
      id,
      title,
      rows: [...onWall.rows, ...onCpu.rows],
      bars: [...onWall.bars, ...onCpu.bars],
      notes: [
        `servers: \`socklab ws-pmu --count ${n}\`, bench/ws_server.py (Debian's` +
        " python3-websockets on /usr/bin/python3) and bench/ws_server.mjs (npm:ws on Node.js, the" +
        " copy in Deno's npm cache): binary frames, one message per PMU message. Clients:" +
        " bench/ws_client.py (the same for every server) and `socklab ws-pdc`, stdout to" +
        " /dev/null. No floor row: a minimal Deno WebSocket server is npm:ws or Deno.serve's" +
        " upgradeWebSocket, not a lower layer.",
        "msg/s = messages / wall time of the client process from spawn to exit (start-up," +
        " handshake and close included).",
        "Before the timed runs one run of each pair counted its stdout: every message arrived," +
        " one a line.",
        CPU_NOTE,
        "What limits ws-pmu (2026-11-24, deno --cpu-prof): writev 19%, garbage collection 11%," +
        " node stream machinery (Writable buffering, nextTick, WriteWrap) ~15%: npm:ws on" +
        " Deno's node:http/node:net layer, one Buffer and one stream write per message.",
      ],
    };
  } finally {
    await stopAll(...Object.values(started).map((s) => s.proc));
  }
}

/** The environment of the Node.js WebSocket server: where npm:ws is. */
function nodeWsEnv(ctx: BenchContext): Record<string, string> {
  return ctx.anchors.nodeWs ? { WS_MODULE: ctx.anchors.nodeWs } : {};
}
