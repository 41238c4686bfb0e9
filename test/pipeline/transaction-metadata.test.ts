/**
 * Transaction metadata (`provideTransactionMetadata: true`): BEGIN and END records around each
 * transaction that has events, a `transaction` block in each event, and nothing for transactions
 * whose changes were all filtered out.
 */
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';
import { startCapture } from '../support/event-capture.js';

async function xidOf(url: string, statements: readonly string[]): Promise<number> {
  return withClient(url, async (client) => {
    await client.query('begin');
    const { rows } = await client.query('select txid_current()::text as x');
    for (const statement of statements) await client.query(statement);
    await client.query('commit');
    return Number(rows[0].x);
  });
}

describe('transaction metadata', () => {
  const server = useTestServer();

  it('writes BEGIN and END around each transaction and numbers its events', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key); create table b (id int primary key)');
    const capture = await startCapture({ url, source: { provideTransactionMetadata: true } });
    const first = await xidOf(url, ['insert into a values (1), (2)', 'insert into b values (1)', 'update a set id = 3 where id = 2', 'insert into b values (2)']);
    const second = await xidOf(url, ['delete from b where id = 1']);
    const lines = await capture.lines();
    const records = lines.map((line) => JSON.parse(line));
    expect(records.map((r) => r.status ?? `${r.op} ${r.source.table}`)).toEqual([
      'BEGIN',
      'c a',
      'c a',
      'c b',
      'd a',
      'c a',
      'c b',
      'END',
      'BEGIN',
      'd b',
      'END',
    ]);
    const [begin1, ...rest] = records;
    const events1 = rest.slice(0, 6);
    const end1 = records[7];
    expect(begin1.id).toMatch(new RegExp(`^${first}:\\d+$`));
    const commitLsn = Number(begin1.id.split(':')[1]);
    // The id's position is the commit's: after every change of the transaction.
    for (const event of events1) expect(commitLsn).toBeGreaterThan(event.source.lsn);
    // Debezium's field order: ts_ms last.
    expect(lines[0]).toBe(`{"status":"BEGIN","id":"${begin1.id}","event_count":null,"data_collections":null,"ts_ms":${events1[0].source.ts_ms}}`);
    expect(end1).toEqual({
      status: 'END',
      id: begin1.id,
      ts_ms: events1[0].source.ts_ms,
      event_count: 6,
      data_collections: [
        { data_collection: 'public.a', event_count: 4 },
        { data_collection: 'public.b', event_count: 2 },
      ],
    });
    expect(Object.keys(end1)).toEqual(['status', 'id', 'event_count', 'data_collections', 'ts_ms']);
    expect(events1.map((e) => e.transaction)).toEqual([
      { id: begin1.id, total_order: 1, data_collection_order: 1 },
      { id: begin1.id, total_order: 2, data_collection_order: 2 },
      { id: begin1.id, total_order: 3, data_collection_order: 1 },
      { id: begin1.id, total_order: 4, data_collection_order: 3 },
      { id: begin1.id, total_order: 5, data_collection_order: 4 },
      { id: begin1.id, total_order: 6, data_collection_order: 2 },
    ]);
    for (const event of events1) expect(event.source.txId).toBe(first);

    const [begin2, delete2, end2] = records.slice(8);
    expect(begin2.id).toMatch(new RegExp(`^${second}:\\d+$`));
    expect(begin2.id).not.toBe(begin1.id);
    expect(delete2.transaction).toEqual({ id: begin2.id, total_order: 1, data_collection_order: 1 });
    expect(end2).toMatchObject({ status: 'END', id: begin2.id, event_count: 1, data_collections: [{ data_collection: 'public.b', event_count: 1 }] });
  });

  it('keys BEGIN and END by id in the record format', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key)');
    const capture = await startCapture({ url, source: { provideTransactionMetadata: true }, target: { format: 'record' } });
    await sql(url, 'insert into a values (1)');
    await sql(url, 'delete from a');
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    expect(records.map((r) => (r.value === null ? 'tombstone' : (r.value.status ?? r.value.op)))).toEqual(['BEGIN', 'c', 'END', 'BEGIN', 'd', 'tombstone', 'END']);
    expect(records[0].key).toEqual({ id: records[0].value.id });
    expect(records[2].key).toEqual({ id: records[0].value.id });
    expect(records[1].value.transaction.id).toBe(records[0].value.id);
    // The tombstone is not an event of the transaction.
    expect(records[6].value.event_count).toBe(1);
  });

  it('counts transactional messages as events of their transaction, and non-transactional ones as of none', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key)');
    const capture = await startCapture({ url, source: { provideTransactionMetadata: true } });
    await sql(url, `begin; insert into a values (1); select pg_logical_emit_message(true, 'audit', 'x'); commit`);
    await sql(url, `select pg_logical_emit_message(true, 'alone', 'y')`);
    await sql(url, `select pg_logical_emit_message(false, 'outside', 'z')`);
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    expect(records.map((r) => r.status ?? `${r.op} ${r.message?.prefix ?? r.source.table}`)).toEqual([
      'BEGIN',
      'c a',
      'm audit',
      'END',
      'BEGIN',
      'm alone',
      'END',
      'm outside',
    ]);
    const [begin1, insert, audit, end1, begin2, alone, end2, outside] = records;
    expect(insert.transaction).toEqual({ id: begin1.id, total_order: 1, data_collection_order: 1 });
    expect(audit.transaction).toEqual({ id: begin1.id, total_order: 2, data_collection_order: 1 });
    expect(end1).toMatchObject({
      id: begin1.id,
      event_count: 2,
      data_collections: [
        { data_collection: 'public.a', event_count: 1 },
        { data_collection: 'LOGICAL_DECODING_MESSAGE', event_count: 1 },
      ],
    });
    expect(alone.transaction).toEqual({ id: begin2.id, total_order: 1, data_collection_order: 1 });
    expect(end2).toMatchObject({ id: begin2.id, event_count: 1, data_collections: [{ data_collection: 'LOGICAL_DECODING_MESSAGE', event_count: 1 }] });
    expect(outside.transaction).toBeNull();
    expect(outside.source.txId).toBeNull();
  });

  it('writes no BEGIN or END for transactions whose changes were all filtered out or skipped', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table kept (id int primary key); create table dropped (id int primary key)');
    const capture = await startCapture({
      url,
      source: { provideTransactionMetadata: true, excludes: ['public\\.dropped'], publicationAutocreateMode: 'all_tables', skippedOperations: ['d'] },
    });
    await sql(url, 'insert into dropped values (1), (2)');
    await sql(url, 'insert into kept values (1)');
    await sql(url, 'delete from kept');
    await sql(url, 'begin; insert into dropped values (3); insert into kept values (2); commit');
    await sql(url, `select pg_logical_emit_message(false, 'outside', 'x')`);
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    expect(records.map((r) => r.status ?? `${r.op} ${r.source.table}`)).toEqual(['BEGIN', 'c kept', 'END', 'BEGIN', 'c kept', 'END', 'm ']);
    expect(records[5]).toMatchObject({ event_count: 1, data_collections: [{ data_collection: 'public.kept', event_count: 1 }] });
    // A non-transactional message has no transaction.
    expect(records[6].source.txId).toBeNull();
  });
});
