/**
 * A tiny seeded pseudo-random generator (mulberry32) for every server whose
 * behaviour a `--seed` must make repeatable: the PMU's message counts, the
 * UDP PMU's losses and offsets, the TV's choices. Not for cryptography.
 *
 * @module
 */

/** A source of numbers uniform in [0, 1), like Math.random. */
export type Random = () => number;

/** The largest seed (seeds are unsigned 32-bit integers). */
export const MAX_SEED = 0xffff_ffff;

/** A generator whose sequence depends only on `seed` (an integer 0..2^32-1). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for when none was given (logged by servers so a run can be repeated). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** An integer uniform in lo..hi (both included). */
export function randomInt(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}
