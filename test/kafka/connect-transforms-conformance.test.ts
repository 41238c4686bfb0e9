/**
 * Connect transforms (SMTs) against Debezium 3.6 on Kafka Connect: one workload is captured by
 * Debezium's PostgreSQL connector with a chain of every supported transform (ExtractNewRecordState
 * in four delete modes with add.fields/add.headers, ByLogicalTableRouter, RegexRouter,
 * ReplaceField on keys and values, InsertField, Filter, predicates TopicNameMatches, HasHeaderKey,
 * negate) and by pgcdc's Kafka target with the same properties in `connectTransforms`.
 * Debezium's records are the oracle: topics, keys with their schemas, values with
 * their schemas, headers, record by record in order. What legitimately differs: the topic prefix
 * (dbz, pgc: mapped), the run id header, and in envelopes the writer's processing times, version
 * and source.sequence (see debezium-conformance.test.ts).
 */
import { isSafeNumber, parse } from 'lossless-json';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startDebeziumConnect, type DebeziumConnect } from '../support/debezium-connect.js';
import { waitForDebeziumWrites } from '../support/debezium-writes.js';
import { useKafkaCluster, type KafkaRecord } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const TIMEOUT_MS = 600_000;
const DBZ = 'dbz';
const PGC = 'pgc';

/** The chain both sides run: topic patterns accept either prefix. */
const TRANSFORMS: Readonly<Record<string, string>> = {
  transforms: 'dropIgnored,unwrapCustomers,unwrapOrders,unwrapPairs,unwrapKeyless,shards,customerFields,pairKey,stamp,keyChange,renameOrders',
  predicates: 'isIgnored,isCustomers,isOrders,isPairs,isKeyless,hasOldKey',
  'predicates.isIgnored.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches',
  'predicates.isIgnored.pattern': '[a-z]+\\.public\\.ignored_rows',
  'predicates.isCustomers.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches',
  'predicates.isCustomers.pattern': '[a-z]+\\.public\\.customers',
  'predicates.isOrders.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches',
  'predicates.isOrders.pattern': '[a-z]+\\.public\\.orders',
  'predicates.isPairs.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches',
  'predicates.isPairs.pattern': '[a-z]+\\.public\\.pairs',
  'predicates.isKeyless.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches',
  'predicates.isKeyless.pattern': '[a-z]+\\.public\\.keyless',
  'predicates.hasOldKey.type': 'org.apache.kafka.connect.transforms.predicates.HasHeaderKey',
  'predicates.hasOldKey.name': '__debezium.oldkey',
  'transforms.dropIgnored.type': 'org.apache.kafka.connect.transforms.Filter',
  'transforms.dropIgnored.predicate': 'isIgnored',
  'transforms.unwrapCustomers.type': 'io.debezium.transforms.ExtractNewRecordState',
  'transforms.unwrapCustomers.predicate': 'isCustomers',
  'transforms.unwrapCustomers.delete.tombstone.handling.mode': 'rewrite',
  'transforms.unwrapCustomers.add.fields': 'op,table,lsn,source.ts_ms,id',
  'transforms.unwrapCustomers.add.headers': 'op,db,source.lsn:lsn',
  'transforms.unwrapOrders.type': 'io.debezium.transforms.ExtractNewRecordState',
  'transforms.unwrapOrders.predicate': 'isOrders',
  'transforms.unwrapOrders.add.fields': 'op:operation,txId',
  'transforms.unwrapOrders.add.fields.prefix': 'meta_',
  'transforms.unwrapPairs.type': 'io.debezium.transforms.ExtractNewRecordState',
  'transforms.unwrapPairs.predicate': 'isPairs',
  'transforms.unwrapPairs.delete.tombstone.handling.mode': 'delete-to-tombstone',
  'transforms.unwrapKeyless.type': 'io.debezium.transforms.ExtractNewRecordState',
  'transforms.unwrapKeyless.predicate': 'isKeyless',
  'transforms.unwrapKeyless.delete.tombstone.handling.mode': 'drop',
  'transforms.shards.type': 'io.debezium.transforms.ByLogicalTableRouter',
  'transforms.shards.topic.regex': '([a-z]+)\\.public\\.customers_shard(\\d+)',
  'transforms.shards.topic.replacement': '$1.public.customers_all',
  'transforms.shards.key.field.name': 'shard',
  'transforms.shards.key.field.regex': '.*_shard(\\d+)',
  'transforms.shards.key.field.replacement': 'shard$1',
  'transforms.customerFields.type': 'org.apache.kafka.connect.transforms.ReplaceField$Value',
  'transforms.customerFields.predicate': 'isCustomers',
  'transforms.customerFields.exclude': 'email',
  'transforms.customerFields.renames': 'name:full_name',
  'transforms.pairKey.type': 'org.apache.kafka.connect.transforms.ReplaceField$Key',
  'transforms.pairKey.predicate': 'isPairs',
  'transforms.pairKey.renames': 'b:bee',
  'transforms.stamp.type': 'org.apache.kafka.connect.transforms.InsertField$Value',
  'transforms.stamp.predicate': 'isCustomers',
  'transforms.stamp.static.field': 'origin',
  'transforms.stamp.static.value': 'pg',
  'transforms.stamp.topic.field': 'src_topic!',
  'transforms.keyChange.type': 'org.apache.kafka.connect.transforms.InsertField$Value',
  'transforms.keyChange.predicate': 'hasOldKey',
  'transforms.keyChange.static.field': 'key_changed',
  'transforms.keyChange.static.value': 'yes',
  'transforms.renameOrders.type': 'org.apache.kafka.connect.transforms.RegexRouter',
  'transforms.renameOrders.regex': '([a-z]+)\\.public\\.(orders)',
  'transforms.renameOrders.replacement': '$1.sales.$2',
};

/**
 * Differences of pgcdc's that are known and still to be fixed, by name; each must occur (so that
 * when one is fixed, its entry has to go).
 */
type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

/** JSON with int64 values beyond 2^53 as bigints (as ConnectRecord holds them). */
const parseJson = (text: string): Json => parse(text, null, (value) => (isSafeNumber(value) ? Number(value) : BigInt(value))) as Json;

/** A record as compared: topic, key and value as JsonConverter writes them (parsed), headers. */
interface Written {
  readonly topic: string;
  readonly key: Json;
  readonly value: Json;
  readonly headers: Record<string, string | null>;
}

/** One of pgcdc's records as written. */
function pgcdcWritten(record: KafkaRecord): Written {
  return { topic: record.topic, key: record.key === null ? null : parseJson(record.key), value: record.value === null ? null : parseJson(record.value), headers: { ...record.headers } };
}

/** Debezium's record with the prefix mapped (topic, schema names, topic-valued fields, the logical name header). */
function debeziumWritten(record: KafkaRecord): Written {
  const mapped = (text: string | null): Json => (text === null ? null : parseJson(text.replaceAll(`"${DBZ}.`, `"${PGC}.`)));
  const headers = { ...record.headers };
  if (headers['__debezium.context.connectorLogicalName'] === DBZ) headers['__debezium.context.connectorLogicalName'] = PGC;
  return { topic: `${PGC}.${record.topic.slice(DBZ.length + 1)}`, key: mapped(record.key), value: mapped(record.value), headers };
}

/**
 * What legitimately differs between the writers, set aside: the run id header; in a change
 * event's envelope the processing times, source.version, source.name (the prefix) and
 * source.sequence (pgcdc's first transaction of a run starts it with null).
 */
function comparable(record: Written): Written {
  const headers = { ...record.headers };
  if ('__debezium.context.runId' in headers) headers['__debezium.context.runId'] = '<run id>';
  const value = record.value as { schema: Json; payload: Record<string, Json> | null } | null;
  const payload = value?.payload;
  if (payload === null || payload === undefined || !('source' in payload) || !('op' in payload)) return { ...record, headers };
  const { ts_ms: _ms, ts_us: _us, ts_ns: _ns, source, ...rest } = payload;
  const { version: _version, name: _name, sequence: _sequence, ts_us: _sus, ts_ns: _sns, ...kept } = source as Record<string, Json>;
  return { ...record, headers, value: { schema: value!.schema, payload: { ...rest, source: kept } } };
}

describe('Connect transforms conformance with Debezium 3.6 on Kafka Connect', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  let connect: DebeziumConnect | undefined;

  afterEach(async () => {
    await connect?.dispose();
    connect = undefined;
  });

  it('writes the topics, keys, values, schemas and headers Debezium writes with the same transforms', async () => {
    const url = await createDatabase(server(), 'smts');
    await sql(
      url,
      `create table customers (id int primary key, name text, email text, vip boolean);
       alter table customers replica identity full;
       create table orders (id int primary key, customer_id int, total bigint);
       create table pairs (a int, b text, v int, primary key (a, b));
       create table keyless (x int, y text);
       alter table keyless replica identity full;
       create table customers_shard1 (id int primary key, name text);
       create table customers_shard2 (id int primary key, name text);
       create table ignored_rows (id int primary key);
       create table marker (id int primary key)`,
    );

    connect = await startDebeziumConnect({
      bootstrapServers: kafka().bootstrapServers,
      postgresUrl: url,
      name: 'dbz-smts',
      topicPrefix: DBZ,
      schemas: true,
      snapshotMode: 'no_data',
      connector: { 'schema.include.list': 'public', 'skipped.operations': 'none', 'message.prefix.exclude.list': 'pgcdc\\..*', ...TRANSFORMS },
    });
    await connect.waitForSnapshotDone();
    await connect.waitForStreaming();

    const { specFile } = await targetStream({
      url,
      name: 'smts',
      dir: tempDir(),
      source: { includes: ['public\\..*'] },
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: PGC, extendedHeaders: true, connectTransforms: TRANSFORMS } },
    });
    const created = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
    expect(created.code, created.stderr).toBe(0);

    const workload = [
      `insert into customers values (1, 'Ann', 'ann@example.com', true), (2, 'Bob', null, false), (3, 'Cy', 'cy@example.com', null)`,
      `update customers set name = 'Anne' where id = 1`,
      `update customers set id = 30 where id = 3`,
      `delete from customers where id = 2`,
      `insert into orders values (1, 1, 100), (2, 1, 9007199254740993), (3, 2, null)`,
      `begin; update orders set total = total + 1 where id = 1; delete from orders where id = 3; update orders set id = 20 where id = 2; commit`,
      `insert into pairs values (1, 'a', 1), (2, 'b', 2); update pairs set v = 5 where a = 1; update pairs set b = 'z' where a = 2; delete from pairs where a = 1`,
      `insert into keyless values (1, 'one'), (2, 'two'); update keyless set y = 'TWO' where x = 2; delete from keyless where x = 1`,
      `insert into customers_shard1 values (1, 'first'); insert into customers_shard2 values (1, 'second'); update customers_shard2 set name = 'again' where id = 1; delete from customers_shard1 where id = 1`,
      `insert into ignored_rows values (1); delete from ignored_rows`,
      `truncate orders, keyless, customers_shard2`,
    ];
    for (const statement of workload) await sql(url, statement);
    const { rows: before } = await sql(url, 'select pg_current_wal_lsn()::text as lsn');
    await sql(url, 'insert into marker values (1)');
    await waitForDebeziumWrites(connect!, kafka(), url, DBZ, before[0].lsn);
    const streamed = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(streamed.code, streamed.stderr).toBe(0);

    const records = await kafka().consume(`(${DBZ}|${PGC})\\.(public|sales)\\..*`, { timeoutMs: 60_000 });
    const byOffset = (a: KafkaRecord, b: KafkaRecord) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.offset - b.offset;
    const dbz = records.filter((record) => record.topic.startsWith(`${DBZ}.`)).sort(byOffset).map(debeziumWritten);
    const pgc = records.filter((record) => record.topic.startsWith(`${PGC}.`)).sort(byOffset).map(pgcdcWritten);

    // The same topics (the filtered table's absent, the shards routed together, orders renamed).
    const topics = (side: Written[]) => [...new Set(side.map((record) => record.topic))].sort();
    expect(topics(pgc)).toEqual(['customers', 'customers_all', 'keyless', 'marker', 'pairs'].map((table) => `${PGC}.public.${table}`).concat(`${PGC}.sales.orders`).sort());
    expect(topics(dbz)).toEqual(topics(pgc));
    // Each topic's records in order, compared whole.
    for (const topic of topics(pgc)) {
      const b = pgc.filter((record) => record.topic === topic).map(comparable);
      const a = dbz.filter((record) => record.topic === topic).map(comparable);
      expect(b, topic).toEqual(a);
    }
    // The transforms did what the configuration says (so the comparison is not of unchanged records).
    const on = (table: string) => pgc.filter((record) => record.topic === `${PGC}.${table}`);
    const payloads = (table: string) => on(table).map((record) => (record.value as { payload: Json } | null)?.payload ?? null);
    // Orders: unwrapped, a delete as a null payload with the row's schema, Debezium's tombstone dropped, truncate dropped.
    expect(payloads('sales.orders')).toEqual([
      { id: 1, customer_id: 1, total: 100, meta_operation: 'c', meta_txId: expect.any(Number) },
      { id: 2, customer_id: 1, total: 9007199254740993n, meta_operation: 'c', meta_txId: expect.any(Number) },
      { id: 3, customer_id: 2, total: null, meta_operation: 'c', meta_txId: expect.any(Number) },
      { id: 1, customer_id: 1, total: 101, meta_operation: 'u', meta_txId: expect.any(Number) },
      null,
      null,
      { id: 20, customer_id: 1, total: 9007199254740993n, meta_operation: 'c', meta_txId: expect.any(Number), key_changed: 'yes' },
    ]);
    // Pairs: keys renamed, deletes turned into Kafka tombstones.
    expect(on('public.pairs').map((record) => [record.key && (record.key as { payload: Json }).payload, record.value === null])).toEqual([
      [{ a: 1, bee: 'a' }, false],
      [{ a: 2, bee: 'b' }, false],
      [{ a: 1, bee: 'a' }, false],
      [{ a: 2, bee: 'b' }, true],
      [{ a: 2, bee: 'z' }, false],
      [{ a: 1, bee: 'a' }, true],
    ]);
    // Keyless: deletes and truncates dropped.
    expect(payloads('public.keyless')).toEqual([{ x: 1, y: 'one' }, { x: 2, y: 'two' }, { x: 2, y: 'TWO' }]);
    // Shards: one topic, the shard in the key.
    expect(on('public.customers_all').map((record) => (record.key as { payload: Json } | null)?.payload ?? null)).toEqual([
      { id: 1, shard: 'shard1' },
      { id: 1, shard: 'shard2' },
      { id: 1, shard: 'shard2' },
      { id: 1, shard: 'shard1' },
      { id: 1, shard: 'shard1' },
      null,
    ]);
    expect(payloads('public.customers')).toContainEqual({
      id: 2,
      full_name: 'Bob',
      vip: false,
      __deleted: 'true',
      __op: 'd',
      __table: 'customers',
      __lsn: expect.any(Number),
      __source_ts_ms: expect.any(Number),
      __id: null,
      origin: 'pg',
      src_topic: `${PGC}.public.customers`,
    });
  }, TIMEOUT_MS);
});
