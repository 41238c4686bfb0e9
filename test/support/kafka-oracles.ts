/**
 * Oracles for the Kafka target's tests, independent of pgcdc: the partition Kafka's own Java
 * partitioner gives each record's key, the table a consumer of a compacted topic rebuilds from it
 * (last value per key, tombstones and deletes remove), and the source table as `to_jsonb` gives it.
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
