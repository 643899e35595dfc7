import assert from "node:assert/strict";
import { DEMO_STEPS } from "../mod/lab/demo.ts";
import { runSocklab } from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";

netnsTest("demo runs every part end to end and passes", async (ns) => {
  const r = await runSocklab(["demo"], { prefix: ns.prefix, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const step of DEMO_STEPS) {
    assert.match(r.stdout, new RegExp(`^== Part ${step.part.replace(".", "\\.")}: `, "m"));
  }
  const verdicts = r.stdout.match(/^ {3}(PASS|FAIL) \(/gm) ?? [];
  assert.equal(verdicts.length, DEMO_STEPS.length);
  assert.ok(verdicts.every((v) => v.includes("PASS")));
  assert.match(
    r.stdout,
    new RegExp(`^demo: ${DEMO_STEPS.length}/${DEMO_STEPS.length} parts passed`, "m"),
  );
});

netnsTest("demo --json reports each part", async (ns) => {
  const r = await runSocklab(["demo", "--json"], { prefix: ns.prefix, timeoutMs: 60_000 });
  assert.equal(r.code, 0);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.total, DEMO_STEPS.length);
  assert.equal(doc.passed, DEMO_STEPS.length);
  assert.deepEqual(doc.results.map((x: { part: string }) => x.part), DEMO_STEPS.map((s) => s.part));
});
