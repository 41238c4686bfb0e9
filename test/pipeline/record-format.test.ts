/**
 * Keys, the `record` file format (`{"key","value"}` per line) and tombstones: keys from the primary
 * key or the replica identity index, null without either; a tombstone after each delete unless
 * tombstonesOnDelete is false; a primary-key change as delete + tombstone + create; no tombstones
 * in the `value` format.
 */
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { startCapture } from '../support/event-capture.js';

const RECORD = { format: 'record' };

/** `op key→value-summary` per line, tombstones as `tombstone key`. */
function summary(records: any[]): string[] {
  return records.map((r) => (r.value === null ? `tombstone ${JSON.stringify(r.key)}` : `${r.value.op} ${JSON.stringify(r.key)}`));
}

describe('record format, keys and tombstones', () => {
  const server = useTestServer();

  it('writes {"key","value"} lines keyed by the primary key, with a tombstone after each delete', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, name text)');
    const capture = await startCapture({ url, target: RECORD });
    await sql(url, "insert into items values (1, 'a'), (2, 'b')");
    await sql(url, "update items set name = 'c' where id = 1");
    await sql(url, 'delete from items where id = 2');
    const lines = await capture.lines();
    const records = lines.map((line) => JSON.parse(line));
    for (const record of records) expect(Object.keys(record)).toEqual(['key', 'value']);
    expect(summary(records)).toEqual(['c {"id":1}', 'c {"id":2}', 'u {"id":1}', 'd {"id":2}', 'tombstone {"id":2}']);
    expect(lines[4]).toBe('{"key":{"id":2},"value":null}');
    expect(records[2].value.after).toEqual({ id: 1, name: 'c' });
    expect(records[3].value).toMatchObject({ before: { id: 2 }, after: null, op: 'd' });
    expect(Object.keys(records[0].value)).toEqual(['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns']);
  });

  it('orders a composite key by the primary key, not by the table columns', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table lines (payload text, line int, tenant text, primary key (tenant, line))');
    const capture = await startCapture({ url, target: RECORD });
    await sql(url, "insert into lines values ('p', 7, 'acme')");
    await sql(url, "delete from lines where line = 7");
    const lines = await capture.lines();
    expect(lines[0]).toMatch(/^\{"key":\{"tenant":"acme","line":7\},"value":\{/);
    expect(lines[2]).toBe('{"key":{"tenant":"acme","line":7},"value":null}');
  });

  it('keys a table without a primary key by its REPLICA IDENTITY USING INDEX index, and null with REPLICA IDENTITY FULL', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create table by_index (code text not null, region int not null, label text);
       create unique index by_index_code on by_index (region, code);
       alter table by_index replica identity using index by_index_code;
       create table keyless (a int, b text);
       alter table keyless replica identity full;
       create table full_with_pk (id int primary key, v text);
       alter table full_with_pk replica identity full`,
    );
    const capture = await startCapture({ url, target: RECORD });
    await sql(url, "insert into by_index values ('x', 1, 'first'); update by_index set label = 'second'; delete from by_index");
    await sql(url, "insert into keyless values (1, 'k'); update keyless set b = 'l'; delete from keyless");
    await sql(url, "insert into full_with_pk values (1, 'v'); update full_with_pk set v = 'w'; delete from full_with_pk");
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    expect(summary(records)).toEqual([
      'c {"region":1,"code":"x"}',
      'u {"region":1,"code":"x"}',
      'd {"region":1,"code":"x"}',
      'tombstone {"region":1,"code":"x"}',
      'c null',
      'u null',
      'd null',
      'tombstone null',
      'c {"id":1}',
      'u {"id":1}',
      'd {"id":1}',
      'tombstone {"id":1}',
    ]);
    // The before images follow the replica identity.
    expect(records[1].value.before).toBeNull();
    expect(records[2].value.before).toEqual({ code: 'x', region: 1 });
    expect(records[5].value.before).toEqual({ a: 1, b: 'k' });
    expect(records[6].value.before).toEqual({ a: 1, b: 'l' });
    expect(records[9].value.before).toEqual({ id: 1, v: 'v' });
    expect(records[10].value.before).toEqual({ id: 1, v: 'w' });
  });

  it('keeps a key stored out of line (TOAST) in the key of an update that leaves it unchanged', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (k text primary key, n int); alter table t alter column k set storage external');
    const capture = await startCapture({ url, target: RECORD });
    await sql(url, `insert into t values ((select string_agg(md5(g::text), '') from generate_series(1, 70) g), 1)`);
    const { rows } = await sql(url, 'select k from t');
    const key = rows[0].k as string;
    expect(key).toHaveLength(2240);
    await sql(url, 'update t set n = 2');
    await sql(url, 'delete from t');
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    expect(summary(records).map((line) => line.replace(key, '<k>'))).toEqual(['c {"k":"<k>"}', 'u {"k":"<k>"}', 'd {"k":"<k>"}', 'tombstone {"k":"<k>"}']);
    // The value shows what the server sent: the old key, and the placeholder for the unchanged new one.
    expect(records[1].value.before).toEqual({ k: key });
    expect(records[1].value.after).toEqual({ k: '__debezium_unavailable_value', n: 2 });
  });

  it('writes no tombstones when tombstonesOnDelete is false', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const capture = await startCapture({ url, target: RECORD, source: { tombstonesOnDelete: false } });
    await sql(url, 'insert into items values (1), (2)');
    await sql(url, 'delete from items');
    await sql(url, 'update items set id = 3');
    await sql(url, 'insert into items values (4)');
    await sql(url, 'update items set id = 5');
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    expect(summary(records)).toEqual(['c {"id":1}', 'c {"id":2}', 'd {"id":1}', 'd {"id":2}', 'c {"id":4}', 'd {"id":4}', 'c {"id":5}']);
  });

  it('writes a primary-key change as delete of the old key, its tombstone, then create of the new key', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, name text); create table pairs (a int, b int, v text, primary key (a, b))');
    const records = await startCapture({ url, target: RECORD });
    const values = await startCapture({ url });
    await sql(url, "insert into items values (1, 'a'); insert into pairs values (1, 1, 'x')");
    await sql(url, 'update items set id = 2 where id = 1');
    await sql(url, "update pairs set b = 2, v = 'y'");
    await sql(url, "update pairs set v = 'z'");
    const lines = await records.lines();
    const parsed = lines.map((line) => JSON.parse(line));
    expect(summary(parsed)).toEqual([
      'c {"id":1}',
      'c {"a":1,"b":1}',
      'd {"id":1}',
      'tombstone {"id":1}',
      'c {"id":2}',
      'd {"a":1,"b":1}',
      'tombstone {"a":1,"b":1}',
      'c {"a":1,"b":2}',
      'u {"a":1,"b":2}',
    ]);
    expect(parsed[2].value).toMatchObject({ before: { id: 1 }, after: null, op: 'd' });
    expect(lines[3]).toBe('{"key":{"id":1},"value":null}');
    expect(parsed[4].value).toMatchObject({ before: null, after: { id: 2, name: 'a' }, op: 'c' });
    expect(parsed[7].value).toMatchObject({ before: null, after: { a: 1, b: 2, v: 'y' }, op: 'c' });
    // Delete and create come from one change: same transaction and position.
    expect(parsed[4].value.source.lsn).toBe(parsed[2].value.source.lsn);
    expect(parsed[4].value.source.txId).toBe(parsed[2].value.source.txId);

    // The value format: the same delete and create, never a tombstone.
    const valueEvents = await values.events();
    expect(valueEvents.map((e) => e.op)).toEqual(['c', 'c', 'd', 'c', 'd', 'c', 'u']);
    expect(valueEvents[2]).toMatchObject({ before: { id: 1 }, after: null });
    expect(valueEvents[3]).toMatchObject({ before: null, after: { id: 2, name: 'a' } });
  });

  it('applies skippedOperations to the delete and the create of a primary-key change separately, as Debezium does', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, name text)');
    const noUpdates = await startCapture({ url, target: RECORD, source: { skippedOperations: ['u'] } });
    const noDeletes = await startCapture({ url, target: RECORD, source: { skippedOperations: ['d'] } });
    const noCreates = await startCapture({ url, target: RECORD, source: { skippedOperations: ['c'] } });
    await sql(url, "insert into items values (1, 'a')");
    await sql(url, "update items set name = 'b'");
    await sql(url, 'update items set id = 2');
    const parse = async (capture: { lines(): Promise<string[]> }) => summary((await capture.lines()).map((line) => JSON.parse(line)));
    // A key change is not an update: skipping updates keeps it.
    expect.soft(await parse(noUpdates)).toEqual(['c {"id":1}', 'd {"id":1}', 'tombstone {"id":1}', 'c {"id":2}']);
    // Skipping deletes drops its delete and the delete's tombstone, not its create.
    expect.soft(await parse(noDeletes)).toEqual(['c {"id":1}', 'u {"id":1}', 'c {"id":2}']);
    expect(await parse(noCreates)).toEqual(['u {"id":1}', 'd {"id":1}', 'tombstone {"id":1}']);
  });

  it('writes truncates with a null key, messages keyed by prefix, and never tombstones in the value format', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const records = await startCapture({ url, target: RECORD });
    const values = await startCapture({ url, target: { format: 'value' } });
    await sql(url, 'insert into items values (1), (2)');
    await sql(url, 'delete from items where id = 1');
    await sql(url, `select pg_logical_emit_message(true, 'p"x', 'c')`);
    await sql(url, 'truncate items');
    const lines = await records.lines();
    expect(lines).toHaveLength(6);
    expect(lines[3]).toBe('{"key":{"id":1},"value":null}');
    expect(lines[4]).toMatch(/^\{"key":\{"prefix":"p\\"x"\},"value":\{/);
    expect(JSON.parse(lines[4]!).value.message).toEqual({ prefix: 'p"x', content: 'Yw==' });
    expect(lines[5]).toMatch(/^\{"key":null,"value":\{"before":null,"after":null,"source":/);
    expect(JSON.parse(lines[5]!).value.op).toBe('t');

    const valueLines = await values.lines();
    expect(valueLines.map((line) => JSON.parse(line).op)).toEqual(['c', 'c', 'd', 'm', 't']);
    for (const line of valueLines) expect(line).not.toContain('"key"');
  });
});
