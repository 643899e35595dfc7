/**
 * The machine and the anchors of `deno task bench`: finds the tools people would use instead
 * (socat, Python, Node.js, hyperfine), the real Python executables (the pyenv `python3` on
 * PATH is a shell shim whose start-up would be measured otherwise) and npm:ws for the Node.js
 * WebSocket server (the copy in Deno's npm cache, the version deno.lock names), and describes
 * the machine and the versions for bench/RESULTS.md. It installs nothing: scripts/setup.sh
 * does (socat, hyperfine, python3-websockets, nodejs are in its list).
 *
 * @module
 */
import { ROOT } from "../lib/proc.ts";

export interface Anchors {
  socat: boolean;
  hyperfine: boolean;
  /** The python3 a student runs (PATH), resolved to its real executable. */
  python: string | undefined;
  /** Debian's /usr/bin/python3, if it imports `websockets`. */
  wsPython: string | undefined;
  /** The node executable. */
  node: string | undefined;
  /** The folder of npm:ws (Deno's npm cache), which bench/ws_server.mjs loads under Node.js. */
  nodeWs: string | undefined;
  /** The name of each anchor that is missing (`socat`, `node`...). */
  missing: string[];
  /** One line per anchor that is missing, with how to install it and what it costs. */
  problems: string[];
}

async function run(
  cmd: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const r = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: ac.signal,
      env: { DEBIAN_FRONTEND: "noninteractive", DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).output();
    clearTimeout(timer);
    const dec = new TextDecoder();
    return { ok: r.success, out: dec.decode(r.stdout).trim(), err: dec.decode(r.stderr).trim() };
  } catch (e) {
    return { ok: false, out: "", err: e instanceof Error ? e.message : String(e) };
  }
}

async function has(cmd: string, args: string[]): Promise<boolean> {
  return (await run(cmd, args, 20_000)).ok;
}

/** npm:ws's folder in Deno's npm cache, at the version deno.lock pins (`deno install` put it). */
async function wsFolder(): Promise<string | undefined> {
  try {
    const lock = JSON.parse(await Deno.readTextFile(ROOT + "deno.lock"));
    const version = Object.keys(lock.npm ?? {}).find((k) => k.startsWith("ws@"))?.slice(3);
    const info = JSON.parse((await run(Deno.execPath(), ["info", "--json"], 20_000)).out);
    const dir = `${info.npmCache}/registry.npmjs.org/ws/${version}`;
    return version && (await Deno.stat(`${dir}/package.json`)).isFile ? dir : undefined;
  } catch {
    return undefined;
  }
}

async function probe(): Promise<Omit<Anchors, "missing" | "problems">> {
  const py = await run("python3", ["-c", "import sys; print(sys.executable)"], 20_000);
  // Without a node on PATH, Deno runs "node" itself (Node.js compatibility): not an anchor.
  const node = await run(
    "node",
    ["-e", "if (process.versions.deno) process.exit(3); console.log(process.execPath)"],
    20_000,
  );
  return {
    socat: await has("socat", ["-V"]),
    hyperfine: await has("hyperfine", ["--version"]),
    python: py.ok && py.out ? py.out : undefined,
    wsPython: await has("/usr/bin/python3", ["-c", "import websockets"])
      ? "/usr/bin/python3"
      : undefined,
    node: node.ok && node.out ? node.out : undefined,
    nodeWs: await wsFolder(),
  };
}

/**
 * Probe the anchors (the reference tools the figures are compared with). Never throws: what
 * is missing is listed (`missing`, `problems`), and the bench stops on it unless
 * `--allow-missing` (then each of its rows says "not measured: <name> missing").
 */
export async function probeAnchors(log: (line: string) => void): Promise<Anchors> {
  const a = await probe();
  const missing: string[] = [];
  const problems: string[] = [];
  const lack = (name: string, install: string, cost: string) => {
    missing.push(name);
    problems.push(`${name} missing (${install}, or scripts/setup.sh): ${cost}`);
  };
  if (!a.socat) lack("socat", "apt-get install socat", "1's socat anchors");
  if (!a.hyperfine) lack("hyperfine", "apt-get install hyperfine", "5b is timed by the harness");
  if (!a.python) lack("python3", "apt-get install python3", "every Python anchor and the UDP load");
  if (!a.wsPython) {
    lack("python3-websockets", "apt-get install python3-websockets", "4's Python anchors");
  }
  if (!a.node) lack("node", "apt-get install nodejs", "the Node.js anchors of 2, 3 and 4");
  if (!a.nodeWs) lack("npm:ws", "deno install", "4's Node.js anchor");
  for (const p of problems) log(`bench: ${p}`);
  return { ...a, missing, problems };
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memory: string;
  kernel: string;
  os: string;
  versions: Record<string, string>;
  load: string;
}

/** The 1-, 5- and 15-minute load averages, as /proc/loadavg gives them. */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

function firstMatch(text: string, re: RegExp): string | undefined {
  return re.exec(text)?.[1]?.trim();
}

/** What the machine is and which versions ran. */
export async function describeMachine(a: Anchors): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const osRelease = await Deno.readTextFile("/etc/os-release").catch(() => "");
  const memKiB = Number(firstMatch(meminfo, /^MemTotal:\s+(\d+)/m) ?? NaN);
  const versions: Record<string, string> = {
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
  };
  if (a.python) {
    const v = await run(a.python, ["--version"]);
    versions["python3 (PATH)"] = `${v.out || v.err} at ${a.python}`;
  }
  const sysPy = await run("/usr/bin/python3", [
    "-c",
    "import sys\ntry:\n import websockets; w=websockets.__version__\nexcept Exception: w='absent'\n" +
    "print(sys.version.split()[0], 'websockets', w)",
  ]);
  if (sysPy.ok) versions["/usr/bin/python3"] = sysPy.out;
  if (a.socat) {
    versions.socat = firstMatch((await run("socat", ["-V"])).out, /socat version (\S+)/) ?? "?";
  }
  if (a.hyperfine) versions.hyperfine = (await run("hyperfine", ["--version"])).out;
  if (a.node) versions.node = (await run(a.node, ["--version"])).out;
  if (a.nodeWs) versions["ws (for Node.js)"] = a.nodeWs.split("/").pop()!;
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpus: navigator.hardwareConcurrency,
    cpuModel: firstMatch(cpuinfo, /^model name\s*:\s*(.+)$/m) ?? "unknown",
    memory: Number.isFinite(memKiB) ? `${(memKiB / 2 ** 20).toFixed(1)} GiB` : "unknown",
    kernel: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    os: firstMatch(osRelease, /^PRETTY_NAME="?([^"\n]+)"?/m) ?? "unknown",
    versions,
    load: loadAverage(),
  };
}
