/**
 * Schema changes made on the source while streaming reach the Postgres target in order with the
 * data (captured by the event triggers `pgcdc init`/`run` install): tables, columns, types,
 * indexes, schemas and enums; rows after a change use the new shape. Other targets receive the
 * same DDL as message events; `pgcdc teardown` removes the triggers.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

/** Columns (name and type), indexes and constraints of every user table, to compare both sides. */
async function schemaShape(url: string): Promise<string[]> {
  const { rows } = await sql(
    url,
    `select n.nspname || '.' || c.relname || ': ' ||
            (select string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || case when a.attnotnull then ' not null' else '' end, ', ' order by a.attnum)
               from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) || ' | ' ||
            coalesce((select string_agg(pg_get_indexdef(i.indexrelid), '; ' order by pg_get_indexdef(i.indexrelid) collate "C") from pg_index i where i.indrelid = c.oid), '') || ' | ' ||
            coalesce((select string_agg(pg_get_constraintdef(k.oid), '; ' order by pg_get_constraintdef(k.oid) collate "C") from pg_constraint k where k.conrelid = c.oid and k.contype <> 'n'), '') as shape
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema', 'pgcdc')
      order by 1`,
  );
  return rows.map((row) => row.shape as string);
}

async function enumLabels(url: string): Promise<string[]> {
  const { rows } = await sql(url, "select t.typname || ':' || string_agg(e.enumlabel, ',' order by e.enumsortorder) as labels from pg_enum e join pg_type t on t.oid = e.enumtypid group by t.typname order by 1");
  return rows.map((row) => row.labels as string);
}

describe('Postgres target: DDL replication', () => {
  const server = useTestServer();

  it('replays tables, columns, types, indexes, schemas and enums in order with the rows around them', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, "create type status as enum ('new', 'done'); create table orders (id int primary key, qty int, status status, note text)");
    await sql(source, "insert into orders select g, g, 'new', 'n' from generate_series(1, 100) g");
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial', publicationAutocreateMode: 'all_tables' } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    const steps = [
      "alter table orders add column price numeric(10,2) not null default 0",
      "insert into orders values (101, 1, 'new', 'priced', 9.99)",
      "alter table orders rename column note to comment",
      "update orders set comment = 'renamed column' where id <= 10",
      "alter table orders alter column qty type bigint",
      "insert into orders values (102, 9000000000, 'done', 'big qty', 1)",
      "alter type status add value 'cancelled' after 'new'",
      "update orders set status = 'cancelled' where id % 7 = 0",
      "create index orders_status on orders (status) where status <> 'done'",
      "alter table orders add constraint qty_positive check (qty > 0)",
      "create schema shop",
      "create table shop.customers (id bigint generated always as identity primary key, name text not null, email text unique)",
      "insert into shop.customers (name, email) values ('ann', 'ann@x'), ('bob', null)",
      "alter table orders add column customer_id bigint references shop.customers",
      "update orders set customer_id = 1 where id = 101",
      "alter table orders drop column price",
      "insert into orders (id, qty, status, comment) values (103, 3, 'done', 'after drop')",
      "alter table shop.customers rename to clients",
      "insert into shop.clients (name) values ('cy')",
      "drop index orders_status",
      "create table scratch (a int primary key)",
      "insert into scratch values (1)",
      "drop table scratch",
      "truncate shop.clients cascade",
      "insert into shop.clients (name) values ('dee')",
    ];
    // Half of the steps while one run streams, the rest for the next run: DDL also crosses restarts.
    for (const step of steps.slice(0, 12)) await sql(source, step);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    for (const step of steps.slice(12)) await sql(source, step);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    expect(await schemaShape(target)).toEqual(await schemaShape(source));
    expect(await enumLabels(target)).toEqual(await enumLabels(source));
    for (const table of ['orders', 'shop.clients']) expect(await tableText(target, table), table).toEqual(await tableText(source, table));
    expect((await sql(target, "select to_regclass('public.scratch') as t")).rows[0].t).toBeNull();
  });

  it('a table created under a filtered publication is added to it, snapshotted and then streamed', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table a (id int primary key)');
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial', tableDiscoveryIntervalMs: 200, statusIntervalMs: 100, incrementalSnapshotChunkRows: 200 } });
    const controller = new AbortController();
    const running = runStream(config, { logger: silentLogger(), signal: controller.signal });
    await waitFor(async () => ((await sql(source, "select count(*)::int as n from pg_replication_slots where active")).rows[0].n === 1 ? true : undefined));
    await sql(source, 'create table b (id int primary key, v text); insert into b select g, md5(g::text) from generate_series(1, 500) g');
    await waitFor(async () => ((await sql(target, 'select count(*)::int as n from b').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n === 500 ? true : undefined), 30_000, 'table b on the target');
    await sql(source, "update b set v = 'streamed' where id <= 5; insert into b values (501, 'new')");
    await waitFor(async () => ((await sql(target, "select count(*)::int as n from b where v = 'streamed' or id = 501")).rows[0].n === 6 ? true : undefined), 30_000, 'changes of b');
    controller.abort();
    await running;
    expect(await tableText(target, 'b')).toEqual(await tableText(source, 'b'));
  });

  it('other targets receive DDL as message events when the message include list names them; teardown removes the event triggers', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    // pgcdc.ddl messages are internal unless named (docs/schema-changes.md).
    const { config, specFile, outFile } = await fileStream({ url, source: { messagePrefixIncludeList: ['pgcdc\\.ddl'] } });
    const init = await runCli(['init', '-c', specFile]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('DDL capture: installed');
    await sql(url, 'alter table items add column name text');
    await sql(url, "insert into items values (1, 'one')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const events = readEvents(outFile);
    expect(events.map((e) => e.op)).toEqual(['m', 'c']);
    expect(events[0].message.prefix).toBe('pgcdc.ddl');
    const ddl = JSON.parse(Buffer.from(events[0].message.content, 'base64').toString('utf8'));
    expect(ddl).toMatchObject({ event: 'ddl_command_end', commandTag: 'ALTER TABLE', query: 'alter table items add column name text' });
    expect(ddl.tables[0].columns.map((c: { name: string }) => c.name)).toEqual(['id', 'name']);
    expect(events[1].after).toEqual({ id: 1, name: 'one' });
    expect((await runCli(['teardown', '-c', specFile])).code).toBe(0);
    expect((await sql(url, "select count(*)::int as n from pg_event_trigger where evtname like 'pgcdc%'")).rows[0].n).toBe(0);
  });
});
