/**
 * The machine and the anchors of `deno task bench`: installs socat, hyperfine
 * and python3-websockets from Debian when they are absent (saying clearly what
 * could not be had), finds the real Python executables (the pyenv `python3` on
 * PATH is a shell shim whose start-up would be measured otherwise), and
 * describes the machine and the versions for bench/RESULTS.md.
 *
 * @module
 */

export interface Anchors {
  socat: boolean;
  hyperfine: boolean;
  /** The python3 a student runs (PATH), resolved to its real executable. */
  python: string | undefined;
  /** Debian's /usr/bin/python3, if it imports `websockets`. */
  wsPython: string | undefined;
  /** One line per anchor that is missing, with what it costs. */
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
      env: { DEBIAN_FRONTEND: "noninteractive" },
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

async function probe(): Promise<Omit<Anchors, "problems">> {
  const py = await run("python3", ["-c", "import sys; print(sys.executable)"], 20_000);
  const wsOk = await has("/usr/bin/python3", ["-c", "import websockets"]);
  return {
    socat: await has("socat", ["-V"]),
    hyperfine: await has("hyperfine", ["--version"]),
    python: py.ok && py.out ? py.out : undefined,
    wsPython: wsOk ? "/usr/bin/python3" : undefined,
  };
}

/**
 * Probe the anchors (the reference tools the figures are compared with). The
 * bench installs nothing: the test task's setup step (scripts/setup.sh) does.
 * Never throws: what is missing is listed in `problems`, and the measurements
 * that need it are skipped.
 */
export async function probeAnchors(log: (line: string) => void): Promise<Anchors> {
  const a = await probe();
  const problems: string[] = [];
  const install = (pkg: string) => `(apt-get install ${pkg}, or scripts/setup.sh)`;
  if (!a.socat) problems.push(`socat absent ${install("socat")}: 1's socat anchor is not measured`);
  if (!a.hyperfine) {
    problems.push(`hyperfine absent ${install("hyperfine")}: 5b is timed by the harness itself`);
  }
  if (!a.wsPython) {
    problems.push(
      `python3-websockets absent for /usr/bin/python3 ${install("python3-websockets")}: ` +
        "the Python side of 4 is skipped",
    );
  }
  if (!a.python) problems.push("python3 absent: every Python reference is skipped");
  for (const p of problems) log(`bench: ${p}`);
  return { ...a, problems };
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
