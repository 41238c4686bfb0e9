/**
 * CloudEvent target latency under a steady load: pgbench (`PGCDC_BENCH_CLIENTS`, 8 clients) inserts
 * `PGCDC_BENCH_RATE` (5,000) rows per second, `PGCDC_BENCH_ROWS_PER_TXN` (2) per transaction, for
 * `PGCDC_BENCH_SECONDS` (20) while `pgcdc run` delivers
 * them to a receiver process on the loopback, once in batched mode and once in structured mode
 * (one event per request). The receiver measures each event from its source commit (the server's
 * commit timestamp, `data.source.ts_us`) to its arrival. Reports p50, p99 and max per mode, over
 * the steady state (events committed from `PGCDC_BENCH_WARMUP` (2) seconds after the load started:
 * pgbench catches up its schedule while its clients connect) and over all events. The receiver
 * must count every committed row.
 *
 *   npm run bench -- cloudevents-latency     (smoke: 200 rows/s from 2 clients for 3 s, 1 s warm-up)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pgcdcArgs, queryOnce as query, referenceTool, setting, startBenchServer, startReceiver, timeCommand, waitForActiveSlot, waitUntil, writeStreamSpec } from './bench-support.mjs';

const rate = setting('PGCDC_BENCH_RATE', 5000, 200);
/** Rows per transaction: the server's commits per second are the limit of this machine's disk. */
const rowsPerTransaction = setting('PGCDC_BENCH_ROWS_PER_TXN', 2);
const seconds = setting('PGCDC_BENCH_SECONDS', 20, 3);
const clients = setting('PGCDC_BENCH_CLIENTS', 8, 2);
/** Requests in flight (the target's default). */
const concurrency = setting('PGCDC_BENCH_CONCURRENCY', 8);
const warmupSeconds = setting('PGCDC_BENCH_WARMUP', 2, 1);
const modes = (process.env.PGCDC_BENCH_CE_MODES ?? 'batched,structured').split(',').map((mode) => ({ mode, cloudEvent: { mode } }));
const pgbench = referenceTool('pgbench');
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-ce-latency-'));
try {
  const url = server.url();
  const results = [];
  for (const [i, { mode, cloudEvent }] of modes.entries()) {
    const table = `latency_${i}`;
    await query(url, `create table ${table} (id bigserial primary key, payload text not null, created_at timestamptz not null default now())`);
    const receiver = await startReceiver(['--latency']);
    const spec = writeStreamSpec(dir, `ce-latency-${i}`, {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: table, includes: [`public\\.${table}`] } },
      target: { type: 'CloudEvent', cloudEvent: { ...cloudEvent, http: { url: `http://127.0.0.1:${receiver.port}/events`, concurrency } } },
      stateDir: path.join(dir, `state-${i}`),
    });
    const pgcdc = spawn(process.execPath, pgcdcArgs(['run', '-c', spec]), { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = () => {
      if (pgcdc.exitCode !== null) throw new Error(`pgcdc exited with ${pgcdc.exitCode}`);
    };
    try {
      await waitForActiveSlot(url, table, exited);
      const script = path.join(dir, `insert-${i}.sql`);
      fs.writeFileSync(script, `insert into ${table} (payload) select md5(random()::text) from generate_series(1, ${rowsPerTransaction});\n`);
      const loadStartMs = Date.now();
      const load = await timeCommand(pgbench, ['-n', '-f', script, '-R', String(rate / rowsPerTransaction), '-T', String(seconds), '-c', String(clients), '-j', '2', url], { stdout: 'pipe' });
      const expected = Number((await query(url, `select count(*) as n from ${table}`)).rows[0].n);
      let stats;
      await waitUntil(async () => {
        exited();
        stats = await receiver.stats();
        return stats.events >= expected;
      }, () => `the receiver counted ${stats.events} of ${expected} events`);
      const steady = (await receiver.stats(loadStartMs + warmupSeconds * 1000)).latenciesMs;
      const all = stats.latenciesMs;
      console.error(`${mode}: ${stats.events} events at ${Math.round(expected / load.seconds)}/s, ${stats.requests} requests; steady state p50 ${steady.p50} ms, p99 ${steady.p99} ms, max ${steady.max} ms; all events p99 ${all.p99} ms, max ${all.max} ms`);
      results.push({
        mode,
        achieved_events_per_s: Math.round(expected / load.seconds),
        events: stats.events,
        requests: stats.requests,
        steady: { events: steady.count, p50_ms: steady.p50, p99_ms: steady.p99, max_ms: steady.max },
        all: { p50_ms: all.p50, p99_ms: all.p99, max_ms: all.max },
      });
    } finally {
      pgcdc.kill('SIGTERM');
      await new Promise((resolve) => pgcdc.once('close', resolve));
      receiver.stop();
    }
  }
  console.log(JSON.stringify({ benchmark: 'CloudEvent target, source commit to receiver', postgres: server.major, target_events_per_s: rate, rows_per_transaction: rowsPerTransaction, seconds, clients, concurrency, warmup_s: warmupSeconds, results }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

