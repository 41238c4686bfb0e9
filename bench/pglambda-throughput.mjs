/**
 * PgLambda target throughput, end to end, side by side in one run: pg_recvlogical writing pgoutput
 * to /dev/null (the server's decoding is the ceiling) versus `pgcdc run --stop-at <end>` running a
 * trivial StackGres PgLambda script (`response.writeHead(200); response.end();`) in its sandbox for
 * every change, each from its own slot over the same WAL: 1,000,000 inserts then 500,000 updates
 * on the benchmark table. pgcdc must exit 0 with its slot confirmed up to the end (every event
 * answered 200). Reports wall times, the ratio, events/s and pgcdc's peak RSS.
 *
 * pgcdc is started with --no-node-snapshot so the measured process is pgcdc itself: without it the
 * binary relaunches itself once (about half a second) and the RSS polled would be the launcher's.
 *
 *   npm run bench -- pglambda      (PGCDC_BENCH_SCALE=1, PGCDC_BENCH_PG=18)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { prepareStreamWorkload, startBenchServer, timeCommand, timeRecvlogical } from './bench-support.mjs';

const SCRIPT = 'response.writeHead(200);\nresponse.end();\n';
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-lambda-bench-'));
try {
  const url = server.url();
  const { events, endLsn } = await prepareStreamWorkload(url, ['ref', 'lambda']);
  const ref = await timeRecvlogical(url, 'ref', endLsn, server.major);
  const spec = path.join(dir, 'lambda.yaml');
  fs.writeFileSync(spec, JSON.stringify({
    apiVersion: 'pgcdc/v1', kind: 'Stream', metadata: { name: 'bench-lambda' },
    spec: {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: 'lambda', publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
      target: { type: 'PgLambda', pgLambda: { script: SCRIPT, deadLetter: { policy: 'stop' } } },
      stateDir: path.join(dir, 'state'),
    },
  }));
  const run = await timeCommand(process.execPath, ['--no-node-snapshot', 'dist/cli/main.js', '--log-format', 'json', 'run', '-c', spec, '--stop-at', endLsn]);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const { rows } = await admin.query(`select confirmed_flush_lsn >= $1::pg_lsn as done from pg_replication_slots where slot_name = 'lambda'`, [endLsn]);
  await admin.end();
  if (!rows[0].done) throw new Error(`pgcdc exited before its slot was confirmed up to ${endLsn}`);
  console.error(`pg_recvlogical ${ref.seconds.toFixed(2)} s, pgcdc PgLambda ${run.seconds.toFixed(2)} s (ratio ${(run.seconds / ref.seconds).toFixed(3)}), peak RSS ${run.peakMiB.toFixed(0)} MiB`);
  console.log(JSON.stringify({
    benchmark: 'PgLambda target, trivial script, 1M inserts + 500k updates',
    postgres: server.major,
    events,
    pg_recvlogical_s: +ref.seconds.toFixed(3),
    pgcdc_s: +run.seconds.toFixed(3),
    ratio: +(run.seconds / ref.seconds).toFixed(3),
    pg_recvlogical_events_per_s: Math.round(events / ref.seconds),
    pgcdc_events_per_s: Math.round(events / run.seconds),
    pgcdc_peak_rss_mib: Math.round(run.peakMiB),
  }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
