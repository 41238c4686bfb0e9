import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

describe('initial snapshot', () => {
  const server = useTestServer();

  it('reads existing rows as read events, then streams', async () => {
    const url = await createDatabase(server());
    await sql(url, "create table items (id int primary key, name text); insert into items select g, 'item ' || g from generate_series(1, 1000) g");
    const { config, outFile } = await fileStream({ url, source: { snapshotMode: 'initial', snapshotChunkRows: 100, snapshotParallelism: 3 } });
    const first = await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(first.stopReason).toBe('stop-at');
    await sql(url, "insert into items values (1001, 'new'); update items set name = 'changed' where id = 1");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const events = readEvents(outFile);
    const reads = events.filter((e) => e.op === 'r');
    expect(reads).toHaveLength(1000);
    expect(new Set(reads.map((e) => e.after.id)).size).toBe(1000);
    expect(reads[0].source.snapshot).toBe('first');
    expect(reads.at(-1).source.snapshot).toBe('last');
    expect(reads.slice(1, -1).every((e) => e.source.snapshot === 'true')).toBe(true);
    expect(events.slice(1000).map((e) => [e.op, e.after.id])).toEqual([['c', 1001], ['u', 1]]);
  });
});
