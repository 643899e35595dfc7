/**
 * A reduced chaos storm per server (scripts/chaos/): hostile peers of every
 * kind alongside good clients, a few seconds each. Asserts the invariants:
 * every good exchange correct, the server alive and free of crash lines, its
 * descriptors back to the baseline. `deno task chaos` runs the full storm.
 */
import assert from "node:assert/strict";
import { runStorm, violations } from "../scripts/chaos/storm.ts";
import { echoStorm, REDUCED } from "../scripts/chaos/targets.ts";

Deno.test("chaos: echo-server keeps serving good clients through a storm, no leak", async () => {
  const r = await runStorm(echoStorm(REDUCED, 7));
  assert.deepEqual(violations(r), []);
  assert.ok(r.goodAttempted >= REDUCED.goodMin, `only ${r.goodAttempted} good exchanges`);
  assert.ok(r.hostile > 0);
});
