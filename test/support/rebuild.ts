/**
 * Rebuilds a table from delivered events, as a consumer applying them in order by key would
 * (read/create/update set the row, delete removes it), and reads the source table to compare.
 */
import { isDeepStrictEqual } from 'node:util';
import { sql } from './postgres.js';

export type Rows = Map<string, Record<string, unknown>>;

/** Applies Debezium events (value format) of `table` in order; `key` names the key column. */
export function rebuildFromEvents(events: readonly any[], table: string, key = 'id'): Rows {
  const rows: Rows = new Map();
  for (const event of events) {
    if (event.source?.table !== table) continue;
    if (event.op === 'd') rows.delete(String(event.before[key]));
    else if (event.op === 'r' || event.op === 'c' || event.op === 'u') rows.set(String(event.after[key]), event.after);
    else if (event.op === 't') rows.clear();
  }
  return rows;
}

/** The source table's rows as to_jsonb gives them, by key. */
export async function sourceRows(url: string, table: string, key = 'id'): Promise<Rows> {
  const { rows } = await sql(url, `select to_jsonb(t) as row from ${table} t`);
  return new Map(rows.map((r: { row: Record<string, unknown> }) => [String(r.row[key]), r.row]));
}

/** Differences between two row sets, for a readable assertion message. */
export function differences(actual: Rows, expected: Rows, limit = 10): string[] {
  const out: string[] = [];
  for (const [key, row] of expected) {
    const got = actual.get(key);
    if (!got) out.push(`missing ${key}`);
    else if (!isDeepStrictEqual(got, row)) out.push(`differs ${key}: ${JSON.stringify(got)} != ${JSON.stringify(row)}`);
  }
  for (const key of actual.keys()) if (!expected.has(key)) out.push(`extra ${key}`);
  return out.slice(0, limit);
}
