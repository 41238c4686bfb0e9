/**
 * Commit-to-durable latency under a steady load: pgbench commits single-row transactions at about
 * 2,000/s while pgcdc (in-process, File target on a real file, fsync before acknowledging) streams
 * them; each event's latency is the time from its commit (the server's commit timestamp) to the
 * moment the File target made it durable. Every committed row must arrive. Reports p50, p99 and max.
 *
 *   npm run bench -- latency      (PGCDC_BENCH_RATE=2000, PGCDC_BENCH_SECONDS=20; smoke: 200 for 3 s)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseStreamConfig } from '../dist/config/load-stream-config.js';
import { silentLogger } from '../dist/logging/logger.js';
import { runStream } from '../dist/pipeline/run-stream.js';
import { createTarget } from '../dist/targets/create-target.js';
import { percentile, referenceTool, setting, startBenchServer, timeCommand, waitForActiveSlot, waitUntil } from './bench-support.mjs';

const rate = setting('PGCDC_BENCH_RATE', 2000, 200);
const seconds = setting('PGCDC_BENCH_SECONDS', 20, 3);
const pgbench = referenceTool('pgbench');
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-latency-'));
try {
  const url = server.url();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('create table latency (id bigserial primary key, payload text not null, created_at timestamptz not null default now())');
  await admin.end();
  const config = await parseStreamConfig(
    JSON.stringify({
      apiVersion: 'pgcdc/v1', kind: 'Stream', metadata: { name: 'latency' },
      spec: {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: 'latency' } },
        target: { type: 'File', file: { path: path.join(dir, 'events.ndjson') } },
        stateDir: path.join(dir, 'state'),
      },
    }),
  );
  // The File target, timed: a batch's events are durable when its write resolves.
  const file = await createTarget(config, silentLogger());
  const latenciesMs = [];
  const target = {
    open: () => file.open(),
    close: () => file.close(),
    async write(batch) {
      await file.write(batch);
      const nowMicros = (performance.timeOrigin + performance.now()) * 1000;
      for (const event of batch.events) if (event.kind === 'row') latenciesMs.push((nowMicros - event.txn.commitTimeMicros) / 1000);
    },
  };
  const controller = new AbortController();
  const streaming = runStream(config, { logger: silentLogger(), target, signal: controller.signal });
  let failure;
  streaming.catch((error) => (failure = error));
  const failed = () => {
    if (failure) throw failure;
  };
  await waitForActiveSlot(url, 'latency', failed);
  const script = path.join(dir, 'insert.sql');
  fs.writeFileSync(script, "insert into latency (payload) values (md5(random()::text));\n");
  const load = await timeCommand(pgbench, ['-n', '-f', script, '-R', String(rate), '-T', String(seconds), '-c', '4', '-j', '2', url], { stdout: 'pipe' });
  const expected = await countRows(url);
  await waitUntil(() => {
    failed();
    return latenciesMs.length >= expected;
  }, () => `pgcdc delivered ${latenciesMs.length} of ${expected} rows`);
  controller.abort();
  await streaming;
  latenciesMs.sort((a, b) => a - b);
  console.log(JSON.stringify({
    benchmark: 'commit to durable event, File target with fsync',
    postgres: server.major,
    target_rate_tps: rate,
    achieved_rate_tps: Math.round(expected / load.seconds),
    events: latenciesMs.length,
    p50_ms: +percentile(latenciesMs, 50).toFixed(2),
    p99_ms: +percentile(latenciesMs, 99).toFixed(2),
    max_ms: +latenciesMs[latenciesMs.length - 1].toFixed(2),
  }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function countRows(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query('select count(*) as n from latency')).rows[0].n);
  } finally {
    await client.end();
  }
}
