/**
 * RedisStreams target throughput, side by side in one run with pg_recvlogical over the same WAL and
 * with redis-benchmark (Debian's redis-tools) appending XADDs of the same size, on one local
 * redis-server (Debian's package, AOF with `appendfsync always` as exactly once across a Redis
 * crash needs it; `PGCDC_BENCH_REDIS_FSYNC=everysec` to compare) started here.
 *
 *  - The 1,000,000 inserts then 500,000 updates on the benchmark table (`PGCDC_BENCH_SCALE`), each
 *    side reading its own slot made before the workload. Per round (order alternating):
 *    pg_recvlogical to /dev/null (the server's ceiling), `pgcdc run --stop-at <end>` exactly once
 *    (the default: MULTI/EXEC with the position key) and, unless `PGCDC_BENCH_REDIS_PARTS` leaves it
 *    out, at least once (pipelined XADDs), each timed until the process exits: it exits only once
 *    every EXEC (XADD) replied and the slot is acknowledged.
 *  - Then an independent consumer (ioredis XRANGE, pages of 10,000) reads the whole stream and
 *    counts the entries by their `pgcdc-op` field: exactly `inserts` creates and `updates` updates,
 *    or the benchmark fails. The stream is deleted after.
 *  - The reference: redis-benchmark appending as many entries with the same fields as pgcdc's
 *    (`key`, `value`, the five `pgcdc-*` fields) and the same mean size with XADD, pipelined
 *    (`-P 1000`, one connection), timed whole. The report also gives the time Redis spent running
 *    pgcdc's append scripts (INFO commandstats), the server's share of pgcdc's time.
 *
 * Goal: at least 100,000 changes/s, or 80% of redis-benchmark's rate; peak RSS <= 200 MiB.
 *
 *   npm run bench -- redis    (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_SCALE=1; smoke: 6,000 changes)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ROUNDS, assertSlotConfirmed, median, prepareStreamWorkload, roundsReport, runAlternating, startBenchServer, timeCommand, timePgcdc, timeRecvlogical, writeStreamSpec } from './bench-support.mjs';

const GOALS = { changesPerSecond: 100_000, ofReference: 0.8, rssMiB: 200 };
const FSYNC = process.env.PGCDC_BENCH_REDIS_FSYNC ?? 'always';
const PARTS = new Set((process.env.PGCDC_BENCH_REDIS_PARTS ?? 'exactly-once,at-least-once').split(','));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-redis-bench-'));
const [server, redis] = await Promise.all([startBenchServer(), startRedisServer(path.join(dir, 'redis'))]);
try {
  const url = server.url();
  const modes = ['exactly-once', 'at-least-once'].filter((mode) => PARTS.has(mode));
  const slots = Array.from({ length: ROUNDS }, (_, round) => [`ref_${round}`, ...modes.map((mode) => slotOf(mode, round))]).flat();
  const { events, inserts, updates, endLsn } = await prepareStreamWorkload(url, slots);
  const results = { recvlogical: [], reference: [], meanBytes: [], ...Object.fromEntries(modes.map((mode) => [mode, { seconds: [], rss: [], redis: [] }])) };
  for (let round = 0; round < ROUNDS; round++) {
    const sides = [() => timeRecvlogical(url, `ref_${round}`, endLsn, server.major)];
    for (const mode of modes) {
      const spec = writeStreamSpec(dir, `redis-${mode}-${round}`, {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: slotOf(mode, round), publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
        target: { type: 'RedisStreams', redisStreams: { url: redis.url, topicPrefix: prefixOf(mode, round), schemasEnable: false, exactlyOnce: mode === 'exactly-once' } },
        stateDir: path.join(dir, `state-${mode}-${round}`),
      });
      sides.push(async () => {
        await redisCommand(redis.url, (client) => client.config('RESETSTAT'));
        const run = await timePgcdc(['run', '-c', spec, '--stop-at', endLsn]);
        // Time Redis spent running the append scripts: the server's share of pgcdc's time.
        const stats = await redisCommand(redis.url, (client) => client.info('commandstats'));
        return { ...run, redisSeconds: Number(/cmdstat_eval:calls=\d+,usec=(\d+)/.exec(stats)?.[1] ?? 0) / 1e6 };
      });
    }
    const [ref, ...runs] = await runAlternating(round, sides);
    results.recvlogical.push(ref.seconds);
    const line = [`pg_recvlogical ${ref.seconds.toFixed(2)} s`];
    let meanBytes = 0;
    for (const [i, mode] of modes.entries()) {
      await assertSlotConfirmed(url, slotOf(mode, round), endLsn);
      const counted = await countStream(redis.url, `${prefixOf(mode, round)}.public.bench`);
      if (counted.c !== inserts || counted.u !== updates || counted.total !== events) {
        throw new Error(`pgcdc (${mode}): stream ${prefixOf(mode, round)}.public.bench holds ${counted.total} entries (${counted.c} creates, ${counted.u} updates) where ${inserts} inserts and ${updates} updates were made`);
      }
      meanBytes = counted.meanBytes;
      results[mode].seconds.push(runs[i].seconds);
      results[mode].rss.push(runs[i].peakMiB);
      results[mode].redis.push(runs[i].redisSeconds);
      line.push(`pgcdc ${mode} ${runs[i].seconds.toFixed(2)} s (${Math.round(events / runs[i].seconds)}/s, peak RSS ${runs[i].peakMiB.toFixed(0)} MiB, Redis busy ${runs[i].redisSeconds.toFixed(2)} s in scripts)`);
    }
    const reference = await redisBenchmark(redis, `ref${round}`, events, meanBytes);
    results.reference.push(reference.seconds);
    results.meanBytes.push(meanBytes);
    line.push(`redis-benchmark XADD ${reference.seconds.toFixed(2)} s (${Math.round(events / reference.seconds)}/s), ${meanBytes} B/entry`);
    console.error(`round ${round + 1}: ${line.join(', ')}`);
  }
  const recvlogical = median(results.recvlogical);
  const reference = median(results.reference);
  const referenceRate = Math.round(events / reference);
  const report = {
    benchmark: `RedisStreams target, 1M inserts + 500k updates, one local redis-server (AOF, appendfsync ${FSYNC})`,
    postgres: server.major,
    events,
    mean_entry_bytes: Math.round(median(results.meanBytes)),
    pg_recvlogical_s: +recvlogical.toFixed(3),
    redis_benchmark_xadd_s: +reference.toFixed(3),
    redis_benchmark_xadd_events_per_s: referenceRate,
    redis_benchmark_s_rounds: results.reference.map((s) => +s.toFixed(3)),
  };
  const goals = {};
  for (const mode of modes) {
    const seconds = median(results[mode].seconds);
    const rate = Math.round(events / seconds);
    const rss = Math.round(Math.max(...results[mode].rss));
    report[mode] = { pgcdc_s: +seconds.toFixed(3), pgcdc_events_per_s: rate, ratio_to_recvlogical: +(seconds / recvlogical).toFixed(3), of_redis_benchmark: +(rate / referenceRate).toFixed(3), peak_rss_mib: rss, redis_script_s: +median(results[mode].redis).toFixed(3), ...roundsReport(results.recvlogical, results[mode].seconds) };
    goals[`${mode}_changes_per_s`] = { goal: `>= ${GOALS.changesPerSecond}, or >= ${GOALS.ofReference * 100}% of redis-benchmark`, value: rate, of_reference: +(rate / referenceRate).toFixed(3), met: rate >= GOALS.changesPerSecond || rate >= GOALS.ofReference * referenceRate };
    goals[`${mode}_peak_rss_mib`] = { goal: `<= ${GOALS.rssMiB}`, value: rss, met: rss <= GOALS.rssMiB };
  }
  report.goals = goals;
  for (const [name, { goal, value, met }] of Object.entries(goals)) console.error(`goal ${name} ${goal}: ${value} ${met ? 'met' : 'NOT met'}`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await Promise.allSettled([server.stop(), redis.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}

function slotOf(mode, round) {
  return mode === 'exactly-once' ? `pgcdc_eos_${round}` : `pgcdc_alo_${round}`;
}

function prefixOf(mode, round) {
  return mode === 'exactly-once' ? `rbeos${round}` : `rbalo${round}`;
}

/** Debian's redis-server on a free loopback port, durable (AOF), its data in `dataDir`. */
async function startRedisServer(dataDir) {
  const program = ['/usr/bin/redis-server', '/usr/sbin/redis-server'].find((candidate) => fs.existsSync(candidate));
  if (!program) throw new Error('redis-server is missing: sudo apt-get install -y redis-server');
  fs.mkdirSync(dataDir, { recursive: true });
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const child = spawn(program, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', FSYNC, '--save', ''], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => (log = (log + chunk).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    const ready = await client.connect().then(() => client.ping()).then(() => true, () => false);
    client.disconnect();
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** Runs `fn` on a connection of its own. */
async function redisCommand(serverUrl, fn) {
  const client = new Redis(serverUrl);
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** Reads stream `key` whole with XRANGE (independent of pgcdc), counts its entries by `pgcdc-op` and their mean size; then deletes it. */
async function countStream(serverUrl, key) {
  const client = new Redis(serverUrl);
  try {
    const counts = { total: 0, c: 0, u: 0, other: 0, bytes: 0 };
    let from = '-';
    for (;;) {
      const page = await client.xrange(key, from, '+', 'COUNT', 10_000);
      for (const [, fields] of page) {
        counts.total++;
        let op;
        for (let i = 0; i < fields.length; i += 2) {
          counts.bytes += fields[i].length + fields[i + 1].length;
          if (fields[i] === 'pgcdc-op') op = fields[i + 1];
        }
        if (op === 'c') counts.c++;
        else if (op === 'u') counts.u++;
        else counts.other++;
      }
      if (page.length < 10_000) break;
      from = `(${page[page.length - 1][0]}`;
    }
    await client.del(key);
    return { ...counts, meanBytes: Math.round(counts.bytes / Math.max(1, counts.total)) };
  } finally {
    client.disconnect();
  }
}

/**
 * redis-benchmark appending `count` XADDs of about `entryBytes` to stream `key`, pipelined, on one
 * connection; checks the stream's length, deletes it.
 */
async function redisBenchmark(redis, key, count, entryBytes) {
  const program = ['/usr/bin/redis-benchmark'].find((candidate) => fs.existsSync(candidate));
  if (!program) throw new Error('redis-benchmark is missing: sudo apt-get install -y redis-tools');
  // The fields pgcdc writes, with values of their usual sizes; `value` takes the rest of the mean size.
  const fields = ['key', '{"id":__rand_int__}', 'pgcdc-id', '57275784:57275616:0', 'pgcdc-op', 'c', 'pgcdc-table', 'public.bench', 'pgcdc-lsn', '0/36A0DF8', 'pgcdc-txid', '771234'];
  const other = fields.reduce((sum, field) => sum + field.length, 0) + 'value'.length;
  const run = await timeCommand(program, ['-p', String(redis.port), '-h', '127.0.0.1', '-n', String(count), '-c', '1', '-P', '1000', '-q', 'XADD', key, '*', ...fields, 'value', 'x'.repeat(Math.max(1, entryBytes - other))], { stdout: 'pipe' });
  const client = new Redis(redis.url);
  try {
    const length = await client.xlen(key);
    if (length !== count) throw new Error(`redis-benchmark's stream ${key} holds ${length} entries where ${count} were appended`);
    await client.del(key);
  } finally {
    client.disconnect();
  }
  return run;
}
