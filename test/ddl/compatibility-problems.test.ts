/**
 * compatibilityProblems between a source and an existing target: one exact line for each
 * difference that would break applying changes, none for harmless ones.
 */
import { describe, expect, it } from 'vitest';
import { compatibilityProblems } from '../../src/ddl/compatibility-problems.js';
import { targetDescriptions } from '../../src/ddl/describe-tables.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';
import { describeUserTables, queryOf } from '../support/ddl-catalog.js';

const server = useTestServer();

describe('compatibilityProblems', () => {
  it('names each incompatible table, column and key', async () => {
    const source = await createDatabase(server(), 'src');
    const target = await createDatabase(server(), 'tgt');
    await sql(
      source,
      `create table public.orders (id int primary key, total numeric(12,2), note text, code text not null,
         gen int generated always as (id * 2) stored, shipped date);
       create table public.items (id int not null, sku text not null);
       create unique index items_sku on public.items (sku);
       alter table public.items replica identity using index items_sku;
       create table public.logs (line text);
       create table public.gone (id int);
       create table public.fine (id int primary key, v varchar(10));
       create table public.partial (id int primary key);`,
    );
    await sql(
      target,
      `create table public.orders (id int, total integer, note text not null, extra int not null,
         code text generated always as ('x') stored, gen int, other int not null default 0,
         ident int generated always as identity);
       create table public.items (id int not null primary key, sku text not null);
       create table public.logs (line text, n int not null default 1, extra text);
       create table public.fine (id int not null, v varchar(10), more text);
       create unique index on public.fine (id);
       create table public.partial (id int not null);
       create unique index on public.partial (id) where id > 0;`,
    );
    const sourceTables = await describeUserTables(source);
    const targetTables = await withClient(target, (client) =>
      targetDescriptions(
        queryOf(client),
        sourceTables.map((t) => ({ schema: t.schema, table: t.name })),
      ),
    );
    expect(targetTables.map((t) => t.name)).toEqual(['fine', 'items', 'logs', 'orders', 'partial']);
    expect(compatibilityProblems(sourceTables, targetTables)).toEqual([
      'target table public.gone does not exist',
      'target table public.items: no primary key or unique index on (sku), the source has replica identity index items_sku',
      'target table public.orders: column total has type integer, the source has numeric(12,2)',
      'target table public.orders: column note is NOT NULL, the source allows null',
      'target table public.orders: column code is generated on the target, the source writes it',
      'target table public.orders: column shipped does not exist, the source has date',
      'target table public.orders: column extra is NOT NULL without a default and does not exist on the source',
      'target table public.orders: no primary key or unique index on (id), the source has primary key orders_pkey',
      'target table public.partial: no primary key or unique index on (id), the source has primary key partial_pkey',
    ]);
  });

  it('finds nothing between a source and itself', async () => {
    const source = await createDatabase(server(), 'src');
    await sql(source, `create table t (id bigint generated always as identity primary key, v text not null default '', w int[])`);
    const tables = await describeUserTables(source);
    expect(compatibilityProblems(tables, tables)).toEqual([]);
  });
});
