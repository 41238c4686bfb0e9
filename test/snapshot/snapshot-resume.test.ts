/**
 * A snapshot killed (SIGKILL) part-way resumes: the restart keeps the chunks already delivered,
 * reads only the rest (between watermarks, the exported snapshot being gone), and the result is
 * still the source, with concurrent writes all along.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { WORKLOAD_TABLE_SQL, startWorkload } from '../support/random-workload.js';
import { differences, rebuildFromEvents, sourceRows } from '../support/rebuild.js';
import { readStreamState } from '../support/stream-state.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

const ROWS = 200_000;

describe('resumable snapshot', () => {
  const server = useTestServer();

  it('keeps the delivered chunks after kill -9 and finishes the rest consistently', async () => {
    const url = await createDatabase(server());
    await sql(url, WORKLOAD_TABLE_SQL);
    await sql(url, `insert into t select nextval('t_ids'), g, md5(g::text) from generate_series(1, ${ROWS}) g; analyze t`);
    const { config, specFile, outFile } = await fileStream({
      url,
      // Small chunks: the kill lands while most of them are still to read, however fast the machine.
      source: { snapshotMode: 'initial', snapshotChunkRows: 2_000, incrementalSnapshotChunkRows: 5000, snapshotParallelism: 2, statusIntervalMs: 100 },
    });
    const chunksDone = async (): Promise<number> => {
      const state = await readStreamState(url, config.source.slotName);
      return state?.snapshot?.tables.reduce((n, t) => n + t.chunks.filter((c) => c.done).length, 0) ?? 0;
    };
    const workload = startWorkload(url, 1);
    try {
      const run = startCli(['run', '-c', specFile]);
      await waitFor(async () => ((await chunksDone()) >= 3 ? true : undefined), 60_000, 'three chunks done');
      run.child.kill('SIGKILL');
      await run.finished();
    } finally {
      await workload.stop();
    }
    const state = (await readStreamState(url, config.source.slotName))!;
    expect(state.snapshot?.status).toBe('running');
    const kept = state.snapshot!.tables[0]!.rowsDone;
    expect(kept).toBeGreaterThan(4_000); // three chunks of about 2,000 rows (page ranges are estimates)
    expect(kept).toBeLessThan(ROWS / 2);
    // Complete lines only: the kill may have cut the last one (the next run removes it).
    const firstRunLines = fs.readFileSync(outFile, 'utf8').split('\n').length - 1;

    const resumed = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('resuming the interrupted snapshot between watermarks');
    const events = readEvents(outFile);
    const secondRunReads = events.slice(firstRunLines).filter((e) => e.op === 'r');
    // Only the chunks not recorded were read again: re-reading everything would read about the
    // whole table (rows written or moved by the workload meanwhile are read too).
    const { rows: count } = await sql(url, 'select count(*)::int as n from t');
    expect(secondRunReads.length).toBeLessThan(count[0].n - kept / 2);
    expect(secondRunReads.every((e) => e.source.snapshot === 'incremental')).toBe(true);
    const final = (await readStreamState(url, config.source.slotName))!;
    expect(final.snapshot?.status).toBe('done');
    expect(final.initialSnapshotDone).toBe(true);
    const rebuilt = rebuildFromEvents(events, 't');
    const expected = await sourceRows(url, 't');
    expect(differences(rebuilt, expected)).toEqual([]);
    expect(rebuilt.size).toBe(expected.size);
  }, 180_000);
});
