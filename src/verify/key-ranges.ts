/**
 * Splitting a table's primary key space into ranges of about N rows: the boundaries are read in
 * one ordered pass over the key (the key index) on one side, and each range is a
 * `lower < key ≤ upper` condition either side can evaluate with its own column types.
 */
import { quoteIdent } from '../source/sql-quoting.js';
import type { VerifySide } from './connection-pairs.js';
import type { KeyColumn } from './table-shape.js';

/** Key values as text, in key column order. */
export type KeyTuple = readonly string[];

/** `lower < key ≤ upper`; a null bound is open. */
export interface KeyRange {
  readonly lower: KeyTuple | null;
  readonly upper: KeyTuple | null;
}

export const WHOLE_TABLE: KeyRange = { lower: null, upper: null };

/** The key columns as an ORDER BY list: `"a", "b" collate "C"`. */
export function keyOrder(keys: readonly KeyColumn[]): string {
  return keys.map((k) => `${quoteIdent(k.name)}${k.collateC ? ' collate "C"' : ''}`).join(', ');
}

/** The key columns' values as text, aliased k0, k1, …. */
export function keyTextColumns(keys: readonly KeyColumn[]): string {
  return keys.map((k, i) => `${quoteIdent(k.name)}::text as k${i}`).join(', ');
}

/** Reads k0, k1, … of a row. */
export function keyTupleOf(row: Record<string, string>, keys: readonly KeyColumn[]): KeyTuple {
  return keys.map((_, i) => row[`k${i}`]!);
}

/**
 * The SQL condition of `range`, appending its bound values to `params` (cast to this side's key
 * types); `true` for the whole table.
 */
export function rangeCondition(keys: readonly KeyColumn[], range: KeyRange, params: unknown[]): string {
  const conditions: string[] = [];
  const row = `(${keyOrder(keys)})`;
  const bound = (values: KeyTuple) =>
    `(${keys
      .map((k, i) => {
        params.push(values[i]);
        return `$${params.length}::${k.type}`;
      })
      .join(', ')})`;
  if (range.lower) conditions.push(`${row} > ${bound(range.lower)}`);
  if (range.upper) conditions.push(`${row} <= ${bound(range.upper)}`);
  return conditions.length === 0 ? 'true' : conditions.join(' and ');
}

/**
 * Every `step`-th key of `range` on `side` (but not its last row): the upper bounds of ranges of
 * `step` rows, one ordered pass over the range. `rows` is the range's row count on that side.
 */
export async function rangeBoundaries(side: VerifySide, relation: string, keys: readonly KeyColumn[], range: KeyRange, rows: number, step: number): Promise<KeyTuple[]> {
  if (rows <= step) return [];
  const params: unknown[] = [];
  const condition = rangeCondition(keys, range, params);
  params.push(step, rows);
  const found = await side.query(
    `select ${keys.map((_, i) => `k${i}`).join(', ')} from (
       select ${keyTextColumns(keys)}, row_number() over (order by ${keyOrder(keys)}) as rn from ${relation} where ${condition}) s
      where rn % $${params.length - 1} = 0 and rn < $${params.length} order by rn`,
    params,
  );
  return found.map((row) => keyTupleOf(row, keys));
}

/** The ranges `boundaries` (ascending, inside `range`) cut `range` into. */
export function splitRange(range: KeyRange, boundaries: readonly KeyTuple[]): KeyRange[] {
  const bounds = [range.lower, ...boundaries, range.upper];
  return bounds.slice(1).map((upper, i) => ({ lower: bounds[i] ?? null, upper }));
}

/** Rows per range so that `rows` split into equal ranges of at most `rangeRows`. */
export function balancedStep(rows: number, rangeRows: number): number {
  const ranges = Math.max(1, Math.ceil(rows / rangeRows));
  return Math.max(1, Math.ceil(rows / ranges));
}
