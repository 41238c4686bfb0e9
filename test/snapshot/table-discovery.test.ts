/**
 * A table created while the stream runs, and selected by the filters, joins it: it is added to the
 * publication and its existing rows are snapshotted between watermarks; its later changes stream.
 * So does a table created while the stream was stopped, found when it starts again.
 */
import { describe, expect, it } from 'vitest';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';

describe('new tables', () => {
  const server = useTestServer();

  it('are published and snapshotted automatically while streaming', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key); create table ignored_log (id int primary key)');
    const { config, outFile, specFile } = await fileStream({
      url,
      source: { snapshotMode: 'initial', includes: ['public\\.(orders|invoices)'], tableDiscoveryIntervalMs: 200, statusIntervalMs: 100 },
    });
    const log = capturedLogger();
    const controller = new AbortController();
    const running = runStream(config, { logger: log.logger, signal: controller.signal });
    try {
      await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined));
      // Rows written in the same transaction as the table: only a snapshot can deliver them.
      await sql(url, 'begin; create table invoices (id int primary key, total int); insert into invoices select g, g * 10 from generate_series(1, 500) g; commit');
      await sql(url, 'create table ignored_too (id int primary key)');
      await waitFor(() => (readEvents(outFile).filter((e) => e.source.table === 'invoices' && e.op === 'r').length === 500 ? true : undefined), 30_000, 'invoices snapshot');
      await sql(url, 'insert into invoices values (501, 5010)');
      await waitFor(() => (readEvents(outFile).some((e) => e.op === 'c' && e.after.id === 501) ? true : undefined));
    } finally {
      controller.abort();
      await running;
    }
    const { rows } = await sql(url, 'select tablename from pg_publication_tables where pubname = $1 order by tablename', [config.source.publicationName]);
    expect(rows.map((r) => r.tablename)).toEqual(['invoices', 'orders', 'signals']);
    expect(log.lines().some((l) => l.msg === 'new tables to capture' && JSON.stringify(l.tables) === '["public.invoices"]')).toBe(true);
    const status = JSON.parse((await runCli(['status', '-c', specFile, '--json'])).stdout);
    expect(status.snapshot.tables).toEqual([
      { table: 'public.invoices', rowsDone: 500, estimatedRows: expect.any(Number), chunksDone: 1, chunks: 1, rowsPerSecond: null, etaSeconds: null },
    ]);
  });

  it('created while the stream was stopped are snapshotted when it starts again', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key); insert into orders values (1); create table notes (id int primary key, body text)');
    const { config, outFile } = await fileStream({
      url,
      source: { snapshotMode: 'initial', includes: ['public\\.(orders|invoices|notes)'], tableDiscoveryIntervalMs: 200, statusIntervalMs: 100 },
    });
    const runUntil = async (done: () => boolean, what: string): Promise<void> => {
      const controller = new AbortController();
      const running = runStream(config, { logger: capturedLogger().logger, signal: controller.signal });
      try {
        await waitFor(() => (done() ? true : undefined), 30_000, what);
      } finally {
        controller.abort();
        await running;
      }
    };
    await runUntil(() => readEvents(outFile).some((e) => e.op === 'r' && e.after.id === 1), 'the initial snapshot');
    // While stopped: a new table with rows (a filtered publication does not publish them), and a change of a known table.
    await sql(url, 'create table invoices (id int primary key, total int); insert into invoices select g, g * 10 from generate_series(1, 300) g');
    await sql(url, 'insert into orders values (2)');
    // A known table dropped and created again under its name: a new table to the publication.
    await sql(url, "drop table notes; create table notes (id int primary key, body text); insert into notes values (1, 'again')");
    await runUntil(
      () => readEvents(outFile).filter((e) => (e.source.table === 'invoices' || e.source.table === 'notes') && e.op === 'r').length === 301,
      'the new tables read',
    );
    const events = readEvents(outFile);
    expect(events.filter((e) => e.source.table === 'notes').map((e) => [e.op, e.after.body])).toEqual([['r', 'again']]);
    const invoices = events.filter((e) => e.source.table === 'invoices').map((e) => [e.after.id, e.after.total]);
    const { rows } = await sql(url, 'select id, total from invoices order by id');
    expect(invoices.sort((a, b) => a[0] - b[0])).toEqual(rows.map((r) => [r.id, r.total]));
    // The known table is not read again; its change made while stopped streams.
    expect(events.filter((e) => e.source.table === 'orders').map((e) => [e.op, e.after.id])).toEqual([['r', 1], ['c', 2]]);
  });

  it('created while a stream into PostgreSQL was stopped are copied to the target when it starts again', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server(), 'target');
    await sql(source, 'create table orders (id int primary key, qty int); insert into orders select g, g from generate_series(1, 100) g');
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial', tableDiscoveryIntervalMs: 200, statusIntervalMs: 100 } });
    await runStream(config, { logger: capturedLogger().logger, stopAt: 'now' });
    expect(await tableText(target, 'orders')).toEqual(await tableText(source, 'orders'));
    await sql(source, 'create table invoices (id int primary key, total int); insert into invoices select g, g * 10 from generate_series(1, 300) g; update orders set qty = 0 where id <= 10');
    await runStream(config, { logger: capturedLogger().logger, stopAt: 'now' });
    expect(await tableText(target, 'invoices')).toEqual(await tableText(source, 'invoices'));
    expect(await tableText(target, 'orders')).toEqual(await tableText(source, 'orders'));
  });
});
