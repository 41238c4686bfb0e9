/**
 * Signals through the signal table and `pgcdc signal`, acted on while streaming: incremental
 * snapshots (also with additional conditions, paused, resumed, stopped), log signals, and refusals
 * of malformed or impossible signals that leave the stream running.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger, type CapturedLogger } from '../support/captured-logger.js';
import { runCli } from '../support/cli.js';
import { createDatabase, flushedWalPosition, sql, useTestServer, waitFor } from '../support/postgres.js';
import { lsnToNumber } from '../support/truth-log.js';
import { WORKLOAD_TABLE_SQL, startWorkload } from '../support/random-workload.js';
import { differences, rebuildFromEvents, sourceRows } from '../support/rebuild.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

interface Running {
  readonly url: string;
  readonly config: StreamConfig;
  readonly specFile: string;
  readonly outFile: string;
  readonly log: CapturedLogger;
  stop(): Promise<void>;
}

describe('signals', () => {
  const server = useTestServer();
  let running: Running | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  async function stream(setupSql: string): Promise<Running> {
    const url = await createDatabase(server());
    await sql(url, setupSql);
    const { config, specFile, outFile } = await fileStream({ url, source: { snapshotMode: 'never', incrementalSnapshotChunkRows: 500, statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 } });
    const log = capturedLogger();
    const controller = new AbortController();
    const done = runStream(config, { logger: log.logger, signal: controller.signal });
    await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined));
    running = {
      url,
      config,
      specFile,
      outFile,
      log,
      stop: async () => {
        controller.abort();
        await done;
      },
    };
    return running;
  }

  const signal = (r: Running, type: string, data?: string) => runCli(['signal', '-c', r.specFile, type, ...(data === undefined ? [] : [data])]);
  const reads = (r: Running) => readEvents(r.outFile).filter((e) => e.op === 'r');
  const logged = (r: Running, message: string) => r.log.lines().filter((line) => line.msg === message);

  it('execute-snapshot re-reads a table while writes go on, and the result is the source', async () => {
    const r = await stream(`${WORKLOAD_TABLE_SQL}; insert into t select nextval('t_ids'), g, 'x' from generate_series(1, 5000) g`);
    const workload = startWorkload(r.url, 2);
    try {
      const sent = await signal(r, 'execute-snapshot', '{"data-collections": ["public\\\\.t"], "type": "incremental"}');
      expect(sent.code).toBe(0);
      expect(sent.stdout).toMatch(/^signal execute-snapshot sent \(id [0-9a-f-]{36}\) through pgcdc\.signals\n$/);
      await waitFor(() => (r.log.lines().some((l) => l.msg === 'incremental snapshot complete') ? true : undefined), 60_000, 'snapshot complete');
    } finally {
      await workload.stop();
    }
    // Let the stream deliver everything written, then stop.
    const end = await flushedWalPosition(r.url);
    await waitFor(async () => ((await confirmedFlush(r.url, r.config.source.slotName)) >= end ? true : undefined));
    await r.stop();
    expect(reads(r).every((e) => e.source.snapshot === 'incremental' && e.source.txId === null && e.source.lsn === null)).toBe(true);
    // Nothing from the signal table itself is ever delivered.
    expect(readEvents(r.outFile).some((e) => e.source.table === 'signals')).toBe(false);
    // The stream from the start plus the reads rebuild the table (rows older than the stream come from the reads).
    const rebuilt = rebuildFromEvents(readEvents(r.outFile), 't');
    const expected = await sourceRows(r.url, 't');
    expect(differences(rebuilt, expected)).toEqual([]);
  });

  it('applies additional conditions', async () => {
    const r = await stream('create table items (id int primary key, color text); insert into items select g, case when g % 3 = 0 then $$blue$$ else $$red$$ end from generate_series(1, 300) g');
    await signal(r, 'execute-snapshot', JSON.stringify({ 'data-collections': ['public.items'], 'additional-conditions': [{ 'data-collection': 'public.items', filter: "color = 'blue'" }] }));
    await waitFor(() => (logged(r, 'incremental snapshot complete').length > 0 ? true : undefined));
    expect(reads(r).map((e) => e.after.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => (i + 1) * 3));
  });

  it('pauses, resumes, stops, logs, and skips a table that disappeared', async () => {
    const r = await stream(
      'create table keep (id int primary key); insert into keep select generate_series(1, 2000); create table gone (id int primary key); insert into gone select generate_series(1, 10)',
    );
    await signal(r, 'pause-snapshot');
    await signal(r, 'execute-snapshot', '{"data-collections": ["public\\\\.(keep|gone)"]}');
    await signal(r, 'log', '{"message": "checkpoint before resume"}');
    await waitFor(() => (logged(r, 'checkpoint before resume').length > 0 ? true : undefined));
    expect(reads(r)).toEqual([]);
    const status = JSON.parse((await runCli(['status', '-c', r.specFile, '--json'])).stdout);
    expect(status.snapshot).toMatchObject({ kind: 'incremental', status: 'paused' });
    await sql(r.url, 'drop table gone');
    await signal(r, 'resume-snapshot');
    await waitFor(() => (logged(r, 'incremental snapshot complete').length > 0 ? true : undefined));
    expect(reads(r).map((e) => e.after.id)).toHaveLength(2000);
    expect(r.log.lines().some((l) => l.msg === 'the table disappeared during the snapshot; it is skipped' && l.table === 'public.gone')).toBe(true);

    // stop-snapshot drops what is left: paused first so that nothing is read in between.
    await signal(r, 'pause-snapshot');
    await signal(r, 'execute-snapshot', '{"data-collections": ["public.keep"]}');
    await signal(r, 'stop-snapshot', '{"data-collections": ["public.keep"]}');
    await waitFor(() => (logged(r, 'snapshot stopped').length > 0 ? true : undefined));
    await signal(r, 'resume-snapshot');
    await sql(r.url, 'insert into keep values (2001)');
    await waitFor(() => (readEvents(r.outFile).some((e) => e.op === 'c') ? true : undefined));
    expect(reads(r)).toHaveLength(2000);
  });

  it('refuses malformed or impossible signals and keeps streaming', async () => {
    const r = await stream('create table items (id int primary key)');
    const cli = await runCli(['signal', '-c', r.specFile, 'execute-snapshot', '{not json']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/error\[CONFIG_INVALID\] the data of execute-snapshot is not JSON/);
    // Rows written straight into the signal table are refused in the log.
    await sql(r.url, "insert into pgcdc.signals values ('a', 'execute-snapshot', '{broken'), ('b', 'nonsense', null), ('c', 'execute-snapshot', '{\"data-collections\": [\"public.nope\"]}')");
    const badCondition = { 'data-collections': ['public.items'], 'additional-conditions': [{ 'data-collection': 'public.items', filter: 'no_such_column = 1' }] };
    const stacked = { 'data-collections': ['public.items'], 'additional-conditions': [{ 'data-collection': 'public.items', filter: 'true); drop table items; --' }] };
    await sql(r.url, 'insert into pgcdc.signals values ($1, $2, $3), ($4, $5, $6)', ['d', 'execute-snapshot', JSON.stringify(badCondition), 'e', 'execute-snapshot', JSON.stringify(stacked)]);
    await sql(r.url, 'insert into items values (1)');
    await waitFor(() => (readEvents(r.outFile).length === 1 ? true : undefined));
    const refusals = logged(r, 'signal refused').map((l) => [l.signal, l.refusal]);
    expect(refusals).toEqual([
      ['a', expect.stringMatching(/^the data of execute-snapshot is not JSON/)],
      ['b', 'unknown signal type "nonsense"; expected one of execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot, log, tombstone, command'],
      ['c', 'no captured table matches public.nope'],
      ['d', expect.stringMatching(/^the condition for public\.items is not valid SQL for it: column "no_such_column" does not exist/)],
      ['e', 'the condition for public.items contains ";"'],
    ]);
    expect((await sql(r.url, "select to_regclass('public.items') is not null as present")).rows[0].present).toBe(true);
  });
});

async function confirmedFlush(url: string, slot: string): Promise<number> {
  const { rows } = await sql(url, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [slot]);
  return lsnToNumber(rows[0].lsn);
}
