/**
 * `pgcdc status` on snapshot progress: a table never analyzed has no row estimate (reltuples -1 or
 * 0), so its line shows the rows copied alone, never `298 of ~0 rows`; counts agree with their
 * nouns. End to end through the CLI, and the rendering of the edge cases.
 */
import { describe, expect, it } from 'vitest';
import { renderStatus, type StreamStatus } from '../../src/cli/commands/status-command.js';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream } from '../support/stream-fixtures.js';

const STATUS: StreamStatus = {
  stream: 'orders',
  slot: { name: 'pgcdc_orders', exists: false },
  publication: { name: 'pgcdc_orders', exists: true, tables: 1 },
  currentLsn: '0/1000000',
  snapshot: { id: 's1', kind: 'initial', status: 'running', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: null, tables: [] },
};

type TableView = NonNullable<StreamStatus['snapshot']>['tables'][number];

function statusWith(...tables: TableView[]): string {
  return renderStatus({ ...STATUS, snapshot: { ...STATUS.snapshot!, tables } });
}

const TABLE: TableView = { table: 'public.orders', rowsDone: 1000, estimatedRows: 0, chunksDone: 1, chunks: 1, rowsPerSecond: null, etaSeconds: null };

describe('pgcdc status text', () => {
  it('shows the rows copied without an estimate for a table never analyzed, or copied past its estimate', () => {
    expect(statusWith(TABLE)).toContain('\n  public.orders: 1,000 rows copied, 1/1 chunk\n');
    expect(statusWith({ ...TABLE, rowsDone: 1, estimatedRows: -1 })).toContain('\n  public.orders: 1 row copied, 1/1 chunk\n');
    expect(statusWith({ ...TABLE, rowsDone: 1200, estimatedRows: 1000, chunks: 2, rowsPerSecond: 40 })).toContain('\n  public.orders: 1,200 rows copied, 1/2 chunks, 40 rows/s\n');
  });

  it('shows the estimate, percent and ETA when there is one; publication tables agree in number', () => {
    const text = statusWith({ ...TABLE, rowsDone: 250, estimatedRows: 1000, chunks: 4, rowsPerSecond: 50, etaSeconds: 15 });
    expect(text).toContain('\n  public.orders: 250 of ~1,000 rows (25%), 1/4 chunks, 50 rows/s, ETA 15s\n');
    expect(text).toContain('\npublication pgcdc_orders: 1 table\n');
    expect(renderStatus({ ...STATUS, publication: { ...STATUS.publication, tables: 3 } })).toContain('\npublication pgcdc_orders: 3 tables\n');
  });
});

describe('pgcdc status after a snapshot of a table never analyzed', () => {
  const server = useTestServer();

  it('prints the rows copied, not "298 of ~0 rows"', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table public.fresh (id int primary key); insert into public.fresh select generate_series(1, 298)');
    const { specFile } = await fileStream({ url, source: { snapshotMode: 'initial_only' } });
    const run = await runCli(['run', '-c', specFile]);
    expect(run.code, run.stderr).toBe(0);
    const status = await runCli(['status', '-c', specFile]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/\n {2}public\.fresh: 298 rows copied, 1\/1 chunk\n/);
    expect(status.stdout).not.toContain('~0');
  });
});
