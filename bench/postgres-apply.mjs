/**
 * Stream apply into another PostgreSQL, side by side in one run: native logical replication (a
 * CREATE SUBSCRIPTION on an identical target database, reading its own slot) versus `pgcdc run
 * --stop-at` with the Postgres target, each applying 1,000,000 inserts then 500,000 updates of the
 * benchmark table from the same WAL into its own database of one target server. Each side is
 * timed from start until its target has applied everything (native: the slot's confirmed position
 * reaches the end; pgcdc: the command exits, process start included), the order alternates between
 * rounds, and both targets are checked against the source. Reports median wall times, the ratio,
 * changes/s and the raw rounds.
 *
 *   npm run bench -- apply         (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_PG=18, PGCDC_BENCH_SCALE=1)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BENCH_TABLE, ROUNDS, median, prepareStreamWorkload, roundsReport, runAlternating, startBenchServer, timePgcdc, waitUntil, writeStreamSpec } from './bench-support.mjs';

const source = await startBenchServer();
const target = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-bench-apply-'));
const query = async (url, text, params = []) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
};
const checksum = async (url) => (await query(url, 'select count(*)::int as n, sum(hashtext(b::text || a || d))::text as h from bench')).rows[0];

try {
  const url = source.url();
  const slots = Array.from({ length: ROUNDS }, (_, round) => [`native_${round}`, `pgcdc_${round}`]).flat();
  const { events: changes, endLsn } = await prepareStreamWorkload(url, slots);
  const expected = await checksum(url);

  /** A fresh database of the target server holding an empty benchmark table. */
  const emptyTarget = async (db) => {
    await query(target.url(), `create database ${db}`);
    await query(target.url(db), BENCH_TABLE);
    await query(target.url(), 'checkpoint');
  };
  const runNative = async (round) => {
    // Native: the subscription applies from its slot until the slot's confirmed position reaches the end.
    const db = `native_${round}`;
    await emptyTarget(db);
    const started = process.hrtime.bigint();
    await query(target.url(db), `create subscription sub_${round} connection '${url}' publication bench_pub with (create_slot = false, slot_name = 'native_${round}', copy_data = false)`);
    await waitUntil(
      async () => (await query(url, 'select confirmed_flush_lsn >= $1::pg_lsn as done from pg_replication_slots where slot_name = $2', [endLsn, `native_${round}`])).rows[0].done,
      `the native subscription did not reach ${endLsn}`,
      { timeoutMs: 3_600_000, intervalMs: 20 },
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await query(target.url(db), `alter subscription sub_${round} disable`);
    await query(target.url(db), `alter subscription sub_${round} set (slot_name = none)`);
    await query(target.url(db), `drop subscription sub_${round}`);
    return { seconds, db };
  };
  const runPgcdc = async (round) => {
    // pgcdc: the same changes from its own slot into another database of the same target server.
    const db = `pgcdc_${round}`;
    await emptyTarget(db);
    const spec = writeStreamSpec(dir, `apply-${round}`, {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `pgcdc_${round}`, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled', tableDiscoveryIntervalMs: 0 } },
      target: { type: 'Postgres', postgres: { url: target.url(db) } },
      stateDir: path.join(dir, `state-${round}`),
    });
    const run = await timePgcdc(['run', '-c', spec, '--stop-at', endLsn]);
    return { seconds: run.seconds, peakMiB: run.peakMiB, db };
  };

  const results = { native: [], pgcdc: [], rss: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const [native, ours] = await runAlternating(round, [() => runNative(round), () => runPgcdc(round)]);
    for (const [name, db] of [['native', native.db], ['pgcdc', ours.db]]) {
      const got = await checksum(target.url(db));
      if (got.n !== expected.n || got.h !== expected.h) throw new Error(`${name}'s target differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
    }
    results.native.push(native.seconds);
    results.pgcdc.push(ours.seconds);
    results.rss.push(ours.peakMiB);
    console.error(`round ${round + 1}: native ${native.seconds.toFixed(2)} s, pgcdc ${ours.seconds.toFixed(2)} s (ratio ${(ours.seconds / native.seconds).toFixed(3)}), pgcdc peak RSS ${ours.peakMiB.toFixed(0)} MiB; both targets match the source`);
  }
  const native = median(results.native);
  const ours = median(results.pgcdc);
  console.log(JSON.stringify({
    benchmark: 'stream apply into PostgreSQL, 1M inserts + 500k updates',
    postgres: source.major,
    changes,
    native_subscription_s: +native.toFixed(3),
    pgcdc_s: +ours.toFixed(3),
    ratio: +(ours / native).toFixed(3),
    pgcdc_changes_per_s: Math.round(changes / ours),
    native_changes_per_s: Math.round(changes / native),
    pgcdc_peak_rss_mib: Math.round(Math.max(...results.rss)),
    ...roundsReport(results.native, results.pgcdc),
  }, null, 2));
} finally {
  await Promise.all([source.stop(), target.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}
