/**
 * The pgoutput decoder on real server output: Insert, Update (without old tuple, with a `K` key
 * tuple, with an `O` old row) and Delete (`K`, `O`), and the values in their tuples, including
 * NULLs and unchanged TOASTed values.
 */
import { describe, expect, it } from 'vitest';
import { skipTuple } from '../../src/decoding/pgoutput-decoder.js';
import type { TupleRef } from '../../src/decoding/pgoutput-messages.js';
import { PgoutputCapture, runTransaction, tupleValues, UNCHANGED, type Received, type TupleValue } from '../support/connection.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';

/** A row change as plain data: what a test can compare exactly. */
type Change =
  | { op: 'insert'; table: number; new: TupleValue[] }
  | { op: 'update'; table: number; oldKind: 'K' | 'O' | null; old: TupleValue[] | null; new: TupleValue[] }
  | { op: 'delete'; table: number; oldKind: 'K' | 'O'; old: TupleValue[] };

/** The row changes of a transaction, checking that each tuple ends where the next part starts. */
function changes(received: readonly Received[]): Change[] {
  const out: Change[] = [];
  const endOf = (tuple: TupleRef): number => skipTuple(tuple.buf, tuple.offset);
  for (const r of received) {
    const m = r.message;
    if (m.tag === 'insert') {
      expect(endOf(m.newTuple)).toBe(r.end);
      out.push({ op: 'insert', table: m.relationOid, new: tupleValues(m.newTuple) });
    } else if (m.tag === 'update') {
      expect(endOf(m.newTuple)).toBe(r.end);
      // An old tuple is followed by the 'N' marker of the new tuple.
      if (m.oldTuple) expect(endOf(m.oldTuple) + 1).toBe(m.newTuple.offset);
      const oldKind = m.oldTuple ? (m.oldTuple.kind as 'K' | 'O') : null;
      out.push({ op: 'update', table: m.relationOid, oldKind, old: m.oldTuple ? tupleValues(m.oldTuple) : null, new: tupleValues(m.newTuple) });
    } else if (m.tag === 'delete') {
      expect(endOf(m.oldTuple)).toBe(r.end);
      expect(m.oldTuple.kind).not.toBe('N');
      out.push({ op: 'delete', table: m.relationOid, oldKind: m.oldTuple.kind as 'K' | 'O', old: tupleValues(m.oldTuple) });
    }
    if ('xid' in m && m.tag !== 'begin') expect(m.xid).toBeUndefined();
  }
  return out;
}

async function oidsOf(url: string, tables: readonly string[]): Promise<number[]> {
  const { rows } = await sql(url, 'select t::regclass::oid::int8 as oid from unnest($1::text[]) with ordinality as u(t, n) order by n', [tables]);
  return rows.map((row: { oid: string }) => Number(row.oid));
}

describe('pgoutput decoder: row changes', () => {
  const server = useTestServer();

  it('decodes inserts, updates and deletes under each replica identity', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create table items (id int primary key, name text, qty int);
       create table full_t (id int primary key, name text, qty int);
       alter table full_t replica identity full;
       create table by_index (a int not null, b text, c text);
       create unique index by_index_a on by_index (a);
       alter table by_index replica identity using index by_index_a;
       create publication p for table items, full_t, by_index`,
    );
    const [items, full, byIndex] = await oidsOf(url, ['items', 'full_t', 'by_index']);
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      const xid = await runTransaction(url, [
        `insert into items values (1, 'a', null), (3, '', 0)`,
        `update items set name = 'ü€😀' where id = 1`,
        `update items set id = 2 where id = 1`,
        `delete from items where id = 2`,
        `insert into full_t values (1, 'x', 5)`,
        `update full_t set qty = null where id = 1`,
        `delete from full_t where id = 1`,
        `insert into by_index values (1, 'b', 'c')`,
        `update by_index set c = 'd', b = null where a = 1`,
        `update by_index set a = 2 where a = 1`,
        `delete from by_index where a = 2`,
      ]);
      await capture.start();
      const tx = await capture.transaction(xid);
      expect(tx.map((r) => r.message.tag)).toEqual([
        'begin',
        ...['relation', 'insert', 'insert', 'update', 'update', 'delete'],
        ...['relation', 'insert', 'update', 'delete'],
        ...['relation', 'insert', 'update', 'update', 'delete'],
        'commit',
      ]);
      expect(changes(tx)).toEqual([
        { op: 'insert', table: items, new: ['1', 'a', null] },
        { op: 'insert', table: items, new: ['3', '', '0'] },
        // Default identity, key unchanged: no old tuple.
        { op: 'update', table: items, oldKind: null, old: null, new: ['1', 'ü€😀', null] },
        // Key changed: the old key in a K tuple, other columns null.
        { op: 'update', table: items, oldKind: 'K', old: ['1', null, null], new: ['2', 'ü€😀', null] },
        { op: 'delete', table: items, oldKind: 'K', old: ['2', null, null] },
        // REPLICA IDENTITY FULL: the whole old row, on every update and delete.
        { op: 'insert', table: full, new: ['1', 'x', '5'] },
        { op: 'update', table: full, oldKind: 'O', old: ['1', 'x', '5'], new: ['1', 'x', null] },
        { op: 'delete', table: full, oldKind: 'O', old: ['1', 'x', null] },
        // REPLICA IDENTITY USING INDEX: a K tuple of the index columns when they change.
        { op: 'insert', table: byIndex, new: ['1', 'b', 'c'] },
        { op: 'update', table: byIndex, oldKind: null, old: null, new: ['1', null, 'd'] },
        { op: 'update', table: byIndex, oldKind: 'K', old: ['1', null, null], new: ['2', null, 'd'] },
        { op: 'delete', table: byIndex, oldKind: 'K', old: ['2', null, null] },
      ]);
    } finally {
      capture.destroy();
    }
  });

  it('marks an unchanged TOASTed value with u', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create table docs (id int primary key, version int, body text, note text);
       create publication p for table docs`,
    );
    const [docs] = await oidsOf(url, ['docs']);
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      // ~10 kB of hex digits from random numbers: too big to stay inline, so it is stored out of line.
      const insert = await runTransaction(url, [
        `insert into docs select 1, 1, string_agg(md5(random()::text), ''), 'small' from generate_series(1, 320)`,
      ]);
      const { rows } = await sql(url, `select body from docs`);
      const body = rows[0].body as string;
      expect(body).toHaveLength(10_240);
      const update = await runTransaction(url, [`update docs set version = 2 where id = 1`]);
      const both = await runTransaction(url, [`update docs set note = null, body = body || 'x' where id = 1`, `delete from docs where id = 1`]);
      await capture.start();

      expect(changes(await capture.transaction(insert))).toEqual([{ op: 'insert', table: docs, new: ['1', '1', body, 'small'] }]);
      // The TOASTed body is not sent when it did not change; the small text column is.
      expect(changes(await capture.transaction(update))).toEqual([{ op: 'update', table: docs, oldKind: null, old: null, new: ['1', '2', UNCHANGED, 'small'] }]);
      expect(changes(await capture.transaction(both))).toEqual([
        { op: 'update', table: docs, oldKind: null, old: null, new: ['1', '2', `${body}x`, null] },
        { op: 'delete', table: docs, oldKind: 'K', old: ['1', null, null, null] },
      ]);
    } finally {
      capture.destroy();
    }
  });
});
