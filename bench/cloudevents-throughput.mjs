/**
 * CloudEvent target throughput, end to end: 1,000,000 inserts then 500,000 updates on the
 * benchmark table, then `pgcdc run --stop-at <end>` delivering them as CloudEvents to a receiver
 * process on the loopback (bench/cloudevents-receiver.mjs, which parses every request), in batched
 * mode and with one event per request (structured, concurrent). Reports wall time, events/s and
 * pgcdc's peak RSS per mode; the receiver must have counted every event.
 *
 *   npm run bench -- cloudevents      (PGCDC_BENCH_SCALE=1, PGCDC_BENCH_PG=18, PGCDC_BENCH_CONCURRENCY=16)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareBenchSource, runScaledWorkload, setting, startBenchServer, startReceiver, timePgcdc, writeStreamSpec } from './bench-support.mjs';

const concurrency = setting('PGCDC_BENCH_CONCURRENCY', 16);
const cases = [
  { name: 'batched', cloudEvent: { mode: 'batched', batchSize: 1000 }, concurrency: 4 },
  { name: 'structured, one event per request', cloudEvent: { mode: 'structured' }, concurrency },
];
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-ce-bench-'));
try {
  const url = server.url();
  const admin = await prepareBenchSource(url, cases.map((_, i) => `ce_${i}`));
  const { events, endLsn } = await runScaledWorkload(admin, url);
  await admin.end();
  const results = [];
  for (const [i, benchCase] of cases.entries()) {
    const receiver = await startReceiver([]);
    try {
      const spec = writeStreamSpec(dir, `bench-ce-${i}`, {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `ce_${i}`, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
        target: { type: 'CloudEvent', cloudEvent: { ...benchCase.cloudEvent, http: { url: `http://127.0.0.1:${receiver.port}/events`, concurrency: benchCase.concurrency } } },
        stateDir: path.join(dir, `state-${i}`),
      });
      const run = await timePgcdc(['run', '-c', spec, '--stop-at', endLsn]);
      const stats = await receiver.stats();
      if (stats.events < events) throw new Error(`${benchCase.name}: the receiver counted ${stats.events} events, expected ${events}`);
      console.error(`${benchCase.name}: ${run.seconds.toFixed(2)} s, ${Math.round(events / run.seconds)} events/s, ${stats.requests} requests, peak RSS ${run.peakMiB.toFixed(0)} MiB`);
      results.push({ case: benchCase.name, concurrency: benchCase.concurrency, seconds: +run.seconds.toFixed(3), events_per_s: Math.round(events / run.seconds), requests: stats.requests, received: stats.events, pgcdc_peak_rss_mib: Math.round(run.peakMiB) });
    } finally {
      receiver.stop();
    }
  }
  console.log(JSON.stringify({ benchmark: 'CloudEvent target, 1M inserts + 500k updates, loopback receiver', postgres: server.major, events, results }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

