/**
 * The slot only advances past what the target has made durable, and still advances when there is
 * nothing to deliver (idle source, or only changes the filters drop).
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { createTarget } from '../../src/targets/create-target.js';
import { GatedTarget } from '../support/gated-target.js';
import { createDatabase, flushedWalPosition, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';
import { lsnToNumber } from '../support/truth-log.js';

describe('acknowledgement', () => {
  const server = useTestServer();

  it('never confirms a transaction before the target has written it', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const { config, outFile } = await fileStream({ url, source: { statusIntervalMs: 100 } });
    const target = new GatedTarget(await createTarget(config, silentLogger()));
    const controller = new AbortController();
    const running = runStream(config, { logger: silentLogger(), target, signal: controller.signal });
    try {
      await waitFor(async () => ((await slot(url, config.source.slotName))?.active ? true : undefined));
      const before = (await slot(url, config.source.slotName))!.confirmed;
      await sql(url, 'insert into t values (1)');
      const afterInsert = await currentLsn(url);
      await waitFor(() => (target.writesStarted > 0 ? true : undefined));
      // The write is held: across many status updates the slot must stay before the insert.
      for (let i = 0; i < 10; i++) {
        const { confirmed } = (await slot(url, config.source.slotName))!;
        expect(confirmed).toBeLessThan(afterInsert);
        expect(confirmed).toBeGreaterThanOrEqual(before);
        await sql(url, 'select pg_sleep(0.05)');
      }
      expect(readEvents(outFile)).toEqual([]);
      target.release();
      await waitFor(async () => ((await slot(url, config.source.slotName))!.confirmed >= afterInsert ? true : undefined));
      expect(readEvents(outFile).map((e) => e.after)).toEqual([{ id: 1 }]);
    } finally {
      target.release();
      controller.abort();
      await running;
    }
  });

  it('advances an idle slot, and past changes that are all filtered out', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table captured (id int primary key); create table ignored (id int primary key)');
    const { config, outFile } = await fileStream({ url, source: { statusIntervalMs: 100, includes: ['public\\.captured'] } });
    const controller = new AbortController();
    const running = runStream(config, { logger: silentLogger(), signal: controller.signal });
    try {
      await waitFor(async () => ((await slot(url, config.source.slotName))?.active ? true : undefined));
      await sql(url, 'insert into ignored select generate_series(1, 100)');
      await sql(url, 'update ignored set id = id + 1000');
      const afterIgnored = await flushedWalPosition(url);
      await waitFor(async () => ((await slot(url, config.source.slotName))!.confirmed >= afterIgnored ? true : undefined));
      // Idle: WAL written by something else (a checkpoint) is passed too.
      await sql(url, 'checkpoint');
      const afterCheckpoint = await flushedWalPosition(url);
      await waitFor(async () => ((await slot(url, config.source.slotName))!.confirmed >= afterCheckpoint ? true : undefined));
      expect(readEvents(outFile)).toEqual([]);
    } finally {
      controller.abort();
      await running;
    }
  });
});

async function slot(url: string, name: string): Promise<{ active: boolean; confirmed: number } | undefined> {
  const { rows } = await sql(url, 'select active, confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [name]);
  return rows[0] ? { active: rows[0].active, confirmed: lsnToNumber(rows[0].lsn) } : undefined;
}

/** The insert position: past every record written so far (a commit not yet flushed included). */
async function currentLsn(url: string): Promise<number> {
  const { rows } = await sql(url, 'select pg_current_wal_insert_lsn()::text as lsn');
  return lsnToNumber(rows[0].lsn);
}
