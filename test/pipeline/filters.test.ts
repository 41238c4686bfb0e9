/**
 * `includes` and `excludes` (anchored regular expressions over `schema.table` and
 * `schema.table.column`) as seen in the File target, with the publication created for the
 * filtered tables (default) or for all tables (the stream drops what the filters reject), and the
 * slot advancing past changes that were all filtered out.
 */
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { currentWal, slotPosition, startCapture } from '../support/event-capture.js';

const TABLES = `
  create table users (id int primary key, name text, email text, password text);
  alter table users replica identity full;
  create table audit_log (id int primary key, what text);
  create table orders (id int primary key, total numeric);
  create schema sales;
  create table sales.orders (id int primary key, amount int);
  create table sales."Order Lines" ("Order" int, "Line No" int, qty int, primary key ("Order", "Line No"));
  create table sales.refunds (id int primary key)`;

const CHANGES = [
  "insert into users values (1, 'ann', 'ann@example.com', 'secret')",
  "insert into audit_log values (1, 'login')",
  'insert into orders values (1, 9.99)',
  'insert into sales.orders values (1, 5)',
  'insert into sales."Order Lines" values (1, 2, 3)',
  'insert into sales.refunds values (1)',
  "update users set email = 'ann@example.org' where id = 1",
  "update users set password = 'changed' where id = 1",
  'delete from users where id = 1',
];

async function applyChanges(url: string): Promise<void> {
  for (const change of CHANGES) await sql(url, change);
}

/** `op schema.table` per event. */
function tables(events: any[]): string[] {
  return events.map((e) => `${e.op} ${e.source.schema}.${e.source.table}`);
}

const PUBLICATION_MODES = ['filtered', 'all_tables'] as const;

describe.each(PUBLICATION_MODES)('filters with publicationAutocreateMode %s', (publicationAutocreateMode) => {
  const server = useTestServer();

  it('drops the changes of an excluded table', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLES);
    const capture = await startCapture({ url, source: { publicationAutocreateMode, excludes: ['public\\.audit_log', 'sales\\..*'] } });
    await applyChanges(url);
    const events = await capture.events();
    expect(tables(events)).toEqual(['c public.users', 'c public.orders', 'u public.users', 'u public.users', 'd public.users']);
    expect(events[0].after).toEqual({ id: 1, name: 'ann', email: 'ann@example.com', password: 'secret' });
  });

  it('leaves excluded columns out of before and after', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLES);
    const capture = await startCapture({ url, source: { publicationAutocreateMode, excludes: ['public\\.users\\.(password|email)', 'sales\\..*', 'public\\.audit_log'] } });
    await applyChanges(url);
    const events = await capture.events();
    expect(tables(events)).toEqual(['c public.users', 'c public.orders', 'u public.users', 'u public.users', 'd public.users']);
    expect(events[0].after).toEqual({ id: 1, name: 'ann' });
    expect(events[1].after).toEqual({ id: 1, total: 9.99 });
    // REPLICA IDENTITY FULL: the old row, without the excluded columns.
    expect(events[2].before).toEqual({ id: 1, name: 'ann' });
    expect(events[2].after).toEqual({ id: 1, name: 'ann' });
    expect(events[3].before).toEqual({ id: 1, name: 'ann' });
    expect(events[4].before).toEqual({ id: 1, name: 'ann' });
    expect(events[4].after).toBeNull();
  });

  it('keeps only the columns named by includes of single columns', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLES);
    const capture = await startCapture({ url, target: { format: 'record' }, source: { publicationAutocreateMode, includes: ['public\\.users\\.(id|name)', 'public\\.orders'] } });
    await applyChanges(url);
    const records = (await capture.lines()).map((line) => JSON.parse(line));
    expect(records.map((r) => (r.value === null ? 'tombstone' : `${r.value.op} ${r.value.source.table}`))).toEqual([
      'c users',
      'c orders',
      'u users',
      'u users',
      'd users',
      'tombstone',
    ]);
    expect(records[0]).toMatchObject({ key: { id: 1 }, value: { after: { id: 1, name: 'ann' } } });
    expect(Object.keys(records[0].value.after)).toEqual(['id', 'name']);
    expect(records[1].value.after).toEqual({ id: 1, total: 9.99 });
    expect(records[2].value.before).toEqual({ id: 1, name: 'ann' });
    expect(records[4].value.before).toEqual({ id: 1, name: 'ann' });
  });

  it('captures tables of another schema, quoted names included', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLES);
    const capture = await startCapture({ url, target: { format: 'record' }, source: { publicationAutocreateMode, includes: ['sales\\.(orders|Order Lines)'] } });
    await applyChanges(url);
    const lines = await capture.lines();
    const records = lines.map((line) => JSON.parse(line));
    expect(records.map((r) => `${r.value.op} ${r.value.source.schema}.${r.value.source.table}`)).toEqual(['c sales.orders', 'c sales.Order Lines']);
    expect(records[0].value.after).toEqual({ id: 1, amount: 5 });
    expect(lines[1]).toMatch(/^\{"key":\{"Order":1,"Line No":2\},"value":\{"before":null,"after":\{"Order":1,"Line No":2,"qty":3\},/);
  });

  it('combines includes and excludes', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLES);
    const capture = await startCapture({
      url,
      source: { publicationAutocreateMode, includes: ['public\\..*', 'sales\\.orders'], excludes: ['public\\.audit_.*', 'public\\.users\\.email', 'public\\.orders\\.total'] },
    });
    await applyChanges(url);
    const events = await capture.events();
    expect(tables(events)).toEqual(['c public.users', 'c public.orders', 'c sales.orders', 'u public.users', 'u public.users', 'd public.users']);
    expect(events[0].after).toEqual({ id: 1, name: 'ann', password: 'secret' });
    expect(events[1].after).toEqual({ id: 1 });
    expect(events[2].after).toEqual({ id: 1, amount: 5 });
    expect(events[4].before).toEqual({ id: 1, name: 'ann', password: 'secret' });
    expect(events[4].after).toEqual({ id: 1, name: 'ann', password: 'changed' });
  });

  it('advances the slot past changes that were all filtered out', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLES);
    const capture = await startCapture({ url, source: { publicationAutocreateMode, includes: ['public\\.orders'], messagePrefixExcludeList: ['p'] } });
    for (let i = 0; i < 20; i++) await sql(url, `insert into audit_log select g, 'x' from generate_series(${i * 100 + 1}, ${i * 100 + 100}) g`);
    await sql(url, 'insert into sales.orders select g, g from generate_series(2, 500) g');
    await sql(url, `select pg_logical_emit_message(true, 'p', 'transactional, on no table')`);
    const afterChanges = await currentWal(url);
    const before = await slotPosition(url, capture.config.source.slotName);
    expect(before.confirmedFlush).toBeLessThan(afterChanges);
    expect(await capture.lines()).toEqual([]);
    const after = await slotPosition(url, capture.config.source.slotName);
    expect(after.confirmedFlush).toBeGreaterThanOrEqual(afterChanges);
  });
});
