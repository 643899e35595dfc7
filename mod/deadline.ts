/**
 * Deadlines: wait for a promise at most so long, and always clear the timer
 * (a forgotten timer keeps a process alive and fails Deno's leak checks).
 * The one place socklab, its scripts and its tests race a promise with a clock;
 * {@link SessionClock}, the deadlines of a server's session.
 *
 * @module
 */

/** `p`'s result, or a rejection `<what>: no result within <ms> ms` once `ms` have passed. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `p` at most `ms`: true if it settled (resolved or rejected) in time, else false. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`, or less if `signal` aborts (at once if it already has, or if `ms` <= 0). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/** How often the shared tick looks at the clocks' deadlines, in ms. */
export const TICK_MS = 100;

/**
 * The tick every {@link SessionClock} shares: one interval for the whole process, running
 * while some clock has a far deadline, that gives a clock its own timer once its deadline is
 * near (within two ticks).
 */
const ticking = {
  clocks: new Set<SessionClock>(),
  interval: undefined as ReturnType<typeof setInterval> | undefined,
  add(c: SessionClock) {
    this.clocks.add(c);
    this.interval ??= setInterval(() => {
      const now = performance.now();
      for (const clock of this.clocks) clock.tick(now);
    }, TICK_MS);
  },
  delete(c: SessionClock) {
    if (!this.clocks.delete(c) || this.clocks.size > 0) return;
    clearInterval(this.interval);
    this.interval = undefined;
  },
};

/**
 * The deadlines of one session (a server's connection): every wait of it (the command, a
 * pause, a write the client does not take, the linger) sets its deadline here, and `expire`
 * runs at it, to the millisecond, unless the clock is set again or cleared first. A timer
 * costs ~6 us to make and clear in Deno 2.9 (a node:timers Timeout), more than the rest of a
 * CMD_short:0 session's own work (issue 29): a deadline two ticks away or more waits on the
 * shared tick, which arms this clock's own timer only once it is near, so a session that ends
 * within a tick (most do) makes no timer, and one that lasts makes one per near deadline.
 */
export class SessionClock {
  #timer?: ReturnType<typeof setTimeout>;
  #timerAt = Infinity;
  #deadline = Infinity;
  #expire?: () => void;
  #ticking = false;

  /**
   * `expire` runs once `ms` have passed since `now` (a reading of performance.now() the
   * caller already has, or one taken here), unless the clock is set again or cleared first.
   */
  set(ms: number, expire: () => void, now = performance.now()): void {
    this.#deadline = now + Math.max(0, ms);
    this.#expire = expire;
    if (this.#deadline >= this.#timerAt) return; // the armed timer comes first and re-checks
    if (ms < 2 * TICK_MS) this.#arm(now);
    else if (!this.#ticking) {
      this.#ticking = true;
      ticking.add(this);
    }
  }

  /** No deadline now (the wait ended in time). */
  clear(): void {
    this.#expire = undefined;
    this.#deadline = Infinity;
  }

  /** Stops the timer and leaves the tick (the session is over). */
  dispose(): void {
    this.clear();
    clearTimeout(this.#timer);
    this.#timerAt = Infinity;
    if (this.#ticking) ticking.delete(this);
    this.#ticking = false;
  }

  /** The shared tick: a deadline within two ticks gets this clock's own timer. */
  tick(now: number): void {
    if (this.#deadline - now < 2 * TICK_MS && this.#deadline < this.#timerAt) this.#arm(now);
  }

  #arm(now: number) {
    clearTimeout(this.#timer);
    this.#timerAt = this.#deadline;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, this.#deadline - now));
  }

  #fire() {
    this.#timerAt = Infinity;
    const expire = this.#expire;
    if (expire === undefined) return;
    const now = performance.now();
    if (now < this.#deadline) return this.#arm(now);
    this.clear();
    expire();
  }
}
