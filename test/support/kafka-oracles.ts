/**
 * Oracles for the Kafka target's tests, independent of pgcdc: the partition Kafka's own Java
 * partitioner gives each record's key, the table a consumer of a compacted topic rebuilds from it
 * (last value per key, tombstones and deletes remove), the source table as `to_jsonb` gives it, and
 * the source's own log of every change of `items` (a trigger writing `audit`, which is not captured).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { KafkaRecord } from './kafka-cluster.js';
import { sql } from './postgres.js';

const ORACLE = path.resolve('test/kafka/oracles/KafkaPartitionOracle.java');

/** Partitions Kafka's Java partitioner gives the records' keys. */
export function javaPartitions(records: readonly KafkaRecord[], partitions: number): number[] {
  const input = records.map((record) => `${Buffer.from(record.key!, 'utf8').toString('hex') || '-'} ${partitions}`).join('\n') + '\n';
  const output = execFileSync('java', ['-cp', `${path.resolve('.jvm/kafka/lib')}/*`, ORACLE], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  return output.trim().split('\n').map((line) => Number(line.split(' ')[1]));
}

/**
 * The table a consumer of a compacted topic rebuilds: last value per key, a tombstone deletes.
 * `payload` takes the payload out of a key or value (identity without schemas).
 */
export function rebuild(records: readonly KafkaRecord[], payload: (value: any) => any = (value) => value): Map<string, unknown> {
  const rows = new Map<string, unknown>();
  for (const record of records) {
    const key = JSON.stringify(payload(JSON.parse(record.key!)));
    if (record.value === null) {
      rows.delete(key);
      continue;
    }
    const event = payload(JSON.parse(record.value));
    if (event.op === 'd') rows.delete(key);
    else rows.set(key, event.after);
  }
  return rows;
}

/** The rows of a source table keyed by `id`, as `rebuild` keys them, each as `to_jsonb` gives it. */
export async function sourceTable(url: string, table = 'items'): Promise<Map<string, unknown>> {
  const { rows } = await sql(url, `select id, to_jsonb(t) as row from ${table} t order by id`);
  return new Map(rows.map((row) => [JSON.stringify({ id: row.id }), row.row]));
}

/**
 * An `audit` table and a trigger on `items` logging each change as Debezium shows it (`c`, `u`,
 * `d`; a key change is a delete and a create). Capture `items` only (`ITEMS_ONLY`).
 */
export const CHANGE_LOG_SQL = `create table audit (seq bigserial primary key, op text not null, id int not null);
  create function log_change() returns trigger language plpgsql as $$
  begin
    if tg_op = 'INSERT' then insert into audit (op, id) values ('c', new.id);
    elsif tg_op = 'DELETE' then insert into audit (op, id) values ('d', old.id);
    elsif new.id <> old.id then insert into audit (op, id) values ('d', old.id), ('c', new.id);
    else insert into audit (op, id) values ('u', new.id);
    end if;
    return null;
  end $$;
  create trigger log_change after insert or update or delete on items for each row execute function log_change()`;

/** Source settings capturing `items` only (the change log is the oracle). */
export const ITEMS_ONLY = { includes: ['public\\.items'] };

/** The changes the source logged, in commit order. */
export async function loggedChanges(url: string): Promise<{ op: string; id: number }[]> {
  return (await sql(url, 'select op, id from audit order by seq')).rows;
}

/** The change events of `items` records (tombstones left out; snapshot reads as creates), in topic order. */
export function recordedChanges(records: readonly KafkaRecord[]): { op: string; id: number }[] {
  return records
    .filter((record) => record.value !== null)
    .map((record) => {
      const event = JSON.parse(record.value!);
      return { op: event.op === 'r' ? 'c' : event.op, id: (event.after ?? event.before).id };
    });
}

/** Each key's changes in order, as `op` letters. */
export function changesPerKey(changes: readonly { op: string; id: number }[]): Map<number, string> {
  const keys = new Map<number, string>();
  for (const { op, id } of changes) keys.set(id, (keys.get(id) ?? '') + op);
  return keys;
}
