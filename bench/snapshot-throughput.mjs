/**
 * Initial snapshot throughput, side by side in one run: `COPY bench TO STDOUT` through psql into
 * /dev/null (the server's own bulk export) versus `pgcdc run` with `snapshotMode: initial_only`
 * and the File target on /dev/null, on 3,000,000 rows of the benchmark table. Rounds alternate
 * which side goes first; pgcdc must log that its snapshot emitted every row. Reports median wall
 * times, the ratio, rows/s and the raw rounds.
 *
 *   npm run bench -- snapshot      (PGCDC_BENCH_ROWS=3000000, PGCDC_BENCH_ROUNDS=3)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BENCH_TABLE, ROUNDS, median, referenceTool, roundsReport, runAlternating, setting, startBenchServer, timeCommand, timePgcdc, writeStreamSpec } from './bench-support.mjs';

const rows = setting('PGCDC_BENCH_ROWS', 3_000_000, 3_000);
const psql = referenceTool('psql');
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-bench-snapshot-'));
try {
  const url = server.url();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(BENCH_TABLE);
  console.error(`loading ${rows} rows…`);
  await admin.query(
    `insert into bench (a, b, c, d) select g, md5(g::text), now() - g * interval '1 second', (g % 100000) / 7.0 from generate_series(1, $1::int) g`,
    [rows],
  );
  await admin.query('vacuum analyze bench');
  await admin.end();
  const results = { copy: [], pgcdc: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const spec = writeStreamSpec(dir, `snap-${round}`, {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'initial_only', includes: ['public\\.bench'], tableDiscoveryIntervalMs: 0 } },
      target: { type: 'File', file: { path: '/dev/null' } },
      stateDir: path.join(dir, `state-${round}`),
    });
    const [copy, run] = await runAlternating(round, [
      () => timeCommand('/bin/sh', ['-c', `${psql} "${url}" -X -q -c "COPY bench TO STDOUT" > /dev/null`]),
      () => timePgcdc(['run', '-c', spec]),
    ]);
    const emitted = snapshotRows(run.stderr);
    if (emitted !== rows) throw new Error(`pgcdc's snapshot emitted ${emitted} rows, expected ${rows}`);
    results.copy.push(copy.seconds);
    results.pgcdc.push(run.seconds);
    console.error(`round ${round + 1}: COPY ${copy.seconds.toFixed(2)} s, pgcdc ${run.seconds.toFixed(2)} s (ratio ${(run.seconds / copy.seconds).toFixed(2)}), pgcdc peak RSS ${run.peakMiB.toFixed(0)} MiB`);
  }
  const copy = median(results.copy);
  const ours = median(results.pgcdc);
  console.log(JSON.stringify({
    benchmark: 'initial snapshot, initial_only into File /dev/null',
    postgres: server.major,
    rows,
    copy_s: +copy.toFixed(3),
    pgcdc_s: +ours.toFixed(3),
    ratio: +(ours / copy).toFixed(3),
    pgcdc_rows_per_s: Math.round(rows / ours),
    copy_rows_per_s: Math.round(rows / copy),
    ...roundsReport(results.copy, results.pgcdc),
  }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The rows of pgcdc's "initial snapshot complete" log line (JSON logs on standard error). */
function snapshotRows(stderr) {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line);
    if (entry.msg === 'initial snapshot complete') return entry.rows;
  }
  throw new Error(`pgcdc logged no "initial snapshot complete" line:\n${stderr}`);
}
