/**
 * The pgoutput decoder on real server output: logical decoding messages (transactional and not),
 * Origin messages of transactions replayed under a replication origin, and the error for a
 * message type it does not know.
 */
import { describe, expect, it } from 'vitest';
import { PgoutputDecoder } from '../../src/decoding/pgoutput-decoder.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { parseLsn } from '../../src/source/lsn.js';
import { microsSql, PgoutputCapture, tupleValues, xidOf, type Received } from '../support/connection.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';

/** Whether each received message lies between a Begin and its Commit. */
function insideTransactions(received: readonly Received[]): boolean[] {
  let open = false;
  return received.map((r) => {
    if (r.message.tag === 'begin') open = true;
    const inside = open;
    if (r.message.tag === 'commit') open = false;
    return inside;
  });
}

describe('pgoutput decoder: messages and origins', () => {
  const server = useTestServer();

  it('decodes transactional logical messages inside their transaction', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key); create publication p for table t');
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      const emitted = await withClient(url, async (client) => {
        const run = async (statements: string[]): Promise<{ xid: number; lsns: number[] }> => {
          await client.query('begin');
          const lsns: number[] = [];
          for (const statement of statements) {
            const { rows } = await client.query<{ lsn: string | null }>(statement);
            if (rows[0]?.lsn) lsns.push(parseLsn(rows[0].lsn));
          }
          const { rows } = await client.query<{ txid: string }>('select txid_current()::text as txid');
          await client.query('commit');
          return { xid: xidOf(rows[0]!.txid), lsns };
        };
        const withRows = await run([
          'insert into t values (1)',
          `select pg_logical_emit_message(true, 'pgcdc/ü', 'content')::text as lsn`,
          `select pg_logical_emit_message(true, 'bin', '\\x00ff0000'::bytea)::text as lsn`,
        ]);
        const alone = await run([`select pg_logical_emit_message(true, '', ''::bytea)::text as lsn`]);
        return { withRows, alone };
      });
      await capture.start();

      const tx = await capture.transaction(emitted.withRows.xid);
      expect(tx.map((r) => r.message.tag)).toEqual(['begin', 'relation', 'insert', 'message', 'message', 'commit']);
      expect(tx.slice(3, 5).map((r) => r.message)).toEqual([
        { tag: 'message', xid: undefined, transactional: true, lsn: emitted.withRows.lsns[0], prefix: 'pgcdc/ü', content: Buffer.from('content') },
        { tag: 'message', xid: undefined, transactional: true, lsn: emitted.withRows.lsns[1], prefix: 'bin', content: Buffer.from([0, 0xff, 0, 0]) },
      ]);
      // A transaction whose only change is a message is sent too, with an empty prefix and content.
      const alone = await capture.transaction(emitted.alone.xid);
      expect(alone.map((r) => r.message)).toEqual([
        expect.objectContaining({ tag: 'begin', xid: emitted.alone.xid }),
        { tag: 'message', xid: undefined, transactional: true, lsn: emitted.alone.lsns[0], prefix: '', content: Buffer.alloc(0) },
        expect.objectContaining({ tag: 'commit' }),
      ]);
    } finally {
      capture.destroy();
    }
  });

  it('decodes non-transactional messages outside any transaction, even when their transaction rolls back', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key); create publication p for table t');
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      const lsns = await withClient(url, async (client) => {
        const emit = async (transactional: boolean, prefix: string, hex: string): Promise<number> => {
          const { rows } = await client.query<{ lsn: string }>(`select pg_logical_emit_message($1, $2, decode($3, 'hex'))::text as lsn`, [transactional, prefix, hex]);
          return parseLsn(rows[0]!.lsn);
        };
        const plain = await emit(false, 'nt', '000102');
        await client.query('begin');
        await client.query('insert into t values (1)');
        await emit(true, 'dropped', '00');
        const rolledBack = await emit(false, 'nt-in-rollback', '00');
        await client.query('rollback');
        const last = await emit(false, 'last', '');
        return { plain, rolledBack, last };
      });
      await capture.start();
      await capture.until('the last message', (received) => received.find((r) => r.message.tag === 'message' && r.message.prefix === 'last'));

      const messages = capture.received.filter((r) => r.message.tag === 'message');
      expect(messages.map((r) => r.message)).toEqual([
        { tag: 'message', xid: undefined, transactional: false, lsn: lsns.plain, prefix: 'nt', content: Buffer.from([0, 1, 2]) },
        { tag: 'message', xid: undefined, transactional: false, lsn: lsns.rolledBack, prefix: 'nt-in-rollback', content: Buffer.from([0]) },
        { tag: 'message', xid: undefined, transactional: false, lsn: lsns.last, prefix: 'last', content: Buffer.alloc(0) },
      ]);
      const inside = insideTransactions(capture.received);
      expect(messages.map((r) => inside[capture.received.indexOf(r)])).toEqual([false, false, false]);
      // The rolled-back transaction (insert and transactional message) is not sent at all.
      expect(capture.messages.filter((m) => m.tag === 'insert')).toEqual([]);
    } finally {
      capture.destroy();
    }
  });

  it('decodes the Origin message of a transaction replayed under a replication origin', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key, v text); create publication p for table t');
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      const originTime = '2021-02-03 04:05:06.789012+00';
      const facts = await withClient(url, async (client) => {
        await client.query(`select pg_replication_origin_create('upstream ü')`);
        await client.query(`select pg_replication_origin_session_setup('upstream ü')`);
        await client.query('begin');
        await client.query(`select pg_replication_origin_xact_setup('AB/CDEF0123', $1)`, [originTime]);
        await client.query(`insert into t values (1, 'from upstream')`);
        const { rows } = await client.query<{ txid: string; micros: string }>(`select txid_current()::text as txid, ${microsSql('$1::timestamptz')} as micros`, [originTime]);
        await client.query('commit');
        await client.query('select pg_replication_origin_session_reset()');
        await client.query('begin');
        await client.query(`insert into t values (2, 'local')`);
        const local = await client.query<{ txid: string }>('select txid_current()::text as txid');
        await client.query('commit');
        return { xid: xidOf(rows[0]!.txid), originMicros: Number(rows[0]!.micros), local: xidOf(local.rows[0]!.txid) };
      });
      await capture.start();

      const tx = await capture.transaction(facts.xid);
      expect(tx.map((r) => r.message.tag)).toEqual(['begin', 'origin', 'relation', 'insert', 'commit']);
      expect(tx[1]!.message).toEqual({ tag: 'origin', originLsn: parseLsn('AB/CDEF0123'), name: 'upstream ü' });
      const insert = tx[3]!.message;
      if (insert.tag !== 'insert') throw new Error('unreachable');
      expect(tupleValues(insert.newTuple)).toEqual(['1', 'from upstream']);
      // The commit time of a replayed transaction is the origin's.
      expect(tx[0]!.message).toEqual(expect.objectContaining({ tag: 'begin', xid: facts.xid, commitTimeMicros: facts.originMicros }));
      expect(tx[4]!.message).toEqual(expect.objectContaining({ tag: 'commit', commitTimeMicros: facts.originMicros }));
      // After the session's origin is reset, transactions carry no origin.
      const local = await capture.transaction(facts.local);
      expect(local.map((r) => r.message.tag)).toEqual(['begin', 'insert', 'commit']);
    } finally {
      capture.destroy();
    }
  });

  it('rejects a message type it does not know with a PROTOCOL error', () => {
    for (const version of [1, 2, 3, 4]) {
      const decoder = new PgoutputDecoder(version);
      // 'Z' is no pgoutput message; it comes with what could be an xid.
      const bytes = Buffer.from([0x00, 0x5a, 0, 0, 0, 1]);
      let caught: unknown;
      try {
        decoder.decode(bytes, 1, bytes.length);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(PgcdcError);
      expect((caught as PgcdcError).code).toBe('PROTOCOL');
      expect((caught as PgcdcError).message).toBe('unknown pgoutput message type 0x5a (Z)');
    }
  });
});
