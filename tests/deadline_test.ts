import assert from "node:assert/strict";
import { SessionClock, TICK_MS, within } from "../mod/deadline.ts";

/** Resolves with the time `clock` expires at after `set(ms)`; the clock is disposed after. */
function expiry(clock: SessionClock, ms: number): Promise<number> {
  return new Promise((resolve) => clock.set(ms, () => resolve(performance.now())));
}

Deno.test("SessionClock: a near deadline expires on time, a cleared one never", async () => {
  const clock = new SessionClock();
  try {
    const t0 = performance.now();
    const at = await within(expiry(clock, 30), 5_000, "expiry");
    assert.ok(at - t0 >= 29, `expired after ${at - t0} ms, not 30`);
    // Cleared before its time: nothing happens, and the clock is free for the next wait.
    let fired = false;
    clock.set(20, () => fired = true);
    clock.clear();
    const t1 = performance.now();
    const next = await within(expiry(clock, 60), 5_000, "next expiry");
    assert.ok(next - t1 >= 59);
    assert.equal(fired, false);
  } finally {
    clock.dispose();
  }
});

Deno.test("SessionClock: a far deadline waits on the shared tick and still expires on time", async () => {
  const clock = new SessionClock();
  const other = new SessionClock();
  try {
    const ms = 3 * TICK_MS + 17;
    const t0 = performance.now();
    let otherFired = false;
    other.set(10 * TICK_MS, () => otherFired = true);
    const at = await within(expiry(clock, ms), 5_000, "far expiry");
    assert.ok(at - t0 >= ms - 1, `expired after ${at - t0} ms, not ${ms}`);
    // Set again before its time, a deadline moves later: the first one does not fire.
    let first = 0;
    clock.set(2 * TICK_MS + 50, () => first++);
    const t1 = performance.now();
    const moved = await within(expiry(clock, 4 * TICK_MS), 5_000, "moved expiry");
    assert.ok(moved - t1 >= 4 * TICK_MS - 1);
    assert.equal(first, 0);
    assert.equal(otherFired, false, "the other clock's later deadline has not come");
  } finally {
    clock.dispose();
    other.dispose(); // the last clock leaves the tick: no interval left behind (leak check)
  }
});
