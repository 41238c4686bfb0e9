/**
 * What is compared of a range of rows: its row count and an order-independent hash of the rows'
 * text, and, for a range with few rows, each row's key and hash (or a keyless table's rows).
 *
 * A row's text is `row(c1, c2, …)::text` over the compared columns, named in the source's order,
 * so a target whose columns are in another order renders the same text. Both sides use pgcdc's
 * session settings (DateStyle, TimeZone, extra_float_digits, bytea_output, …), so equal values
 * render equally. A row's hash is `hashtextextended(text, 0)` (64 bits; the function behind hash
 * partitioning, stable across PostgreSQL versions) and a range's hash is their sum (int128, no
 * overflow): the same multiset of rows gives the same sum in any order. It costs about what
 * rendering the rows as text costs; md5 would double it.
 */
import { quoteIdent } from '../source/sql-quoting.js';
import type { VerifySide } from './connection-pairs.js';
import { keyOrder, keyTextColumns, keyTupleOf, rangeCondition, type KeyRange, type KeyTuple } from './key-ranges.js';
import type { KeyColumn } from './table-shape.js';

export interface RangeChecksum {
  readonly rows: number;
  readonly hash: string;
}

/** A table on one side and what of it is compared. */
export interface ComparedRelation {
  /** `"schema"."table"`. */
  readonly relation: string;
  /** The compared columns, in the source's order. */
  readonly columns: readonly string[];
  /** The key columns as this side queries them (empty without a primary key). */
  readonly keys: readonly KeyColumn[];
}

/** `row("a", "b")::text`. */
export function rowText(columns: readonly string[]): string {
  return `row(${columns.map(quoteIdent).join(', ')})::text`;
}

/** The 64-bit hash of a row's text. */
function rowHash(columns: readonly string[]): string {
  return `hashtextextended(${rowText(columns)}, 0)`;
}

/** The row count and hash of `range` (the whole table for WHOLE_TABLE). */
export async function rangeChecksum(side: VerifySide, table: ComparedRelation, range: KeyRange): Promise<RangeChecksum> {
  const params: unknown[] = [];
  const condition = rangeCondition(table.keys, range, params);
  const rows = await side.query<{ rows: string; hash: string }>(
    `select count(*)::text as rows, coalesce(sum(${rowHash(table.columns)}), 0)::text as hash from ${table.relation} where ${condition}`,
    params,
  );
  return { rows: Number(rows[0]!.rows), hash: rows[0]!.hash };
}

/**
 * The rows of `range` by key (the JSON of its values), in key order, with the hashes of the rows
 * having that key: one, unless the side lacks the primary key and holds duplicates.
 */
export async function rangeRowHashes(side: VerifySide, table: ComparedRelation, range: KeyRange): Promise<Map<string, { key: KeyTuple; hashes: string[] }>> {
  const params: unknown[] = [];
  const condition = rangeCondition(table.keys, range, params);
  const rows = await side.query(
    `select ${keyTextColumns(table.keys)}, ${rowHash(table.columns)}::text as h from ${table.relation} where ${condition} order by ${keyOrder(table.keys)}`,
    params,
  );
  const byKey = new Map<string, { key: KeyTuple; hashes: string[] }>();
  for (const row of rows) {
    const key = keyTupleOf(row, table.keys);
    const id = JSON.stringify(key);
    const found = byKey.get(id);
    if (found) found.hashes.push(row.h as string);
    else byKey.set(id, { key, hashes: [row.h as string] });
  }
  return byKey;
}

/** Every row's compared values as text, in a stable order (for small tables without a key). */
export async function tableRows(side: VerifySide, table: ComparedRelation): Promise<(string | null)[][]> {
  const rows = await side.query(
    `select ${table.columns.map((c, i) => `${quoteIdent(c)}::text as c${i}`).join(', ')}${table.columns.length === 0 ? '1' : ''}
       from ${table.relation} order by ${rowText(table.columns)} collate "C"`,
  );
  return rows.map((row) => table.columns.map((_, i) => row[`c${i}`] as string | null));
}

/** The row count of a table on `side`. */
export async function countRows(side: VerifySide, relation: string): Promise<number> {
  const rows = await side.query<{ rows: string }>(`select count(*)::text as rows from ${relation}`);
  return Number(rows[0]!.rows);
}
