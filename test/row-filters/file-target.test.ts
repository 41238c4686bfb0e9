/**
 * `rowFilters` into a File target: the initial snapshot, the stream (inserts in and out of the
 * filter, updates moving rows in, out and within it, deletes) and an incremental snapshot hold
 * exactly what the filter says of the source's own rows. The oracle is the source: before and after
 * each statement, `to_jsonb` of the row and the filter evaluated on it by the server; an update is
 * expected as `c` when the row moves in, `d` (with the old row) when it moves out, `u` within.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCapture } from '../support/event-capture.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';
import { capturedLogger } from '../support/captured-logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';

const FILTER = "region = 'eu' AND NOT archived";

const SCHEMA = `
  create table orders (id int primary key, region text not null, archived boolean not null default false, amount int);
  alter table orders replica identity full;
  create table notes (body text, region text);
  alter table notes replica identity full;
  create table plain (id int primary key, v text)`;

/** One statement changing one row of `table`, found by `where`. */
interface Step {
  readonly sql: string;
  readonly table: 'orders' | 'notes';
  readonly where: string;
}

const FILTERS = { 'public.orders': FILTER, 'public.notes': "region = 'eu'" } as const;

const STEPS: readonly Step[] = [
  { sql: "insert into orders values (101, 'eu', false, 1)", table: 'orders', where: 'id = 101' },
  { sql: "insert into orders values (102, 'us', false, 2)", table: 'orders', where: 'id = 102' },
  { sql: "insert into orders values (103, 'eu', true, 3)", table: 'orders', where: 'id = 103' },
  { sql: "update orders set region = 'eu' where id = 102", table: 'orders', where: 'id = 102' },
  { sql: 'update orders set amount = 11 where id = 101', table: 'orders', where: 'id = 101' },
  { sql: 'update orders set archived = true where id = 101', table: 'orders', where: 'id = 101' },
  { sql: 'update orders set amount = 33 where id = 103', table: 'orders', where: 'id = 103' },
  { sql: 'update orders set archived = false where id = 103', table: 'orders', where: 'id = 103' },
  { sql: "update orders set region = 'us', amount = 4 where id = 103", table: 'orders', where: 'id = 103' },
  { sql: 'delete from orders where id = 102', table: 'orders', where: 'id = 102' },
  { sql: 'delete from orders where id = 103', table: 'orders', where: 'id = 103' },
  { sql: "insert into notes values ('hello', 'eu')", table: 'notes', where: "body = 'hello'" },
  { sql: "insert into notes values ('bonjour', 'fr')", table: 'notes', where: "body = 'bonjour'" },
  { sql: "update notes set region = 'fr' where body = 'hello'", table: 'notes', where: "body = 'hello'" },
  { sql: "update notes set region = 'eu' where body = 'bonjour'", table: 'notes', where: "body = 'bonjour'" },
  { sql: "delete from notes where body = 'bonjour'", table: 'notes', where: "body = 'bonjour'" },
];

/** The row `where` finds in `table`, as to_jsonb, and whether the table's filter keeps it (the server decides). */
async function observe(url: string, step: Step): Promise<{ row: unknown; kept: boolean } | undefined> {
  const { rows } = await sql(url, `select to_jsonb(t) as row, (${FILTERS[`public.${step.table}`]}) as kept from ${step.table} t where ${step.where}`);
  return rows[0] as { row: unknown; kept: boolean } | undefined;
}

/** What the stream must deliver for a change of one row from `before` to `after`. */
function expectedEvent(table: string, before: { row: unknown; kept: boolean } | undefined, after: { row: unknown; kept: boolean } | undefined): object | undefined {
  const wasIn = before?.kept === true;
  const isIn = after?.kept === true;
  if (!wasIn && isIn) return { op: 'c', table, before: null, after: after!.row };
  if (wasIn && !isIn) return { op: 'd', table, before: before!.row, after: null };
  if (wasIn && isIn) return { op: 'u', table, before: before!.row, after: after!.row };
  return undefined;
}

function summary(events: any[]): object[] {
  return events.map((e) => ({ op: e.op, table: e.source.table, before: e.before, after: e.after }));
}

describe('rowFilters into a File target', () => {
  const server = useTestServer();

  it('snapshots and streams exactly the rows the filter keeps, updates moving rows in and out as c and d', async () => {
    const url = await createDatabase(server());
    await sql(url, SCHEMA);
    await sql(url, `insert into orders select i, case when i % 3 = 0 then 'us' else 'eu' end, i % 4 = 0, i from generate_series(1, 60) i`);
    await sql(url, "insert into notes values ('a', 'eu'), ('b', 'us'), ('c', 'eu')");
    await sql(url, "insert into plain values (1, 'x')");
    const capture = await startCapture({ url, source: { snapshotMode: 'initial', rowFilters: FILTERS } });

    // The initial snapshot: the rows the filter keeps, every row of an unfiltered table.
    const snapshot = await capture.events();
    const expectedOrders = (await sql(url, `select to_jsonb(t) as row from orders t where ${FILTER} order by id`)).rows.map((r) => r.row);
    expect(expectedOrders.length).toBeGreaterThan(0);
    expect(expectedOrders.length).toBeLessThan(60);
    expect(snapshot.filter((e) => e.source.table === 'orders').map((e) => [e.op, e.after])).toEqual(expectedOrders.map((row) => ['r', row]));
    const expectedNotes = (await sql(url, "select to_jsonb(t) as row from notes t where region = 'eu' order by body")).rows.map((r) => r.row);
    expect(sortedBy(snapshot.filter((e) => e.source.table === 'notes').map((e) => e.after), 'body')).toEqual(expectedNotes);
    expect(snapshot.filter((e) => e.source.table === 'plain').map((e) => e.after)).toEqual([{ id: 1, v: 'x' }]);

    // The publication carries the filters, as the server stores them.
    const published = await sql(url, `select tablename, rowfilter from pg_publication_tables where pubname = $1 order by tablename`, [capture.config.source.publicationName]);
    expect(published.rows.filter((r) => r.tablename !== 'signals')).toEqual([
      { tablename: 'notes', rowfilter: "(region = 'eu'::text)" },
      { tablename: 'orders', rowfilter: "((region = 'eu'::text) AND (NOT archived))" },
      { tablename: 'plain', rowfilter: null },
    ]);

    // Streaming: each statement's expected event from the source's rows before and after it.
    const expected: object[] = [];
    for (const step of STEPS) {
      const before = await observe(url, step);
      await sql(url, step.sql);
      const event = expectedEvent(step.table, before, await observe(url, step));
      if (event) expected.push(event);
    }
    expect(expected.map((e: any) => e.op)).toEqual(['c', 'c', 'u', 'd', 'c', 'd', 'd', 'c', 'd', 'c', 'd']);
    expect(summary(await capture.events())).toEqual(expected);
  });

  it('reads an incremental snapshot through the filter, AND-ed with additional-conditions', async () => {
    const url = await createDatabase(server());
    await sql(url, SCHEMA);
    await sql(url, `insert into orders select i, case when i % 2 = 0 then 'us' else 'eu' end, i % 5 = 0, i from generate_series(1, 300) i`);
    const { config, outFile } = await fileStream({ url, source: { rowFilters: FILTERS, incrementalSnapshotChunkRows: 50, statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 } });
    const log = capturedLogger();
    const controller = new AbortController();
    const done = runStream(config, { logger: log.logger, signal: controller.signal });
    try {
      await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined));
      const data = { 'data-collections': ['public.orders'], 'additional-conditions': [{ 'data-collection': 'public.orders', filter: 'amount > 100' }] };
      await sql(url, `insert into pgcdc.signals (id, type, data) values ('snap-1', 'execute-snapshot', $1)`, [JSON.stringify(data)]);
      await waitFor(() => (log.lines().some((line) => line.msg === 'incremental snapshot complete') ? true : undefined));
    } finally {
      controller.abort();
      await done;
    }
    const reads = readEvents(outFile).filter((e) => e.op === 'r');
    const expectedOrders = (await sql(url, `select to_jsonb(t) as row from orders t where (${FILTER}) and amount > 100 order by id`)).rows.map((r) => r.row);
    expect(expectedOrders.length).toBeGreaterThan(0);
    expect(sortedBy(reads.map((e) => e.after), 'id')).toEqual(expectedOrders);
  });

  it('alters the publication when the filter changes; the new filter applies to changes after it', async () => {
    const url = await createDatabase(server());
    await sql(url, SCHEMA);
    const capture = await startCapture({ url, name: 'refilter', source: { rowFilters: { 'public.orders': "region = 'eu'" } } });
    await sql(url, "insert into orders values (1, 'eu', false, 1), (2, 'us', false, 2)");
    expect(summary(await capture.events()).map((e: any) => e.after.id)).toEqual([1]);
    // Changes committed before the new filter keep the old one; those after follow the new one.
    await sql(url, "insert into orders values (3, 'us', false, 3)");
    const refiltered = await startCapture({ url, name: 'refilter', dir: path.dirname(capture.outFile), source: { rowFilters: { 'public.orders': "region = 'us'" } } });
    const published = await sql(url, `select rowfilter from pg_publication_tables where pubname = $1 and tablename = 'orders'`, [refiltered.config.source.publicationName]);
    expect(published.rows).toEqual([{ rowfilter: "(region = 'us'::text)" }]);
    await sql(url, "insert into orders values (4, 'eu', false, 4), (5, 'us', false, 5)");
    await refiltered.run();
    const all = readEvents(refiltered.outFile);
    expect(all.map((e) => `${e.op}${e.after.id}`)).toEqual(['c1', 'c5']);
  });
});

function sortedBy(rows: any[], key: string): any[] {
  return [...rows].sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0));
}
