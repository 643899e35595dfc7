import assert from "node:assert/strict";
import { runSocklab, socklabArgv } from "./helpers/cli.ts";
import { DUAL_STACK_HOSTS, netnsTest } from "./helpers/netns.ts";

const STUDENTS = new URL("./fixtures/students/", import.meta.url).pathname;
const py = (name: string) => ["python3", STUDENTS + name];
/** `socklab <client>` as a graded program, exactly as the binary would run it. */
const socklab = (...args: string[]) => socklabArgv(args);

interface Report {
  part: string;
  max_grade: number;
  score: number;
  success: 0 | 1;
  tests: { name: string; passed: boolean; detail: string }[];
}

async function grade(
  part: string,
  program: string[],
  opts: { prefix?: string[]; extra?: string[] } = {},
): Promise<Report> {
  const r = await runSocklab(["grade", part, "--json", ...(opts.extra ?? []), "--", ...program], {
    prefix: opts.prefix,
    timeoutMs: 90_000,
  });
  assert.ok(r.code === 0 || r.code === 1, `grade exit ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(r.code, report.success ? 0 : 1);
  return report;
}

/** The names of the failed tests. */
const failed = (r: Report) => r.tests.filter((t) => !t.passed).map((t) => t.name);
const detail = (r: Report, name: string) => r.tests.find((t) => t.name === name)!.detail;

Deno.test("grade: usage errors exit 2 naming the problem", async () => {
  const noPart = await runSocklab(["grade", "part9", "--", "python3", "x.py"]);
  assert.equal(noPart.code, 2);
  assert.match(noPart.stderr, /'part9' is not a gradable part \(.*part4-receiver/);
  const noProgram = await runSocklab(["grade", "part4-sender"]);
  assert.equal(noProgram.code, 2);
  assert.match(noProgram.stderr, /missing <program\.\.\.> after --/);
  const badSciper = await runSocklab([
    "grade",
    "part4-sender",
    "--sciper",
    "12345",
    "--",
    "python3",
  ]);
  assert.equal(badSciper.code, 2);
  assert.match(badSciper.stderr, /--sciper: '12345' is not 6 digits/);
  const missing = await runSocklab(["grade", "part4-sender", "--", "/nonexistent/student.py"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot run '\/nonexistent\/student\.py'/);
});

netnsTest(
  "grade part4-receiver: full marks for socklab's receiver and a correct script",
  async (ns) => {
    for (const program of [socklab("receiver"), py("part4_receiver_good.py")]) {
      const r = await grade("part4-receiver", program, { prefix: ns.prefix });
      assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
      assert.equal(r.score, r.max_grade);
    }
  },
);

netnsTest(
  "grade part4-receiver: a receiver that forgets to join the group fails with the reason",
  async (ns) => {
    const r = await grade("part4-receiver", py("part4_receiver_nojoin.py"), { prefix: ns.prefix });
    assert.equal(r.score, 0);
    assert.match(
      detail(r, "receives the broadcast"),
      /nothing was printed: did the program join the group/,
    );
  },
);

netnsTest(
  "grade part4-sender: full marks for socklab's sender and a correct script; broken ones lose the right test",
  async (ns) => {
    for (const program of [socklab("sender"), py("part4_sender_good.py")]) {
      const r = await grade("part4-sender", program, {
        prefix: ns.prefix,
        extra: ["--sciper", "654321"],
      });
      assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    }
    const sep = await grade("part4-sender", py("part4_sender_separator.py"), { prefix: ns.prefix });
    assert.deepEqual(failed(sep), ["datagram is <sciper><text>"]);
    assert.match(
      detail(sep, "datagram is <sciper><text>"),
      /no separator between the 6-byte ID and the text/,
    );
    const once = await grade("part4-sender", py("part4_sender_once.py"), { prefix: ns.prefix });
    assert.deepEqual(failed(once), ["one datagram per input line"]);
    assert.match(detail(once, "one datagram per input line"), /1 of 3 stdin lines arrived/);
  },
);

netnsTest("grade part3: full marks for socklab's pdc-udp and a correct script", async (ns) => {
  for (const program of [socklab("pdc-udp"), py("part3_good.py")]) {
    const r = await grade("part3", program, { prefix: ns.prefix });
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.match(detail(r, "retransmits about every 1 s"), /attempts [\d.]+, [\d.]+/);
  }
}, { hosts: DUAL_STACK_HOSTS });

netnsTest(
  "grade part3: IPv4 only loses the IPv6 test; no retransmission loses all, with reasons",
  async (ns) => {
    const v4only = await grade("part3", py("part3_ipv4_only.py"), { prefix: ns.prefix });
    assert.deepEqual(failed(v4only), ["IPv6-only server"]);
    assert.match(
      detail(v4only, "IPv6-only server"),
      /no RESET:20 reached the IPv6-only server.*IPv4 and IPv6/,
    );
    const once = await grade("part3", py("part3_no_retransmit.py"), { prefix: ns.prefix });
    assert.equal(once.score, 0);
    assert.match(
      detail(once, "IPv4-only server"),
      /did not send again: retransmit after a 1 s timeout/,
    );
  },
  { hosts: DUAL_STACK_HOSTS },
);

netnsTest(
  "grade part3: where localhost has no IPv6 address, says how to fix /etc/hosts",
  async (ns) => {
    const r = await grade("part3", socklab("pdc-udp"), { prefix: ns.prefix });
    assert.deepEqual(failed(r), ["IPv6-only server"]);
    assert.match(detail(r, "IPv6-only server"), /add the line '::1 localhost' to \/etc\/hosts/);
  },
  { hosts: "127.0.0.1 localhost\n" },
);

Deno.test("grade part2: full marks for socklab's pdc and a correct script", async () => {
  for (const program of [socklab("pdc"), py("part2_good.py")]) {
    const r = await grade("part2", program, { extra: ["--seed", "11"] });
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.equal(r.max_grade, 4);
  }
});

Deno.test("grade part2: broken scripts lose exactly the tests they should, with the reason", async () => {
  const fixed = await grade("part2", py("part2_fixed_n.py"), { extra: ["--seed", "7"] });
  assert.deepEqual(failed(fixed), ["CMD_short:0", "CMD_short:0, messages cut into pieces"]);
  assert.match(
    detail(fixed, "CMD_short:0"),
    /got messages 0\.\.9 but the server sent \d+.*do not assume the number/,
  );

  const records = await grade("part2", py("part2_records18.py"), { extra: ["--seed", "7"] });
  assert.deepEqual(failed(records), ["CMD_short:0", "CMD_short:0, messages cut into pieces"]);
  assert.match(detail(records, "CMD_short:0"), /expected 'This is PMU data 10'/);

  const partial = await grade("part2", py("part2_partial_flood.py"), { extra: ["--seed", "7"] });
  assert.deepEqual(failed(partial), ["CMD_floodme"]);
  assert.match(
    detail(partial, "CMD_floodme"),
    /only \d+ of \d+ flood bytes .*receive until the server closes/,
  );
});

Deno.test("grade: hostile programs are stopped within the limits and leave no process", async () => {
  const marker = `socklab-hostile-${Deno.pid}`;
  // Ignores SIGTERM, spawns a child, prints without end; the marker finds any survivor.
  const hostile = `
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen(["sleep", "300", "${marker}"])
while True:
    sys.stdout.write("noise " * 100 + "\\n")
`;
  const r = await grade("part2", ["python3", "-c", hostile, marker], {
    extra: ["--time-limit", "3", "--output-limit", "100000"],
  });
  assert.equal(r.score, 0);
  assert.match(r.tests[0].detail, /printed more than the output limit|stopped/);
  const ps = await new Deno.Command("pgrep", { args: ["-f", marker], stdout: "piped" }).output();
  assert.equal(new TextDecoder().decode(ps.stdout).trim(), "", "a graded process survived");

  const sleeper = await grade("part2", ["python3", "-c", "import time; time.sleep(300)"], {
    extra: ["--time-limit", "1"],
  });
  assert.equal(sleeper.score, 0);
  assert.match(sleeper.tests[0].detail, /stopped after \d+\.\d s \(time limit\)/);
});
