/**
 * grade runs programs as the course's scorer did (issue 31; LAB-FACTS.md, "How the scorer ran
 * programs"): Python's own buffering, stopped at the end of a test. The fixtures that print
 * without flush=True get the course's verdicts, with the reason, isolated (each job in its
 * sandbox) and unisolated (`--isolation off`, in a namespace of the test's own). grade's own
 * environment gets PYTHONUNBUFFERED=1 (this build machine exports it): it is never passed on.
 */
import assert from "node:assert/strict";
import { isolationProblem } from "../mod/proc/sandbox.ts";
import { detail, failed, failedAdvice, grade, py, type Report } from "./helpers/grade.ts";
import { DUAL_STACK_HOSTS, netnsTest } from "./helpers/netns.ts";

const env = { PYTHONUNBUFFERED: "1" };
/** Receivers never end: 2.5 s a test is plenty (the grading TV sends every 0.15 s). */
const LIMIT = ["--time-limit", "2.5"];
const FLUSH = new RegExp(
  "your program was stopped after [\\d.]+ s and printed nothing we could read: " +
    "print with flush=True, as the handout asks",
);
const SINGLE_RUN = /it was still running: submit the single-run version, not the 60-run experiment/;

// Isolation needs root (as in isolation_test.ts): skipped, saying why, on a laptop; in CI or as
// root a missing piece fails the test (`--isolation required`).
const why = await isolationProblem();
const noJail = why !== null && Deno.uid() !== 0 && !Deno.env.get("CI");
if (noJail) console.error(`isolated grading tests skipped: ${why}`);

/** The four fixtures of issue 31, graded with `mode` (isolation) and `prefix` (a namespace). */
async function gradeFour(mode: string[], prefix?: string[]): Promise<Report[]> {
  const run = (part: string, script: string, extra: string[] = []) =>
    grade(part, py(script), { prefix, env, extra: [...mode, ...extra] });
  return await Promise.all([
    run("part4-receiver", "part4_receiver_unflushed.py", LIMIT),
    run("part4-receiver", "part4_receiver_flushed.py"),
    run("part3", "part3_60_runs.py"),
    run("part2", "part2_unflushed.py"),
  ]);
}

/** The course's verdicts for {@link gradeFour}'s reports, and the reasons. */
function assertCourseVerdicts([unflushed, flushed, loop, exits]: Report[]): void {
  // A receiver that joined and received, but never flushed: the scorer read nothing.
  assert.equal(unflushed.score, 0, JSON.stringify(unflushed.tests));
  const got = detail(unflushed, "receives the broadcast");
  assert.match(got, /^it joined the group 224\.1\.1\.1, where the TV sent \d+ datagrams; /);
  assert.match(got, FLUSH);
  assert.deepEqual(failedAdvice(unflushed), ["keeps receiving across the end of the play"]);
  assert.match(detail(unflushed, "keeps receiving across the end of the play"), FLUSH);
  // The same with flush=True: full marks.
  assert.equal(flushed.success, 1, JSON.stringify(flushed.tests));
  assert.deepEqual(failedAdvice(flushed), []);
  // The 60-run experiment: acknowledged, still running, nothing read.
  for (const name of ["IPv4-only server", "IPv6-only server"]) {
    assert.ok(failed(loop).includes(name), JSON.stringify(loop.tests));
    assert.match(detail(loop, name), /^the server acknowledged \d+ RESET:20 and the program sent/);
    assert.match(detail(loop, name), SINGLE_RUN);
    assert.match(detail(loop, name), FLUSH);
  }
  assert.ok(failedAdvice(loop).includes("exits after the acknowledgement"));
  // A part 2 client without flush that exits when the server closes: Python flushes at exit.
  assert.equal(exits.success, 1, JSON.stringify(exits.tests));
  assert.deepEqual(failedAdvice(exits), []);
  for (const r of [unflushed, flushed, loop, exits]) {
    assert.equal(r.unbuffered, undefined);
    assert.equal(r.note, undefined);
  }
}

Deno.test({
  name: "grade as the course's scorer, isolated: unflushed output is lost, and the reason says so",
  ignore: noJail,
  async fn() {
    assertCourseVerdicts(await gradeFour(["--isolation", "required"]));
  },
});

Deno.test({
  name:
    "grade --unbuffered: the logic is judged, and the report says it is not the course's verdict",
  ignore: noJail,
  async fn() {
    const extra = ["--isolation", "required", "--unbuffered"];
    const [receiver, loop] = await Promise.all([
      grade("part4-receiver", py("part4_receiver_unflushed.py"), { env, extra }),
      grade("part3", py("part3_60_runs.py"), { env, extra }),
    ]);
    assert.equal(receiver.success, 1, JSON.stringify(receiver.tests));
    for (const name of ["IPv4-only server", "IPv6-only server"]) {
      assert.ok(!failed(loop).includes(name), JSON.stringify(loop.tests));
    }
    // Printed and went on: the offsets were there, the loop still is.
    assert.deepEqual(failedAdvice(loop), ["exits after the acknowledgement"]);
    for (const r of [receiver, loop]) {
      assert.equal(r.unbuffered, true);
      assert.match(r.note!, /unbuffered, which the course's scorer did not do.*not the course's/);
    }
  },
});

netnsTest(
  "grade as the course's scorer, unisolated: the same verdicts and reasons",
  async (ns) => {
    const off = ["--isolation", "off"];
    const [four, stays] = await Promise.all([
      gradeFour(off, ns.prefix),
      // Stays running after printing without flush=True: the messages are lost; the flood's
      // one big print() goes through (larger than Python's buffer), as it did for the course.
      grade("part2", py("part2_unflushed_stays.py"), {
        prefix: ns.prefix,
        env,
        extra: [...off, "--time-limit", "2", "--seed", "7"],
      }),
    ]);
    assertCourseVerdicts(four);
    assert.deepEqual(failed(stays), ["CMD_short:0", "CMD_short:0, few messages", "CMD_short:1"]);
    for (const name of failed(stays)) assert.match(detail(stays, name), FLUSH);
    assert.match(detail(stays, "CMD_floodme"), /did not exit when the server closed/);
  },
  { hosts: DUAL_STACK_HOSTS },
);
