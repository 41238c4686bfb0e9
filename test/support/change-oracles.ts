/**
 * Oracles for the tests of the targets that write Debezium's records (Kafka, NATS JetStream, Redis
 * Streams, RabbitMQ), independent of pgcdc: the partition Kafka's own Java partitioner gives each
 * record's key, the table a consumer of a compacted topic rebuilds from it (last value per key,
 * tombstones and deletes remove), the source table as `to_jsonb` gives it, the source's own log of
 * every change of `items` (a trigger writing `audit`, which is not captured) and the checks of
 * delivery against it (exactly once, nothing lost); and the random workload on `items` the crash
 * tests run. Records of other brokers are mapped to Kafka's record shape by their harnesses.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { KafkaRecord } from './kafka-cluster.js';
import { expect } from 'vitest';
import { sql } from './postgres.js';
import { below, testRandom } from './seeded-random.js';

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

/**
 * The change events of `items` records (tombstones left out; snapshot reads as creates), in topic
 * order. `payload` takes the event out of a value (identity without schemas).
 */
export function recordedChanges(records: readonly KafkaRecord[], payload: (value: any) => any = (value) => value): { op: string; id: number }[] {
  return records
    .filter((record) => record.value !== null)
    .map((record) => {
      const event = payload(JSON.parse(record.value!));
      return { op: event.op === 'r' ? 'c' : event.op, id: (event.after ?? event.before).id };
    });
}

/** Each key's changes in order, as `op` letters. */
export function changesPerKey(changes: readonly { op: string; id: number }[]): Map<number, string> {
  const keys = new Map<number, string>();
  for (const { op, id } of changes) keys.set(id, (keys.get(id) ?? '') + op);
  return keys;
}

/** `items` with the change log: the table of the crash tests. */
export const ITEMS_TABLE = `create table items (id int primary key, qty int, note text); ${CHANGE_LOG_SQL}`;

/** Each logged change once, per key in the same order, and the records rebuild the table. */
export async function expectExactlyOnce(url: string, records: readonly KafkaRecord[]): Promise<void> {
  const logged = await loggedChanges(url);
  const recorded = recordedChanges(records);
  expect(recorded.length).toBe(logged.length);
  expect(changesPerKey(recorded)).toEqual(changesPerKey(logged));
  expect(rebuild(records)).toEqual(await sourceTable(url));
}

/**
 * Each logged change at least once, per key in order (a subsequence of the recorded ones), and the
 * records rebuild the table; returns how many changes were recorded more than once. `payload` as
 * for `rebuild`.
 */
export async function expectNothingLost(url: string, records: readonly KafkaRecord[], payload: (value: any) => any = (value) => value): Promise<number> {
  const loggedList = await loggedChanges(url);
  const logged = changesPerKey(loggedList);
  const recordedList = recordedChanges(records, payload);
  const recorded = changesPerKey(recordedList);
  const missing: string[] = [];
  for (const [id, ops] of logged) {
    const got = recorded.get(id) ?? '';
    let at = 0;
    for (const op of got) if (op === ops[at]) at++;
    if (at < ops.length) missing.push(`id ${id}: logged ${ops}, recorded ${got}`);
  }
  expect(missing.slice(0, 10), `${missing.length} keys miss changes`).toEqual([]);
  expect(rebuild(records, payload)).toEqual(await sourceTable(url));
  return recordedList.length - loggedList.length;
}

export interface ItemsWorkloadOptions {
  /** Also change primary keys (a key change is a delete and a create in the log). */
  readonly keyChanges?: boolean;
  /** Pause between transactions. */
  readonly pauseMs?: number;
}

/** Random transactions on `items` until stopped, some large enough to span several batches. */
export function itemsWorkload(url: string, options: ItemsWorkloadOptions = {}): { committed: () => number; stop: () => Promise<void> } {
  let nextId = 1;
  let writing = true;
  let committed = 0;
  const done = (async () => {
    while (writing) {
      const id = nextId;
      if (below(testRandom, 10) === 0) {
        nextId += 150;
        await sql(url, `begin; insert into items select g, 0, repeat('x', 50) from generate_series(${id}, ${id + 149}) g; update items set qty = qty + 1 where id % 5 = ${below(testRandom, 5)} and id < ${id + 150}; commit`);
      } else {
        nextId += 3;
        const keyChange = options.keyChanges ? `update items set id = ${id + 2 + 1_000_000} where id = ${1 + below(testRandom, id + 2)};` : '';
        await sql(url, `begin; insert into items values (${id}, 1, 'a'), (${id + 1}, 2, 'b'), (${id + 2}, 3, 'c');
          update items set qty = qty + 1 where id = ${1 + below(testRandom, id + 2)}; ${keyChange} delete from items where id = ${1 + below(testRandom, id + 2)}; commit`);
      }
      committed++;
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  })();
  return {
    committed: () => committed,
    async stop() {
      writing = false;
      await done;
    },
  };
}

export interface RandomItemChangesOptions {
  readonly transactions: number;
  /** Existing ids are drawn from 1 to this. */
  readonly ids: number;
  /** The values of an inserted row after its id, e.g. `'new', 1`. */
  readonly insertValues: string;
  /** The SET clause of the update touching every seventh row, e.g. `qty = qty * 2`. */
  readonly bulkUpdate: string;
}

/**
 * Random transactions on `items (id, name, qty, …)`: one to four inserts, updates, primary-key
 * changes, deletes and updates of many rows each; new ids from 1000.
 */
export async function randomItemChanges(url: string, options: RandomItemChangesOptions): Promise<void> {
  let nextId = 1000;
  for (let txn = 0; txn < options.transactions; txn++) {
    const statements: string[] = [];
    for (let i = 0; i < 1 + below(testRandom, 4); i++) {
      const id = 1 + below(testRandom, options.ids);
      switch (below(testRandom, 5)) {
        case 0:
          statements.push(`insert into items values (${nextId++}, ${options.insertValues})`);
          break;
        case 1:
          statements.push(`update items set qty = qty + 1, name = name || '!' where id = ${id}`);
          break;
        case 2:
          statements.push(`update items set id = ${nextId++} where id = ${id}`);
          break;
        case 3:
          statements.push(`delete from items where id = ${id}`);
          break;
        default:
          statements.push(`update items set ${options.bulkUpdate} where id % 7 = ${below(testRandom, 7)}`);
      }
    }
    await sql(url, `begin; ${statements.join('; ')}; commit`);
  }
}
