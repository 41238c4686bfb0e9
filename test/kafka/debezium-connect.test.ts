/**
 * The Debezium reference harness works: Debezium's PostgreSQL connector on a Kafka Connect
 * standalone worker snapshots and streams a table to a real broker, with the op codes, values, keys
 * and partitions (Kafka's default partitioner on the JsonConverter key bytes) the comparisons with
 * the Kafka target rely on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/targets/kafka/key-partitioner.js';
import { startDebeziumConnect, type DebeziumConnect } from '../support/debezium-connect.js';
import { useKafkaCluster, type KafkaRecord } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';

const TIMEOUT_MS = 240_000;

interface ChangeEvent {
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: { snapshot: string; schema: string; table: string; db: string };
  op: string;
}

describe('Debezium on Kafka Connect', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  let connect: DebeziumConnect | undefined;

  afterEach(async () => {
    await connect?.dispose();
    connect = undefined;
  });

  it('snapshots and streams inserts, updates and deletes, keyed and partitioned as Kafka does', async () => {
    const url = await createDatabase(server(), 'dbz');
    await sql(url, 'create table items (id int primary key, name text, qty int)');
    await sql(url, "insert into items values (1, 'first', 10)");

    connect = await startDebeziumConnect({
      bootstrapServers: kafka().bootstrapServers,
      postgresUrl: url,
      name: 'dbz-items',
      topicPrefix: 'dbz1',
      schemas: false,
      connector: { 'table.include.list': 'public.items', 'topic.creation.default.partitions': '3' },
    });
    await connect.waitForSnapshotDone();
    await connect.waitForStreaming();

    await sql(url, "insert into items values (2, 'second', 20), (3, 'third', 30)");
    await sql(url, 'update items set qty = 21 where id = 2');
    await sql(url, 'delete from items where id = 3');

    // r(1); c(2), c(3); u(2); d(3) and its tombstone.
    const records = await kafka().consume('dbz1\\.public\\.items', { expect: 6, timeoutMs: 60_000 });
    expect(records).toHaveLength(6);
    for (const record of records) {
      // The worker's producer leaves the partition to Kafka's default partitioner: murmur2 of the key bytes.
      expect(record.partition).toBe(partitionForKey(Buffer.from(record.key!, 'utf8'), 3));
    }
    const byKey = new Map<string, KafkaRecord[]>();
    for (const record of records) byKey.set(record.key!, [...(byKey.get(record.key!) ?? []), record]);
    expect([...byKey.keys()].sort()).toEqual(['{"id":1}', '{"id":2}', '{"id":3}']);
    const events = (key: string): (ChangeEvent | null)[] =>
      byKey.get(key)!.sort((a, b) => a.offset - b.offset).map((record) => (record.value === null ? null : (JSON.parse(record.value) as ChangeEvent)));

    const [snapshot] = events('{"id":1}');
    expect(snapshot).toMatchObject({ op: 'r', before: null, after: { id: 1, name: 'first', qty: 10 }, source: { snapshot: 'last', schema: 'public', table: 'items' } });

    const [insert2, update2] = events('{"id":2}');
    expect(insert2).toMatchObject({ op: 'c', before: null, after: { id: 2, name: 'second', qty: 20 }, source: { snapshot: 'false' } });
    // REPLICA IDENTITY DEFAULT: pgoutput sends no old tuple for an update that keeps the key.
    expect(update2).toMatchObject({ op: 'u', before: null, after: { id: 2, name: 'second', qty: 21 } });

    const [insert3, delete3, tombstone3] = events('{"id":3}');
    expect(insert3).toMatchObject({ op: 'c', after: { id: 3, name: 'third', qty: 30 } });
    // The old key only: the other columns are null.
    expect(delete3).toMatchObject({ op: 'd', before: { id: 3, name: null, qty: null }, after: null });
    expect(tombstone3).toBeNull();

    // A graceful stop commits the offsets: started again, it resumes streaming without a new snapshot.
    await connect.stop();
    expect(connect.running).toBe(false);
    await sql(url, "insert into items values (4, 'while stopped', 40)");
    await connect.start();
    await connect.waitForSnapshotDone();
    await connect.waitForStreaming();
    await sql(url, "insert into items values (5, 'after restart', 50)");
    const all = await kafka().consume('dbz1\\.public\\.items', { expect: 8, timeoutMs: 60_000 });
    const later = all.filter((record) => !records.some((old) => old.partition === record.partition && old.offset === record.offset));
    expect(later.map((record) => [record.key, (JSON.parse(record.value!) as ChangeEvent).op]).sort()).toEqual([
      ['{"id":4}', 'c'],
      ['{"id":5}', 'c'],
    ]);
  }, TIMEOUT_MS);

  it('writes schema envelopes with schemas.enable=true, full before images and truncates', async () => {
    const url = await createDatabase(server(), 'dbz');
    await sql(url, 'create table notes (id bigint primary key, body text)');
    await sql(url, 'alter table notes replica identity full');

    connect = await startDebeziumConnect({
      bootstrapServers: kafka().bootstrapServers,
      postgresUrl: url,
      name: 'dbz-notes',
      topicPrefix: 'dbz2',
      schemas: true,
      snapshotMode: 'no_data',
      connector: { 'table.include.list': 'public.notes', 'skipped.operations': 'none' },
    });
    await connect.waitForSnapshotDone();
    await connect.waitForStreaming();
    expect((await connect.status()).tasks.map((task) => task.state)).toEqual(['RUNNING']);

    await sql(url, "insert into notes values (7, 'a')");
    await sql(url, "update notes set body = 'b' where id = 7");
    await sql(url, 'truncate notes');

    const records = await kafka().consume('dbz2\\.public\\.notes', { expect: 3, timeoutMs: 60_000 });
    expect(records.map((record) => record.offset)).toEqual([0, 1, 2]);
    const [insert, update, truncate] = records;
    expect(JSON.parse(insert!.key!)).toEqual({
      schema: { type: 'struct', fields: [{ type: 'int64', optional: false, field: 'id' }], optional: false, name: 'dbz2.public.notes.Key' },
      payload: { id: 7 },
    });
    const value = (record: KafkaRecord): { schema: { name: string }; payload: ChangeEvent } => JSON.parse(record.value!);
    expect(value(insert!).schema.name).toBe('dbz2.public.notes.Envelope');
    expect(value(insert!).payload).toMatchObject({ op: 'c', before: null, after: { id: 7, body: 'a' } });
    expect(value(update!).payload).toMatchObject({ op: 'u', before: { id: 7, body: 'a' }, after: { id: 7, body: 'b' } });
    // A truncate has no key and no row images.
    expect(truncate!.key).toBeNull();
    expect(value(truncate!).payload).toMatchObject({ op: 't', before: null, after: null, source: { table: 'notes' } });

    await connect.stop();
  }, TIMEOUT_MS);
});
