/**
 * What `rowFilters` refuses, each with one line saying what is wrong and how to fix it, before any
 * publication is created or changed: PostgreSQL 14 (no row filters), a filter reading columns
 * outside the replica identity (the application's UPDATEs and DELETEs would fail: they still work
 * afterwards), an expression the server rejects, a user publication whose filter differs, a table
 * the stream does not capture, a partitioned table, and a publication FOR ALL TABLES.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../src/embedded/embedded-postgres-server.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream } from '../support/stream-fixtures.js';

const TABLE = `
  create table orders (id int primary key, region text not null, created timestamptz not null default now());
  create table other (id int primary key)`;

/** Runs the stream once and returns the error it stops with. */
async function failure(url: string, source: Record<string, unknown>): Promise<PgcdcError> {
  const { config } = await fileStream({ url, source });
  const error = await runStream(config, { logger: silentLogger(), stopAt: 'now' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  return error as PgcdcError;
}

async function publications(url: string): Promise<string[]> {
  return (await sql(url, 'select pubname from pg_publication order by pubname')).rows.map((r) => r.pubname as string);
}

describe('rowFilters errors', () => {
  const server = useTestServer();

  it('refuses a filter reading a column outside the replica identity, and leaves the application working', async () => {
    const url = await createDatabase(server());
    await sql(url, `${TABLE}; insert into orders values (1, 'eu')`);
    const error = await failure(url, { rowFilters: { 'public.orders': "region = 'eu'" } });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.toLine()).toBe(
      "rowFilters: the filter of public.orders reads region, which is not in the table's replica identity (the primary key id): with it in the publication, every UPDATE and DELETE on public.orders would fail (fix: run ALTER TABLE \"public\".\"orders\" REPLICA IDENTITY FULL, or filter on the key columns only)",
    );
    expect(await publications(url)).toEqual([]);
    await sql(url, "update orders set region = 'us' where id = 1");
    await sql(url, 'delete from orders where id = 1');
    // With the fix the same filter is accepted.
    await sql(url, 'alter table orders replica identity full');
    const { config } = await fileStream({ url, source: { rowFilters: { 'public.orders': "region = 'eu'" } } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into orders values (2, 'eu'); update orders set region = 'us' where id = 2");
  });

  it('are checked by pgcdc validate, which changes nothing', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLE);
    const { specFile } = await fileStream({ url, source: { rowFilters: { 'public.orders': "region = 'eu'" } } });
    const refused = await runCli(['validate', '-c', specFile]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toContain("FAIL row filters: rowFilters: the filter of public.orders reads region, which is not in the table's replica identity");
    await sql(url, 'alter table orders replica identity full');
    const accepted = await runCli(['validate', '-c', specFile]);
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(accepted.stdout).toContain('ok   row filters: 1 filter accepted by the server, within the replica identity');
    expect(await publications(url)).toEqual([]);
  });

  it('names the table and gives the server\'s reason for an expression it rejects', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLE);
    const missing = await failure(url, { rowFilters: { 'public.orders': 'nope = 1' } });
    expect(missing.code).toBe('CONFIG_INVALID');
    expect(missing.message).toBe('rowFilters: the server rejects the filter of public.orders: column "nope" does not exist');
    const syntax = await failure(url, { rowFilters: { 'public.orders': 'id = = 1' } });
    expect(syntax.message).toMatch(/^rowFilters: the server rejects the filter of public\.orders: syntax error at or near "="/);
    const mutable = await failure(url, { rowFilters: { 'public.orders': "created > now() - interval '1 day'" } });
    expect(mutable.message).toMatch(/^rowFilters: the server rejects the filter of public\.orders: invalid publication WHERE expression \(.*mutable functions are not allowed\.\)$/);
    // One statement only: a filter cannot end the statement and run another.
    const injected = await failure(url, { rowFilters: { 'public.orders': 'true); drop table other; select (1' } });
    expect(injected.code).toBe('CONFIG_INVALID');
    expect((await sql(url, "select to_regclass('public.other') is not null as kept")).rows[0].kept).toBe(true);
    expect(await publications(url)).toEqual([]);
  });

  it('refuses a user publication whose filter differs from the spec, naming the ALTER PUBLICATION to run', async () => {
    const url = await createDatabase(server());
    await sql(url, `${TABLE}; alter table orders replica identity full; create publication mine for table orders where (region = 'us'), other`);
    const source = { publicationName: 'mine', publicationAutocreateMode: 'disabled', includes: ['public\\.orders', 'public\\.other'] };
    const error = await failure(url, { ...source, rowFilters: { 'public.orders': "region = 'eu'" } });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.toLine()).toBe(
      'publication "mine" (publicationAutocreateMode disabled: managed by you) filters public.orders with (region = \'us\'::text), but rowFilters gives region = \'eu\' (fix: run ALTER PUBLICATION "mine" DROP TABLE "public"."orders"; ALTER PUBLICATION "mine" ADD TABLE "public"."orders" WHERE (region = \'eu\') (in one transaction), or change rowFilters to match the publication (its filter as pg_publication_tables.rowfilter shows it matches))',
    );
    // No filter in the spec while the publication filters: refused too (a snapshot would copy every row).
    const unfiltered = await failure(url, source);
    expect(unfiltered.message).toMatch(/^publication "mine" .* filters public\.orders with \(region = 'us'::text\), but rowFilters gives it no filter$/);
    // The publication is left as it was; once it matches (written differently), the stream runs.
    expect((await sql(url, "select rowfilter from pg_publication_tables where pubname = 'mine' and tablename = 'orders'")).rows).toEqual([{ rowfilter: "(region = 'us'::text)" }]);
    const { config } = await fileStream({ url, source: { ...source, rowFilters: { 'public.orders': "region='us'" } } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
  });

  it('compares a user publication as written when the role may not create publications', async () => {
    const url = await createDatabase(server());
    await sql(url, `${TABLE}; alter table orders replica identity full; create publication mine for table orders where (region = 'us'), other`);
    const role = `limited_${process.pid}`;
    await sql(url, `create role ${role} login replication password 'limited'; grant select on orders, other to ${role}; create schema if not exists pgcdc; grant all on schema pgcdc to ${role}`);
    const limited = url.replace(/\/\/postgres:[^@]*@/, `//${role}:limited@`);
    const source = { publicationName: 'mine', publicationAutocreateMode: 'disabled', includes: ['public\\.orders', 'public\\.other'] };
    const differs = await failure(limited, { ...source, rowFilters: { 'public.orders': "region = 'us'" } });
    expect(differs.message).toMatch(/^publication "mine" .* filters public\.orders with \(region = 'us'::text\), but rowFilters gives region = 'us'$/);
    const { config } = await fileStream({ url: limited, source: { ...source, rowFilters: { 'public.orders': "region = 'us'::text" } } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
  });

  it('refuses a filter of a table the stream does not capture, and one with a publication for all tables', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLE);
    const excluded = await failure(url, { excludes: ['public\\.other'], rowFilters: { 'public.other': 'id > 1' } });
    expect(excluded.toLine()).toBe('rowFilters names public.other, which the stream does not capture (left out by includes/excludes, or not a table) (fix: remove its filter, or capture the table)');
    await sql(url, 'create table events (id int, at date, primary key (id, at)) partition by range (at); create table events_2026 partition of events for values from (\'2026-01-01\') to (\'2027-01-01\')');
    const partitioned = await failure(url, { rowFilters: { 'public.events': 'id > 1' } });
    expect(partitioned.message).toBe('rowFilters names public.events, a partitioned table: row filters on partitioned tables are not supported');
    await expect(fileStream({ url, source: { publicationAutocreateMode: 'all_tables', rowFilters: { 'public.orders': 'id > 1' } } })).rejects.toThrow(
      /rowFilters needs a publication that lists its tables, but publicationAutocreateMode is all_tables/,
    );
    await expect(fileStream({ url, source: { rowFilters: { orders: 'id > 1' } } })).rejects.toThrow(/spec\.source\.postgres\.rowFilters\.orders names "orders", which is not schema\.table/);
    expect(await publications(url)).toEqual([]);
    // A publication FOR ALL TABLES under the stream's name (filtered mode) cannot carry filters either.
    await sql(url, 'create publication everything for all tables');
    const all = await failure(url, { publicationName: 'everything', rowFilters: { 'public.orders': 'id > 1' } });
    expect(all.message).toBe('publication "everything" is FOR ALL TABLES, which cannot carry the row filters rowFilters gives');
  });
});

describe('rowFilters on PostgreSQL 14', () => {
  let server: EmbeddedPostgresServer | undefined;
  beforeAll(async () => {
    server = await startEmbeddedPostgres({ major: 14 });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('says they need PostgreSQL 15 or later, before creating anything', async () => {
    const url = await createDatabase(server!);
    await sql(url, `${TABLE}; alter table orders replica identity full`);
    const error = await failure(url, { rowFilters: { 'public.orders': "region = 'eu'" } });
    expect(error.code).toBe('SERVER_UNSUPPORTED');
    expect(error.toLine()).toBe('rowFilters need PostgreSQL 15 or later (publication row filters); the source runs PostgreSQL 14 (fix: upgrade the source to PostgreSQL 15+, or remove rowFilters)');
    expect(await publications(url)).toEqual([]);
    // Without rowFilters the same stream runs.
    const { config } = await fileStream({ url });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
  });
});

