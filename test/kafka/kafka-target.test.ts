/**
 * The Kafka target against a real broker: a snapshot and a random workload (inserts, updates,
 * primary-key changes, deletes, multi-row transactions) streamed to a 3-partition topic. Checked
 * with Kafka's own Java consumer and partitioner: every record is on `<prefix>.<schema>.<table>`,
 * on the partition the Java producer gives its key, each key's records are in commit order, and the
 * table rebuilt from the topic as a compacted topic reads (last value per key, tombstones delete)
 * equals the source table (`to_jsonb` of its rows). Also the schemas envelope, routing, heartbeats, and one clear
 * error for unreachable brokers and for a missing topic with creation off; and kill -9 of pgcdc at
 * random instants under a concurrent workload loses nothing (at least once).
 */
import { describe, expect, it } from 'vitest';
import { runStream } from '../../src/pipeline/run-stream.js';
import { silentLogger } from '../../src/logging/logger.js';
import { pgcdcRejection as failure } from '../support/rejection.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { javaPartitions, randomItemChanges, rebuild, sourceTable } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { below, testRandom } from '../support/seeded-random.js';
import { runCli, startCli } from '../support/cli.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

describe('Kafka target', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();

  it('writes every change on its table topic and key partition, and the topic rebuilds the table', async () => {
    const url = await createDatabase(server(), 'kafka');
    await sql(url, 'create table items (id int primary key, name text, qty int, price numeric(10,2), at timestamptz, tags text[])');
    await sql(url, "insert into items select g, 'item ' || g, g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 hour', array['a', g::text] from generate_series(1, 200) g");
    await kafka().createTopic('k1.public.items', { partitions: 3 });
    const dir = tempDir();
    const { config } = await targetStream({
      url,
      name: 'k1',
      dir,
      source: { snapshotMode: 'initial' },
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: false } },
    });
    // Snapshot, then a random workload, all delivered before the stream stops.
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await randomItemChanges(url, { transactions: 60, ids: 220, insertValues: "'new', 1, 2.5, now(), '{x}'", bulkUpdate: "price = price * 2, tags = tags || 'y'::text" });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    const records = await kafka().consume('k1\\.public\\.items', { timeoutMs: 60_000 });
    expect(records.length).toBeGreaterThan(200);
    expect(records.every((record) => record.topic === 'k1.public.items')).toBe(true);
    expect(records.map((record) => record.partition)).toEqual(javaPartitions(records, 3));
    // Commit order per key: LSNs never go backwards within a partition (one key lives in one).
    for (const partition of [0, 1, 2]) {
      const lsns = records.filter((r) => r.partition === partition && r.value !== null).map((r) => JSON.parse(r.value!).source.lsn as number);
      expect(lsns).toEqual([...lsns].sort((a, b) => a - b));
    }
    expect(rebuild(records, (value) => value)).toEqual(await sourceTable(url));
  });

  it('writes JsonConverter envelopes with schemas, routes tables and creates missing topics (acks=1, gzip)', async () => {
    const url = await createDatabase(server(), 'kafka');
    await sql(url, 'create table items (id int primary key, name text not null, doc jsonb)');
    const dir = tempDir();
    const { config } = await targetStream({
      url,
      name: 'k2',
      dir,
      target: {
        type: 'Kafka',
        kafka: {
          bootstrapServers: kafka().bootstrapServers,
          topicRouting: [{ regex: 'public\\.(.*)', topic: 'routed.$1' }],
          createTopics: { partitions: 2 },
          // A plain (not idempotent) producer, compressed.
          acks: 1,
          compression: 'gzip',
        },
      },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // creates the slot
    await sql(url, `insert into items values (1, 'a', '{"k": [1, 2]}'); update items set name = 'b' where id = 1; delete from items where id = 1`);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const records = await kafka().consume('routed\\.items', { timeoutMs: 60_000 });
    expect(records.map((record) => (record.value === null ? null : JSON.parse(record.value).payload.op))).toEqual(['c', 'u', 'd', null]);
    expect((await kafka().describeTopic('routed.items')).partitions).toHaveLength(2);
    const key = JSON.parse(records[0]!.key!);
    expect(key.payload).toEqual({ id: 1, __dbz__physicalTableIdentifier: 'k2.public.items' });
    expect(key.schema.name).toBe('routed.items.Key');
    const value = JSON.parse(records[0]!.value!);
    expect(value.schema.name).toBe('routed.items.Envelope');
    const after = value.schema.fields.find((field: any) => field.field === 'after');
    expect(after.fields).toEqual([
      { type: 'int32', optional: false, field: 'id' },
      { type: 'string', optional: false, field: 'name' },
      { type: 'string', optional: true, field: 'doc', name: 'io.debezium.data.Json', version: 1 },
    ]);
    // json and jsonb are strings of their text with schemas, as Debezium writes them.
    expect(value.payload.after).toEqual({ id: 1, name: 'a', doc: '{"k": [1, 2]}' });
    expect(records.map((record) => record.partition)).toEqual(javaPartitions(records, 2));
  });

  it('stops with one clear line when the brokers cannot be reached or a topic is missing', async () => {
    const url = await createDatabase(server(), 'kafka');
    await sql(url, 'create table items (id int primary key)');
    const unreachable = await targetStream({ url, name: 'k3', dir: tempDir(), target: { type: 'Kafka', kafka: { bootstrapServers: '127.0.0.1:1', requestTimeout: '2s' } } });
    const error = await failure(runStream(unreachable.config, { logger: silentLogger(), stopAt: 'now' }));
    expect(error.message).toMatch(/Kafka at 127\.0\.0\.1:1 cannot be reached/);
    const { rows } = await sql(url, 'select count(*)::int as n from pg_replication_slots where database = current_database()');
    expect(rows[0].n).toBe(0); // checked before the source was touched

    const noTopic = await targetStream({
      url,
      name: 'k4',
      dir: tempDir(),
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, createTopics: { enabled: false } } },
    });
    await runStream(noTopic.config, { logger: silentLogger(), stopAt: 'now' }); // creates the slot
    const { rows: before } = await sql(url, "select confirmed_flush_lsn::text as lsn from pg_replication_slots where database = current_database()");
    await sql(url, 'insert into items values (1)');
    const missing = await failure(runStream(noTopic.config, { logger: silentLogger(), stopAt: 'now' }));
    expect(missing.message).toMatch(/Kafka topic "k4\.public\.items" does not exist and createTopics\.enabled is false/);
    // Nothing acknowledged past what Kafka holds: the slot still stands before the insert.
    const { rows: after } = await sql(url, "select confirmed_flush_lsn::text as lsn from pg_replication_slots where database = current_database()");
    expect(after[0].lsn).toBe(before[0].lsn);
  });

  it('writes heartbeat records on its interval while the stream runs', async () => {
    const url = await createDatabase(server(), 'kafka');
    await sql(url, 'create table items (id int primary key)');
    const { config } = await targetStream({
      url,
      name: 'k5',
      dir: tempDir(),
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, heartbeatInterval: '300ms' } },
    });
    const stop = new AbortController();
    const run = runStream(config, { logger: silentLogger(), signal: stop.signal });
    try {
      const records = await waitFor(async () => {
        const found = await kafka().consume('__debezium-heartbeat\\.k5', { timeoutMs: 5_000 }).catch(() => []);
        return found.length >= 2 ? found : undefined;
      }, 60_000, 'two heartbeat records');
      for (const record of records) {
        expect(JSON.parse(record.key!)).toEqual({ schema: expect.objectContaining({ name: 'io.debezium.connector.common.ServerNameKey' }), payload: { serverName: 'k5' } });
        expect(JSON.parse(record.value!).payload.ts_ms).toBeGreaterThan(Date.now() - 120_000);
      }
    } finally {
      stop.abort();
      await run;
    }
  });

  it('loses nothing when killed with -9 at random instants under a concurrent workload', async () => {
    const url = await createDatabase(server(), 'kafka');
    await sql(url, 'create table items (id int primary key, name text, qty int, price numeric(10,2), at timestamptz, tags text[])');
    await kafka().createTopic('k6.public.items', { partitions: 3 });
    const { specFile } = await targetStream({
      url,
      name: 'k6',
      dir: tempDir(),
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: false } },
    });
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    let nextId = 1;
    let writing = true;
    const workload = (async () => {
      while (writing) {
        const id = nextId;
        nextId += 3;
        await sql(url, `begin; insert into items values (${id}, 'a', 1, 1.5, now(), '{a}'), (${id + 1}, 'b', 2, 2.5, now(), '{b}'), (${id + 2}, 'c', 3, 3.5, now(), '{c}');
          update items set qty = qty + 1 where id = ${1 + below(testRandom, id + 2)}; delete from items where id = ${1 + below(testRandom, id + 2)}; commit`);
      }
    })();
    for (let kill = 0; kill < 3; kill++) {
      const run = startCli(['run', '-c', specFile]);
      await new Promise((resolve) => setTimeout(resolve, 1500 + below(testRandom, 2500)));
      run.child.kill('SIGKILL');
      await run.finished();
    }
    writing = false;
    await workload;
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
    expect(last.code, last.stderr).toBe(0);
    const records = await kafka().consume('k6\\.public\\.items', { timeoutMs: 60_000 });
    expect(records.map((record) => record.partition)).toEqual(javaPartitions(records, 3));
    // Redelivered records repeat earlier ones in order, so the last value per key is the source's.
    expect(rebuild(records, (value) => value)).toEqual(await sourceTable(url));
    expect((await sourceTable(url)).size).toBeGreaterThan(30);
  }, 240_000);
});
