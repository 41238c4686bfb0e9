/**
 * Snapshot plus stream reproduce the source exactly, with concurrent random writes (inserts,
 * updates including primary-key changes, deletes) during the snapshot: rebuilding the table from
 * the delivered events in order gives the source table. For the initial snapshot read at the
 * exported snapshot, and for a snapshot between watermarks from an existing slot.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { WORKLOAD_TABLE_SQL, startWorkload } from '../support/random-workload.js';
import { differences, rebuildFromEvents, sourceRows } from '../support/rebuild.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

const ROWS = 30_000;

describe('snapshot consistency under concurrent writes', () => {
  const server = useTestServer();

  it.each([
    ['at the exported snapshot (initial, no slot yet)', false],
    ['between watermarks (initial, slot created by init)', true],
  ])('%s', async (_name, initFirst) => {
    const url = await createDatabase(server());
    await sql(url, WORKLOAD_TABLE_SQL);
    await sql(url, `insert into t select nextval('t_ids'), g, md5(g::text) from generate_series(1, ${ROWS}) g`);
    const { config, specFile, outFile } = await fileStream({
      url,
      source: { snapshotMode: 'initial', snapshotChunkRows: 2000, incrementalSnapshotChunkRows: 2000, snapshotParallelism: 3, statusIntervalMs: 100 },
    });
    if (initFirst) expect((await runCli(['init', '-c', specFile])).code).toBe(0);
    const workload = startWorkload(url, 2);
    let totals;
    try {
      // Writes run during the whole snapshot.
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    } finally {
      totals = await workload.stop();
    }
    expect(totals.committed).toBeGreaterThan(10);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const events = readEvents(outFile);
    const reads = events.filter((e) => e.op === 'r');
    expect(reads.length).toBeGreaterThan(ROWS / 2);
    expect(reads.every((e) => e.source.snapshot === (initFirst ? 'incremental' : reads.indexOf(e) === 0 ? 'first' : reads.indexOf(e) === reads.length - 1 ? 'last' : 'true'))).toBe(true);
    if (!initFirst) {
      // At the exported snapshot nothing is doubled at the seam: a row created after the slot's
      // consistent point comes only from the stream, never also as a read.
      const readIds = new Set(reads.map((e) => e.after.id));
      const createdAlsoRead = events.filter((e) => e.op === 'c' && readIds.has(e.after.id)).map((e) => e.after.id);
      expect(createdAlsoRead).toEqual([]);
      expect(events.findIndex((e) => e.op !== 'r')).toBe(reads.length);
    }
    const rebuilt = rebuildFromEvents(events, 't');
    const expected = await sourceRows(url, 't');
    expect(differences(rebuilt, expected)).toEqual([]);
    expect(rebuilt.size).toBe(expected.size);
  }, 120_000);
});
