/**
 * `pgcdc serve`'s metrics of a real stream on a real PostgreSQL: a workload's own counts against
 * the scrape (events by table and operation, transactions), positions and lag against
 * pg_replication_slots, the Debezium names, snapshot figures while an initial snapshot waits on its
 * target and once it is done, and the exposition checked by promtool.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { ServeMetrics } from '../../src/metrics/serve-metrics.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { parseLsn } from '../../src/source/lsn.js';
import { createTarget } from '../../src/targets/create-target.js';
import { GatedTarget } from '../support/gated-target.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream } from '../support/stream-fixtures.js';
import { expectValidExposition, sampleValue } from './exposition.js';

describe('stream metrics', () => {
  const server = useTestServer();
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Runs the stream in the background with the metrics' observer; stopped after the test. */
  function runWatched(config: Parameters<typeof runStream>[0], metrics: ServeMetrics, options: Partial<Parameters<typeof runStream>[1]> = {}) {
    const stop = new AbortController();
    const streamMetrics = metrics.stream(config.name, config);
    streamMetrics.setState('running');
    const run = runStream(config, { logger: silentLogger(), signal: stop.signal, observer: streamMetrics.observer, ...options });
    cleanups.push(async () => {
      stop.abort();
      await run.catch(() => undefined);
      await metrics.close();
    });
    return { streamMetrics, run };
  }

  it('counts what the source did, by table and operation, with positions and lag as pg_replication_slots has them', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key, v int); create table b (id int primary key, v int)');
    const { config } = await fileStream({ url });
    const metrics = new ServeMetrics({ logger: silentLogger(), otlp: false, slotPollIntervalMs: 200 });
    const { streamMetrics } = runWatched(config, metrics);
    await waitFor(() => (streamMetrics.read().connected ? true : undefined), 20_000, 'the stream to connect');

    // The workload, with its own counts as the oracle.
    const expected = { a: { c: 0, u: 0, d: 0, t: 0 }, b: { c: 0, u: 0, d: 0, t: 0 } };
    let transactions = 0;
    for (let i = 1; i <= 40; i++) {
      await sql(url, 'insert into a values ($1, 0)', [i]);
      expected.a.c++;
      transactions++;
    }
    await sql(url, 'insert into b select g, 0 from generate_series(1, 25) g');
    expected.b.c += 25;
    transactions++;
    await sql(url, 'update a set v = 1 where id <= 15');
    expected.a.u += 15;
    transactions++;
    await sql(url, 'delete from b where id <= 7');
    expected.b.d += 7;
    transactions++;
    await sql(url, 'truncate b');
    expected.b.t += 1;
    transactions++;
    await sql(url, "select pg_logical_emit_message(true, 'app', 'hello')");
    transactions++;
    const events = 40 + 25 + 15 + 7 + 1 + 1;

    await waitFor(async () => ((await streamMetrics.stats()).events === events ? true : undefined), 20_000, 'every event delivered');
    const stats = await streamMetrics.stats();
    expect(stats.eventsByOperation).toEqual({ c: 65, u: 15, d: 7, t: 1, r: 0, m: 1 });
    expect(stats.transactions).toBe(transactions);
    expect(stats.batches).toBeGreaterThan(0);

    // Idle and caught up: the confirmed position reaches the slot, lag in seconds drops to 0.
    await waitFor(async () => {
      await streamMetrics.pollSlot();
      const { rows } = await sql(url, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [config.source.slotName]);
      const reading = streamMetrics.read();
      return reading.lagSeconds === 0 && reading.slotStatus?.slot?.confirmedFlushLsn === parseLsn(rows[0].lsn) && reading.confirmedLsn === parseLsn(rows[0].lsn) ? true : undefined;
    }, 20_000, 'the slot to be confirmed up to the stream and the lag to be 0');

    const { body, contentType } = await metrics.scrape();
    expect(contentType).toContain('text/plain');
    const stream = config.name;
    for (const [table, counts] of Object.entries(expected)) {
      for (const [operation, count] of Object.entries(counts)) {
        expect(sampleValue(body, 'pgcdc_events_total', { stream, table: `public.${table}`, operation }) ?? 0, `${table} ${operation}`).toBe(count);
      }
    }
    expect(sampleValue(body, 'pgcdc_events_total', { stream, operation: 'm' })).toBe(1);
    expect(sampleValue(body, 'pgcdc_transactions_total', { stream })).toBe(transactions);
    expect(sampleValue(body, 'pgcdc_batch_write_seconds_count', { stream })).toBe(stats.batches);
    expect(sampleValue(body, 'pgcdc_source_connected', { stream })).toBe(1);
    expect(sampleValue(body, 'pgcdc_stream_state', { stream, state: 'running' })).toBe(1);
    expect(sampleValue(body, 'pgcdc_lag_seconds', { stream })).toBe(0);

    // Positions and lag in bytes as the poll read them from the server.
    const { rows } = await sql(url, 'select confirmed_flush_lsn::text as confirmed, restart_lsn::text as restart, wal_status, pg_current_wal_lsn()::text as now from pg_replication_slots where slot_name = $1', [config.source.slotName]);
    const slot = rows[0];
    const serverAtPoll = sampleValue(body, 'pgcdc_server_wal_position_bytes', { stream })!;
    const confirmed = sampleValue(body, 'pgcdc_slot_confirmed_flush_position_bytes', { stream })!;
    expect(confirmed).toBe(parseLsn(slot.confirmed));
    expect(sampleValue(body, 'pgcdc_confirmed_position_bytes', { stream })).toBe(parseLsn(slot.confirmed));
    expect(serverAtPoll).toBeLessThanOrEqual(parseLsn(slot.now));
    expect(sampleValue(body, 'pgcdc_lag_bytes', { stream })).toBe(serverAtPoll - confirmed);
    expect(sampleValue(body, 'pgcdc_slot_retained_wal_bytes', { stream, slot: config.source.slotName })).toBe(serverAtPoll - parseLsn(slot.restart));
    expect(sampleValue(body, 'pgcdc_slot_wal_status', { stream, wal_status: slot.wal_status })).toBe(1);
    expect(sampleValue(body, 'pgcdc_slot_active', { stream })).toBe(1);

    // Debezium's names, as the JMX exporter renders its MBeans.
    const dbz = { context: 'streaming', name: stream, plugin: 'postgres' };
    expect(sampleValue(body, 'debezium_metrics_TotalNumberOfEventsSeen', dbz)).toBe(events);
    expect(sampleValue(body, 'debezium_metrics_NumberOfCreateEventsSeen', dbz)).toBe(65);
    expect(sampleValue(body, 'debezium_metrics_NumberOfUpdateEventsSeen', dbz)).toBe(15);
    expect(sampleValue(body, 'debezium_metrics_NumberOfDeleteEventsSeen', dbz)).toBe(7);
    expect(sampleValue(body, 'debezium_metrics_NumberOfCommittedTransactions', dbz)).toBe(transactions);
    expect(sampleValue(body, 'debezium_metrics_MilliSecondsBehindSource', dbz)).toBe(0);
    expect(sampleValue(body, 'debezium_metrics_Connected', dbz)).toBe(1);
    expect(sampleValue(body, 'debezium_metrics_QueueTotalCapacity', dbz)).toBe(stats.queue.maxBytes);
    expect(sampleValue(body, 'debezium_metrics_QueueRemainingCapacity', dbz)).toBe(stats.queue.maxBytes - stats.queue.bytes);
    expect(sampleValue(body, 'debezium_metrics_MilliSecondsSinceLastEvent', dbz)).toBeGreaterThanOrEqual(0);
    expect(sampleValue(body, 'debezium_metrics_SnapshotRunning', { ...dbz, context: 'snapshot' })).toBe(0);

    expectValidExposition(body, expect);
  });

  it('shows the initial snapshot per table while it waits on its target, and once it is done', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, pad text); insert into big select g, repeat(\'x\', 50) from generate_series(1, 3000) g; analyze big');
    await sql(url, 'create table small (id int primary key); insert into small select generate_series(1, 10); analyze small');
    const { config } = await fileStream({ url, source: { snapshotMode: 'initial', snapshotChunkRows: 500 } });
    const gated = new GatedTarget(await createTarget(config, silentLogger()));
    const metrics = new ServeMetrics({ logger: silentLogger(), otlp: false, slotPollIntervalMs: 200 });
    const { streamMetrics } = runWatched(config, metrics, { target: gated });

    // The target holds the first batch: the snapshot is running, nothing is durable yet.
    await waitFor(() => (gated.writesStarted > 0 && streamMetrics.read().snapshot?.running ? true : undefined), 20_000, 'the snapshot to start');
    const during = (await metrics.scrape()).body;
    const stream = config.name;
    expect(sampleValue(during, 'pgcdc_snapshot_running', { stream })).toBe(1);
    expect(sampleValue(during, 'pgcdc_snapshot_estimated_rows', { stream, table: 'public.big' })).toBe(3000);
    expect(sampleValue(during, 'pgcdc_snapshot_chunks', { stream, table: 'public.big' })).toBeGreaterThan(1);
    expect(sampleValue(during, 'pgcdc_snapshot_chunks_done', { stream, table: 'public.big' })).toBe(0);
    const snapshotContext = { context: 'snapshot', name: stream, plugin: 'postgres' };
    expect(sampleValue(during, 'debezium_metrics_SnapshotRunning', snapshotContext)).toBe(1);
    expect(sampleValue(during, 'debezium_metrics_TotalTableCount', snapshotContext)).toBe(2);
    expect(sampleValue(during, 'debezium_metrics_RemainingTableCount', snapshotContext)).toBe(2);

    gated.release();
    await waitFor(() => (streamMetrics.read().snapshot?.status === 'done' ? true : undefined), 30_000, 'the snapshot to finish');
    const after = (await metrics.scrape()).body;
    const chunks = sampleValue(after, 'pgcdc_snapshot_chunks', { stream, table: 'public.big' });
    expect(sampleValue(after, 'pgcdc_snapshot_chunks_done', { stream, table: 'public.big' })).toBe(chunks);
    expect(sampleValue(after, 'pgcdc_snapshot_rows', { stream, table: 'public.big' })).toBe(3000);
    expect(sampleValue(after, 'pgcdc_snapshot_rows', { stream, table: 'public.small' })).toBe(10);
    expect(sampleValue(after, 'pgcdc_events_total', { stream, table: 'public.big', operation: 'r' })).toBe(3000);
    expect(sampleValue(after, 'pgcdc_snapshot_running', { stream })).toBe(0);
    expect(sampleValue(after, 'debezium_metrics_SnapshotCompleted', snapshotContext)).toBe(1);
    expect(sampleValue(after, 'debezium_metrics_RemainingTableCount', snapshotContext)).toBe(0);
    expect(sampleValue(after, 'debezium_metrics_TotalNumberOfEventsSeen', snapshotContext)).toBe(3010);
    expectValidExposition(after, expect);
  });
});
