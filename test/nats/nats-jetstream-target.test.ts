/**
 * The NATS JetStream target against a real nats-server (JetStream on): a snapshot and a random
 * workload (inserts, updates, primary-key changes, deletes, multi-row transactions) streamed to a
 * stream pgcdc creates. Read back with the test's own client (every stream sequence, in order):
 * every message is on `<prefix>.<schema>.<table>` with its headers (Nats-Msg-Id, key, operation,
 * table, LSN, transaction id), each key's changes are in commit order, every logged change of the
 * source is there, and the stream rebuilt as a table equals the source. Also the subject template,
 * transaction records, tombstones, and a stream the user made.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { CHANGE_LOG_SQL, changesPerKey, ITEMS_ONLY, loggedChanges, randomItemChanges, rebuild, recordedChanges, sourceTable } from '../support/change-oracles.js';
import { useNatsServer } from '../support/nats-server.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

describe('NATS JetStream target', () => {
  const server = useTestServer();
  const nats = useNatsServer();

  it('publishes every change with its headers on its table subject, in order per key, and the stream rebuilds the table', async () => {
    const url = await createDatabase(server(), 'nats');
    await sql(url, `create table items (id int primary key, name text, qty int, price numeric(10,2), tags text[]); ${CHANGE_LOG_SQL}`);
    await sql(url, "insert into items select g, 'item ' || g, g, g * 1.25, array['a', g::text] from generate_series(1, 200) g");
    const { config } = await targetStream({
      url,
      name: 'n1',
      dir: tempDir(),
      source: { snapshotMode: 'initial', ...ITEMS_ONLY },
      target: { type: 'NatsJetStream', natsJetStream: { servers: nats().url, schemasEnable: false, stream: { create: true } } },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, 'truncate audit');
    await randomItemChanges(url, { transactions: 60, ids: 220, insertValues: "'new', 1, 2.5, '{x}'", bulkUpdate: "price = price * 2, tags = tags || 'y'::text" });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    const records = await nats().readStream('n1');
    expect(records.length).toBeGreaterThan(200);
    expect(new Set(records.map((record) => record.topic))).toEqual(new Set(['n1.public.items']));
    // Every message carries its id, key and metadata; ids are unique.
    const ids = new Set<string>();
    for (const record of records) {
      const { headers } = record;
      expect(headers['Nats-Msg-Id']).toMatch(/^n1:/);
      ids.add(headers['Nats-Msg-Id']!);
      expect(headers['pgcdc-table']).toBe('public.items');
      expect(headers['pgcdc-lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(JSON.parse(record.key!)).toHaveProperty('id');
      if (record.value === null) expect(headers['pgcdc-op']).toBe('tombstone');
      else {
        const event = JSON.parse(record.value);
        expect(headers['pgcdc-op']).toBe(event.op);
        expect(JSON.parse(record.key!)).toEqual({ id: (event.after ?? event.before).id });
        if (event.op !== 'r') expect(Number(headers['pgcdc-txid'])).toBe(event.source.txId);
      }
    }
    expect(ids.size).toBe(records.length);
    // Commit order: LSNs never go backwards on the subject.
    const streamed = records.filter((record) => record.value !== null && JSON.parse(record.value).op !== 'r');
    const lsns = streamed.map((record) => JSON.parse(record.value!).source.lsn as number);
    expect(lsns).toEqual([...lsns].sort((a, b) => a - b));
    // Every change the source logged, once, per key in order; the stream rebuilds the table.
    expect(changesPerKey(recordedChanges(streamed))).toEqual(changesPerKey(await loggedChanges(url)));
    expect(rebuild(records)).toEqual(await sourceTable(url));
  });

  it('follows the subject template, writes transaction records, and publishes to a stream the user made', async () => {
    const url = await createDatabase(server(), 'nats');
    await sql(url, 'create table items (id int primary key, name text)');
    const { connection, manager } = await nats().client();
    await manager.streams.add({ name: 'CDC', subjects: ['cdc.>'], duplicate_window: 600_000_000_000 });
    await connection.close();
    const { config } = await targetStream({
      url,
      name: 'n2',
      dir: tempDir(),
      source: { provideTransactionMetadata: true },
      target: {
        type: 'NatsJetStream',
        natsJetStream: { servers: [nats().url], topicPrefix: 'cdc', subject: '{prefix}.tables.{schema}-{table}', headers: { team: 'data' }, stream: { name: 'CDC' } },
      },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // creates the slot
    await sql(url, "begin; insert into items values (1, 'a'); update items set name = 'b' where id = 1; commit; delete from items where id = 1");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const records = await nats().readStream('CDC');
    expect(records.map((record) => [record.topic, record.headers['pgcdc-op']])).toEqual([
      ['cdc.transaction', 'BEGIN'],
      ['cdc.tables.public-items', 'c'],
      ['cdc.tables.public-items', 'u'],
      ['cdc.transaction', 'END'],
      ['cdc.transaction', 'BEGIN'],
      ['cdc.tables.public-items', 'd'],
      ['cdc.tables.public-items', 'tombstone'],
      ['cdc.transaction', 'END'],
    ]);
    expect(records.every((record) => record.headers.team === 'data')).toBe(true);
    // Schemas enabled by default: JsonConverter's envelope.
    const created = JSON.parse(records[1]!.value!);
    expect(created.payload.after).toEqual({ id: 1, name: 'a' });
    expect(JSON.parse(records[1]!.key!)).toMatchObject({ payload: { id: 1 } });
    expect(records[6]!.value).toBeNull();
    expect(records[6]!.headers['Nats-Msg-Id']).not.toBe(records[5]!.headers['Nats-Msg-Id']);
  });
});
