/**
 * A reduced chaos storm per server (scripts/chaos/): hostile peers of every
 * kind alongside good clients, a few seconds each. Asserts the invariants:
 * every good exchange correct, the server alive and free of crash lines, its
 * descriptors back to the baseline. `deno task chaos` runs the full storm.
 */
import assert from "node:assert/strict";
import { stormsInNetns } from "../scripts/chaos/netns.ts";
import { runStorm, type StormResult, type StormSpec, violations } from "../scripts/chaos/storm.ts";
import {
  echoStorm,
  pmuAtLimitStorm,
  pmuFairStorm,
  pmuStorm,
  pmuUdpStorm,
  receiverStorm,
  REDUCED,
  securePmuStalledStorm,
  securePmuStorm,
  STORM_LIMIT,
  wsPmuStorm,
} from "../scripts/chaos/targets.ts";
import { netnsTest } from "./helpers/netns.ts";

function invariants(r: StormResult, spec: StormSpec) {
  assert.deepEqual(violations(r), []);
  assert.ok(r.goodAttempted > REDUCED.goodMin, `only ${r.goodAttempted} good exchanges`);
  assert.equal(r.kinds.length, spec.kinds.length);
  for (const k of r.kinds) assert.ok(k.launched > 0, `no ${k.name} peer ran`);
}

const SEED = 7;

for (
  const make of [
    echoStorm,
    pmuStorm,
    pmuAtLimitStorm,
    securePmuStorm,
    wsPmuStorm,
    pmuUdpStorm,
    pmuFairStorm,
    securePmuStalledStorm,
  ]
) {
  const spec = make(REDUCED, SEED);
  Deno.test(`chaos: ${spec.name} keeps serving good clients through a storm, no leak`, async () => {
    const r = await runStorm(spec);
    invariants(r, spec);
    if (spec.name === "pmu-at-limit") {
      // 100 connections at once against a limit of 64: some were refused, politely.
      assert.match(r.summary, /\d+ refused \(busy\)/);
      assert.ok(r.peakFds <= r.fdsBefore + STORM_LIMIT + 20, `peak ${r.peakFds} descriptors`);
    }
    if (spec.name === "pmu-fair") {
      // One address flooded it: refused past its cap; the class on 127.0.0.2 never was.
      assert.match(r.summary, /\d+ refused \(busy\)/);
    }
    if (spec.name === "secure-pmu-stalled") {
      // Stalled handshakes count: past twice the limit held, the server stopped accepting.
      // (Descriptors of connections just closed go a little later, on a loaded machine.)
      assert.ok(r.serverLog.some((l) => /connections held: not accepting until one ends/.test(l)));
      assert.ok(r.peakFds <= r.fdsBefore + 2 * STORM_LIMIT + 60, `peak ${r.peakFds} descriptors`);
    }
  });
}

netnsTest("chaos: the multicast receiver prints every good datagram through a storm", async () => {
  const [r] = await stormsInNetns(["receiver"], { reduced: true, seed: SEED });
  invariants(r, receiverStorm(REDUCED, SEED));
});
