/**
 * A table created while the stream runs, and selected by the filters, joins it: it is added to the
 * publication and its existing rows are snapshotted between watermarks; its later changes stream.
 */
import { describe, expect, it } from 'vitest';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

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
});
