/**
 * A migration under load: concurrent random writes (inserts, updates of keys and of TOASTed
 * columns, deletes, truncates, schema changes) during the initial load and the streaming that
 * follows; at the end `verify` finds source and target identical, and the keyless journal shows
 * that no change was applied twice. The same with pgcdc killed (SIGKILL) at random moments and
 * restarted each time.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { verifyStream } from '../../src/verify/verify-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { runCli, startCli } from '../support/cli.js';
import { MIGRATION_SCHEMA_SQL, seedSql, startMigrationWorkload } from '../support/migration-workload.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { testRandom } from '../support/seeded-random.js';
import { readStreamState, writeStreamState } from '../support/stream-state.js';

const TABLES = ['t', 'docs', 'journal', 'scratch'];

async function expectIdentical(config: Parameters<typeof verifyStream>[0], source: string, target: string): Promise<void> {
  const report = await verifyStream(config, { rangeRows: 5_000 });
  expect(report.tables.filter((t) => t.status !== 'identical'), JSON.stringify(report.tables, null, 1)).toEqual([]);
  expect(report.identical).toBe(true);
  // Row for row, duplicates included: the journal has no key, so a change applied twice would show.
  for (const table of TABLES) expect(await tableText(target, table), table).toEqual(await tableText(source, table));
}

describe('Postgres target: a migration under concurrent writes', () => {
  const server = useTestServer();

  it('snapshot and streaming under random writes and schema changes end identical', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, MIGRATION_SCHEMA_SQL);
    await sql(source, seedSql(40_000));
    const { config } = await postgresStream({
      sourceUrl: source,
      targetUrl: target,
      source: { snapshotMode: 'initial', snapshotChunkRows: 4_000, snapshotParallelism: 3, statusIntervalMs: 100 },
    });
    const workload = startMigrationWorkload(source);
    let totals;
    try {
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    } finally {
      totals = await workload.stop();
    }
    expect(totals.transactions).toBeGreaterThan(20);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await expectIdentical(config, source, target);
  }, 180_000);

  it('stopped after every chunk was loaded but before the load was marked done, it finishes without a new snapshot', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, MIGRATION_SCHEMA_SQL);
    await sql(source, seedSql(5_000));
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial', snapshotChunkRows: 1_000 } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    // The state a kill leaves between the last chunk and the end of the load: the chunks are
    // recorded on the target only, the snapshot is still running.
    const state = structuredClone((await readStreamState(source, config.source.slotName))!) as any;
    state.initialSnapshotDone = false;
    state.snapshot.status = 'running';
    for (const table of state.snapshot.tables) for (const chunk of table.chunks) chunk.done = false;
    await writeStreamState(source, config.source.slotName, state);
    await sql(source, "insert into journal (n, note) values (-1, 'after')");
    for (let run = 0; run < 2; run++) {
      const log = capturedLogger();
      await runStream(config, { logger: log.logger, stopAt: 'now' });
      expect(log.lines().filter((l) => l.msg === 'snapshot planned' || l.msg === 'created a temporary slot for a new snapshot'), `run ${run}`).toEqual([]);
    }
    await expectIdentical(config, source, target);
  });

  it('killed at random moments and restarted, it still ends identical with nothing applied twice', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, MIGRATION_SCHEMA_SQL);
    await sql(source, seedSql(300_000));
    const { config, specFile } = await postgresStream({
      sourceUrl: source,
      targetUrl: target,
      source: { snapshotMode: 'initial', snapshotChunkRows: 10_000, incrementalSnapshotChunkRows: 5_000, snapshotParallelism: 2, statusIntervalMs: 100 },
    });
    const workload = startMigrationWorkload(source);
    const kills: number[] = [];
    try {
      for (let round = 0; round < 4; round++) {
        const run = startCli(['run', '-c', specFile]);
        if (round === 0) {
          // The first kill lands in the middle of the initial load: some chunks are on the target, not all.
          await waitFor(async () => ((await sql(target, 'select count(*)::int as n from pgcdc.loaded_chunks').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n >= 2 ? true : undefined), 60_000, 'chunks loaded');
          kills.push(-1);
        } else {
          // Later ones at random moments: while the load starts again, or while streaming.
          const delay = 300 + Math.floor(testRandom() * 1500);
          kills.push(delay);
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
        run.child.kill('SIGKILL');
        const result = await run.finished();
        expect(result.signal, `round ${round}: ${result.stderr}`).toBe('SIGKILL');
      }
    } finally {
      await workload.stop();
    }
    const final = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
    expect(final.code, `kills after ${kills.join(', ')} ms\n${final.stderr}`).toBe(0);
    await expectIdentical(config, source, target);
    // The interrupted load started again at a new snapshot for the tables it had not finished.
    expect((await sql(target, 'select count(*)::int as n from pgcdc.table_positions')).rows[0].n).toBeGreaterThan(0);
  }, 240_000);
});
