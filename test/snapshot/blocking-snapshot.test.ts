/**
 * Blocking snapshots (`execute-snapshot` with `"type": "blocking"`): streaming waits at the end of
 * the signal's transaction, the tables are read at one exported snapshot P, and streaming goes on
 * without the tables' changes committed before P. Checked under a concurrent workload whose rows
 * carry a version counter (every update adds one), so that a change lost or delivered twice shows:
 * the table rebuilt from the snapshot's rows and the changes after them must be the source's
 * `to_jsonb()` rows, every update exactly one version above the row it applies to. Also with
 * additional conditions, stopped by stop-snapshot while streaming waits, into a Postgres target
 * (the table synchronisation), and killed (SIGKILL) in the middle, then restarted.
 */
import fs from 'node:fs';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../src/config/stream-config.js';
import type { Logger } from '../../src/logging/logger.js';
import { runStream, type RunStreamResult } from '../../src/pipeline/run-stream.js';
import { capturedLogger, type CapturedLogger } from '../support/captured-logger.js';
import { runCli, startCli } from '../support/cli.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { createDatabase, flushedWalPosition, sql, useTestServer, waitFor } from '../support/postgres.js';
import { differences, sourceRows, type Rows } from '../support/rebuild.js';
import { testRandom } from '../support/seeded-random.js';
import { readStreamState } from '../support/stream-state.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';
import { lsnToNumber } from '../support/truth-log.js';

/** `snap` is snapshotted; `other` is written in the same transactions and never snapshotted. */
const SCHEMA_SQL = `create table snap (id int primary key, v int not null, note text);
  create sequence snap_ids;
  create table other (seq bigserial primary key, v int not null)`;

const seedSql = (rows: number): string => `insert into snap select nextval('snap_ids'), 0, md5(g::text) from generate_series(1, ${rows}) g; analyze snap`;

const BLOCKING = '{"data-collections": ["public\\\\.snap"], "type": "blocking"}';

interface Running {
  readonly url: string;
  readonly config: StreamConfig;
  readonly specFile: string;
  readonly log: CapturedLogger;
  stop(): Promise<RunStreamResult>;
}

describe('blocking snapshot', () => {
  const server = useTestServer();
  let running: Running | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  async function start(url: string, config: StreamConfig, specFile: string): Promise<Running> {
    const log = capturedLogger();
    const controller = new AbortController();
    const done = runStream(config, { logger: log.logger, signal: controller.signal });
    await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined));
    let stopped: Promise<RunStreamResult> | undefined;
    running = {
      url,
      config,
      specFile,
      log,
      stop: () => {
        controller.abort();
        stopped ??= done;
        return stopped;
      },
    };
    return running;
  }

  const logged = (r: Running, message: string): boolean => r.log.lines().some((line) => line.msg === message);

  it('reads the table at one position while streaming waits: no change lost or applied twice', async () => {
    const url = await createDatabase(server());
    await sql(url, `${SCHEMA_SQL}; ${seedSql(20_000)}`);
    const { config, specFile, outFile } = await fileStream({
      url,
      source: { snapshotChunkRows: 2000, snapshotParallelism: 2, statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 },
    });
    const r = await start(url, config, specFile);
    const workload = startVersionWorkload(url, 2);
    // Open across the signal: creating the snapshot waits for it, so it commits after the signal and before P.
    const straddling = new pg.Client({ connectionString: url });
    await straddling.connect();
    try {
      await straddling.query('begin');
      await straddling.query('update snap set v = v + 1 where id = 1');
      await straddling.query('insert into other (v) values (-1)');
      const sent = await runCli(['signal', '-c', specFile, 'execute-snapshot', BLOCKING]);
      expect(sent.code, sent.stderr).toBe(0);
      await waitFor(() => (logged(r, 'streaming paused to copy tables') ? true : undefined), 30_000, 'streaming paused');
      await straddling.query('commit');
      await waitFor(() => (logged(r, 'blocking snapshot complete; streaming resumes') ? true : undefined), 60_000, 'blocking snapshot complete');
      // Changes after the snapshot flow again.
      await waitFor(() => (changesAfterReads(readEvents(outFile), 'snap') >= 50 ? true : undefined), 30_000, 'changes after the snapshot');
    } finally {
      await workload.stop();
      await straddling.end();
    }
    await deliverEverything(r);
    const result = await r.stop();
    expect(result.stopReason).toBe('signal');

    const events = readEvents(outFile);
    const oracle = rebuildFromLastSnapshot(events, 'snap');
    expect(oracle.problems).toEqual([]);
    expect(differences(oracle.rows, await sourceRows(url, 'snap'))).toEqual([]);
    // The row changed by the transaction that straddled the signal: its change is in the read (the
    // workload may have changed it again before P), not delivered again (the oracle's versions).
    expect(oracle.reads.find((e) => e.after.id === 1)?.after.v).toBeGreaterThanOrEqual(1);
    expect(oracle.reads.every((e) => e.source.lsn === oracle.position)).toBe(true);
    expect(oracle.reads.map((e) => e.source.snapshot)).toEqual(['first', ...Array(oracle.reads.length - 2).fill('true'), 'last']);
    await expectEveryOtherRowOnce(url, events);
    const state = await readStreamState(url, config.source.slotName);
    expect(state?.snapshot).toMatchObject({ kind: 'blocking', status: 'done' });
    // The rule "drop the table's changes committed before P" is kept for a restart.
    expect(Object.values(state?.snapshotCoverage ?? {})).toEqual([oracle.position]);
  }, 180_000);

  it('a restart that streams again from before P still drops the changes the rows hold', async () => {
    const url = await createDatabase(server());
    await sql(url, `${SCHEMA_SQL}; ${seedSql(5000)}`);
    const { config, specFile, outFile } = await fileStream({ url, source: { snapshotChunkRows: 1000, statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 } });
    // The first run stops as soon as the snapshot is complete: before it acknowledges anything after the signal.
    const firstStop = new AbortController();
    const first = runStream(config, { logger: loggerStoppingOn('blocking snapshot complete; streaming resumes', firstStop), signal: firstStop.signal });
    await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined));
    const workload = startVersionWorkload(url, 2);
    const straddling = new pg.Client({ connectionString: url });
    await straddling.connect();
    try {
      await straddling.query('begin');
      await straddling.query('update snap set v = v + 1 where id = 1');
      expect((await runCli(['signal', '-c', specFile, 'execute-snapshot', BLOCKING])).code).toBe(0);
      // Creating the snapshot waits for this transaction, which commits after the signal and before P.
      await waitFor(async () => ((await sql(url, "select count(*)::int as n from pg_replication_slots where slot_name like '%_blocking'")).rows[0].n > 0 ? true : undefined), 30_000, 'the temporary slot');
      // Held a while, so that P is far past the signal: the little the first run may receive as it stops does not reach it.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await straddling.query('commit');
      expect((await first).stopReason).toBe('signal');
      const position = Object.values((await readStreamState(url, config.source.slotName))?.snapshotCoverage ?? {})[0];
      expect(position).toBeGreaterThan(await confirmedFlush(url, config.source.slotName));

      const r = await start(url, config, specFile);
      await waitFor(() => (changesAfterReads(readEvents(outFile), 'snap') >= 50 ? true : undefined), 30_000, 'changes after the snapshot');
      await workload.stop();
      await deliverEverything(r);
      await r.stop();
      expect(logged(r, 'resuming the interrupted blocking snapshot: its unfinished tables are read again, whole, before streaming')).toBe(false);
    } finally {
      await workload.stop();
      await straddling.end();
    }
    const events = readEvents(outFile);
    const oracle = rebuildFromLastSnapshot(events, 'snap');
    expect(oracle.problems).toEqual([]);
    expect(oracle.reads.find((e) => e.after.id === 1)?.after.v).toBeGreaterThanOrEqual(1);
    expect(differences(oracle.rows, await sourceRows(url, 'snap'))).toEqual([]);
    await expectEveryOtherRowOnce(url, events);
  }, 180_000);

  it('applies additional conditions', async () => {
    const url = await createDatabase(server());
    await sql(url, `${SCHEMA_SQL}; ${seedSql(3000)}`);
    const { config, specFile, outFile } = await fileStream({ url, source: { snapshotChunkRows: 500, statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 } });
    const r = await start(url, config, specFile);
    const data = { 'data-collections': ['public.snap'], type: 'blocking', 'additional-conditions': [{ 'data-collection': 'public.snap', filter: 'id % 3 = 0' }] };
    expect((await runCli(['signal', '-c', specFile, 'execute-snapshot', JSON.stringify(data)])).code).toBe(0);
    await waitFor(() => (logged(r, 'blocking snapshot complete; streaming resumes') ? true : undefined), 60_000, 'blocking snapshot complete');
    await sql(url, 'insert into other (v) values (7)');
    await waitFor(() => (readEvents(outFile).some((e) => e.op === 'c' && e.source.table === 'other') ? true : undefined), 20_000, 'streaming resumed');
    const reads = readEvents(outFile).filter((e) => e.op === 'r');
    const expected = (await sql(url, 'select id from snap where id % 3 = 0 order by id')).rows.map((row) => row.id);
    expect(reads.map((e) => e.after.id).sort((a, b) => a - b)).toEqual(expected);
    // Read at one position, marked as an initial snapshot's reads are (not between watermarks).
    expect(new Set(reads.map((e) => e.source.lsn)).size).toBe(1);
    expect(reads.at(-1).source.snapshot).toBe('last');
  }, 120_000);

  it('stop-snapshot sent while streaming waits stops it, and streaming resumes', async () => {
    const url = await createDatabase(server());
    await sql(url, `${SCHEMA_SQL}; ${seedSql(1000)}`);
    const { config, specFile, outFile } = await fileStream({ url, source: { statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 } });
    const r = await start(url, config, specFile);
    // A transaction left open: the snapshot cannot be created until it ends, so the blocking snapshot waits.
    const open = new pg.Client({ connectionString: url });
    await open.connect();
    try {
      await open.query('begin');
      await open.query('insert into other (v) values (-1)');
      expect((await runCli(['signal', '-c', specFile, 'execute-snapshot', BLOCKING])).code).toBe(0);
      await waitFor(() => (logged(r, 'streaming paused to copy tables') ? true : undefined), 30_000, 'streaming paused');
      expect((await runCli(['signal', '-c', specFile, 'stop-snapshot', '{"data-collections": ["public.snap"]}'])).code).toBe(0);
      await waitFor(() => (logged(r, 'snapshot stopped') ? true : undefined), 30_000, 'snapshot stopped');
      await sql(url, 'insert into other (v) values (1)');
      await waitFor(() => (readEvents(outFile).some((e) => e.source.table === 'other' && e.after?.v === 1) ? true : undefined), 30_000, 'streaming resumed');
      await open.query('commit');
    } finally {
      await open.end();
    }
    await waitFor(() => (readEvents(outFile).some((e) => e.source.table === 'other' && e.after?.v === -1) ? true : undefined), 30_000, 'the open transaction delivered');
    expect(readEvents(outFile).filter((e) => e.op === 'r')).toEqual([]);
    expect((await readStreamState(url, config.source.slotName))?.snapshot).toMatchObject({ kind: 'blocking', status: 'stopped' });
  }, 120_000);

  it('into a Postgres target, blocking is the table synchronisation: the target equals the source', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server(), 'target');
    await sql(source, `${SCHEMA_SQL}; ${seedSql(10_000)}`);
    const { config, specFile } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 } });
    const r = await start(source, config, specFile);
    const workload = startVersionWorkload(source, 2);
    try {
      expect((await runCli(['signal', '-c', specFile, 'execute-snapshot', BLOCKING])).code).toBe(0);
      await waitFor(() => (logged(r, 'table copy queued') ? true : undefined), 30_000, 'table copy queued');
      await waitFor(() => (logged(r, 'initial snapshot complete') ? true : undefined), 60_000, 'table copied');
    } finally {
      await workload.stop();
    }
    await deliverEverything(r);
    await r.stop();
    expect(logged(r, 'blocking snapshot queued: streaming stops at the end of this transaction')).toBe(false);
    expect(await tableText(target, 'snap')).toEqual(await tableText(source, 'snap'));
    expect(await tableText(target, 'other')).toEqual(await tableText(source, 'other'));
  }, 180_000);

  it('killed (SIGKILL) in the middle, the restart reads the table again and nothing is lost or doubled', async () => {
    const url = await createDatabase(server());
    await sql(url, `${SCHEMA_SQL}; ${seedSql(200_000)}`);
    const { config, specFile, outFile } = await fileStream({
      url,
      source: { snapshotChunkRows: 5000, snapshotParallelism: 2, statusIntervalMs: 100, tableDiscoveryIntervalMs: 0 },
    });
    const chunks = async (): Promise<{ done: number; all: number } | undefined> => {
      const snapshot = (await readStreamState(url, config.source.slotName))?.snapshot;
      if (snapshot?.kind !== 'blocking') return undefined;
      const all = snapshot.tables.flatMap((t) => t.chunks);
      return { done: all.filter((c) => c.done).length, all: all.length };
    };
    const first = startCli(['run', '-c', specFile]);
    await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined), 30_000, 'streaming');
    const workload = startVersionWorkload(url, 2);
    let restarted: ReturnType<typeof startCli> | undefined;
    try {
      expect((await runCli(['signal', '-c', specFile, 'execute-snapshot', BLOCKING])).code).toBe(0);
      const atKill = await waitFor(async () => {
        const c = await chunks();
        return c && c.done >= 2 ? c : undefined;
      }, 60_000, 'chunks of the blocking snapshot done');
      first.child.kill('SIGKILL');
      await first.finished();
      expect(atKill.done).toBeLessThan(atKill.all);

      restarted = startCli(['run', '-c', specFile]);
      const resumed = restarted;
      await waitFor(() => (resumed.output().stderr.includes('blocking snapshot complete; streaming resumes') ? true : undefined), 120_000, 'blocking snapshot complete after the restart');
      await waitFor(() => (changesAfterReads(readEvents(outFile), 'snap') >= 50 ? true : undefined), 30_000, 'changes after the snapshot');
    } finally {
      await workload.stop();
    }
    const end = await flushedWalPosition(url);
    await waitFor(async () => ((await confirmedFlush(url, config.source.slotName)) >= end ? true : undefined), 60_000, 'everything delivered');
    restarted.child.kill('SIGTERM');
    const exit = await restarted.finished();
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toContain('resuming the interrupted blocking snapshot');

    const events = readEvents(outFile);
    const oracle = rebuildFromLastSnapshot(events, 'snap');
    expect(oracle.problems).toEqual([]);
    expect(differences(oracle.rows, await sourceRows(url, 'snap'))).toEqual([]);
    await expectEveryOtherRowOnce(url, events);
    expect(fs.existsSync(outFile)).toBe(true);
  }, 300_000);

  async function deliverEverything(r: Running): Promise<void> {
    const end = await flushedWalPosition(r.url);
    await waitFor(async () => ((await confirmedFlush(r.url, r.config.source.slotName)) >= end ? true : undefined), 60_000, 'everything delivered');
  }
});

/** A logger that aborts `stop` when it logs `message` (synchronously: before the stream goes on). */
function loggerStoppingOn(message: string, stop: AbortController): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (chunk.toString('utf8').includes(`"msg":"${message}"`)) stop.abort();
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

/**
 * Transactions from `workers` connections until stopped, each writing `other` and changing `snap`:
 * updates add one to `v`, inserts start at 0, deletes remove a row other than row 1 (no key changes).
 */
function startVersionWorkload(url: string, workers: number): { stop(): Promise<void> } {
  let stopped = false;
  const loops = Array.from({ length: workers }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      while (!stopped) {
        const pick = testRandom();
        const id = `(select floor(random() * last_value)::int + 1 from snap_ids)`;
        const change =
          pick < 0.5
            ? `update snap set v = v + 1 where id = ${id}`
            : pick < 0.65
              ? `update snap set v = v + 1 where id in (${id}, ${id})`
              : pick < 0.8
                ? `delete from snap where id = ${id} and id <> 1` // row 1 stays: the tests follow the change made to it across the signal
                : `insert into snap values (nextval('snap_ids'), 0, 'new')`;
        try {
          await client.query('begin');
          await client.query(change);
          await client.query(`insert into other (v) values (${Math.floor(pick * 1000)})`);
          await client.query('commit');
        } catch {
          await client.query('rollback').catch(() => undefined);
        }
      }
    } finally {
      await client.end();
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/**
 * The table as a consumer rebuilds it from its latest snapshot: the read events of the last
 * snapshot position, then every later change in order. Each change must fit the row it applies to
 * (an update exactly one version above it, a create of a row not there, a delete of a row there):
 * otherwise a change was lost or delivered twice.
 */
function rebuildFromLastSnapshot(events: readonly any[], table: string): { rows: Rows; reads: any[]; position: unknown; problems: string[] } {
  const allReads = events.filter((e) => e.op === 'r' && e.source.table === table);
  const position = allReads.at(-1)?.source.lsn;
  const first = events.findIndex((e) => e.op === 'r' && e.source.table === table && e.source.lsn === position);
  const rows: Rows = new Map();
  const reads: any[] = [];
  const problems: string[] = [];
  if (first < 0) return { rows, reads, position, problems: ['no snapshot'] };
  for (const event of events.slice(first)) {
    if (event.source.table !== table) continue;
    const key = String((event.after ?? event.before).id);
    const current = rows.get(key);
    switch (event.op) {
      case 'r':
        if (event.source.lsn !== position) problems.push(`a read of ${key} at another position`);
        reads.push(event);
        rows.set(key, event.after);
        break;
      case 'c':
        if (current) problems.push(`${key} created while present`);
        rows.set(key, event.after);
        break;
      case 'u':
        if (!current) problems.push(`${key} updated while absent`);
        else if (event.after.v !== (current.v as number) + 1) problems.push(`${key} updated from version ${String(current.v)} to ${event.after.v}`);
        rows.set(key, event.after);
        break;
      case 'd':
        if (!current) problems.push(`${key} deleted while absent`);
        rows.delete(key);
        break;
      default:
        problems.push(`unexpected ${event.op} event`);
    }
  }
  return { rows, reads, position, problems: problems.slice(0, 10) };
}

/** Change events of `table` after its last read event. */
function changesAfterReads(events: readonly any[], table: string): number {
  let count = 0;
  for (const event of events) {
    if (event.source?.table !== table) continue;
    if (event.op === 'r') count = 0;
    else count++;
  }
  return count;
}

/**
 * Every row of `other` arrived exactly once, as a create, none read by a snapshot, in commit order
 * (each comes from its own transaction: the previous commit's position, first in Debezium's
 * `sequence`, grows from one to the next; it is null after a reconnection).
 */
async function expectEveryOtherRowOnce(url: string, events: readonly any[]): Promise<void> {
  const delivered = events.filter((e) => e.source.table === 'other');
  expect(delivered.every((e) => e.op === 'c')).toBe(true);
  const previousCommits = delivered.map((e) => JSON.parse(e.source.sequence)[0] as string | null).map((lsn) => (lsn === null ? null : Number(lsn)));
  const outOfOrder = previousCommits.filter((lsn, i) => i > 0 && lsn !== null && previousCommits[i - 1] !== null && lsn <= previousCommits[i - 1]!);
  expect(outOfOrder).toEqual([]);
  const seqs = delivered.map((e) => Number(e.after.seq)).sort((a, b) => a - b);
  const { rows } = await sql(url, 'select seq::int as seq from other order by seq');
  expect(seqs).toEqual(rows.map((row) => row.seq));
}

async function confirmedFlush(url: string, slot: string): Promise<number> {
  const { rows } = await sql(url, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [slot]);
  return lsnToNumber(rows[0].lsn);
}
