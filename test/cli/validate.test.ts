/**
 * `pgcdc validate`: every prerequisite as a line with its verdict, warnings with their fix, and a
 * zero exit when nothing fails.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream } from '../support/stream-fixtures.js';

describe('pgcdc validate', () => {
  const server = useTestServer();

  it('reports each check and exits 0 when none fails', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key, ref text not null unique); alter table orders replica identity using index orders_ref_key');
    const { specFile, config } = await fileStream({ url });
    const result = await runCli(['validate', '-c', specFile]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe(`ok   spec: pgcdc/v1 stream "${config.name}" to File`);
    expect(lines).toContain(`ok   server version: PostgreSQL ${server().major}`);
    expect(lines).toContain('ok   wal_level: logical');
    expect(lines).toContain('ok   replication privilege: postgres may start replication');
    expect(lines).toContain(`ok   publication: publication "${config.source.publicationName}" will be created (filtered)`);
    expect(lines).toContain('ok   captured tables: 1 table matches the filters');
    expect(result.stdout).toContain(
      'warn replica identity: table public.orders is keyed by its primary key but its replica identity is another index',
    );
    expect(result.stdout).toContain('fix: run ALTER TABLE "public"."orders" REPLICA IDENTITY DEFAULT (or FULL)');
    // validate changes nothing.
    const { rows } = await sql(url, 'select (select count(*) from pg_replication_slots)::int as slots, (select count(*) from pg_publication)::int as pubs');
    expect(rows[0]).toEqual({ slots: 0, pubs: 0 });
    await sql(url, 'create table order_items (id int primary key)');
    expect((await runCli(['validate', '-c', specFile])).stdout).toContain('ok   captured tables: 2 tables match the filters\n');
  });
});
