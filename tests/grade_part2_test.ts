import assert from "node:assert/strict";
import { detail, failed, grade, py, socklab } from "./helpers/grade.ts";

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
