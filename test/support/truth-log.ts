/**
 * Ground truth for delivery tests: a second slot decoded by PostgreSQL's own test_decoding plugin
 * lists every committed transaction of the source, in commit order, with its changes.
 */
import { sql } from './postgres.js';

export interface TruthChange {
  readonly op: 'c' | 'u' | 'd';
  readonly id: number;
}

export interface TruthTransaction {
  readonly xid: number;
  /** End of the commit record. */
  readonly commitEnd: number;
  readonly changes: readonly TruthChange[];
}

/** Creates the ground-truth slot. */
export async function createTruthSlot(url: string, slot: string): Promise<void> {
  await sql(url, "select pg_create_logical_replication_slot($1, 'test_decoding')", [slot]);
}

/** Reads (and consumes) every transaction decoded by the truth slot, for tables named `table`. */
export async function readTruth(url: string, slot: string, table: string): Promise<TruthTransaction[]> {
  const { rows } = await sql(
    url,
    `select lsn::text as lsn, xid::text::bigint as xid, data from pg_logical_slot_get_changes($1, null, null, 'include-xids', '0', 'skip-empty-xacts', '1')`,
    [slot],
  );
  const transactions: TruthTransaction[] = [];
  let changes: TruthChange[] = [];
  for (const row of rows as { lsn: string; xid: string; data: string }[]) {
    if (row.data.startsWith('BEGIN')) {
      changes = [];
    } else if (row.data.startsWith('COMMIT')) {
      if (changes.length > 0) transactions.push({ xid: Number(row.xid), commitEnd: lsnToNumber(row.lsn), changes });
    } else if (row.data.startsWith(`table ${table}: `)) {
      changes.push(...parseChange(row.data));
    }
  }
  return transactions;
}

function parseChange(data: string): TruthChange[] {
  const ids = [...data.matchAll(/\bid\[integer\]:(-?\d+)/g)].map((m) => Number(m[1]));
  if (data.includes(': INSERT: ')) return [{ op: 'c', id: ids[0]! }];
  if (data.includes(': DELETE: ')) return [{ op: 'd', id: ids[0]! }];
  if (data.includes(': UPDATE: old-key: ')) return [{ op: 'd', id: ids[0]! }, { op: 'c', id: ids[1]! }];
  if (data.includes(': UPDATE: ')) return [{ op: 'u', id: ids[0]! }];
  throw new Error(`unexpected test_decoding line: ${data}`);
}

export function lsnToNumber(text: string): number {
  const [hi, lo] = text.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
}
