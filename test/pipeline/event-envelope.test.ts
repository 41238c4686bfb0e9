/**
 * The Debezium envelope as written to the File target: `op`, the `source` block (names, commit
 * time, transaction id, positions), commit order across interleaved transactions, rollbacks,
 * truncates, logical decoding messages and skipped operations.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PGCDC_VERSION } from '../../src/version.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';
import { currentWal, parseExact, startCapture } from '../support/event-capture.js';

const ENVELOPE_KEYS = ['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns'];
const SOURCE_KEYS = ['version', 'connector', 'name', 'ts_ms', 'snapshot', 'db', 'sequence', 'ts_us', 'ts_ns', 'schema', 'table', 'txId', 'lsn', 'xmin', 'origin', 'origin_lsn'];

/** Runs statements in one transaction; returns its txid_current() and commit time in microseconds. */
async function transaction(url: string, statements: readonly string[]): Promise<{ xid: number; commitMicros: bigint }> {
  return withClient(url, async (client) => {
    await client.query('begin');
    const { rows } = await client.query<{ xid: string }>('select txid_current()::text as xid');
    for (const statement of statements) await client.query(statement);
    await client.query('commit');
    const xid = rows[0]!.xid;
    const committed = await client.query<{ us: string }>(
      `select (extract(epoch from pg_xact_commit_timestamp($1::text::xid)) * 1000000)::bigint::text as us`,
      [xid],
    );
    return { xid: Number(xid), commitMicros: BigInt(committed.rows[0]!.us) };
  });
}

function databaseOf(url: string): string {
  return new URL(url).pathname.slice(1);
}

describe('the Debezium envelope in the File target', () => {
  const server = useTestServer({ settings: { track_commit_timestamp: 'on' } });

  it('writes c, u and d events with a complete source block: names, commit time, txId, increasing lsn', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, name text)');
    const capture = await startCapture({ url });
    const walBefore = await currentWal(url);
    const tx = await transaction(url, ["insert into items values (1, 'a'), (2, 'b')", "update items set name = 'c' where id = 1", 'delete from items where id = 2']);
    const walAfter = await currentWal(url);
    const lines = await capture.lines();
    const events = lines.map((line) => JSON.parse(line));
    expect(events.map((e) => e.op)).toEqual(['c', 'c', 'u', 'd']);
    let previousLsn = 0;
    for (const [i, event] of events.entries()) {
      expect(Object.keys(event)).toEqual(ENVELOPE_KEYS);
      expect(Object.keys(event.source)).toEqual(SOURCE_KEYS);
      expect(event.transaction).toBeNull();
      const { source } = event;
      expect(source).toMatchObject({
        version: PGCDC_VERSION,
        connector: 'postgresql',
        name: capture.config.name,
        ts_ms: Number(tx.commitMicros / 1000n),
        snapshot: 'false',
        db: databaseOf(url),
        ts_us: Number(tx.commitMicros),
        schema: 'public',
        table: 'items',
        txId: tx.xid,
        xmin: null,
        // No replication origin: the transaction was not replayed from another node.
        origin: null,
        origin_lsn: null,
      });
      // ts_ns is beyond 2^53: check its exact digits.
      expect(parseExact(lines[i]!).source.ts_ns.value).toBe(`${tx.commitMicros * 1000n}`);
      expect(BigInt(source.lsn)).toBeGreaterThanOrEqual(walBefore);
      expect(BigInt(source.lsn)).toBeLessThan(walAfter);
      expect(source.lsn).toBeGreaterThan(previousLsn);
      previousLsn = source.lsn;
      const sequence = JSON.parse(source.sequence);
      expect(sequence).toHaveLength(2);
      expect(sequence[1]).toBe(String(source.lsn));
      // Processing time, not commit time: not before the commit.
      expect(event.ts_ms).toBeGreaterThanOrEqual(source.ts_ms);
      expect(event.ts_us).toBe(event.ts_ms * 1000);
    }
    expect(events[0].after).toEqual({ id: 1, name: 'a' });
    expect(events[2].after).toEqual({ id: 1, name: 'c' });
    expect(events[3].before).toEqual({ id: 2 });
    expect(events[3].after).toBeNull();
  });

  it('writes transactions in commit order, each with its own txId, even when they interleave', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, who text)');
    const capture = await startCapture({ url });
    const a = new pg.Client({ connectionString: url });
    const b = new pg.Client({ connectionString: url });
    await a.connect();
    await b.connect();
    let xidA: number;
    let xidB: number;
    try {
      await a.query('begin');
      xidA = Number((await a.query('select txid_current()::text as x')).rows[0].x);
      await a.query("insert into items values (1, 'a')");
      await b.query('begin');
      xidB = Number((await b.query('select txid_current()::text as x')).rows[0].x);
      await b.query("insert into items values (2, 'b')");
      await b.query('commit');
      await a.query("insert into items values (3, 'a')");
      await a.query('commit');
    } finally {
      await a.end();
      await b.end();
    }
    const events = await capture.events();
    expect(events.map((e) => e.after.id)).toEqual([2, 1, 3]);
    expect(events.map((e) => e.source.txId)).toEqual([xidB, xidA, xidA]);
    expect(xidA).toBeLessThan(xidB);
    // The first change of the later transaction was written to the WAL before the earlier one's.
    expect(events[1].source.lsn).toBeLessThan(events[0].source.lsn);
    expect(events[2].source.lsn).toBeGreaterThan(events[0].source.lsn);
    // The later transaction's sequence starts with a commit position past the earlier one's change.
    const sequence = JSON.parse(events[1].source.sequence);
    expect(sequence[0]).not.toBeNull();
    expect(Number(sequence[0])).toBeGreaterThan(events[0].source.lsn);
    expect(events[2].source.sequence).toBe(JSON.stringify([sequence[0], String(events[2].source.lsn)]));
  });

  it('writes nothing for a rolled-back transaction or a rolled-back savepoint', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const capture = await startCapture({ url });
    await withClient(url, async (client) => {
      await client.query('begin');
      await client.query('insert into items values (1), (2)');
      await client.query('rollback');
      await client.query('begin');
      await client.query('insert into items values (3)');
      await client.query('savepoint s');
      await client.query('insert into items values (4)');
      await client.query('update items set id = 30 where id = 3');
      await client.query('rollback to savepoint s');
      await client.query('insert into items values (5)');
      await client.query('commit');
    });
    const events = await capture.events();
    expect(events.map((e) => `${e.op}${e.after.id}`)).toEqual(['c3', 'c5']);
  });

  it('writes one t event per table of a truncate statement, in the same transaction', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key); create table b (id int primary key); create table c (id int primary key)');
    const capture = await startCapture({ url });
    await sql(url, 'insert into a values (1); insert into b values (1); insert into c values (1)');
    const tx = await transaction(url, ['truncate a, b']);
    const events = await capture.events();
    expect(events.map((e) => `${e.op} ${e.source.table}`)).toEqual(['c a', 'c b', 'c c', 't a', 't b']);
    for (const event of events.slice(3)) {
      expect(Object.keys(event)).toEqual(ENVELOPE_KEYS);
      expect(event).toMatchObject({ before: null, after: null, transaction: null, op: 't' });
      expect(event.source).toMatchObject({ schema: 'public', txId: tx.xid, ts_us: Number(tx.commitMicros), snapshot: 'false' });
    }
    expect(events[3].source.lsn).toBe(events[4].source.lsn);
  });

  it('writes logical decoding messages as m events: transactional ones at commit, the others at once', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const capture = await startCapture({ url });
    const tx = await transaction(url, [
      'insert into items values (1)',
      `select pg_logical_emit_message(true, 'app.audit', 'hello "x" 😀')`,
      `select pg_logical_emit_message(false, 'app.ping', '\\x00ff'::bytea)`,
    ]);
    const events = await capture.events();
    expect(events.map((e) => e.op)).toEqual(['m', 'c', 'm']);
    const [ping, insert, audit] = events;
    expect(ping.message).toEqual({ prefix: 'app.ping', content: 'AP8=' });
    expect(ping.source).toMatchObject({ connector: 'postgresql', name: capture.config.name, db: databaseOf(url), schema: '', table: '', txId: null, snapshot: 'false' });
    expect(audit.message).toEqual({ prefix: 'app.audit', content: Buffer.from('hello "x" 😀').toString('base64') });
    expect(audit.source).toMatchObject({ schema: '', table: '', txId: tx.xid, ts_us: Number(tx.commitMicros) });
    expect(audit.source.lsn).toBeGreaterThan(insert.source.lsn);
    // Debezium's message value: no before/after, the processing time, the complete source block.
    for (const message of [ping, audit]) {
      expect(Object.keys(message)).toEqual(['op', 'ts_ms', 'source', 'transaction', 'message']);
      expect(Object.keys(message.source)).toEqual(SOURCE_KEYS);
      expect(message.transaction).toBeNull();
    }
    expect(ping.source.ts_us).toBe(ping.source.ts_ms * 1000);
    expect(insert.source.txId).toBe(tx.xid);
  });

  it('filters messages with messagePrefixIncludeList and messagePrefixExcludeList (anchored regular expressions)', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const included = await startCapture({ url, source: { messagePrefixIncludeList: ['audit', 'app\\.(x|y)'] } });
    const excluded = await startCapture({ url, source: { messagePrefixExcludeList: ['app\\..*', 'noise'] } });
    for (const prefix of ['audit', 'audit-extra', 'app.x', 'app.z', 'other', 'noise', 'noisy']) {
      await sql(url, `select pg_logical_emit_message(true, $1, 'c')`, [prefix]);
      await sql(url, `select pg_logical_emit_message(false, $1, 'n')`, [prefix]);
    }
    const summary = (events: any[]) => events.map((e) => `${e.message.prefix}:${Buffer.from(e.message.content, 'base64').toString()}`);
    expect.soft(summary(await included.events())).toEqual(['audit:c', 'audit:n', 'app.x:c', 'app.x:n']);
    expect(summary(await excluded.events())).toEqual(['audit:c', 'audit:n', 'audit-extra:c', 'audit-extra:n', 'other:c', 'other:n', 'noisy:c', 'noisy:n']);
  });

  it('drops the operations named in skippedOperations', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, v text)');
    const noUpdates = await startCapture({ url, source: { skippedOperations: ['u', 't'] } });
    const noInserts = await startCapture({ url, source: { skippedOperations: ['c', 'd'] } });
    const everything = await startCapture({ url, source: { skippedOperations: [] } });
    await sql(url, "insert into items values (1, 'a'), (2, 'b')");
    await sql(url, "update items set v = 'c' where id = 1");
    await sql(url, 'delete from items where id = 2');
    await sql(url, "insert into items values (3, 'd')");
    await sql(url, 'truncate items');
    const ops = async (capture: { events(): Promise<any[]> }) => (await capture.events()).map((e) => e.op).join('');
    expect(await ops(noUpdates)).toBe('ccdc');
    expect(await ops(noInserts)).toBe('ut');
    expect(await ops(everything)).toBe('ccudct');
  });
});
