/**
 * Debezium's snapshot modes: initial, initial_only, never / no_data, always, when_needed.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

describe('snapshot modes', () => {
  const server = useTestServer();

  async function setup(mode: string): Promise<{ url: string; run: () => ReturnType<typeof runStream>; events: () => any[]; slot: string }> {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, v int); insert into items select g, g from generate_series(1, 50) g');
    const { config, outFile } = await fileStream({ url, source: { snapshotMode: mode, tableDiscoveryIntervalMs: 0 } });
    return { url, run: () => runStream(config, { logger: silentLogger(), stopAt: 'now' }), events: () => readEvents(outFile), slot: config.source.slotName };
  }

  const slotExists = async (url: string, slot: string): Promise<boolean> =>
    (await sql(url, 'select count(*)::int as n from pg_replication_slots where slot_name = $1', [slot])).rows[0].n === 1;

  it('initial: snapshot once, then only the stream', async () => {
    const { url, run, events } = await setup('initial');
    await run();
    await sql(url, 'insert into items values (51, 51)');
    await run();
    expect(events().map((e) => e.op)).toEqual([...Array<string>(50).fill('r'), 'c']);
  });

  it('initial_only: snapshot, drop the slot, stop; a second run does nothing', async () => {
    const { url, run, events, slot } = await setup('initial_only');
    expect((await run()).stopReason).toBe('snapshot-complete');
    expect(events().map((e) => e.op)).toEqual(Array<string>(50).fill('r'));
    expect(await slotExists(url, slot)).toBe(false);
    await sql(url, 'insert into items values (51, 51)');
    expect((await run()).stopReason).toBe('snapshot-complete');
    expect(events()).toHaveLength(50);
    expect(await slotExists(url, slot)).toBe(false);
  });

  it.each(['never', 'no_data'])('%s: only the stream', async (mode) => {
    const { url, run, events } = await setup(mode);
    await run();
    await sql(url, 'update items set v = 0 where id = 1');
    await run();
    expect(events().map((e) => [e.op, e.after.id])).toEqual([['u', 1]]);
  });

  it('always: a snapshot at every start (between watermarks once the slot exists)', async () => {
    const { url, run, events } = await setup('always');
    await run();
    await sql(url, 'delete from items where id > 10');
    await run();
    const all = events();
    expect(all.slice(0, 50).every((e) => e.op === 'r' && e.source.snapshot !== 'incremental')).toBe(true);
    const second = all.slice(50);
    expect(second.filter((e) => e.op === 'd')).toHaveLength(40);
    expect(second.filter((e) => e.op === 'r').map((e) => e.after.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(second.filter((e) => e.op === 'r').every((e) => e.source.snapshot === 'incremental')).toBe(true);
  });

  it('when_needed: a snapshot only without a usable slot', async () => {
    const { url, run, events, slot } = await setup('when_needed');
    await run();
    await sql(url, 'insert into items values (51, 51)');
    await run();
    expect(events().map((e) => e.op)).toEqual([...Array<string>(50).fill('r'), 'c']);
    await sql(url, 'select pg_drop_replication_slot($1)', [slot]);
    await run();
    expect(events().slice(51).map((e) => e.op)).toEqual(Array<string>(51).fill('r'));
  });
});
