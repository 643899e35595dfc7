import assert from "node:assert/strict";
import { gradeProgram } from "../mod/grade/engine.ts";
import { pmuRuns } from "../mod/grade/pmu_runs.ts";
import {
  advice,
  detail,
  failed,
  failedAdvice,
  grade,
  py,
  socklab,
  STUDENTS,
} from "./helpers/grade.ts";

Deno.test("grade part2: full marks for socklab's pdc and a correct script", async () => {
  for (const program of [socklab("pdc"), py("part2_good.py")]) {
    const r = await grade("part2", program, { extra: ["--seed", "11"] });
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.equal(r.max_grade, 4);
    assert.deepEqual(advice(r), ["CMD_short:0, messages cut into pieces"]);
  }
});

Deno.test("grade part2: n covers 1 and 2 and two digits across the scored runs, for any seed", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const scored = pmuRuns(seed, true).filter((r) => r.scored && r.count !== undefined);
    const counts = scored.map((r) => r.count!).sort((a, b) => a - b);
    assert.deepEqual(counts.slice(0, 2), [1, 2], `seed ${seed}`);
    assert.ok(counts[2] >= 11 && counts[2] <= 19, `seed ${seed}: ${counts}`);
  }
});

Deno.test("grade part2: fixed 18/19-byte records get full scored marks (as in 2021)", async () => {
  const r = await grade("part2", py("part2_records_18_19.py"), { extra: ["--seed", "7"] });
  assert.equal(r.score, 4);
  assert.equal(r.max_grade, 4);
  assert.equal(r.success, 1);
});

Deno.test("grade part2: splitting on 'This' but losing an 18-byte last message fails the runs with n = 1 and 2", async () => {
  const r = await grade("part2", py("part2_split_this.py"), { extra: ["--seed", "7"] });
  assert.deepEqual(failed(r), ["CMD_short:0, few messages", "CMD_short:1"]);
  assert.equal(r.score, 2);
  assert.match(detail(r, "CMD_short:1"), /got messages 0\.\.0 but the server sent 2/);
  assert.match(detail(r, "CMD_short:0, few messages"), /no 'This is PMU data i' line .*expected 1/);
});

Deno.test("grade part2: broken scripts lose exactly the tests they should, with the reason", async () => {
  const seed7 = { extra: ["--seed", "7"] };
  const [fixed, records, partial] = await Promise.all([
    grade("part2", py("part2_fixed_n.py"), seed7),
    grade("part2", py("part2_records18.py"), seed7),
    grade("part2", py("part2_partial_flood.py"), seed7),
  ]);
  assert.deepEqual(failed(fixed), ["CMD_short:0"]);
  assert.deepEqual(failedAdvice(fixed), ["CMD_short:0, messages cut into pieces"]);
  assert.equal(fixed.score, 3);
  assert.match(
    detail(fixed, "CMD_short:0"),
    /got messages 0\.\.9 but the server sent \d+.*do not assume the number/,
  );

  assert.deepEqual(failed(records), ["CMD_short:0"]);
  assert.match(detail(records, "CMD_short:0"), /expected 'This is PMU data 10'/);

  assert.deepEqual(failed(partial), ["CMD_floodme"]);
  assert.match(
    detail(partial, "CMD_floodme"),
    /only \d+ of \d+ flood bytes .*receive until the server closes/,
  );
});

Deno.test("grade part2: a usage message on stdout is shown when the program exits early", async () => {
  const usage = "import sys; print('usage: PDC.py <server> <port> <command>'); sys.exit(2)";
  const r = await grade("part2", ["python3", "-c", usage, "x"], { extra: ["--seed", "3"] });
  assert.equal(r.score, 0);
  assert.match(
    r.tests[0].detail,
    /exited with code 2 after [\d.]+ s \(last stdout line: "usage: PDC\.py <server> <port> <command>"\)/,
  );
});

Deno.test("grade: one seed, one verdict: a seed-sensitive script graded 10 times", async () => {
  // part2_split_this.py passes or fails depending on the n the seed draws; gradings run
  // in-process, 5 at a time, with a short time limit.
  const one = () =>
    gradeProgram({
      part: "part2",
      program: ["python3", STUDENTS + "part2_split_this.py"],
      timeLimitMs: 5000,
      outputCapBytes: 1 << 20,
      seed: 424242,
    }).then((o) => JSON.stringify(o.report.tests.map((t) => [t.name, t.passed, t.scored])));
  const verdicts = new Set<string>();
  for (let round = 0; round < 2; round++) {
    for (const v of await Promise.all(Array.from({ length: 5 }, one))) verdicts.add(v);
  }
  assert.equal(verdicts.size, 1, [...verdicts].join("\n"));
});

Deno.test("grade part2: a flood interleaved with the program's own recv sizes is said so", async () => {
  const r = await grade("part2", py("part2_flood_sizes.py"), { extra: ["--seed", "5"] });
  assert.deepEqual(failed(r), ["CMD_floodme"]);
  assert.equal(r.score, 3);
  assert.match(
    detail(r, "CMD_floodme"),
    /the whole flood is there, but interleaved with \d+ line\(s\) of .*"1024"/,
  );
});
