/**
 * The pgoutput decoder on real server output: Begin/Commit, Relation (replica identities, types,
 * typmods, key flags, re-sent after ALTER TABLE), Type and Truncate messages.
 */
import { describe, expect, it } from 'vitest';
import type { PgoutputMessage, RelationMessage } from '../../src/decoding/pgoutput-messages.js';
import { parseLsn } from '../../src/source/lsn.js';
import { microsSql, PgoutputCapture, runTransaction, tupleValues, xidOf, type Received } from '../support/connection.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';

function tags(received: readonly Received[]): string[] {
  return received.map((r) => r.message.tag);
}

function only<T extends PgoutputMessage['tag']>(received: readonly Received[], tag: T): Extract<PgoutputMessage, { tag: T }>[] {
  return received.map((r) => r.message).filter((m): m is Extract<PgoutputMessage, { tag: T }> => m.tag === tag);
}

async function oidOf(url: string, table: string): Promise<number> {
  const { rows } = await sql(url, 'select $1::regclass::oid::int8 as oid', [table]);
  return Number(rows[0].oid);
}

async function typeOid(url: string, type: string): Promise<number> {
  const { rows } = await sql(url, 'select $1::regtype::oid::int8 as oid', [type]);
  return Number(rows[0].oid);
}

describe('pgoutput decoder: transactions and metadata', () => {
  const server = useTestServer({ settings: { track_commit_timestamp: 'on' } });

  it('decodes Begin and Commit: xid, final/commit LSN, end LSN and commit time', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key); create table unpublished (id int); create publication p for table t');
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      expect(capture.protocolVersion).toBe(server().major >= 16 ? 4 : server().major === 15 ? 3 : 2);
      const facts = await withClient(url, async (client) => {
        await client.query('begin');
        await client.query('insert into t values (1)');
        const inside = await client.query<{ txid: string; lsn: string; micros: string }>(
          `select txid_current()::text as txid, pg_current_wal_insert_lsn()::text as lsn, ${microsSql('clock_timestamp()')} as micros`,
        );
        await client.query('commit');
        const xid = xidOf(inside.rows[0]!.txid);
        const after = await client.query<{ lsn: string; micros: string; committed: string }>(
          `select pg_current_wal_insert_lsn()::text as lsn, ${microsSql('clock_timestamp()')} as micros,
                  ${microsSql('pg_xact_commit_timestamp($1::text::xid)')} as committed`,
          [String(xid)],
        );
        return { xid, inside: inside.rows[0]!, after: after.rows[0]! };
      });
      const empty = await runTransaction(url, ['insert into unpublished values (1)']);
      const second = await runTransaction(url, ['insert into t values (2)']);
      await capture.start();

      const tx = await capture.transaction(facts.xid);
      expect(tags(tx)).toEqual(['begin', 'relation', 'insert', 'commit']);
      const begin = tx[0]!.message;
      const commit = tx[3]!.message;
      if (begin.tag !== 'begin' || commit.tag !== 'commit') throw new Error('unreachable');
      expect(begin.xid).toBe(facts.xid);
      expect(begin.finalLsn).toBe(commit.commitLsn);
      expect(commit.flags).toBe(0);
      // The commit record starts at or after the insert position read just before COMMIT.
      expect(commit.commitLsn).toBeGreaterThanOrEqual(parseLsn(facts.inside.lsn));
      expect(commit.endLsn).toBeGreaterThan(commit.commitLsn);
      expect(commit.endLsn).toBeLessThanOrEqual(parseLsn(facts.after.lsn));
      // The XLogData of a Commit starts at the end of the commit record.
      expect(tx[3]!.lsn).toBe(commit.endLsn);
      expect(begin.commitTimeMicros).toBe(commit.commitTimeMicros);
      expect(commit.commitTimeMicros).toBe(Number(facts.after.committed));
      expect(commit.commitTimeMicros).toBeGreaterThanOrEqual(Number(facts.inside.micros));
      expect(commit.commitTimeMicros).toBeLessThanOrEqual(Number(facts.after.micros));

      // The next transaction: no Relation again, and it begins after the first one ended.
      const next = await capture.transaction(second);
      expect(tags(next)).toEqual(['begin', 'insert', 'commit']);
      const nextBegin = next[0]!.message;
      if (nextBegin.tag !== 'begin') throw new Error('unreachable');
      expect(nextBegin.xid).toBe(second);
      expect(nextBegin.finalLsn).toBeGreaterThan(commit.endLsn);
      // A transaction without published changes: PostgreSQL 14 still sends its Begin and Commit.
      if (server().major === 14) expect(tags(await capture.transaction(empty))).toEqual(['begin', 'commit']);
      else expect(capture.messages.filter((m) => m.tag === 'begin' && m.xid === empty)).toEqual([]);
    } finally {
      capture.destroy();
    }
  });

  it('decodes Relation messages: schema, replica identity, types, typmods and key flags', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create schema "Shop";
       create table "Shop".items (id int primary key, name varchar(20), price numeric(12,2), gone int, code char(5),
                                  at timestamptz(3), tags text[], note text);
       alter table "Shop".items drop column gone;
       create table by_index (a int not null, b text not null, c text);
       create unique index by_index_key on by_index (b, a);
       alter table by_index replica identity using index by_index_key;
       create table full_t (x int primary key, y varchar(7));
       alter table full_t replica identity full;
       create table nothing_t (x int primary key, y text);
       alter table nothing_t replica identity nothing;
       create table no_key (x bigint);
       create publication p for table "Shop".items, by_index, full_t, nothing_t, no_key`,
    );
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      const xid = await runTransaction(url, [
        `insert into "Shop".items values (1, 'n', 12.5, 'abc', '2024-01-02 03:04:05.678+00', '{x,y}', null)`,
        `insert into by_index values (1, 'b', 'c')`,
        `insert into full_t values (1, 'y')`,
        `insert into nothing_t values (1, 'y')`,
        `insert into no_key values (1)`,
      ]);
      await sql(url, 'alter table "Shop".items add column added bigint default 7');
      const afterAlter = await runTransaction(url, [`insert into "Shop".items (id) values (2)`, `insert into full_t values (2, 'z')`]);
      await capture.start();

      const tx = await capture.transaction(xid);
      expect(tags(tx)).toEqual(['begin', ...Array(5).fill(['relation', 'insert']).flat(), 'commit']);
      const relations = only(tx, 'relation');
      const expected: RelationMessage[] = [
        {
          tag: 'relation', xid: undefined, oid: await oidOf(url, '"Shop".items'), schema: 'Shop', table: 'items', replicaIdentity: 'd',
          columns: [
            { name: 'id', typeOid: 23, typeModifier: -1, isKey: true },
            { name: 'name', typeOid: 1043, typeModifier: 24, isKey: false },
            { name: 'price', typeOid: 1700, typeModifier: ((12 << 16) | 2) + 4, isKey: false },
            { name: 'code', typeOid: 1042, typeModifier: 9, isKey: false },
            { name: 'at', typeOid: 1184, typeModifier: 3, isKey: false },
            { name: 'tags', typeOid: 1009, typeModifier: -1, isKey: false },
            { name: 'note', typeOid: 25, typeModifier: -1, isKey: false },
          ],
        },
        {
          tag: 'relation', xid: undefined, oid: await oidOf(url, 'by_index'), schema: 'public', table: 'by_index', replicaIdentity: 'i',
          columns: [
            { name: 'a', typeOid: 23, typeModifier: -1, isKey: true },
            { name: 'b', typeOid: 25, typeModifier: -1, isKey: true },
            { name: 'c', typeOid: 25, typeModifier: -1, isKey: false },
          ],
        },
        {
          tag: 'relation', xid: undefined, oid: await oidOf(url, 'full_t'), schema: 'public', table: 'full_t', replicaIdentity: 'f',
          columns: [
            { name: 'x', typeOid: 23, typeModifier: -1, isKey: true },
            { name: 'y', typeOid: 1043, typeModifier: 11, isKey: true },
          ],
        },
        {
          tag: 'relation', xid: undefined, oid: await oidOf(url, 'nothing_t'), schema: 'public', table: 'nothing_t', replicaIdentity: 'n',
          columns: [
            { name: 'x', typeOid: 23, typeModifier: -1, isKey: false },
            { name: 'y', typeOid: 25, typeModifier: -1, isKey: false },
          ],
        },
        {
          tag: 'relation', xid: undefined, oid: await oidOf(url, 'no_key'), schema: 'public', table: 'no_key', replicaIdentity: 'd',
          columns: [{ name: 'x', typeOid: 20, typeModifier: -1, isKey: false }],
        },
      ];
      expect(relations).toEqual(expected);
      // Each Insert refers to the Relation sent just before it; values follow the Relation's columns.
      const inserts = only(tx, 'insert');
      expect(inserts.map((m) => m.relationOid)).toEqual(expected.map((r) => r.oid));
      expect(tupleValues(inserts[0]!.newTuple)).toEqual(['1', 'n', '12.50', 'abc  ', '2024-01-02 03:04:05.678+00', '{x,y}', null]);

      // ALTER TABLE invalidates the relation: it is sent again with the new column, full_t is not.
      const next = await capture.transaction(afterAlter);
      expect(tags(next)).toEqual(['begin', 'relation', 'insert', 'insert', 'commit']);
      const resent = next[1]!.message;
      expect(resent).toEqual({ ...expected[0], columns: [...expected[0]!.columns, { name: 'added', typeOid: 20, typeModifier: -1, isKey: false }] });
      const inserted = next[2]!.message;
      if (inserted.tag !== 'insert') throw new Error('unreachable');
      expect(tupleValues(inserted.newTuple)).toEqual(['2', null, null, null, null, null, null, '7']);
    } finally {
      capture.destroy();
    }
  });

  it('decodes Type messages sent before the Relation of a table with user-defined column types', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create schema kinds;
       create type kinds.mood as enum ('sad', 'happy');
       create type pair as (a int, b text);
       create domain short_text as text check (length(value) < 10);
       create table typed (id int primary key, m kinds.mood, p pair, ms kinds.mood[], s short_text);
       create publication p for table typed`,
    );
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      const xid = await runTransaction(url, [`insert into typed values (1, 'happy', row(1, 'x'), '{sad,happy}', 'short')`]);
      await capture.start();
      const tx = await capture.transaction(xid);
      expect(tags(tx)).toEqual(['begin', 'type', 'type', 'type', 'type', 'relation', 'insert', 'commit']);
      const [mood, pair, moods, shortText] = await Promise.all(['kinds.mood', 'pair', 'kinds.mood[]', 'short_text'].map((t) => typeOid(url, t)));
      expect(only(tx, 'type')).toEqual([
        { tag: 'type', xid: undefined, oid: mood, schema: 'kinds', name: 'mood' },
        { tag: 'type', xid: undefined, oid: pair, schema: 'public', name: 'pair' },
        { tag: 'type', xid: undefined, oid: moods, schema: 'kinds', name: '_mood' },
        // A domain: its own OID with the name of its base type (pg_catalog is sent as an empty schema name).
        { tag: 'type', xid: undefined, oid: shortText, schema: 'pg_catalog', name: 'text' },
      ]);
      const relation = only(tx, 'relation')[0]!;
      expect(relation.columns.map((c) => c.typeOid)).toEqual([23, mood, pair, moods, shortText]);
      expect(tupleValues(only(tx, 'insert')[0]!.newTuple)).toEqual(['1', 'happy', '(1,x)', '{sad,happy}', 'short']);
    } finally {
      capture.destroy();
    }
  });

  it('decodes Truncate messages: several tables, CASCADE and RESTART IDENTITY', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create table parent (id serial primary key);
       create table child (id serial primary key, parent_id int references parent);
       create table other (id int primary key);
       create publication p for table parent, child, other`,
    );
    const [parent, child, other] = await Promise.all(['parent', 'child', 'other'].map((t) => oidOf(url, t)));
    const capture = await PgoutputCapture.create(url, { publication: 'p' });
    try {
      const plain = await runTransaction(url, ['truncate other, parent, child']);
      const cascade = await runTransaction(url, ['truncate parent cascade']);
      const restart = await runTransaction(url, ['truncate other restart identity']);
      const both = await runTransaction(url, ['truncate parent restart identity cascade']);
      await capture.start();

      const first = await capture.transaction(plain);
      expect(tags(first)).toEqual(['begin', 'relation', 'relation', 'relation', 'truncate', 'commit']);
      expect(only(first, 'relation').map((r) => r.oid)).toEqual([other, parent, child]);
      expect(only(first, 'truncate')).toEqual([{ tag: 'truncate', xid: undefined, cascade: false, restartIdentity: false, relationOids: [other, parent, child] }]);
      // TRUNCATE gives the tables new files, which invalidates them: their Relations are sent again.
      const truncates = await Promise.all([cascade, restart, both].map((xid) => capture.transaction(xid)));
      expect(truncates.map(tags)).toEqual([
        ['begin', 'relation', 'relation', 'truncate', 'commit'],
        ['begin', 'relation', 'truncate', 'commit'],
        ['begin', 'relation', 'relation', 'truncate', 'commit'],
      ]);
      expect(truncates.map((tx) => only(tx, 'relation').map((r) => r.oid))).toEqual([[parent, child], [other], [parent, child]]);
      expect(truncates.map((tx) => only(tx, 'truncate')[0])).toEqual([
        { tag: 'truncate', xid: undefined, cascade: true, restartIdentity: false, relationOids: [parent, child] },
        { tag: 'truncate', xid: undefined, cascade: false, restartIdentity: true, relationOids: [other] },
        { tag: 'truncate', xid: undefined, cascade: true, restartIdentity: true, relationOids: [parent, child] },
      ]);
    } finally {
      capture.destroy();
    }
  });
});
