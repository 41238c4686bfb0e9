/**
 * Changes whose values are JSON texts (a Kafka source's decoded records) applied to a Postgres
 * target through its own tables' shapes. The oracle is PostgreSQL itself: every value of a corpus of
 * types is read as `to_jsonb` gives it, turned into input text, and cast back on the server, which
 * must give the original value; then whole rows go through a real PostgresTarget into an empty copy
 * of the table, which must end equal to the original.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { PostgresTargetConfig } from '../../src/config/stream-config.js';
import type { TupleRef } from '../../src/decoding/pgoutput-messages.js';
import type { RowEvent, StreamEvent, TransactionInfo } from '../../src/events/stream-event.js';
import { UNCHANGED, type ColumnValue } from '../../src/kafka-source/decoded-change.js';
import { silentLogger } from '../../src/logging/logger.js';
import { postgresTextTuple, TargetTableShapes, type TargetTable } from '../../src/targets/postgres/json-row-text.js';
import { PostgresTarget } from '../../src/targets/postgres/postgres-target.js';
import { postgresInputText } from '../../src/targets/postgres/postgres-input-text.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';
import { postgresStream } from '../support/postgres-target-fixtures.js';
import { COLUMNS as VALS_COLUMNS, EDGE_ROW, ROWS as VALS_ROWS, SCHEMA as VALS_SCHEMA } from '../support/value-fixtures.js';

/** Types, then a table with a column of each type the value fixtures lack, and rows of edge cases. */
const MORE_SCHEMA = String.raw`
create extension hstore;
create type inner_t as (a int, b text, d date);
create type outer_t as (i inner_t, arr int[], t text, j jsonb, h hstore);
create domain intlist as int[];
create table more_vals (
  id int primary key,
  i8 int8, n numeric, f4 float4, f8 float8,
  tm3 time(3), ts3 timestamp(3), ts0 timestamp(0), tstz3 timestamptz(3), d date,
  mac8 macaddr8, ln line, ls lseg, bx box, pth path, pg polygon, ci circle,
  tsv tsvector, tsq tsquery, nr numrange, dr daterange, mr int4multirange,
  ia2 int[][], ta text[], ja jsonb[], jsa json[], na numeric[], fa float8[], ba bytea[], bxa box[], da date[], tsa timestamp[], ena mood[],
  il intlist, cp outer_t, cpa outer_t[],
  h hstore, ha hstore[],
  js json, jb jsonb
)`;

const MORE_COLUMNS = 'id, i8, n, f4, f8, tm3, ts3, ts0, tstz3, d, mac8, ln, ls, bx, pth, pg, ci, tsv, tsq, nr, dr, mr, ia2, ta, ja, jsa, na, fa, ba, bxa, da, tsa, ena, il, cp, cpa, h, ha, js, jb';

const MORE_ROWS = [
  String.raw`(1, 9007199254740993, 1.00, '-0', '-0',
    '23:59:59.999', '2020-02-29 12:34:56.789', '1999-12-31 23:59:59', '2020-06-01 12:00:00.123-11:30', '5874897-12-31',
    '08:00:2b:01:02:03:04:05', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(1,1),2>',
    $$'a':1A 'b c':2 'it''s'$$, $$'a' & ('b' | !'c')$$, '[1.5,2.50)', '[2020-01-01,2021-01-01)', '{[1,3), [5,7)}',
    '{{1,NULL},{3,4}}', ARRAY['', 'NULL', 'a,b', 'c"d', 'e\f', ' sp ', '{x}', NULL, '😀'], ARRAY['{"a": [1, 2.50]}'::jsonb, '"s"'::jsonb, '12345678901234567890'::jsonb],
    ARRAY['{"k": "v"}'::json, '[1,2]'::json], ARRAY[1.00, 'NaN', -0.5, 1e-30]::numeric[], ARRAY[1.5, 'NaN', '-Infinity', '-0']::float8[],
    ARRAY['\x00ff'::bytea, '\x'::bytea, NULL], ARRAY['(1,1),(0,0)'::box, '(2,2),(1,1)'::box], ARRAY['0044-03-15 BC'::date, 'infinity', '2020-01-01'],
    ARRAY['2020-01-01 00:00:00.000001'::timestamp, '-infinity'], ARRAY['happy "quoted"'::mood, 'sad'],
    '{1,2,3}', ROW(ROW(1, 'x "y" \ (z)', '2020-01-01'), '{1,NULL}', '', '{"a": [1, {"b": null}]}', 'k=>v, "x y"=>NULL')::outer_t,
    ARRAY[ROW(ROW(NULL, NULL, NULL), NULL, NULL, NULL, NULL)::outer_t, NULL, ROW(NULL, '{}', 'a,b', '1.50', '')::outer_t],
    'a=>1, "b\"q"=>"x\\y", c=>NULL, "" => ""', ARRAY['a=>1'::hstore, ''::hstore, NULL],
    '{"a": 1.00, "big": 123456789012345678901234567890, "s": "é \u00e9"}', '{"n": -0.0, "e": 1e-7, "arr": [[]], "o": {}}')`,
  String.raw`(2, -9223372036854775808, 'NaN', 'NaN', 'Infinity',
    '00:00', '0044-03-15 12:00:00.5 BC', '-infinity', 'infinity', '0044-03-15 BC',
    '00:00:00:00:00:00:00:00', '{0,1,0}', '[(0,0),(0,0)]', '(0,0),(0,0)', '((0,0),(1,1))', '((0,0))', '<(0,0),0>',
    '', 'x', 'empty', '(,)', '{}',
    '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
    '{}', ROW(NULL, NULL, NULL, NULL, NULL)::outer_t, '{}', '', '{}', '[]', '0')`,
  String.raw`(3, 9223372036854775807, 123456789012345678901234567890123456789.000000000000000000001, 3.4028235e38, 5e-324,
    '12:00:00.001', '1970-01-01 00:00:00.001', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999+00', '1970-01-01',
    null, null, null, null, null, null, null,
    null, null, null, null, null,
    '{{{1}},{{2}}}', ARRAY[NULL]::text[], ARRAY[NULL]::jsonb[], null, ARRAY['Infinity', '-Infinity']::numeric[], ARRAY[1.4e-45::float4]::float8[], null, null, null, null, null,
    null, null, null, null, null, '"a string"', '"😀 \n \u00e9x"')`,
  `(4, ${Array.from({ length: 39 }, () => 'null').join(', ')})`,
];

/** Columns compared by equality rather than text output: to_jsonb writes -0 as 0. */
const EQUAL_COLUMNS = new Set(['f4', 'f8', 'fa']);
/** json columns: to_jsonb rewrites their text (a jsonb), so they are compared as jsonb. */
const JSON_COLUMNS = new Set(['js', 'jsa']);

const TABLES = [
  { name: 'vals', schema: VALS_SCHEMA, columns: VALS_COLUMNS, rows: [...VALS_ROWS, EDGE_ROW] },
  { name: 'more_vals', schema: MORE_SCHEMA, columns: MORE_COLUMNS, rows: MORE_ROWS },
];

/** Every value of the table as `to_jsonb` of its row gives it (JSON text), by id then column. */
async function jsonRows(url: string, table: string): Promise<Map<number, Map<string, string | null>>> {
  const { rows } = await sql(url, `select r.id, e.key, case when jsonb_typeof(e.value) = 'null' then null else e.value::text end as json from ${table} r, jsonb_each(to_jsonb(r)) e order by r.id`);
  const byId = new Map<number, Map<string, string | null>>();
  for (const row of rows) {
    let values = byId.get(row.id as number);
    if (values === undefined) byId.set(row.id as number, (values = new Map()));
    values.set(row.key as string, row.json as string | null);
  }
  return byId;
}

async function withTargetShapes<T>(url: string, fn: (shapes: TargetTableShapes) => Promise<T>): Promise<T> {
  return withClient(url, (client: pg.Client) => fn(new TargetTableShapes((text, params) => client.query(text, params))));
}

let lsn = 0x1000;

function transaction(): TransactionInfo {
  lsn += 0x100;
  return { xid: lsn, commitLsn: lsn + 0x80, commitTimeMicros: 1_700_000_000_000_000, previousCommitLsn: 0, origin: undefined };
}

/** Writes the rows events as one source transaction through a real PostgresTarget into `targetUrl`. */
async function applyThroughTarget(targetUrl: string, sourceUrl: string, changes: readonly Omit<RowEvent, 'kind' | 'lsn' | 'txn'>[]): Promise<void> {
  const { config } = await postgresStream({ sourceUrl, targetUrl });
  const target = new PostgresTarget(config.target as PostgresTargetConfig, config, silentLogger());
  await target.open();
  try {
    const txn = transaction();
    const events: StreamEvent[] = [{ kind: 'begin', txn }, ...changes.map((change, i): RowEvent => ({ kind: 'row', lsn: txn.xid + i + 1, txn, ...change })), { kind: 'commit', txn, endLsn: txn.commitLsn + 1 }];
    const written = await target.write({ events });
    await written?.durable;
  } finally {
    await target.close();
  }
}

/** `to_jsonb` of every row, ordered by id. */
async function tableJson(url: string, table: string): Promise<string[]> {
  const { rows } = await sql(url, `select to_jsonb(r)::text as row from ${table} r order by id`);
  return rows.map((row) => row.row as string);
}

/** A decoded image of a row: the record's column names and JSON values (UNCHANGED where `unchanged` says). */
function image(values: ReadonlyMap<string, string | null>, options: { readonly leaveOut?: readonly string[]; readonly unchanged?: readonly string[] } = {}): { columns: string[]; values: ColumnValue[] } {
  const columns = [...values.keys()].filter((name) => !options.leaveOut?.includes(name)).reverse();
  return { columns, values: columns.map((name) => (options.unchanged?.includes(name) ? UNCHANGED : values.get(name)!)) };
}

describe('Kafka source into a Postgres target: JSON values as PostgreSQL input text', () => {
  const server = useTestServer();

  it('turns every value of every type, as to_jsonb writes it, into text the server reads back as the same value', async () => {
    const db = await createDatabase(server());
    for (const table of TABLES) {
      await sql(db, table.schema);
      await sql(db, `insert into ${table.name} (${table.columns}) values ${table.rows.join(', ')}`);
    }
    await withTargetShapes(db, async (shapes) => {
      for (const { name } of TABLES) {
        const shape = (await shapes.table('public', name, []))!;
        const values = await jsonRows(db, name);
        expect(values.size).toBeGreaterThan(3);
        for (const [index, column] of shape.columns.entries()) {
          const ids: number[] = [];
          const texts: (string | null)[] = [];
          for (const [id, row] of values) {
            const json = row.get(column.name)!;
            ids.push(id);
            texts.push(json === null ? null : postgresInputText(json, shape.inputTypes[index]!));
          }
          const cast = `v.text::${column.typeName}`;
          const ident = `r.${JSON.stringify(column.name)}`;
          const same = EQUAL_COLUMNS.has(column.name)
            ? `${cast} is not distinct from ${ident}`
            : JSON_COLUMNS.has(column.name)
              ? `to_jsonb(${cast}) is not distinct from to_jsonb(${ident})`
              : `${cast}::text is not distinct from ${ident}::text`;
          const { rows } = await sql(
            db,
            `select r.id, v.text, ${ident}::text as original from unnest($1::int[], $2::text[]) v(id, text) join ${name} r on r.id = v.id where not (${same}) order by r.id`,
            [ids, texts],
          );
          expect(rows, `${name}.${column.name} (${column.typeName})`).toEqual([]);
        }
      }
    });
  });

  it("applies inserts, updates that leave out or keep unchanged some columns, and deletes through a real target into an empty copy of each table, which ends equal", async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    for (const table of TABLES) {
      await sql(source, table.schema);
      await sql(target, table.schema);
      await sql(source, `insert into ${table.name} (${table.columns}) values ${table.rows.join(', ')}`);
    }
    await withTargetShapes(target, async (shapes) => {
      // Every row inserted.
      const inserts: Omit<RowEvent, 'kind' | 'lsn' | 'txn'>[] = [];
      for (const { name } of TABLES) {
        const table = (await shapes.table('public', name, ['id']))!;
        for (const row of (await jsonRows(source, name)).values()) {
          const { columns, values } = image(row);
          inserts.push({ op: 'c', table, before: null, after: postgresTextTuple(table, columns, values, 'N') });
        }
      }
      await applyThroughTarget(target, source, inserts);
      for (const { name } of TABLES) expect(await tableJson(target, name), name).toEqual(await tableJson(source, name));

      // Updates on the source, sent as records that leave out some columns or mark them unchanged; a delete.
      await sql(source, "update vals set t = 'changed', i8 = 1 where id in (1, 2); update more_vals set ta = '{changed}', jb = '[1]' where id = 1; delete from more_vals where id = 2");
      const vals = (await shapes.table('public', 'vals', []))!;
      const more = (await shapes.table('public', 'more_vals', []))!;
      const sourceVals = await jsonRows(source, 'vals');
      const sourceMore = await jsonRows(source, 'more_vals');
      const key = (table: TargetTable, id: number): TupleRef => postgresTextTuple(table, ['id'], [String(id)], 'K');
      const leftOut = image(sourceVals.get(1)!, { leaveOut: ['x', 'js', 'cpa'] });
      const unchanged = image(sourceVals.get(2)!, { unchanged: ['by', 'ta', 'ia'] });
      const moreUpdate = image(sourceMore.get(1)!, { leaveOut: ['cp', 'h'], unchanged: ['tsv'] });
      await applyThroughTarget(target, source, [
        { op: 'u', table: vals, before: null, after: postgresTextTuple(vals, leftOut.columns, leftOut.values, 'N') },
        { op: 'u', table: vals, before: null, after: postgresTextTuple(vals, unchanged.columns, unchanged.values, 'N') },
        { op: 'u', table: more, before: null, after: postgresTextTuple(more, moreUpdate.columns, moreUpdate.values, 'N') },
        { op: 'd', table: more, before: key(more, 2), after: null },
      ]);
      for (const { name } of TABLES) expect(await tableJson(target, name), name).toEqual(await tableJson(source, name));
    });
  });

  it("updates and deletes rows of a table without a key by their old values, where to_jsonb writes them otherwise than PostgreSQL's output", async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    const ddl = 'create table nokey (id int, ts timestamptz, t timestamp(3), f float8, n numeric, b bytea, j jsonb, a int[], d date, iv interval, s text); alter table nokey replica identity full';
    await sql(source, ddl);
    await sql(target, ddl);
    await sql(source, `insert into nokey values
      (1, '2020-06-01 12:00:00.123-11:30', '2020-02-29 12:34:56.789', 0.1, 1.50, '\\x00ff', '{"b": [1, 2.50], "a": null}', '{1,NULL}', '0044-03-15 BC', '1 year 2 mons 3 days 04:05:06.5', 'one'),
      (2, 'infinity', '1970-01-01', 1e-300, 'NaN', '\\x', '"s"', '{}', '2020-01-01', '-1 day', 'two'),
      (2, 'infinity', '1970-01-01', 1e-300, 'NaN', '\\x', '"s"', '{}', '2020-01-01', '-1 day', 'two')`);
    await withTargetShapes(target, async (shapes) => {
      const table = (await shapes.table('public', 'nokey', []))!;
      expect(table.keyColumns).toEqual([]);
      const before = await jsonRows(source, 'nokey');
      const tuple = (values: ReadonlyMap<string, string | null>, kind: 'N' | 'O') => {
        const { columns, values: texts } = image(values);
        return postgresTextTuple(table, columns, texts, kind);
      };
      await applyThroughTarget(target, source, [
        { op: 'c', table, before: null, after: tuple(before.get(1)!, 'N') },
        { op: 'c', table, before: null, after: tuple(before.get(2)!, 'N') },
        { op: 'c', table, before: null, after: tuple(before.get(2)!, 'N') },
      ]);
      await sql(source, "update nokey set s = 'changed', f = 2.5 where id = 1; delete from nokey where ctid = (select min(ctid) from nokey where id = 2)");
      const after = await jsonRows(source, 'nokey');
      await applyThroughTarget(target, source, [
        { op: 'u', table, before: tuple(before.get(1)!, 'O'), after: tuple(after.get(1)!, 'N') },
        { op: 'd', table, before: tuple(before.get(2)!, 'O'), after: null },
      ]);
      expect(await tableJson(target, 'nokey')).toEqual(await tableJson(source, 'nokey'));
    });
  });

  it('gives the record key as the key of a table without a primary key, and leaves the target table unknown when it has none', async () => {
    const db = await createDatabase(server());
    await sql(db, 'create table keyless (a int, b text, c int generated always as (a * 2) stored)');
    await withTargetShapes(db, async (shapes) => {
      expect(await shapes.table('public', 'missing', ['id'])).toBeUndefined();
      const table = (await shapes.table('public', 'keyless', ['b']))!;
      expect(table.keyColumns).toEqual([1]);
      expect(table.columns.map((column) => [column.name, column.typeName, column.isReplicaIdentity, column.included])).toEqual([
        ['a', 'integer', false, true],
        ['b', 'text', true, true],
        ['c', 'integer', false, false],
      ]);
      expect((await shapes.table('public', 'keyless', []))!.keyColumns).toEqual([]);
      await expect(shapes.table('public', 'keyless', ['zz'])).rejects.toThrow('the record key column "zz" is not a column of public.keyless on the target');
    });
  });

  it('refuses, naming it, a record column the target table lacks and a value that does not fit its column', async () => {
    const db = await createDatabase(server());
    await sql(db, 'create table t (id int primary key, d date, by bytea, ia int[])');
    await withTargetShapes(db, async (shapes) => {
      const table = (await shapes.table('public', 't', []))!;
      expect(() => postgresTextTuple(table, ['id', 'extra'], ['1', '2'], 'N')).toThrow('the record\'s column "extra" is not a column of public.t on the target');
      expect(() => postgresTextTuple(table, ['id', 'd'], ['1', '1.5'], 'N')).toThrow('the value of public.t.d does not fit its type date on the target: "1.5" is not a number of days for date');
      expect(() => postgresTextTuple(table, ['id', 'by'], ['1', '"not base64!"'], 'N')).toThrow('the value of public.t.by does not fit its type bytea on the target: "not base64!" is neither \\x hex nor base64 bytes');
      expect(() => postgresTextTuple(table, ['id', 'ia'], ['1', '{"a":1}'], 'N')).toThrow('the value of public.t.ia does not fit its type integer[] on the target: an object is no value of int4[]');
      expect(() => postgresTextTuple(table, ['id', 'ia'], ['1', '[1,'], 'N')).toThrow('the value of public.t.ia does not fit its type integer[] on the target: not JSON: expected a JSON value at offset 3 of [1,');
    });
  });

  it("reads dates and times Debezium writes as numbers (adaptive precision) and bytes as base64", async () => {
    const db = await createDatabase(server());
    await sql(db, 'create table temporal (id int primary key, d date, t0 time(0), t3 time(3), t6 time, ts3 timestamp(3), ts6 timestamp, tz6 timestamptz, iv interval, by bytea, ds date[])');
    await withTargetShapes(db, async (shapes) => {
      const table = (await shapes.table('public', 'temporal', []))!;
      const day = 86_400_000_000n;
      // Day counts, time units and their expected values, computed by the server from the epoch.
      const cases: [string, string, string][] = [
        ['d', '18321', `date '1970-01-01' + 18321`],
        ['d', '-719893', `date '1970-01-01' - 719893`],
        ['d', '2145042905', `date '1970-01-01' + 2145042905`],
        ['t0', '86399000', `time '00:00' + interval '86399 seconds'`],
        ['t3', '45296789', `time '00:00' + interval '45296789 milliseconds'`],
        ['t3', '86400000', `'24:00'::time`],
        ['t6', '45296789012', `time '00:00' + interval '45296789012 microseconds'`],
        ['ts3', '1582979696789', `timestamp '1970-01-01' + interval '1582979696789 milliseconds'`],
        ['ts3', '-62167219200001', `timestamp '1970-01-01' + interval '-62167219200001 milliseconds'`],
        ['ts6', String(9_000_000n * day + 123_456n), `timestamp '1970-01-01' + interval '9000000 days 0.123456 seconds'`],
        ['ts6', '-210866803200000000', `timestamp '1970-01-01' - interval '210866803200000000 microseconds'`],
        ['tz6', '1582979696789012', `timestamptz '1970-01-01 00:00+00' + interval '1582979696789012 microseconds'`],
        ['iv', '-93784000005', `interval '-93784000005 microseconds'`],
        ['by', '"3q2+7wA="', `'\\xdeadbeef00'::bytea`],
        ['by', '""', `'\\x'::bytea`],
        ['by', '"\\\\x00ff"', `'\\x00ff'::bytea`],
        ['ds', '[0, -1, null, "2020-02-29"]', `array['1970-01-01', '1969-12-31', null, '2020-02-29']::date[]`],
      ];
      for (const [name, json, expected] of cases) {
        const index = table.columnIndex.get(name)!;
        const text = postgresInputText(json, table.inputTypes[index]!);
        const { rows } = await sql(db, `select $1::${table.columns[index]!.typeName} is not distinct from (${expected}) as same`, [text]);
        expect(rows[0], `${name} ${json} -> ${text}`).toEqual({ same: true });
      }
    });
  });
});
