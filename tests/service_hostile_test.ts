/**
 * The scoring service against hostile or careless input: what an attacker
 * with a student token (or only the URL), a student with a broken upload at
 * midnight, or a teaching assistant with an odd roster can send it.
 */
import assert from "node:assert/strict";
import { gradeBook, gradeBookCsv, importRoster, parseRoster } from "../mod/service/course.ts";
import { openStore } from "../mod/service/store/open.ts";
import { makeCourse } from "./helpers/service.ts";

Deno.test("service hostile: a roster with a BOM, CRLF and quoted formulas exports as text", async () => {
  await using course = await makeCourse([]);
  const roster = "\uFEFFID,Name,Email\r\n" +
    'alice,"=HYPERLINK(""http://evil"",""x"")",a@x\r\n' +
    'bob,"+1+2, ""Bob""",b@x\r\n' +
    "carl,@SUM(A1),c@x\r\n" +
    "dan,-2+3,d@x\r\n" +
    "erin,\u00c9rin \u{1F642},e@x\r\n";
  const rows = parseRoster(roster);
  assert.deepEqual(rows.map((r) => r.id), ["alice", "bob", "carl", "dan", "erin"]);
  assert.equal(rows[1].name, '+1+2, "Bob"');
  const store = await openStore({ data: course.data });
  try {
    await importRoster(store, rows);
    const csv = gradeBookCsv(await gradeBook(store));
    const lines = csv.trim().split("\n").slice(1);
    assert.deepEqual(lines, [
      `alice,"'=HYPERLINK(""http://evil"",""x"")",,,,,,,`,
      `bob,"'+1+2, ""Bob""",,,,,,,`,
      "carl,'@SUM(A1),,,,,,,",
      "dan,'-2+3,,,,,,,",
      "erin,\u00c9rin \u{1F642},,,,,,,",
    ]);
    // No cell of the export starts with a formula character (scores are numbers).
    for (const line of lines) {
      for (const cell of line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
        assert.doesNotMatch(cell.replace(/^"/, ""), /^[=+\-@\t\r]/, line);
      }
    }
  } finally {
    await store.close();
  }
});
