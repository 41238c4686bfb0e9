/**
 * DDL and TRUNCATE on tables the initial snapshot has not read yet, committed after the slot's
 * snapshot: a column type change (which rewrites the table), a TRUNCATE and an added column would
 * make those tables look empty or differently shaped to the snapshot. Each is left for a newer
 * snapshot (between watermarks for a File target, a table copy for a Postgres target), and the
 * result is the source, with every table still readable by DDL while the snapshot runs.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { differences, rebuildFromEvents, sourceRows } from '../support/rebuild.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

const SCHEMA = `
  create table a_big (id int primary key, pad text);
  insert into a_big select g, repeat('p', 200) from generate_series(1, 200000) g;
  create table b_retyped (id int primary key, v int);
  insert into b_retyped select g, g from generate_series(1, 500) g;
  create table c_truncated (id int primary key, v int);
  insert into c_truncated select g, g from generate_series(1, 500) g;
  create table d_added (id int primary key, v int);
  insert into d_added select g, g from generate_series(1, 500) g;
  analyze`;

/** While the big first table is being read: schema changes and a TRUNCATE on the three others, then changes after them. */
const CHANGES = [
  'alter table b_retyped alter column v type bigint',
  'update b_retyped set v = v * 10 where id <= 100',
  'truncate c_truncated',
  'insert into c_truncated select g, -g from generate_series(1, 50) g',
  'alter table d_added add column extra int default 5',
  'update d_added set extra = 6 where id <= 10',
];
const CHANGED = ['b_retyped', 'c_truncated', 'd_added'];

describe('snapshot guard: DDL and TRUNCATE after the snapshot', () => {
  const server = useTestServer();

  it('into a File target: the changed tables are read again between watermarks', async () => {
    const url = await createDatabase(server());
    await sql(url, SCHEMA);
    const { config, outFile } = await fileStream({ url, source: { snapshotMode: 'initial', snapshotChunkRows: 20_000, snapshotParallelism: 1, incrementalSnapshotChunkRows: 200 } });
    const log = capturedLogger();
    const running = runStream(config, { logger: log.logger, stopAt: 'now' });
    await waitFor(() => (readEvents(outFile).length > 0 ? true : undefined), 30_000, 'the snapshot to start');
    for (const statement of CHANGES) await sql(url, statement);
    await running;
    await runStream(config, { logger: capturedLogger().logger, stopAt: 'now' });
    expect(deferredTables(log.lines())).toEqual(CHANGED);
    const events = readEvents(outFile);
    for (const table of ['a_big', ...CHANGED]) expect(differences(rebuildFromEvents(events, table), await sourceRows(url, table)), table).toEqual([]);
  }, 120_000);

  it('into a Postgres target: the changed tables are copied at a new snapshot', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, SCHEMA);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial', snapshotChunkRows: 20_000, snapshotParallelism: 1 } });
    const log = capturedLogger();
    const running = runStream(config, { logger: log.logger, stopAt: 'now' });
    await waitFor(async () => ((await sql(target, 'select count(*)::int as n from pgcdc.loaded_chunks').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n > 0 ? true : undefined), 30_000, 'the load to start');
    // The load waits on the target's a_big until the changes are made, however fast it would go:
    // every other table is read after them.
    const holder = new pg.Client({ connectionString: target });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table a_big in share mode');
      for (const statement of CHANGES) await sql(source, statement);
      await holder.query('commit');
    } finally {
      await holder.end();
    }
    await running;
    expect(deferredTables(log.lines())).toEqual(CHANGED);
    for (const table of ['a_big', ...CHANGED]) expect(await tableText(target, table), table).toEqual(await tableText(source, table));
  }, 120_000);
});

/** The tables the initial snapshot left for a newer one, by name. */
function deferredTables(lines: readonly Record<string, unknown>[]): string[] {
  return lines
    .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('the table was changed by DDL or TRUNCATE'))
    .map((l) => String(l.table).replace('public.', ''))
    .sort();
}
