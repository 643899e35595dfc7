/**
 * "did you mean": the name closest to a mistyped command or option, by edit distance with
 * transpositions (optimal string alignment: `pcd` is one step from `pdc`, two from `pmu`),
 * so that every usage error can end in `; did you mean '<closest>'?`.
 *
 * @module
 */

/** Insertions, deletions, substitutions and swaps of two neighbours that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const same = a[i - 1] === b[j - 1];
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (same ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The one of `names` closest to `typed` (the start of a name, or a name followed by more,
 * counts as one step), if any is reasonably close: at most 2 steps, or a third of its length.
 */
export function closest(typed: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const name of names) {
    const d = name.startsWith(typed) || typed.startsWith(name) ? 1 : editDistance(typed, name);
    if (d < bestD) [best, bestD] = [name, d];
  }
  return bestD <= Math.max(2, Math.floor(typed.length / 3)) ? best : undefined;
}

/** `; did you mean '<prefix><closest>'?`, or "" when no name is close to `typed`. */
export function didYouMean(typed: string, names: Iterable<string>, prefix = ""): string {
  const near = closest(typed, names);
  return near === undefined ? "" : `; did you mean '${prefix}${near}'?`;
}
