/**
 * `pgcdc serve` with ten streams, side by side in one run with one stream alone: the streaming
 * benchmark's workload (1,000,000 inserts then 500,000 updates) split across ten tables. One side
 * is `pgcdc run --stop-at <end>` of one stream capturing the ten tables (one slot); the other is
 * `pgcdc serve` running ten streams, one per table (ten slots, ten publications), each into a File
 * target on /dev/null, timed until every slot is confirmed up to the end; and the server's ceiling
 * for ten slots, ten pg_recvlogical at once (one per table's publication, into /dev/null), since
 * each slot decodes the whole WAL. While serve runs, GET
 * /metrics and GET /healthz are fetched every half second (their latency under load is mostly the
 * machine's: ten walsenders share its cores with serve), and twenty times once the streams caught
 * up (the scrape's own cost); then the dashboard is loaded in headless Chromium (Debian's `chromium`, driven by playwright-core) and its
 * load time reported. Rounds alternate which side goes first.
 *
 *   npm run bench -- serve        (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_PG=18, PGCDC_BENCH_SCALE=1)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ROUNDS, SCALE, assertSlotConfirmed, median, percentile, pgcdcArgs, runAlternating, startBenchServer, timePgcdc, timeRecvlogical, treePeakKiB, waitUntil, writeStreamSpec } from './bench-support.mjs';

const STREAMS = 10;
/** Serve's streams tell the server their position this often; its end is seen through it (`run --stop-at` asks for it). */
const STATUS_INTERVAL_MS = 200;
const tables = Array.from({ length: STREAMS }, (_, i) => `bench_${i}`);

// Per round a slot for the one stream, and one per table for serve and for pg_recvlogical.
const server = await startBenchServer(undefined, { max_replication_slots: String(ROUNDS * (2 * STREAMS + 1) + 5), max_wal_senders: String(2 * STREAMS + 5) });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-bench-serve-'));
try {
  const url = server.url();
  const { events, endLsn } = await prepare(url);
  const results = { one: [], serve: [], ref: [], idleScrapesMs: [], scrapesMs: [], healthMs: [], pageLoadsMs: [], rss: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const oneSpec = writeStreamSpec(dir, `one-${round}`, {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `one_${round}`, publicationName: 'bench_all', publicationAutocreateMode: 'disabled', statusIntervalMs: STATUS_INTERVAL_MS } },
      target: { type: 'File', file: { path: '/dev/null' } },
      stateDir: path.join(dir, `state-one-${round}`),
    });
    const streamsDir = path.join(dir, `streams-${round}`);
    fs.mkdirSync(streamsDir);
    for (let i = 0; i < STREAMS; i++) {
      writeStreamSpec(streamsDir, `s${i}`, {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `serve_${round}_${i}`, publicationName: `bench_pub_${i}`, publicationAutocreateMode: 'disabled', statusIntervalMs: STATUS_INTERVAL_MS } },
        target: { type: 'File', file: { path: '/dev/null' } },
        stateDir: path.join(dir, `state-serve-${round}-${i}`),
      });
    }
    const [one, served, ref] = await runAlternating(round, [
      () => timePgcdc(['run', '-c', oneSpec, '--stop-at', endLsn]),
      () => timeServe(url, streamsDir, round, endLsn, results),
      () => timeParallelRecvlogical(url, round, endLsn, server.major),
    ]);
    results.ref.push(ref);
    await assertSlotConfirmed(url, `one_${round}`, endLsn);
    results.one.push(one.seconds);
    results.serve.push(served.seconds);
    results.rss.push(served.peakMiB);
    console.error(`round ${round + 1}: one stream ${one.seconds.toFixed(2)} s, serve with ${STREAMS} streams ${served.seconds.toFixed(2)} s (throughput ratio ${(one.seconds / served.seconds).toFixed(3)}), ${STREAMS} pg_recvlogical at once ${ref.toFixed(2)} s`);
  }
  const one = median(results.one);
  const served = median(results.serve);
  const ref = median(results.ref);
  const idle = [...results.idleScrapesMs].sort((a, b) => a - b);
  const scrapes = [...results.scrapesMs].sort((a, b) => a - b);
  const loads = [...results.pageLoadsMs].sort((a, b) => a - b);
  const health = [...results.healthMs].sort((a, b) => a - b);
  console.log(JSON.stringify({
    benchmark: `pgcdc serve, ${STREAMS} streams (one table each) vs one stream of the ${STREAMS} tables; 1M inserts + 500k updates`,
    postgres: server.major,
    events,
    one_stream_s: +one.toFixed(3),
    serve_s: +served.toFixed(3),
    throughput_ratio: +(one / served).toFixed(3),
    parallel_pg_recvlogical_s: +ref.toFixed(3),
    serve_vs_parallel_pg_recvlogical: +(ref / served).toFixed(3),
    one_stream_events_per_s: Math.round(events / one),
    serve_events_per_s: Math.round(events / served),
    serve_peak_rss_mib: Math.round(Math.max(...results.rss)),
    metrics_scrapes: scrapes.length,
    metrics_scrape_idle_p50_ms: +percentile(idle, 50).toFixed(1),
    metrics_scrape_idle_max_ms: +idle[idle.length - 1].toFixed(1),
    metrics_scrape_p50_ms: +percentile(scrapes, 50).toFixed(1),
    metrics_scrape_p99_ms: +percentile(scrapes, 99).toFixed(1),
    metrics_scrape_max_ms: +scrapes[scrapes.length - 1].toFixed(1),
    healthz_p50_ms: +percentile(health, 50).toFixed(1),
    healthz_p99_ms: +percentile(health, 99).toFixed(1),
    dashboard_load_median_ms: loads.length > 0 ? Math.round(median(loads)) : null,
    dashboard_load_max_ms: loads.length > 0 ? Math.round(loads[loads.length - 1]) : null,
    one_stream_s_rounds: results.one.map((s) => +s.toFixed(3)),
    serve_s_rounds: results.serve.map((s) => +s.toFixed(3)),
  }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Tables, publications (one of all, one per table), every slot, then the workload; returns the event count and end position. */
async function prepare(url) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    for (const table of tables) await admin.query(`create table ${table} (id bigserial primary key, a int, b text, c timestamptz, d numeric(12,2))`);
    await admin.query(`create publication bench_all for table ${tables.join(', ')}`);
    for (let i = 0; i < STREAMS; i++) await admin.query(`create publication bench_pub_${i} for table ${tables[i]}`);
    for (let round = 0; round < ROUNDS; round++) {
      await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [`one_${round}`]);
      for (let i = 0; i < STREAMS; i++) await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [`serve_${round}_${i}`]);
      for (let i = 0; i < STREAMS; i++) await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [`ref_${round}_${i}`]);
    }
    const inserts = Math.round((1_000_000 * SCALE) / STREAMS);
    const updates = Math.round((500_000 * SCALE) / STREAMS);
    console.error(`workload: ${inserts} inserts then ${updates} updates into each of ${STREAMS} tables…`);
    const rows = 1000;
    for (let done = 0; done < inserts; done += rows) {
      for (const table of tables) {
        await admin.query(`insert into ${table} (a, b, c, d) select g, md5(g::text), now() - g * interval '1 second', (g % 100000) / 7.0 from generate_series($1::int, $2::int) g`, [done + 1, Math.min(inserts, done + rows)]);
      }
    }
    for (let done = 0; done < updates; done += rows) {
      for (const table of tables) await admin.query(`update ${table} set a = a + 1, d = d + 1 where id between $1 and $2`, [done + 1, Math.min(updates, done + rows)]);
    }
    await admin.query('checkpoint');
    const { rows: [end] } = await admin.query('select pg_current_wal_lsn()::text as lsn');
    return { events: (inserts + updates) * STREAMS, endLsn: end.lsn };
  } finally {
    await admin.end();
  }
}

/**
 * Starts `pgcdc serve` on the directory and times it until every one of its slots is confirmed up
 * to `endLsn`, scraping /metrics meanwhile; then loads the dashboard, stops serve with SIGTERM and
 * checks it exits 0. Returns the seconds and serve's peak RSS (VmHWM).
 */
async function timeServe(url, streamsDir, round, endLsn, results) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, pgcdcArgs(['serve', '--streams', streamsDir, '--listen', `127.0.0.1:${port}`]), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  let running = true;
  exited.then(() => (running = false));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const t0 = performance.now();
      const response = await fetch(`${base}/metrics`).catch(() => undefined);
      if (response?.ok) {
        await response.text();
        results.scrapesMs.push(performance.now() - t0);
      }
      // The same wait for the cheapest route: how long any request waits for serve's event loop.
      const t1 = performance.now();
      const health = await fetch(`${base}/healthz`).catch(() => undefined);
      if (health?.ok) {
        await health.text();
        results.healthMs.push(performance.now() - t1);
      }
    }
  })();
  let seconds;
  try {
    await waitUntil(async () => {
      if (!running) throw new Error(`pgcdc serve exited early: ${stderr}`);
      const { rows } = await admin.query(`select count(*)::int as n from pg_replication_slots where slot_name like $1 and confirmed_flush_lsn >= $2::pg_lsn`, [`serve\\_${round}\\_%`, endLsn]);
      return rows[0].n === STREAMS;
    }, `the ${STREAMS} streams did not catch up`, { timeoutMs: 900_000, intervalMs: 100 });
    seconds = (performance.now() - started) / 1000;
  } finally {
    scraping = false;
    await scraper;
    await admin.end();
  }
  const peakMiB = treePeakKiB(child.pid) / 1024;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await (await fetch(`${base}/metrics`)).text();
    results.idleScrapesMs.push(performance.now() - t0);
  }
  results.pageLoadsMs.push(...(await dashboardLoads(base)));
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`pgcdc serve exited with ${code} after SIGTERM: ${stderr}`);
  return { seconds, peakMiB };
}

/** Seconds for ten pg_recvlogical, one per table's publication and slot, run at once, to reach `endLsn`. */
async function timeParallelRecvlogical(url, round, endLsn, major) {
  const started = performance.now();
  await Promise.all(Array.from({ length: STREAMS }, (_, i) => timeRecvlogical(url, `ref_${round}_${i}`, endLsn, major, `bench_pub_${i}`)));
  return (performance.now() - started) / 1000;
}

/** Loads the dashboard five times in a fresh headless Chromium page; milliseconds to the load event each time. */
async function dashboardLoads(base) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const loads = [];
    for (let i = 0; i < 5; i++) {
      const page = await browser.newPage();
      const t0 = performance.now();
      await page.goto(`${base}/`, { waitUntil: 'load' });
      loads.push(performance.now() - t0);
      await page.close();
    }
    return loads;
  } finally {
    await browser.close();
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
