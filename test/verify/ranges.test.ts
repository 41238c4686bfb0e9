/**
 * `verifyStream` on tables of several ranges: rows found inside big ranges through sub-ranges
 * (split on either side), the listing cap, key columns whose collations differ, progress, and
 * which tables are compared (filters, signal table, pgcdc's schema, partitions).
 */
import { describe, expect, it } from 'vitest';
import type { TableProgress } from '../../src/verify/table-comparison.js';
import { renderVerifyReport } from '../../src/verify/verify-report.js';
import { verifyStream } from '../../src/verify/verify-stream.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { postgresStream, sourceAndTarget } from './verify-fixtures.js';

const BIG = 'create table big (id int primary key, v text)';
const BIG_DATA = "insert into big select i, 'value ' || i from generate_series(1, 3000) i";
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ id: String(from + i) }));

describe('pgcdc verify: ranges, sub-ranges and table selection', () => {
  const server = useTestServer();

  it('differing rows inside ranges of 1000 rows are named through sub-ranges of 100', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), BIG, BIG_DATA);
    await sql(targetUrl, "update big set v = 'changed' where id = 1500; delete from big where id = 2999; insert into big values (5000, 'extra')");
    const progress: TableProgress[] = [];
    const report = await verifyStream(await postgresStream(sourceUrl, targetUrl), { rangeRows: 1000, detailRows: 100, onProgress: (p) => progress.push(p) });
    expect(report.tables).toEqual([
      {
        table: 'public.big',
        status: 'different',
        sourceRows: 3000,
        targetRows: 3000,
        key: ['id'],
        ranges: 3,
        missingColumns: [],
        notes: [],
        differingRanges: [
          { lower: { id: '1000' }, upper: { id: '2000' }, sourceRows: 1000, targetRows: 1000, missingOnTarget: [], extraOnTarget: [], changed: [{ id: '1500' }], keysComplete: true },
          { lower: { id: '2000' }, upper: null, sourceRows: 1000, targetRows: 1000, missingOnTarget: [{ id: '2999' }], extraOnTarget: [{ id: '5000' }], changed: [], keysComplete: true },
        ],
      },
    ]);
    expect(progress.map((p) => [p.rangesDone, p.ranges, p.rows])).toEqual([
      [1, 3, 3000],
      [2, 3, 3000],
      [3, 3, 3000],
    ]);
    expect(progress.at(-1)!.rowsDone).toBe(3000);
  });

  it('a range with many more rows on the target is split on the target', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), BIG, "insert into big select i, 'v' from generate_series(1, 50) i");
    await sql(targetUrl, "insert into big select i, 'v' from generate_series(1001, 1200) i");
    const report = await verifyStream(await postgresStream(sourceUrl, targetUrl), { detailRows: 100, maxKeys: 1000 });
    expect(report.tables[0]!.differingRanges).toEqual([
      { lower: null, upper: null, sourceRows: 50, targetRows: 250, missingOnTarget: [], extraOnTarget: ids(1001, 1200), changed: [], keysComplete: true },
    ]);
    expect(report.tables[0]!.ranges).toBe(1);
  });

  it('listing stops at maxKeys and says that not every differing row is listed', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), BIG, BIG_DATA);
    await sql(targetUrl, "update big set v = 'changed' where id <= 50 or id = 2500");
    const report = await verifyStream(await postgresStream(sourceUrl, targetUrl), { rangeRows: 1000, detailRows: 100, maxKeys: 10 });
    expect(report.tables[0]!.differingRanges).toEqual([
      { lower: null, upper: { id: '1000' }, sourceRows: 1000, targetRows: 1000, missingOnTarget: [], extraOnTarget: [], changed: ids(1, 10), keysComplete: false },
      { lower: { id: '2000' }, upper: null, sourceRows: 1000, targetRows: 1000, missingOnTarget: [], extraOnTarget: [], changed: [{ id: '2500' }], keysComplete: true },
    ]);
    expect(renderVerifyReport(report)).toContain(
      [
        'public.big: DIFFERENT (source 3000 rows, target 3000 rows; 2 of 3 ranges differ)',
        '  range id ≤ 1000: source 1000 rows, target 1000 rows',
        `    changed: ${ids(1, 10).map((k) => `id=${k.id}`).join('; ')}`,
        '    (not every differing row is listed)',
        '  range id > 2000: source 1000 rows, target 1000 rows',
        '    changed: id=2500',
        '',
      ].join('\n'),
    );
  });

  it('key columns sorting differently on the two sides compare in the C collation', async () => {
    const sourceUrl = await createDatabase(server(), 'src');
    const targetUrl = await createDatabase(server(), 'tgt');
    const data = "insert into names select chr(case when i % 2 = 0 then 65 else 97 end + i % 26) || i, i from generate_series(1, 40) i";
    await sql(sourceUrl, `create table names (name text collate "en-x-icu" primary key, n int); ${data}`);
    await sql(targetUrl, `create table names (name text collate "C" primary key, n int); ${data}`);
    const config = await postgresStream(sourceUrl, targetUrl);
    const note = 'name sort differently on the two sides (collation): ranges compare in the C collation, without the key index';
    expect((await verifyStream(config, { rangeRows: 10 })).tables).toEqual([
      { table: 'public.names', status: 'identical', sourceRows: 40, targetRows: 40, key: ['name'], ranges: 4, differingRanges: [], missingColumns: [], notes: [note] },
    ]);
    await sql(targetUrl, "update names set n = 0 where name = 'b1'");
    const [names] = (await verifyStream(config, { rangeRows: 10 })).tables;
    expect(names!.status).toBe('different');
    expect(names!.differingRanges.map((r) => r.changed)).toEqual([[{ name: 'b1' }]]);
  });

  it('a target table without the primary key: a note, and a duplicated key is an extra row', async () => {
    const sourceUrl = await createDatabase(server(), 'src');
    const targetUrl = await createDatabase(server(), 'tgt');
    await sql(sourceUrl, `${BIG}; insert into big select i, 'v' from generate_series(1, 30) i`);
    await sql(targetUrl, "create table big (id int, v text); insert into big select i, 'v' from generate_series(1, 30) i");
    const config = await postgresStream(sourceUrl, targetUrl);
    const note = "the target's primary key is missing, not (id): its range queries may scan the table";
    const base = { table: 'public.big', sourceRows: 30, key: ['id'], ranges: 3, missingColumns: [], notes: [note] };
    expect((await verifyStream(config, { rangeRows: 10 })).tables).toEqual([{ ...base, status: 'identical', targetRows: 30, differingRanges: [] }]);
    await sql(targetUrl, "insert into big values (15, 'v')");
    expect((await verifyStream(config, { rangeRows: 10 })).tables).toEqual([
      {
        ...base,
        status: 'different',
        targetRows: 31,
        differingRanges: [{ lower: { id: '10' }, upper: { id: '20' }, sourceRows: 10, targetRows: 11, missingOnTarget: [], extraOnTarget: [{ id: '15' }], changed: [], keysComplete: true }],
      },
    ]);
  });

  it('names that need quoting: schema, table, columns and key values', async () => {
    const schema = `create schema "Odd Schema"; create table "Odd Schema"."Table ""1""" ("Key, part" text, "n" int, "Value" text, primary key ("Key, part", n))`;
    const data = `insert into "Odd Schema"."Table ""1""" select 'k ' || (i % 3) || ',"' , i, 'it''s ' || i from generate_series(1, 12) i`;
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), schema, data);
    await sql(targetUrl, `update "Odd Schema"."Table ""1""" set "Value" = null where n = 4`);
    const report = await verifyStream(await postgresStream(sourceUrl, targetUrl), { rangeRows: 5 });
    expect(report.tables.map((t) => [t.table, t.status, t.ranges])).toEqual([['Odd Schema.Table "1"', 'different', 3]]);
    expect(report.tables[0]!.differingRanges.map((r) => r.changed)).toEqual([[{ 'Key, part': 'k 1,"', n: '4' }]]);
    expect(renderVerifyReport(report)).toContain('    changed: Key, part="k 1,\\"", n=4\n');
  });

  it('compares the captured tables only: filters, excluded columns, the signal table and the pgcdc schema are left out', async () => {
    const schema = `create table kept (id int primary key, v text, secret text); create table skipped (id int primary key);
      create schema pgcdc; create table pgcdc.applied (id int primary key); create table cdc_signals (id text primary key, type text, data text)`;
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), schema, "insert into kept values (1, 'a', 's')");
    await sql(targetUrl, "update kept set secret = 'other'; insert into skipped values (1); insert into pgcdc.applied values (1); drop table cdc_signals");
    const config = await postgresStream(sourceUrl, targetUrl, { excludes: ['public\\.skipped', 'public\\.kept\\.secret'], signalTable: 'public.cdc_signals' });
    const report = await verifyStream(config);
    expect(report.tables).toEqual([
      { table: 'public.kept', status: 'identical', sourceRows: 1, targetRows: 1, key: ['id'], ranges: 1, differingRanges: [], missingColumns: [], notes: [] },
    ]);
    expect(report.identical).toBe(true);
  });

  it('partitions are compared one by one, or as their root when changes are published via the root', async () => {
    const schema = `create table measures (id int, at date, v int, primary key (id, at)) partition by range (at);
      create table measures_2024 partition of measures for values from ('2024-01-01') to ('2025-01-01');
      create table measures_2025 partition of measures for values from ('2025-01-01') to ('2026-01-01')`;
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), schema, "insert into measures values (1, '2024-06-01', 1), (2, '2025-06-01', 2)");
    const row = (table: string, rows: number) => ({ table, status: 'identical', sourceRows: rows, targetRows: rows, key: ['id', 'at'], ranges: 1, differingRanges: [], missingColumns: [], notes: [] });
    expect((await verifyStream(await postgresStream(sourceUrl, targetUrl))).tables).toEqual([row('public.measures_2024', 1), row('public.measures_2025', 1)]);
    expect((await verifyStream(await postgresStream(sourceUrl, targetUrl, { publishViaPartitionRoot: true }))).tables).toEqual([row('public.measures', 2)]);
  });
});
