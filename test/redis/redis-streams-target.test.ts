/**
 * The RedisStreams target against a real redis-server (AOF, fsync always): a snapshot and a random
 * workload (inserts, updates, primary-key changes, deletes, multi-row transactions) land on
 * `<prefix>.<schema>.<table>`, read back with XRANGE: every entry has its key, value and pgcdc-*
 * fields, each key's changes are in commit order, the stream rebuilt equals the source table, and
 * the position key holds the position reached. Also the `columns` layout with a stream key template
 * and trimming, and at-least-once mode.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { CHANGE_LOG_SQL, changesPerKey, ITEMS_ONLY, loggedChanges, randomItemChanges, rebuild, recordedChanges, sourceTable } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { useRedisServer } from '../support/redis-server.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

describe('RedisStreams target', () => {
  const server = useTestServer();
  const redis = useRedisServer();

  it('writes every change with its fields on its table stream, in order per key, and the stream rebuilds the table', async () => {
    const url = await createDatabase(server(), 'redis');
    await sql(url, `create table items (id int primary key, name text, qty int); ${CHANGE_LOG_SQL}`);
    await sql(url, "insert into items select g, 'item ' || g, g from generate_series(1, 100) g");
    const { config } = await targetStream({
      url,
      name: 'r1',
      dir: tempDir(),
      source: { snapshotMode: 'initial', ...ITEMS_ONLY },
      target: { type: 'RedisStreams', redisStreams: { url: redis().url, schemasEnable: false, batchSize: 50 } },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, 'truncate audit');
    await randomItemChanges(url, { transactions: 60, ids: 120, insertValues: "'new', 1", bulkUpdate: 'qty = qty * 2' });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    const records = await redis().readStreams('r1.*');
    expect(records.length).toBeGreaterThan(100);
    expect(new Set(records.map((record) => record.topic))).toEqual(new Set(['r1.public.items']));
    for (const record of records) {
      const fields = record.headers;
      expect(fields['pgcdc-table']).toBe('public.items');
      expect(fields['pgcdc-lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(fields['pgcdc-id']).toBeTruthy();
      expect(JSON.parse(record.key!)).toHaveProperty('id');
      if (record.value === null) {
        expect(fields['pgcdc-op']).toBe('tombstone');
        expect(fields.value).toBe('default');
        continue;
      }
      const event = JSON.parse(record.value);
      expect(fields['pgcdc-op']).toBe(event.op);
      if (event.op !== 'r') expect(Number(fields['pgcdc-txid'])).toBe(event.source.txId);
      expect(JSON.parse(record.key!)).toEqual({ id: (event.after ?? event.before).id });
    }
    // A key change: the delete names the new key, the create the old one.
    const keyChanges = records.filter((record) => record.headers['__debezium.newkey'] !== undefined);
    expect(keyChanges.length).toBeGreaterThan(0);
    // Ids are unique.
    expect(new Set(records.map((record) => record.headers['pgcdc-id'])).size).toBe(records.length);
    // Every logged change of the workload once, per key in commit order (after the snapshot reads).
    const streamed = records.filter((record) => record.value === null || JSON.parse(record.value).op !== 'r');
    expect(changesPerKey(recordedChanges(streamed))).toEqual(changesPerKey(await loggedChanges(url)));
    expect(rebuild(records)).toEqual(await sourceTable(url));
    // The position key holds the last transaction the stream passed: at or after the commit LSN in
    // the last entry's id (transactions without captured rows and the stop marker come later).
    const position = JSON.parse((await redis().with((client) => client.get('pgcdc:position:r1')))!);
    const lsnNumber = (text: string) => text.split('/').reduce((sum, part) => sum * 2 ** 32 + parseInt(part, 16), 0);
    expect(lsnNumber(position.lsn)).toBeGreaterThanOrEqual(Number(records.at(-1)!.headers['pgcdc-id']!.split(':')[0]));
    expect(lsnNumber(position.lsn)).toBeLessThanOrEqual(lsnNumber((await sql(url, 'select pg_current_wal_lsn()::text as lsn')).rows[0].lsn));
    expect(position.events).toBeGreaterThan(0);
  }, 180_000);

  it('writes one field per column with a stream key template, trims with MAXLEN ~, and works at least once', async () => {
    const url = await createDatabase(server(), 'redis');
    await sql(url, 'create table items (id int primary key, name text, qty int, tags text[])');
    const { config } = await targetStream({
      url,
      name: 'r2',
      dir: tempDir(),
      target: { type: 'RedisStreams', redisStreams: { url: redis().url, fieldLayout: 'columns', streamKey: 'cdc:{schema}:{table}', exactlyOnce: false, maxLen: 100 } },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (1, 'one', 10, '{a,b}'), (2, null, 20, '{}')");
    await sql(url, "update items set name = 'uno' where id = 1");
    await sql(url, 'delete from items where id = 2');
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const entries = await redis().with((client) => client.xrange('cdc:public:items', '-', '+'));
    const fields = entries.map(([, values]) => Object.fromEntries(values.map((_, i) => (i % 2 === 0 ? [values[i], values[i + 1]] : [])).filter((pair) => pair.length === 2)));
    expect(fields.map((entry) => [entry.op, entry['pgcdc-op'], entry.id, entry.name, entry.qty, entry.tags])).toEqual([
      ['c', 'c', '1', 'one', '10', '["a","b"]'],
      ['c', 'c', '2', undefined, '20', '[]'],
      ['u', 'u', '1', 'uno', '10', '["a","b"]'],
      // The before image of a delete holds the key alone (default replica identity).
      ['d', 'd', '2', undefined, undefined, undefined],
      [undefined, 'tombstone', undefined, undefined, undefined, undefined],
    ]);
    expect(await redis().with((client) => client.exists('pgcdc:position:r2'))).toBe(0);
    // Trimming: far more entries than maxLen, about maxLen kept.
    await sql(url, "insert into items select g, 'x', g, '{}' from generate_series(10, 1009) g");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const length = await redis().with((client) => client.xlen('cdc:public:items'));
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(1000);
  }, 180_000);
});
