import assert from "node:assert/strict";
import { DEMO_STEPS } from "../mod/lab/demo.ts";
import { runSocklab } from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";

// One run of the whole demo (it is the slowest command): with --json the transcript goes to
// stderr and the results to stdout, so both are checked from the same run.
netnsTest("demo runs every part end to end and passes; --json reports each part", async (ns) => {
  const r = await runSocklab(["demo", "--json"], { prefix: ns.prefix, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.total, DEMO_STEPS.length);
  assert.equal(doc.passed, DEMO_STEPS.length);
  assert.deepEqual(doc.results.map((x: { part: string }) => x.part), DEMO_STEPS.map((s) => s.part));
  for (const step of DEMO_STEPS) {
    assert.match(r.stderr, new RegExp(`^== Part ${step.part.replace(".", "\\.")}: `, "m"));
  }
  const verdicts = r.stderr.match(/^ {3}(PASS|FAIL) \(/gm) ?? [];
  assert.equal(verdicts.length, DEMO_STEPS.length);
  assert.ok(verdicts.every((v) => v.includes("PASS")), r.stderr);
});
