/**
 * A slot on a database that sees no captured change, while another database of the same server
 * writes, must not hold WAL.
 *
 * What moves a logical slot's restart_lsn (the WAL it holds): decoding a running_xacts record
 * (logged by the background writer about every 15 s while WAL is written, and at checkpoints)
 * proposes a new restart point, which the server takes once the client's confirmed flush position
 * has passed that record. The walsender decodes every database's WAL, and its keepalives carry the
 * position it has read; pgcdc confirms a keepalive's position whenever nothing is pending (the
 * checkpointer's `idle`), and asks for keepalives at every status interval. So, measured, a pgcdc
 * slot does not grow without heartbeats either (unlike Debezium's, which confirms only the positions
 * of events it processed): its retained WAL is what was written since the last running_xacts record
 * plus the wait for the next confirmation. Heartbeats make that wait the heartbeat interval and, with
 * an action query, give the slot's own database something to commit. This test asserts what holds
 * with and without them: several segments written elsewhere, the retained WAL of both slots stays
 * below a few segments, and falls back under one segment once the writes stop; the action query ran.
 * A failing action query is logged once per distinct error and the stream goes on.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { capturedLogger } from '../support/captured-logger.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

/** Segments written in the other database: well above the bound asserted. */
const SEGMENTS_WRITTEN = 8;
/** The bound on a slot's retained WAL while they are written. */
const SEGMENTS_BOUND = 5;

describe('heartbeats and WAL held by idle slots', () => {
  const server = useTestServer();

  it('keeps the slot of a database without changes bounded while another database writes', async () => {
    const [withBeats, withoutBeats, busy] = [await createDatabase(server(), 'hb'), await createDatabase(server(), 'idle'), await createDatabase(server(), 'busy')];
    await sql(withBeats, 'create table t (id int primary key); create table heartbeat (id int primary key, beats bigint not null)');
    await sql(withoutBeats, 'create table t (id int primary key)');
    await sql(busy, 'create table w (id bigserial primary key, pad text)');
    const segment = Number((await sql(busy, "select setting::bigint * (case unit when '8kB' then 8192 when 'B' then 1 when 'MB' then 1048576 else 1 end) as bytes from pg_settings where name = 'wal_segment_size'")).rows[0].bytes);
    const beating = await fileStream({
      url: withBeats,
      source: {
        includes: ['public\\.t'],
        heartbeatInterval: '1s',
        heartbeatActionQuery: 'insert into heartbeat values (1, 1) on conflict (id) do update set beats = heartbeat.beats + 1',
      },
    });
    const quiet = await fileStream({ url: withoutBeats });
    const controller = new AbortController();
    const runs = [beating.config, quiet.config].map((config) => runStream(config, { logger: silentLogger(), signal: controller.signal }));
    try {
      for (const { config, url } of [{ config: beating.config, url: withBeats }, { config: quiet.config, url: withoutBeats }]) {
        await waitFor(async () => ((await slotState(url, config))?.active ? true : undefined));
      }
      const start = await walPosition(busy);
      const largest = { beating: 0, quiet: 0 };
      // Paced writes (about a MiB, then a pause), so several running_xacts records fall among them.
      while ((await walPosition(busy)) - start < SEGMENTS_WRITTEN * segment) {
        await sql(busy, "insert into w (pad) select repeat(md5(g::text), 32) from generate_series(1, 1000) g");
        largest.beating = Math.max(largest.beating, (await slotState(withBeats, beating.config))!.retained);
        largest.quiet = Math.max(largest.quiet, (await slotState(withoutBeats, quiet.config))!.retained);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      expect(largest.beating).toBeLessThan(SEGMENTS_BOUND * segment);
      expect(largest.quiet).toBeLessThan(SEGMENTS_BOUND * segment);
      // Once the writes stop, both slots hold less than a segment.
      for (const { config, url } of [{ config: beating.config, url: withBeats }, { config: quiet.config, url: withoutBeats }]) {
        await waitFor(async () => ((await slotState(url, config))!.retained < segment ? true : undefined), 90_000, `the slot of ${url} to release the WAL`);
      }
      const { rows } = await sql(withBeats, 'select beats::int from heartbeat');
      expect(rows[0].beats).toBeGreaterThan(0);
      // The action query's writes are not captured: nothing reached the target.
      expect(readEvents(beating.outFile)).toEqual([]);
    } finally {
      controller.abort();
      await Promise.all(runs);
    }
  }, 240_000);

  it('logs a failing action query once per distinct error and goes on streaming', async () => {
    const url = await createDatabase(server(), 'hbfail');
    // Each beat takes a number (sequences are not rolled back), then fails until beat_log exists.
    await sql(
      url,
      'create table t (id int primary key); create sequence beat_seq; ' +
        "create function beat() returns void language plpgsql as $$ begin perform nextval('beat_seq'); execute 'insert into beat_log values (now())'; end $$",
    );
    const { config, outFile } = await fileStream({ url, source: { heartbeatInterval: '100ms', heartbeatActionQuery: 'select beat()' } });
    const log = capturedLogger();
    const controller = new AbortController();
    const running = runStream(config, { logger: log.logger, signal: controller.signal });
    try {
      await waitFor(async () => (Number((await sql(url, 'select last_value from beat_seq')).rows[0].last_value) >= 4 ? true : undefined));
      const warnings = () => log.lines().filter((line) => line.msg === 'heartbeat action query failed; the stream goes on (logged once until the error changes)');
      expect(warnings()).toHaveLength(1);
      expect(String(warnings()[0]!.error)).toContain('beat_log');
      await sql(url, 'create table beat_log (at timestamptz)');
      await waitFor(async () => (Number((await sql(url, 'select count(*) from beat_log')).rows[0].count) >= 2 ? true : undefined));
      expect(log.lines().some((line) => line.msg === 'heartbeat action query succeeds again')).toBe(true);
      expect(warnings()).toHaveLength(1);
      await sql(url, 'insert into t values (1)');
      await waitFor(() => (readEvents(outFile).length === 1 ? true : undefined));
      expect(readEvents(outFile)[0].after).toEqual({ id: 1 });
    } finally {
      controller.abort();
      await running;
    }
  });
});

async function walPosition(url: string): Promise<number> {
  const { rows } = await sql(url, "select pg_current_wal_lsn() - '0/0'::pg_lsn as lsn");
  return Number(rows[0].lsn);
}

/** The slot's activity and retained WAL (the server's WAL position minus restart_lsn). */
async function slotState(url: string, config: StreamConfig): Promise<{ active: boolean; retained: number } | undefined> {
  const { rows } = await sql(url, 'select active, (pg_current_wal_lsn() - restart_lsn)::bigint as retained from pg_replication_slots where slot_name = $1', [config.source.slotName]);
  return rows[0] === undefined ? undefined : { active: rows[0].active as boolean, retained: Number(rows[0].retained) };
}
