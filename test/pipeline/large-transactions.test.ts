/**
 * Transactions larger than logical_decoding_work_mem, which the server streams before they commit
 * (spilled locally until their commit): the File target shows the same events as for a small
 * transaction, in commit order, without the changes of rolled-back subtransactions.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { startCapture } from '../support/event-capture.js';

const ROWS = 3000;

describe('large (streamed) transactions in the File target', () => {
  const server = useTestServer({ settings: { logical_decoding_work_mem: '64kB' } });

  it.each([true, false])('writes a large transaction in commit order and without its rolled-back subtransaction (streamInProgressTransactions %s)', async (streamInProgressTransactions) => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, body text); create table small (id int primary key)');
    const capture = await startCapture({ url, source: { streamInProgressTransactions, provideTransactionMetadata: true } });
    const large = new pg.Client({ connectionString: url });
    await large.connect();
    let largeXid: number;
    let smallXid: number;
    try {
      await large.query('begin');
      largeXid = Number((await large.query('select txid_current()::text as x')).rows[0].x);
      await large.query(`insert into big select g, repeat('row ' || g, 20) from generate_series(1, ${ROWS}) g`);
      await large.query('savepoint s');
      await large.query(`insert into big select g, 'rolled back' from generate_series(${ROWS + 1}, ${ROWS + 500}) g`);
      await large.query(`update big set body = 'rolled back too' where id <= 10`);
      await large.query('rollback to savepoint s');
      // A small transaction commits while the large one is open.
      const { rows } = await sql(url, 'insert into small values (1) returning txid_current()::text as x');
      smallXid = Number(rows[0].x);
      await large.query(`update big set body = 'updated' where id <= 5`);
      await large.query(`select pg_logical_emit_message(true, 'big', 'done')`);
      await large.query(`delete from big where id > ${ROWS - 3}`);
      await large.query('commit');
    } finally {
      await large.end();
    }
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    // The server streamed the large transaction before its commit only when asked to.
    expect(capture.lastResult?.counters.streamedTransactions).toBe(streamInProgressTransactions ? 1 : 0);
    const kinds = records.map((r) => r.status ?? r.op);
    const expected = ['BEGIN', 'c', 'END', 'BEGIN', ...Array<string>(ROWS).fill('c'), ...Array<string>(5).fill('u'), 'm', 'd', 'd', 'd', 'END'];
    expect(kinds.join(',')).toBe(expected.join(','));
    expect(records[1].source).toMatchObject({ table: 'small', txId: smallXid });
    const largeEvents = records.slice(4, -1);
    for (const event of largeEvents) expect(event.source.txId).toBe(largeXid);
    expect(largeEvents.slice(0, ROWS).map((e) => e.after.id)).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
    expect(largeEvents[ROWS - 1].after.body).toBe(`row ${ROWS}`.repeat(20));
    expect(largeEvents.slice(ROWS, ROWS + 5).map((e) => e.after)).toEqual([1, 2, 3, 4, 5].map((id) => ({ id, body: 'updated' })));
    expect(largeEvents[ROWS + 5].message).toEqual({ prefix: 'big', content: Buffer.from('done').toString('base64') });
    expect(largeEvents.slice(ROWS + 6).map((e) => e.before)).toEqual([{ id: ROWS - 2 }, { id: ROWS - 1 }, { id: ROWS }]);
    expect(JSON.stringify(records)).not.toContain('rolled back');
    // Row positions increase through the transaction (a message's position is the end of its WAL
    // record, which may be the next change's); its END counts every event.
    const rowEvents = largeEvents.filter((e) => e.op !== 'm');
    for (let i = 1; i < rowEvents.length; i++) expect(rowEvents[i].source.lsn).toBeGreaterThan(rowEvents[i - 1].source.lsn);
    expect(largeEvents[ROWS + 5].source.lsn).toBeGreaterThan(largeEvents[ROWS + 4].source.lsn);
    expect(records.at(-1)).toMatchObject({ status: 'END', event_count: ROWS + 9 });
    expect(largeEvents.at(-1).transaction).toMatchObject({ total_order: ROWS + 9, data_collection_order: ROWS + 8 });
  });

  it('knows a table first used inside a streamed transaction in the transactions after it', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table first_seen (id int primary key, body text)');
    const capture = await startCapture({ url, source: { streamInProgressTransactions: true } });
    // The first change of this table on the stream is inside a transaction streamed before commit;
    // the server then counts its Relation as sent and does not repeat it for the next transaction.
    await sql(url, `insert into first_seen select g, repeat('x', 200) from generate_series(1, ${ROWS}) g`);
    await sql(url, `insert into first_seen values (${ROWS + 1}, 'after')`);
    const events = await capture.events();
    expect(capture.lastResult?.counters.streamedTransactions).toBe(1);
    expect(events.map((e) => e.after.id)).toEqual(Array.from({ length: ROWS + 1 }, (_, i) => i + 1));
    expect(events.at(-1).after).toEqual({ id: ROWS + 1, body: 'after' });
  });
});
