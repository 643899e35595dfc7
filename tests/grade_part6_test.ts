import assert from "node:assert/strict";
import { failed, grade, socklab } from "./helpers/grade.ts";
import { requirePython } from "./helpers/requires.ts";

const STUDENT_WS = new URL("./fixtures/students/part6_good.py", import.meta.url).pathname;

Deno.test("grade part6: full marks for socklab's ws-pdc and a websocket-client script", async () => {
  // Debian's python3-websocket is for /usr/bin/python3 (scripts/setup.sh installs it).
  const python = await requirePython("websocket", "python3-websocket");
  for (const program of [socklab("ws-pdc"), [python, STUDENT_WS]]) {
    const r = await grade("part6", program, { extra: ["--seed", "5"] });
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.deepEqual(r.tests.map((t) => t.name), [
      "CMD_short:0",
      "CMD_short:0, few messages",
      "CMD_short:1",
      "CMD_floodme",
    ]);
    assert.ok(r.tests.every((t) => t.scored));
  }
});

Deno.test("grade part6: a part 2 TCP client against the WebSocket PMU gets no message", async () => {
  const tcp = new URL("./fixtures/students/part2_good.py", import.meta.url).pathname;
  const r = await grade("part6", ["python3", tcp], { extra: ["--seed", "5", "--time-limit", "5"] });
  assert.equal(r.score, 0);
  assert.match(r.tests[0].detail, /no 'This is PMU data i' line/);
});
