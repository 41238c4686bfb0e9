/**
 * `verifyStream` on a source and a target with the same data (identical), then with one kind of
 * difference at a time: each gives exactly the expected report.
 */
import { describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { renderVerifyReport, type TableReport } from '../../src/verify/verify-report.js';
import { verifyStream } from '../../src/verify/verify-stream.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { postgresStream, sourceAndTarget } from './verify-fixtures.js';

const SCHEMA = `
  create table orders (id int primary key, customer text, amount numeric(10,2), placed timestamptz, tags text[], data jsonb, raw bytea, ratio float8, note text);
  create table lines (order_id int, line int, qty int, primary key (order_id, line));
  create table events (kind text, payload text);`;

const DATA = `
  insert into orders (id, customer, amount, placed, tags, data, raw, ratio, note)
    select i, 'customer ' || (i % 4), i * 1.25, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour', array['a', 'b,' || i],
           jsonb_build_object('i', i, 's', 'x"y'), decode(lpad(to_hex(i), 2, '0'), 'hex'), i / 3.0::float8, case when i % 5 = 0 then null else 'note ' || i end
      from generate_series(1, 25) i;
  insert into lines (order_id, line, qty) select o, l, o * l from generate_series(1, 5) o, generate_series(1, 2) l;
  insert into events (kind, payload) values ('a', 'one'), ('b', 'two'), ('a', 'one'), ('c', null);`;

const KEYLESS_NOTE = 'no primary key: compared the row count and a hash of all rows; ranges are unavailable';

/** The report of a table whose rows all match. */
function identicalTable(table: string, rows: number, key: string[] | null, ranges: number | null): TableReport {
  return { table, status: 'identical', sourceRows: rows, targetRows: rows, key, ranges, differingRanges: [], missingColumns: [], notes: key === null ? [KEYLESS_NOTE] : [] };
}

const EVENTS = identicalTable('public.events', 4, null, null);
const LINES = identicalTable('public.lines', 10, ['order_id', 'line'], 1);
const ORDERS = identicalTable('public.orders', 25, ['id'], 3);

describe('pgcdc verify: identical data and each kind of difference', () => {
  const server = useTestServer();

  async function stream(): Promise<{ config: StreamConfig; targetUrl: string }> {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), SCHEMA, DATA);
    return { config: await postgresStream(sourceUrl, targetUrl), targetUrl };
  }

  it('identical data gives an identical report, with one or several connection pairs', async () => {
    const { config } = await stream();
    const expected = {
      stream: config.name,
      identical: true,
      tables: [EVENTS, LINES, ORDERS],
      summary: { tables: 3, identical: 3, different: 0, missing: 0 },
    };
    expect(await verifyStream(config, { rangeRows: 10 })).toEqual(expected);
    expect(await verifyStream(config, { rangeRows: 10, parallel: 4 })).toEqual(expected);
    expect(await verifyStream(config, { rangeRows: 10, parallel: 1 })).toEqual(expected);
    expect(renderVerifyReport(await verifyStream(config, { rangeRows: 10 }))).toBe(
      [
        'public.events: identical (4 rows, no primary key, ranges unavailable)',
        `  note: ${KEYLESS_NOTE}`,
        'public.lines: identical (10 rows, 1 range)',
        'public.orders: identical (25 rows, 3 ranges)',
        'identical: 3 tables: 3 identical, 0 different, 0 missing on the target',
        '',
      ].join('\n'),
    );
  });

  it('a changed value is reported in its range with its key', async () => {
    const { config, targetUrl } = await stream();
    await sql(targetUrl, "update orders set note = 'changed' where id = 12; update lines set qty = 0 where order_id = 2 and line = 1");
    const report = await verifyStream(config, { rangeRows: 10 });
    expect(report.identical).toBe(false);
    expect(report.summary).toEqual({ tables: 3, identical: 1, different: 2, missing: 0 });
    expect(report.tables).toEqual([
      EVENTS,
      {
        ...LINES,
        status: 'different',
        differingRanges: [
          { lower: null, upper: null, sourceRows: 10, targetRows: 10, missingOnTarget: [], extraOnTarget: [], changed: [{ order_id: '2', line: '1' }], keysComplete: true },
        ],
      },
      {
        ...ORDERS,
        status: 'different',
        differingRanges: [{ lower: { id: '9' }, upper: { id: '18' }, sourceRows: 9, targetRows: 9, missingOnTarget: [], extraOnTarget: [], changed: [{ id: '12' }], keysComplete: true }],
      },
    ]);
    expect(renderVerifyReport(report)).toBe(
      [
        'public.events: identical (4 rows, no primary key, ranges unavailable)',
        `  note: ${KEYLESS_NOTE}`,
        'public.lines: DIFFERENT (source 10 rows, target 10 rows; 1 of 1 range differs)',
        '  all rows: source 10 rows, target 10 rows',
        '    changed: order_id=2, line=1',
        'public.orders: DIFFERENT (source 25 rows, target 25 rows; 1 of 3 ranges differs)',
        '  range 9 < id ≤ 18: source 9 rows, target 9 rows',
        '    changed: id=12',
        'DIFFERENT: 3 tables: 1 identical, 2 different, 0 missing on the target',
        '',
      ].join('\n'),
    );
  });

  it('a row missing on the target is named in the first range', async () => {
    const { config, targetUrl } = await stream();
    await sql(targetUrl, 'delete from orders where id = 3');
    const report = await verifyStream(config, { rangeRows: 10 });
    expect(report.tables).toEqual([
      EVENTS,
      LINES,
      {
        ...ORDERS,
        status: 'different',
        targetRows: 24,
        differingRanges: [{ lower: null, upper: { id: '9' }, sourceRows: 9, targetRows: 8, missingOnTarget: [{ id: '3' }], extraOnTarget: [], changed: [], keysComplete: true }],
      },
    ]);
    expect(renderVerifyReport(report)).toContain('  range id ≤ 9: source 9 rows, target 8 rows\n    missing on the target: id=3\n');
  });

  it('an extra row on the target beyond the last source key is named in the last range', async () => {
    const { config, targetUrl } = await stream();
    await sql(targetUrl, "insert into orders (id, customer) values (100, 'late')");
    const report = await verifyStream(config, { rangeRows: 10 });
    expect(report.tables).toEqual([
      EVENTS,
      LINES,
      {
        ...ORDERS,
        status: 'different',
        targetRows: 26,
        differingRanges: [{ lower: { id: '18' }, upper: null, sourceRows: 7, targetRows: 8, missingOnTarget: [], extraOnTarget: [{ id: '100' }], changed: [], keysComplete: true }],
      },
    ]);
    expect(renderVerifyReport(report)).toContain('  range id > 18: source 7 rows, target 8 rows\n    extra on the target: id=100\n');
  });

  it('a table missing on the target is reported missing', async () => {
    const { config, targetUrl } = await stream();
    await sql(targetUrl, 'drop table lines');
    const report = await verifyStream(config, { rangeRows: 10 });
    expect(report.tables).toEqual([
      EVENTS,
      { table: 'public.lines', status: 'missing', sourceRows: 10, targetRows: null, key: ['order_id', 'line'], ranges: null, differingRanges: [], missingColumns: [], notes: [] },
      ORDERS,
    ]);
    expect(report.summary).toEqual({ tables: 3, identical: 2, different: 0, missing: 1 });
    expect(renderVerifyReport(report)).toContain('public.lines: MISSING on the target (source 10 rows)\n');
  });

  it('a target with the columns in another order and the same data is identical', async () => {
    const sourceUrl = await createDatabase(server(), 'src');
    const targetUrl = await createDatabase(server(), 'tgt');
    await sql(sourceUrl, SCHEMA + DATA);
    await sql(
      targetUrl,
      `create table orders (note text, ratio float8, raw bytea, id int primary key, data jsonb, tags text[], placed timestamptz, amount numeric(10,2), customer text);
       create table lines (qty int, line int, order_id int, primary key (order_id, line));
       create table events (payload text, kind text);${DATA}`,
    );
    const report = await verifyStream(await postgresStream(sourceUrl, targetUrl), { rangeRows: 10 });
    expect(report.tables).toEqual([EVENTS, LINES, ORDERS]);
    expect(report.identical).toBe(true);
  });

  it('a table without primary key with a changed row: counts equal, the two row versions listed, no ranges', async () => {
    const { config, targetUrl } = await stream();
    await sql(targetUrl, "update events set payload = 'changed' where kind = 'b'");
    const report = await verifyStream(config, { rangeRows: 10 });
    expect(report.tables).toEqual([
      {
        ...EVENTS,
        status: 'different',
        differingRanges: [
          {
            lower: null,
            upper: null,
            sourceRows: 4,
            targetRows: 4,
            missingOnTarget: [{ kind: 'b', payload: 'two' }],
            extraOnTarget: [{ kind: 'b', payload: 'changed' }],
            changed: [],
            keysComplete: true,
          },
        ],
      },
      LINES,
      ORDERS,
    ]);
    expect(renderVerifyReport(report)).toContain(
      [
        'public.events: DIFFERENT (source 4 rows, target 4 rows; no primary key, ranges unavailable)',
        `  note: ${KEYLESS_NOTE}`,
        '  all rows: source 4 rows, target 4 rows',
        '    missing on the target: kind=b, payload=two',
        '    extra on the target: kind=b, payload=changed',
        '',
      ].join('\n'),
    );
  });

  it('a duplicate row and a NULL in a keyless table are told apart from the other rows', async () => {
    const { config, targetUrl } = await stream();
    await sql(targetUrl, "delete from events where kind = 'c'; insert into events values ('a', 'one'), ('c', '')");
    const [events] = (await verifyStream(config, { rangeRows: 10 })).tables;
    expect(events!.differingRanges).toEqual([
      {
        lower: null,
        upper: null,
        sourceRows: 4,
        targetRows: 5,
        missingOnTarget: [{ kind: 'c', payload: null }],
        extraOnTarget: [{ kind: 'a', payload: 'one' }, { kind: 'c', payload: '' }],
        changed: [],
        keysComplete: true,
      },
    ]);
  });

  it('a column missing on the target makes the table differ; a column only on the target is a note', async () => {
    const { config, targetUrl } = await stream();
    await sql(targetUrl, 'alter table orders drop column note, drop column ratio; alter table lines add column audited boolean');
    const report = await verifyStream(config, { rangeRows: 10 });
    expect(report.tables).toEqual([
      EVENTS,
      { ...LINES, notes: ['columns only on the target, not compared: audited'] },
      { ...ORDERS, status: 'different', ranges: null, missingColumns: ['ratio', 'note'] },
    ]);
    expect(renderVerifyReport(report)).toContain(
      'public.orders: DIFFERENT (source 25 rows, target 25 rows; ranges unavailable)\n  columns missing on the target: ratio, note\n',
    );
  });
});
