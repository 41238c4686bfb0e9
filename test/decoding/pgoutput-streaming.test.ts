/**
 * The pgoutput decoder on large in-progress transactions streamed by the server (protocol ≥ 2,
 * `streaming 'on'`, logical_decoding_work_mem at its 64 kB minimum): Stream Start/Stop blocks whose
 * changes carry an xid, Stream Commit, and Stream Abort of a transaction and of a subtransaction.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { PgoutputMessage } from '../../src/decoding/pgoutput-messages.js';
import { parseLsn } from '../../src/source/lsn.js';
import { microsSql, PgoutputCapture, subtransactionXid, tupleValues, xidOf, type Received } from '../support/connection.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';

/** Inserts rows `from..to` of ~130 bytes each: 1000 rows are well over 64 kB of decoded changes. */
function insertRows(from: number, to: number): string {
  return `insert into big select g, repeat(md5(g::text), 4) from generate_series(${from}, ${to}) g`;
}

async function currentXid(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ txid: string }>('select txid_current()::text as txid');
  return xidOf(rows[0]!.txid);
}

/** Whether a Stream Stop has been received for a block of `xid`. */
function blockDone(xid: number): (received: readonly Received[]) => true | undefined {
  return (received) => {
    const start = received.findIndex((r) => r.message.tag === 'stream_start' && r.message.xid === xid);
    return start >= 0 && received.slice(start).some((r) => r.message.tag === 'stream_stop') ? true : undefined;
  };
}

/** Checks the block structure of a streamed transaction and returns the messages of its blocks. */
function blocks(streamed: readonly Received[], xid: number): PgoutputMessage[][] {
  const out: PgoutputMessage[][] = [];
  let current: PgoutputMessage[] | undefined;
  for (const r of streamed) {
    const m = r.message;
    if (m.tag === 'stream_start') {
      expect(current).toBeUndefined();
      expect(r.inStream).toBe(false);
      expect(m).toEqual({ tag: 'stream_start', xid, firstSegment: out.length === 0 });
      current = [];
    } else if (m.tag === 'stream_stop') {
      expect(r.inStream).toBe(true);
      out.push(current!);
      current = undefined;
    } else if (current) {
      expect(r.inStream).toBe(true);
      current.push(m);
    } else {
      // Between blocks: only Stream Abort of a subtransaction, then the final Stream Commit/Abort.
      expect(['stream_abort', 'stream_commit']).toContain(m.tag);
      expect(r.inStream).toBe(false);
    }
  }
  expect(current).toBeUndefined();
  return out;
}

/** The ids of the inserted rows, per xid carried by the Insert messages. */
function insertedIds(messages: readonly PgoutputMessage[]): Map<number | undefined, number[]> {
  const ids = new Map<number | undefined, number[]>();
  for (const m of messages) {
    if (m.tag !== 'insert') continue;
    const list = ids.get(m.xid) ?? [];
    list.push(Number(tupleValues(m.newTuple)[0]));
    ids.set(m.xid, list);
  }
  return ids;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('pgoutput decoder: streamed transactions', () => {
  const server = useTestServer({ settings: { logical_decoding_work_mem: '64kB', track_commit_timestamp: 'on' } });

  it('decodes the blocks of a large transaction streamed before it commits, and its Stream Commit', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create type kind as enum ('a', 'b');
       create table big (id int primary key, payload text, k kind default 'a');
       create table small (id int);
       create publication p for table big, small`,
    );
    const [big, small, kind] = (await sql(url, `select unnest(array['big'::regclass::oid, 'small'::regclass::oid, 'kind'::regtype::oid])::int8 as oid`)).rows.map(
      (row: { oid: string }) => Number(row.oid),
    );
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      await capture.start();
      const facts = await withClient(url, async (client) => {
        await client.query('begin');
        await client.query(insertRows(1, 1000));
        const xid = await currentXid(client);
        // Streamed while the transaction is still open.
        await capture.until('a streamed block of the open transaction', blockDone(xid));
        const emitted = await client.query<{ lsn: string }>(`select pg_logical_emit_message(true, 'in-stream', 'payload')::text as lsn`);
        await client.query(`update big set payload = 'changed', k = 'b' where id = 1`);
        await client.query('delete from big where id = 2');
        await client.query('truncate small');
        await client.query(`insert into big values (1001, 'last')`);
        const before = await client.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn');
        await client.query('commit');
        const after = await client.query<{ lsn: string; committed: string }>(
          `select pg_current_wal_insert_lsn()::text as lsn, ${microsSql('pg_xact_commit_timestamp($1::text::xid)')} as committed`,
          [String(xid)],
        );
        return {
          xid, messageLsn: parseLsn(emitted.rows[0]!.lsn), before: parseLsn(before.rows[0]!.lsn), after: parseLsn(after.rows[0]!.lsn),
          committed: Number(after.rows[0]!.committed),
        };
      });
      const { xid } = facts;

      const streamed = await capture.streamed(xid);
      const parts = blocks(streamed, xid);
      expect(parts.length).toBeGreaterThanOrEqual(2);
      const changes = parts.flat();
      // Every change inside the blocks carries the transaction's xid.
      expect(changes.filter((m) => !('xid' in m) || m.xid !== xid)).toEqual([]);
      expect(insertedIds(changes)).toEqual(new Map([[xid, range(1, 1001)]]));
      const others = changes.filter((m) => m.tag !== 'insert');
      expect(others.map((m) => m.tag)).toEqual(['type', 'relation', 'message', 'update', 'delete', 'relation', 'truncate']);
      expect(parts[0]!.slice(0, 2)).toEqual([
        { tag: 'type', xid, oid: kind, schema: 'public', name: 'kind' },
        expect.objectContaining({ tag: 'relation', xid, oid: big, table: 'big' }),
      ]);
      const [, , message, update, del, relation, truncate] = others;
      expect(message).toEqual({ tag: 'message', xid, transactional: true, lsn: facts.messageLsn, prefix: 'in-stream', content: Buffer.from('payload') });
      if (update?.tag !== 'update' || del?.tag !== 'delete') throw new Error('unreachable');
      expect([update.oldTuple, tupleValues(update.newTuple)]).toEqual([null, ['1', 'changed', 'b']]);
      expect([del.oldTuple.kind, tupleValues(del.oldTuple)]).toEqual(['K', ['2', null, null]]);
      expect(relation).toEqual(expect.objectContaining({ tag: 'relation', xid, oid: small }));
      expect(truncate).toEqual({ tag: 'truncate', xid, cascade: false, restartIdentity: false, relationOids: [small] });
      const firstInsert = changes.find((m) => m.tag === 'insert');
      if (firstInsert?.tag !== 'insert') throw new Error('no insert');
      expect(tupleValues(firstInsert.newTuple)).toEqual(['1', 'c4ca4238a0b923820dcc509a6f75849b'.repeat(4), 'a']);

      const last = streamed.at(-1)!;
      expect(last.message).toEqual({
        tag: 'stream_commit', xid, flags: 0, commitLsn: expect.any(Number), endLsn: expect.any(Number), commitTimeMicros: facts.committed,
      });
      if (last.message.tag !== 'stream_commit') throw new Error('unreachable');
      expect(last.message.commitLsn).toBeGreaterThanOrEqual(facts.before);
      expect(last.message.endLsn).toBeGreaterThan(last.message.commitLsn);
      expect(last.message.endLsn).toBeLessThanOrEqual(facts.after);
      expect(last.lsn).toBe(last.message.endLsn);
      // A streamed transaction has no Begin or Commit.
      expect(capture.messages.filter((m) => m.tag === 'begin' && m.xid === xid)).toEqual([]);
    } finally {
      capture.destroy();
    }
  });

  it('decodes the Stream Abort of a large transaction that rolls back', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, payload text); create publication p for table big');
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      await capture.start();
      const xid = await withClient(url, async (client) => {
        await client.query('begin');
        await client.query(insertRows(1, 1000));
        const xid = await currentXid(client);
        await capture.until('a streamed block of the open transaction', blockDone(xid));
        await client.query('rollback');
        return xid;
      });

      const streamed = await capture.streamed(xid);
      const parts = blocks(streamed, xid);
      expect(parts.length).toBeGreaterThanOrEqual(1);
      const ids = insertedIds(parts.flat()).get(xid)!;
      // What was streamed before the abort was read: a prefix of the rows.
      expect(ids).toEqual(range(1, ids.length));
      const abort = streamed.at(-1)!;
      // pgcdc asks for streaming 'on': the abort LSN and time are only sent with 'parallel'.
      expect(abort.message).toEqual({ tag: 'stream_abort', xid, subXid: xid, abortLsn: undefined, abortTimeMicros: undefined });
      expect(abort.end - abort.start).toBe(9);
      expect(streamed.filter((r) => r.message.tag === 'stream_abort')).toHaveLength(1);
    } finally {
      capture.destroy();
    }
  });

  it('decodes the Stream Abort of a rolled-back subtransaction inside a committed large transaction', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, payload text); create publication p for table big');
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      await capture.start();
      const { xid, subXid } = await withClient(url, async (client) => {
        await client.query('begin');
        await client.query(insertRows(1, 1000));
        const xid = await currentXid(client);
        await client.query('savepoint s');
        await client.query(insertRows(1001, 2000));
        const subXid = await subtransactionXid(client, xid);
        await capture.until('a streamed change of the subtransaction', (received) =>
          received.some((r) => r.message.tag === 'insert' && r.message.xid === subXid) ? true : undefined,
        );
        // Released after the rollback, so that the rows after it belong to the top-level transaction.
        await client.query('rollback to savepoint s');
        await client.query('release savepoint s');
        await client.query(insertRows(3001, 3010));
        await client.query('commit');
        return { xid, subXid };
      });
      expect(subXid).not.toBe(xid);

      const streamed = await capture.streamed(xid);
      const parts = blocks(streamed, xid);
      const aborts = streamed.filter((r) => r.message.tag === 'stream_abort');
      expect(aborts.map((r) => r.message)).toEqual([{ tag: 'stream_abort', xid, subXid, abortLsn: undefined, abortTimeMicros: undefined }]);
      expect(streamed.at(-1)!.message).toEqual(expect.objectContaining({ tag: 'stream_commit', xid }));
      // Changes of the subtransaction carry its own xid; the rows it inserted before the abort was
      // read were streamed, the top-level rows all arrive.
      const ids = insertedIds(parts.flat());
      expect([...ids.keys()]).toEqual([xid, subXid]);
      expect(ids.get(xid)).toEqual([...range(1, 1000), ...range(3001, 3010)]);
      const fromSub = ids.get(subXid)!;
      expect(fromSub).toEqual(range(1001, 1000 + fromSub.length));
      // The abort comes after the last block holding subtransaction changes, before the top-level rows after it.
      const abortAt = streamed.indexOf(aborts[0]!);
      const lastSub = streamed.findLastIndex((r) => r.message.tag === 'insert' && r.message.xid === subXid);
      const firstAfter = streamed.findIndex((r) => r.message.tag === 'insert' && tupleValues(r.message.newTuple)[0] === '3001');
      expect(lastSub).toBeLessThan(abortAt);
      expect(abortAt).toBeLessThan(firstAfter);
    } finally {
      capture.destroy();
    }
  });

  it('sends a large transaction already rolled back when decoded as an empty block (before PostgreSQL 18) or not at all', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, payload text); create publication p for table big');
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      const xid = await withClient(url, async (client) => {
        await client.query('begin');
        await client.query(insertRows(1, 1000));
        const xid = await currentXid(client);
        await client.query('rollback');
        return xid;
      });
      await sql(url, `select pg_logical_emit_message(false, 'marker', '')`);
      await capture.start();
      await capture.until('the marker', (received) => received.find((r) => r.message.tag === 'message' && r.message.prefix === 'marker'));

      const sent = capture.messages.filter((m) => m.tag !== 'begin' && m.tag !== 'commit'); // PostgreSQL 14 sends empty transactions
      const marker = expect.objectContaining({ tag: 'message', prefix: 'marker', transactional: false });
      if (server().major >= 18) {
        // PostgreSQL 18 finds the transaction aborted before streaming it and drops its changes.
        expect(sent).toEqual([marker]);
      } else {
        // Earlier versions start streaming, notice the abort at the first catalog lookup and send nothing of it.
        expect(sent).toEqual([
          { tag: 'stream_start', xid, firstSegment: true },
          { tag: 'stream_stop' },
          { tag: 'stream_abort', xid, subXid: xid, abortLsn: undefined, abortTimeMicros: undefined },
          marker,
        ]);
      }
    } finally {
      capture.destroy();
    }
  });

  it('sends the Origin of a streamed transaction in its first block, without a position', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, payload text); create publication p for table big');
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      const originTime = '2022-03-04 05:06:07.123456+00';
      const { xid, originMicros } = await withClient(url, async (client) => {
        await client.query(`select pg_replication_origin_create('streamed origin')`);
        await client.query(`select pg_replication_origin_session_setup('streamed origin')`);
        await client.query('begin');
        await client.query(`select pg_replication_origin_xact_setup('1/2', $1)`, [originTime]);
        await client.query(insertRows(1, 1000));
        const xid = await currentXid(client);
        const { rows } = await client.query<{ micros: string }>(`select ${microsSql('$1::timestamptz')} as micros`, [originTime]);
        await client.query('commit');
        return { xid, originMicros: Number(rows[0]!.micros) };
      });
      await capture.start();

      const streamed = await capture.streamed(xid);
      const parts = blocks(streamed, xid);
      expect(parts.length).toBeGreaterThanOrEqual(2);
      expect(parts[0]!.slice(0, 2)).toEqual([
        { tag: 'origin', originLsn: 0, name: 'streamed origin' },
        expect.objectContaining({ tag: 'relation', xid, table: 'big' }),
      ]);
      expect(parts.flat().filter((m) => m.tag === 'origin')).toHaveLength(1);
      expect(insertedIds(parts.flat())).toEqual(new Map([[xid, range(1, 1000)]]));
      expect(streamed.at(-1)!.message).toEqual(expect.objectContaining({ tag: 'stream_commit', xid, commitTimeMicros: originMicros }));
    } finally {
      capture.destroy();
    }
  });
});
