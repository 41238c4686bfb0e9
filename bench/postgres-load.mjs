/**
 * Initial load into another PostgreSQL, side by side in one run: `pg_dump -t bench | psql` into an
 * empty database versus `pgcdc run` with `snapshotMode: initial_only` and the Postgres target into
 * another empty database of the same target server, on 3,000,000 rows of the benchmark table.
 * Both create the table, load the rows and build the primary key afterwards; both targets are
 * checked against the source. PostgreSQL 15 by default: Debian's pg_dump is version 15 and refuses
 * newer servers. Reports wall times, the ratio and rows/s.
 *
 *   npm run bench -- load          (PGCDC_BENCH_ROWS=3000000, PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_PG=15)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BENCH_TABLE, median, referenceTool, startBenchServer, timeCommand } from './bench-support.mjs';

const rows = Number(process.env.PGCDC_BENCH_ROWS ?? 3_000_000);
const rounds = Number(process.env.PGCDC_BENCH_ROUNDS ?? 3);
const major = Number(process.env.PGCDC_BENCH_PG ?? 15);
const pgDump = referenceTool('pg_dump');
const psql = referenceTool('psql');
const source = await startBenchServer(major);
const target = await startBenchServer(major);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-bench-load-'));
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
  await query(url, BENCH_TABLE);
  console.error(`loading ${rows} rows into the source…`);
  await query(url, `insert into bench (a, b, c, d) select g, md5(g::text), now() - g * interval '1 second', (g % 100000) / 7.0 from generate_series(1, $1::int) g`, [rows]);
  await query(url, 'vacuum analyze bench');
  const expected = await checksum(url);
  const results = { dump: [], pgcdc: [], rss: [] };
  for (let round = 0; round < rounds; round++) {
    const dumpDb = `dump_${round}`;
    const pgcdcDb = `pgcdc_${round}`;
    await query(target.url(), `create database ${dumpDb}`);
    await query(target.url(), `create database ${pgcdcDb}`);
    await query(target.url(), 'checkpoint');
    const dump = await timeCommand('/bin/sh', ['-c', `${pgDump} -d "${url}" -t bench | ${psql} -X -q -v ON_ERROR_STOP=1 -d "${target.url(dumpDb)}" > /dev/null`]);
    await query(target.url(), 'checkpoint');
    const spec = path.join(dir, `load-${round}.yaml`);
    fs.writeFileSync(spec, JSON.stringify({
      apiVersion: 'pgcdc/v1', kind: 'Stream', metadata: { name: `load-${round}` },
      spec: {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'initial_only', includes: ['public\\.bench'], tableDiscoveryIntervalMs: 0 } },
        target: { type: 'Postgres', postgres: { url: target.url(pgcdcDb) } },
        stateDir: path.join(dir, `state-${round}`),
      },
    }));
    const run = await timeCommand(process.execPath, ['dist/cli/main.js', '--log-format', 'json', 'run', '-c', spec]);
    for (const [name, db] of [['pg_dump | psql', dumpDb], ['pgcdc', pgcdcDb]]) {
      const got = await checksum(target.url(db));
      if (got.n !== expected.n || got.h !== expected.h) throw new Error(`${name}'s target differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
      const pkey = await query(target.url(db), "select count(*)::int as n from pg_index where indrelid = 'bench'::regclass and indisprimary");
      if (pkey.rows[0].n !== 1) throw new Error(`${name}'s target has no primary key`);
    }
    results.dump.push(dump.seconds);
    results.pgcdc.push(run.seconds);
    results.rss.push(run.peakMiB);
    console.error(`round ${round + 1}: pg_dump | psql ${dump.seconds.toFixed(2)} s, pgcdc ${run.seconds.toFixed(2)} s (ratio ${(run.seconds / dump.seconds).toFixed(3)}), pgcdc peak RSS ${run.peakMiB.toFixed(0)} MiB`);
  }
  const dump = median(results.dump);
  const ours = median(results.pgcdc);
  console.log(JSON.stringify({
    benchmark: 'initial load into PostgreSQL, 3M rows',
    postgres: source.major,
    rows,
    pg_dump_psql_s: +dump.toFixed(3),
    pgcdc_s: +ours.toFixed(3),
    ratio: +(ours / dump).toFixed(3),
    pgcdc_rows_per_s: Math.round(rows / ours),
    pg_dump_rows_per_s: Math.round(rows / dump),
    pgcdc_peak_rss_mib: Math.round(Math.max(...results.rss)),
    rounds,
  }, null, 2));
} finally {
  await Promise.all([source.stop(), target.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}
