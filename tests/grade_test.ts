import assert from "node:assert/strict";
import { runSocklab } from "../scripts/lib/proc.ts";
import { grade } from "./helpers/grade.ts";

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
  const tls = await runSocklab(["grade", "part5", "--cert", "a.crt", "--", "python3", "x.py"]);
  assert.equal(tls.code, 2);
  assert.match(tls.stderr, /--cert, --key and --ca go together/);
  const missing = await runSocklab(["grade", "part4-sender", "--", "/nonexistent/student.py"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot run '\/nonexistent\/student\.py'/);
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
  // It prints 100 kB within milliseconds: the output limit stops it, long before the time limit.
  assert.match(
    r.tests[0].detail,
    /; the program was stopped: it printed more than the output limit$/,
  );
  const ps = await new Deno.Command("pgrep", { args: ["-f", marker], stdout: "piped" }).output();
  assert.equal(new TextDecoder().decode(ps.stdout).trim(), "", "a graded process survived");

  const sleeper = await grade("part2", ["python3", "-c", "import time; time.sleep(300)"], {
    extra: ["--time-limit", "1"],
  });
  assert.equal(sleeper.score, 0);
  assert.match(
    sleeper.tests[0].detail,
    /; the program was stopped after \d+\.\d s \(time limit\)$/,
  );
});

Deno.test("grade: a program that fails by itself is reported with its exit code and last stderr line", async () => {
  const r = await grade(
    "part2",
    ["python3", "-c", "import sys; sys.exit('boom: no socket today')"],
    {
      extra: ["--seed", "3"],
    },
  );
  assert.equal(r.score, 0);
  for (const t of r.tests) {
    assert.match(
      t.detail,
      /the program exited with code 1 after [\d.]+ s \(last stderr line: "boom: no socket today"\)/,
    );
  }
});
