/**
 * Finds the known name a mistyped one was meant to be ("slotname" → "slotName"): an exact
 * case-insensitive match first, else the closest by edit distance when it is close enough.
 */

/**
 * Optimal string alignment distance (Levenshtein plus swaps of two adjacent characters), so a
 * transposition such as `sltoName` costs 1.
 *
 * @example
 * editDistance('slotname', 'slotName'); // 1
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2][j - 2] + 1);
      d[i][j] = best;
    }
  }
  return d[rows - 1][cols - 1];
}

/**
 * The name among `known` that `candidate` most likely meant, or undefined when none is close:
 * the same name in another case, else the one name it is a beginning of, else the nearest by
 * edit distance (at most a third of its length, at least 1, and less than the whole name).
 *
 * @example
 * nearestName('slotname', ['slotName', 'publicationName']); // 'slotName'
 * nearestName('snapshotMod', ['snapshotMode', 'slotName']); // 'snapshotMode'
 * nearestName('zzz', ['slotName']); // undefined
 */
export function nearestName(candidate: string, known: readonly string[]): string | undefined {
  const lower = candidate.toLowerCase();
  const sameIgnoringCase = known.find((name) => name.toLowerCase() === lower);
  if (sameIgnoringCase !== undefined) return sameIgnoringCase;
  const extended = lower.length >= 4 ? known.filter((name) => name.toLowerCase().startsWith(lower)) : [];
  if (extended.length === 1) return extended[0];
  const limit = Math.max(1, Math.floor(candidate.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit && bestDistance < candidate.length ? best : undefined;
}

/** ` (did you mean X?)` when a near name exists, else an empty string. */
export function didYouMean(candidate: string, known: readonly string[]): string {
  const near = nearestName(candidate, known);
  return near === undefined ? '' : ` (did you mean ${near}?)`;
}
