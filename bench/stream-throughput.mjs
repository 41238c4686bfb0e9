/**
 * Stream decoding throughput, side by side in one run: pg_recvlogical writing pgoutput to
 * /dev/null (the server's decoding is the ceiling) versus `pgcdc run --stop-at now` with the File
 * target on /dev/null, each reading its own slot over the same WAL: 1,000,000 inserts then 500,000
 * updates on the benchmark table. Reports wall times, the ratio, events/s and pgcdc's peak RSS.
 *
 *   npm run bench -- stream        (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_PG=18)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BENCH_TABLE, median, referenceTool, runBenchWorkload, startBenchServer, timeCommand } from './bench-support.mjs';

const rounds = Number(process.env.PGCDC_BENCH_ROUNDS ?? 3);
const scale = Number(process.env.PGCDC_BENCH_SCALE ?? 1);
const recvlogical = referenceTool('pg_recvlogical');
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-bench-'));
try {
  const url = server.url();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(BENCH_TABLE);
  await admin.query('create publication bench_pub for table bench');
  for (let round = 0; round < rounds; round++) {
    await admin.query(`select pg_create_logical_replication_slot('ref_${round}', 'pgoutput')`);
    await admin.query(`select pg_create_logical_replication_slot('pgcdc_${round}', 'pgoutput')`);
  }
  const inserts = Math.round(1_000_000 * scale);
  const updates = Math.round(500_000 * scale);
  console.error(`workload: ${inserts} inserts then ${updates} updates…`);
  await runBenchWorkload(url, { inserts, updates });
  await admin.query('checkpoint');
  const { rows } = await admin.query('select pg_current_wal_lsn()::text as lsn, pg_size_pretty(pg_current_wal_lsn() - min(restart_lsn)) as wal from pg_replication_slots');
  const endLsn = rows[0].lsn;
  console.error(`WAL to decode: ${rows[0].wal}; end ${endLsn}`);
  const protocol = server.major >= 16 ? 4 : server.major >= 15 ? 3 : 2;

  const results = { ref: [], pgcdc: [], rss: [] };
  for (let round = 0; round < rounds; round++) {
    const ref = await timeCommand(recvlogical, [
      '-d', url, '--slot', `ref_${round}`, '--start', '--endpos', endLsn, '--no-loop', '-f', '/dev/null',
      '-o', `proto_version=${protocol}`, '-o', 'publication_names=bench_pub', '-o', 'messages=true', '-o', 'streaming=on',
    ]);
    const spec = path.join(dir, `stream-${round}.yaml`);
    fs.writeFileSync(spec, JSON.stringify({
      apiVersion: 'pgcdc/v1', kind: 'Stream', metadata: { name: `bench-${round}` },
      spec: {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `pgcdc_${round}`, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
        target: { type: 'File', file: { path: '/dev/null' } },
        stateDir: path.join(dir, `state-${round}`),
      },
    }));
    const run = await timeCommand(process.execPath, ['dist/cli/main.js', '--log-format', 'json', 'run', '-c', spec, '--stop-at', endLsn]);
    results.ref.push(ref.seconds);
    results.pgcdc.push(run.seconds);
    results.rss.push(run.peakMiB);
    console.error(`round ${round + 1}: pg_recvlogical ${ref.seconds.toFixed(2)} s, pgcdc ${run.seconds.toFixed(2)} s (ratio ${(run.seconds / ref.seconds).toFixed(3)}), pgcdc peak RSS ${run.peakMiB.toFixed(0)} MiB`);
  }
  await admin.end();
  const events = inserts + updates;
  const ref = median(results.ref);
  const ours = median(results.pgcdc);
  console.log(JSON.stringify({
    benchmark: 'stream decoding, 1M inserts + 500k updates',
    postgres: server.major,
    events,
    pg_recvlogical_s: +ref.toFixed(3),
    pgcdc_s: +ours.toFixed(3),
    ratio: +(ours / ref).toFixed(3),
    pgcdc_events_per_s: Math.round(events / ours),
    pgcdc_peak_rss_mib: Math.round(Math.max(...results.rss)),
    rounds,
  }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
