/**
 * `grade --capture DIR`: one pcap per run, named after its test, that `socklab packets`
 * reads and whose server bytes are exactly what that test's server sent (isolated where
 * the machine allows: root and bubblewrap, tcpdump then runs in the job's own namespace).
 * Without tcpdump: one line, and grading goes on.
 */
import assert from "node:assert/strict";
import { capPcap, slug } from "../mod/grade/capture.ts";
import { LINKTYPE, readPcap, writePcap } from "../mod/packets/pcap.ts";
import { pmuRuns } from "../mod/grade/pmu_runs.ts";
import { pmuMessages } from "../mod/pmu/mod.ts";
import { isolationProblem } from "../mod/proc/sandbox.ts";
import { runSocklab } from "../scripts/lib/proc.ts";
import { isRunFlood, py, serverBytes } from "./helpers/grade.ts";
import { requireTool } from "./helpers/requires.ts";

const SEED = 11;

async function names(dir: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function gradeCapture(dir: string, env?: Record<string, string>) {
  const r = await runSocklab(
    [
      "grade",
      "part2",
      "--json",
      "--seed",
      String(SEED),
      "--capture",
      dir,
      "--",
      ...py("part2_good.py"),
    ],
    { timeoutMs: 90_000, env },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).score, 4);
  return r;
}

Deno.test("grade part2 --capture DIR: a pcap per test holding that test's server bytes", async () => {
  requireTool("tcpdump", "tcpdump");
  requireTool("setpriv", "util-linux");
  const dir = await Deno.makeTempDir({ prefix: "socklab-gradecap-" });
  try {
    const runs = pmuRuns(SEED, true);
    const r = await gradeCapture(`${dir}/out`);
    if (Deno.uid() !== 0) {
      // Not root: tcpdump cannot capture; one line says so and grading went on.
      assert.match(r.stderr, /capture: not recording, .*grading goes on without captures/);
      assert.deepEqual(await names(`${dir}/out`), []);
      return;
    }
    if (await isolationProblem() === null) {
      // Isolated: tcpdump ran as root inside the job's own network namespace.
      assert.doesNotMatch(r.stderr, /grading without isolation/);
    }
    const files = runs.map((run) => `${slug(run.name)}.pcap`);
    assert.deepEqual(await names(`${dir}/out`), [...files].sort());
    assert.match(r.stderr, /capture: 5 pcap file\(s\) in /);
    for (const run of runs) {
      const bytes = await Deno.readFile(`${dir}/out/${slug(run.name)}.pcap`);
      // The flood is this run's own (tagged): only its length and its play are known here.
      if (run.count === undefined) assert.ok(isRunFlood(serverBytes(bytes)), run.name);
      else assert.equal(serverBytes(bytes), pmuMessages(run.count).join(""), run.name);
    }
    const p = await runSocklab(["packets", `${dir}/out/${slug(runs[2].name)}.pcap`]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`PMU: CMD_short:1 -> ${runs[2].count} messages`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("grade --capture without tcpdump: one line, the grading is the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-gradecap-" });
  try {
    const r = await gradeCapture(dir, { SOCKLAB_TCPDUMP: `${dir}/no-tcpdump` });
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("capture:"));
    assert.deepEqual(lines, [
      `capture: not recording, ${dir}/no-tcpdump is not installed (Debian: apt-get install ` +
      `tcpdump); grading goes on without captures`,
    ]);
    assert.deepEqual(await names(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("grade captures: file names from test names; a big capture keeps its first whole packets", () => {
  assert.equal(slug("CMD_short:0, few messages"), "cmd_short-0-few-messages");
  assert.equal(
    slug("TLS on localhost:5003, certificate of the lab CA"),
    "tls-on-localhost-5003-certificate-of-the-lab-ca",
  );
  assert.equal(slug("?!"), "run");
  const records = Array.from({ length: 50 }, (_, i) => ({
    timeUs: 1_700_000_000_000_000 + i,
    origLen: 1000 + i,
    data: new Uint8Array(1000 + i).fill(i),
  }));
  const whole = writePcap(LINKTYPE.ETHERNET, records);
  assert.equal(capPcap(whole, whole.length), whole);
  for (const max of [24, 24 + 16 + 999, 24 + 16 + 1000, 10_000, whole.length - 1]) {
    const cut = capPcap(whole, max);
    assert.ok(cut.length <= max, `${cut.length} > ${max}`);
    const back = readPcap(cut);
    assert.equal(back.truncated, false);
    assert.deepEqual(back.records, records.slice(0, back.records.length));
    // No further whole packet would have fitted.
    assert.ok(cut.length + 16 + records[back.records.length].data.length > max);
  }
});
