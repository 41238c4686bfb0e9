/**
 * Counts in sentences: a noun or a verb in the singular or the plural, as the number before it
 * asks ("1 table matches the filters", "3 tables match the filters").
 */

/**
 * `singular` when `count` is 1, else `plural`.
 *
 * @example
 * inflect(1, 'matches', 'match'); // 'matches'
 * inflect(3, 'range'); // 'ranges'
 */
export function inflect(count: number, singular: string, plural = `${singular}s`): string {
  return count === 1 ? singular : plural;
}

/**
 * `count` followed by its noun.
 *
 * @example
 * counted(1, 'table'); // '1 table'
 * counted(0, 'entry', 'entries'); // '0 entries'
 */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${inflect(count, singular, plural)}`;
}
