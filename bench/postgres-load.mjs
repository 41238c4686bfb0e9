/**
 * Initial load into another PostgreSQL, side by side in one run: `pg_dump -t bench | psql` into an
 * empty database versus `pgcdc run` with `snapshotMode: initial_only` and the Postgres target into
 * another empty database of the same target server, for several table shapes. Both create the
 * table, load the rows and build the primary key afterwards; both targets are checked against the
 * source (row count and a hash of every row). Rounds alternate which side goes first. PostgreSQL 15
 * by default: Debian's pg_dump is version 15 and refuses newer servers. Reports wall times, the
 * ratio, rows/s and the raw rounds per shape.
 *
 *   npm run bench -- load     (PGCDC_BENCH_LOAD_SHAPES=bench,serial,wide PGCDC_BENCH_ROWS=3000000
 *                              PGCDC_BENCH_ROUNDS=3 PGCDC_BENCH_PG=15; the wide shape loads a third of the rows;
 *                              smoke: 3,000 rows, 1 round, still PostgreSQL 15)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_TABLE, ROUNDS, inRoundOrder, median, queryOnce as query, referenceTool, roundsReport, setting, startBenchServer, timeCommand, timePgcdc, writeStreamSpec } from './bench-support.mjs';

const rows = setting('PGCDC_BENCH_ROWS', 3_000_000, 3_000);
const major = setting('PGCDC_BENCH_PG', 15);

/** Wide: 40 columns of mixed types. */
const WIDE_COLUMNS = [
  ...Array.from({ length: 8 }, (_, i) => [`i${i}`, 'int', `(g * ${i + 3}) % 1000003`]),
  ...Array.from({ length: 8 }, (_, i) => [`t${i}`, 'text', `substr(md5((g + ${i})::text), 1, ${8 + i * 3})`]),
  ...Array.from({ length: 6 }, (_, i) => [`f${i}`, 'float8', `g / ${i + 7}.0`]),
  ...Array.from({ length: 6 }, (_, i) => [`ts${i}`, 'timestamptz', `timestamptz '2020-01-01' + (g * ${i + 1}) * interval '1 second'`]),
  ...Array.from({ length: 6 }, (_, i) => [`n${i}`, 'numeric(14,4)', `(g % 99991) / ${i + 3}.0`]),
  ...Array.from({ length: 4 }, (_, i) => [`b${i}`, 'boolean', `g % ${i + 2} = 0`]),
  ['d0', 'date', "date '2020-01-01' + (g % 3650)"],
  ['j0', 'jsonb', `jsonb_build_object('g', g, 'k', 'v')`],
];

/** The table shapes: how to create `bench` and fill it with `n` rows. */
const SHAPES = {
  bench: {
    about: 'bigserial key, int, 32-char text, timestamptz, numeric(12,2) (the benchmark table)',
    create: BENCH_TABLE,
    fill: (n) => `insert into bench (a, b, c, d) select g, md5(g::text), now() - g * interval '1 second', (g % 100000) / 7.0 from generate_series(1, ${n}) g`,
    rows,
  },
  serial: {
    about: 'bigserial key, 64-char text, timestamptz with a default, numeric(12,2)',
    create: 'create table bench (id bigserial primary key, label text not null, at timestamptz not null default now(), amount numeric(12,2))',
    fill: (n) => `insert into bench (label, at, amount) select md5(g::text) || md5((g + 1)::text), now() - g * interval '1 second', (g % 100000) / 7.0 from generate_series(1, ${n}) g`,
    rows,
  },
  wide: {
    about: 'bigint key and 40 columns: ints, texts, float8, timestamptz, numeric, booleans, a date, a jsonb',
    create: `create table bench (id bigint primary key, ${WIDE_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`,
    fill: (n) => `insert into bench select g, ${WIDE_COLUMNS.map(([, , value]) => value).join(', ')} from generate_series(1, ${n}) g`,
    rows: Math.round(rows / 3),
  },
};

const shapes = (process.env.PGCDC_BENCH_LOAD_SHAPES ?? Object.keys(SHAPES).join(',')).split(',');
for (const shape of shapes) if (!SHAPES[shape]) throw new Error(`unknown shape "${shape}"; available: ${Object.keys(SHAPES).join(', ')}`);

const pgDump = referenceTool('pg_dump');
const psql = referenceTool('psql');
const source = await startBenchServer(major);
const target = await startBenchServer(major);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-bench-load-'));
const checksum = async (url) => (await query(url, 'select count(*)::int as n, sum(hashtext(t::text))::text as h from bench t')).rows[0];

/** One side of a round: the command, and the database it loads. */
const sides = (url, shape, round) => {
  const dumpDb = `dump_${shape}_${round}`;
  const pgcdcDb = `pgcdc_${shape}_${round}`;
  const spec = writeStreamSpec(dir, `load-${shape}-${round}`, {
    source: { type: 'Postgres', postgres: { url, snapshotMode: 'initial_only', includes: ['public\\.bench'], tableDiscoveryIntervalMs: 0 } },
    target: { type: 'Postgres', postgres: { url: target.url(pgcdcDb) } },
    stateDir: path.join(dir, `state-${shape}-${round}`),
  });
  return [
    { name: 'pg_dump | psql', db: dumpDb, run: () => timeCommand('/bin/sh', ['-c', `${pgDump} -d "${url}" -t bench | ${psql} -X -q -v ON_ERROR_STOP=1 -d "${target.url(dumpDb)}" > /dev/null`]) },
    { name: 'pgcdc', db: pgcdcDb, run: () => timePgcdc(['run', '-c', spec]) },
  ];
};

const report = [];
try {
  for (const shape of shapes) {
    const { create, fill, rows: count, about } = SHAPES[shape];
    const database = `source_${shape}`;
    await query(source.url(), `create database ${database}`);
    const url = source.url(database);
    await query(url, create);
    console.error(`${shape}: loading ${count} rows (${about}) into the source…`);
    await query(url, fill(count));
    await query(url, 'vacuum analyze bench');
    const expected = await checksum(url);
    const times = { 'pg_dump | psql': [], pgcdc: [] };
    const rss = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which side goes first: the first one may find the machine's caches colder.
      for (const side of inRoundOrder(round, sides(url, shape, round))) {
        await query(target.url(), `create database ${side.db}`);
        await query(target.url(), 'checkpoint');
        const result = await side.run();
        times[side.name].push(result.seconds);
        if (side.name === 'pgcdc') rss.push(result.peakMiB);
        const got = await checksum(target.url(side.db));
        if (got.n !== expected.n || got.h !== expected.h) throw new Error(`${shape}: ${side.name}'s target differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
        const pkey = await query(target.url(side.db), "select count(*)::int as n from pg_index where indrelid = 'bench'::regclass and indisprimary");
        if (pkey.rows[0].n !== 1) throw new Error(`${shape}: ${side.name}'s target has no primary key`);
        await query(target.url(), `drop database ${side.db}`);
      }
      const [dump, ours] = [times['pg_dump | psql'][round], times.pgcdc[round]];
      console.error(`${shape} round ${round + 1}: pg_dump | psql ${dump.toFixed(2)} s, pgcdc ${ours.toFixed(2)} s (ratio ${(ours / dump).toFixed(3)}), pgcdc peak RSS ${rss[round].toFixed(0)} MiB`);
    }
    const dump = median(times['pg_dump | psql']);
    const ours = median(times.pgcdc);
    report.push({
      shape,
      about,
      rows: count,
      pg_dump_psql_s: +dump.toFixed(3),
      pgcdc_s: +ours.toFixed(3),
      ratio: +(ours / dump).toFixed(3),
      pgcdc_rows_per_s: Math.round(count / ours),
      pgcdc_peak_rss_mib: Math.round(Math.max(...rss)),
      ...roundsReport(times['pg_dump | psql'], times.pgcdc),
    });
    await query(source.url(), `drop database ${database}`);
  }
  console.log(JSON.stringify({ benchmark: 'initial load into PostgreSQL vs pg_dump | psql', postgres: source.major, rounds: ROUNDS, shapes: report }, null, 2));
} finally {
  await Promise.all([source.stop(), target.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}
