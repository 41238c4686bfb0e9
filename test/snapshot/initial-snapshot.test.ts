import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { readStreamState } from '../support/stream-state.js';
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

describe('initial snapshot of a table dropped meanwhile', () => {
  const server = useTestServer();

  it('skips that table with an error in the log and completes the others', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a_big (id int primary key, pad text); insert into a_big select g, repeat($$p$$, 100) from generate_series(1, 150000) g; analyze a_big');
    await sql(url, 'create table z_gone (id int primary key); insert into z_gone select generate_series(1, 10)');
    const { config, outFile } = await fileStream({ url, source: { snapshotMode: 'initial', snapshotChunkRows: 5000, snapshotParallelism: 1 } });
    const log = capturedLogger();
    const running = runStream(config, { logger: log.logger, stopAt: 'now' });
    // Drop the second table while the worker reads the first one.
    await waitFor(async () => ((await readStreamState(url, config.source.slotName))?.snapshot && readEvents(outFile).length > 0 ? true : undefined), 30_000, 'snapshot started');
    await sql(url, 'drop table z_gone');
    await running;
    const reads = readEvents(outFile).filter((e) => e.op === 'r');
    expect(reads).toHaveLength(150_000);
    expect(reads.every((e) => e.source.table === 'a_big')).toBe(true);
    expect(log.lines().some((l) => l.msg === 'the table disappeared during the snapshot; it is skipped' && l.table === 'public.z_gone')).toBe(true);
  });
});

describe('initial snapshot in the record format', () => {
  const server = useTestServer();

  it('keys read events by the primary key, escapes included', async () => {
    const url = await createDatabase(server());
    await sql(url, "create table codes (code text primary key, label text); insert into codes values (E'a\\tb', 'tab'), (E'back\\\\slash', 'bs'), ('plain', null)");
    const { config, outFile } = await fileStream({ url, source: { snapshotMode: 'initial_only' }, target: { format: 'record' } });
    await runStream(config, { logger: silentLogger() });
    const records = readEvents(outFile).sort((a, b) => (a.key.code < b.key.code ? -1 : 1));
    expect(records.map((r) => [r.key, r.value.op, r.value.after])).toEqual([
      [{ code: 'a\tb' }, 'r', { code: 'a\tb', label: 'tab' }],
      [{ code: 'back\\slash' }, 'r', { code: 'back\\slash', label: 'bs' }],
      [{ code: 'plain' }, 'r', { code: 'plain', label: null }],
    ]);
  });
});
