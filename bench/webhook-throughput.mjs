/**
 * Webhook target throughput, end to end, side by side with the reference in one run: 1,000,000
 * inserts then 500,000 updates on the benchmark table, then pg_recvlogical decoding them to
 * /dev/null (the server's decoding is the ceiling) and `pgcdc run --stop-at <end>` notifying one
 * subscriber that wants everything, on the loopback (bench/cloudevents-receiver.mjs, which parses
 * every request's JSON and counts them): one POST per change, `{"Data": <change event>}`, with
 * `PGCDC_BENCH_CONCURRENCY` (16) requests in flight. Reports wall times, events/s, the ratio and
 * pgcdc's peak RSS; the subscriber must have counted every change.
 *
 *   npm run bench -- webhooks      (PGCDC_BENCH_SCALE=1, PGCDC_BENCH_PG=18)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareBenchSource, runScaledWorkload, startBenchServer, startReceiver, timeCommand, timeRecvlogical } from './bench-support.mjs';

const concurrency = Number(process.env.PGCDC_BENCH_CONCURRENCY ?? 16);
/** Extra node options for the pgcdc process, e.g. `--cpu-prof`. */
const nodeArgs = (process.env.PGCDC_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-webhook-bench-'));
const receiver = await startReceiver([]);
try {
  const url = server.url();
  const admin = await prepareBenchSource(url, ['ref', 'webhooks']);
  const spec = path.join(dir, 'webhooks.yaml');
  fs.writeFileSync(spec, JSON.stringify({
    apiVersion: 'pgcdc/v1', kind: 'Stream', metadata: { name: 'bench-webhooks' },
    spec: {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: 'webhooks', publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
      target: { type: 'Webhook', webhook: { subscriptionServer: { enabled: false }, http: { concurrency } } },
      stateDir: path.join(dir, 'state'),
    },
  }));
  // A first run with nothing to deliver creates pgcdc.webhook_subscriptions; the subscription is made with SQL.
  await timeCommand(process.execPath, ['dist/cli/main.js', '--log-format', 'json', 'run', '-c', spec, '--stop-at', 'now']);
  await admin.query('insert into pgcdc.webhook_subscriptions (url) values ($1)', [`http://127.0.0.1:${receiver.port}/hooks`]);

  const { events, endLsn } = await runScaledWorkload(admin, url);
  await admin.end();
  const ref = await timeRecvlogical(url, 'ref', endLsn, server.major);
  const run = await timeCommand(process.execPath, [...nodeArgs, 'dist/cli/main.js', '--log-format', 'json', 'run', '-c', spec, '--stop-at', endLsn]);
  const stats = await receiver.stats();
  if (stats.events < events) throw new Error(`the subscriber counted ${stats.events} notifications, expected ${events}`);
  console.error(`pg_recvlogical ${ref.seconds.toFixed(2)} s; pgcdc webhooks ${run.seconds.toFixed(2)} s, ${Math.round(events / run.seconds)} events/s, peak RSS ${run.peakMiB.toFixed(0)} MiB`);
  console.log(JSON.stringify({
    benchmark: 'Webhook target, 1M inserts + 500k updates, one subscriber for everything on the loopback',
    postgres: server.major,
    events,
    concurrency,
    pg_recvlogical_s: +ref.seconds.toFixed(3),
    pg_recvlogical_events_per_s: Math.round(events / ref.seconds),
    pgcdc_s: +run.seconds.toFixed(3),
    pgcdc_events_per_s: Math.round(events / run.seconds),
    ratio: +(run.seconds / ref.seconds).toFixed(3),
    requests: stats.requests,
    pgcdc_peak_rss_mib: Math.round(run.peakMiB),
  }, null, 2));
} finally {
  receiver.stop();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
