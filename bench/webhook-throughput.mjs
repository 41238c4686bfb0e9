/**
 * Webhook target throughput, end to end, side by side with the reference in one run: 1,000,000
 * inserts then 500,000 updates on the benchmark table, then pg_recvlogical decoding them to
 * /dev/null (the server's decoding is the ceiling) and `pgcdc run --stop-at <end>` notifying one
 * subscriber that wants everything, on the loopback (bench/cloudevents-receiver.mjs, which parses
 * every request's JSON and counts them): one POST per change, `{"Data": <change event>}`, with
 * `PGCDC_BENCH_CONCURRENCY` (16) requests in flight. Each side reads its own slot; rounds alternate
 * which side goes first. Reports median wall times, events/s, the ratio, pgcdc's peak RSS and the
 * raw rounds; the subscriber must have counted every change in every round.
 *
 *   npm run bench -- webhooks      (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_SCALE=1, PGCDC_BENCH_PG=18)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROUNDS, median, prepareBenchSource, roundsReport, runAlternating, runScaledWorkload, setting, startBenchServer, startReceiver, timePgcdc, timeRecvlogical, writeStreamSpec } from './bench-support.mjs';

const concurrency = setting('PGCDC_BENCH_CONCURRENCY', 16);
const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-webhook-bench-'));
const receiver = await startReceiver([]);
try {
  const url = server.url();
  const admin = await prepareBenchSource(url, Array.from({ length: ROUNDS }, (_, round) => [`ref_${round}`, `webhooks_${round}`]).flat());
  const specs = Array.from({ length: ROUNDS }, (_, round) => writeStreamSpec(dir, `bench-webhooks-${round}`, {
    source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `webhooks_${round}`, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
    target: { type: 'Webhook', webhook: { subscriptionServer: { enabled: false }, http: { concurrency } } },
    stateDir: path.join(dir, `state-${round}`),
  }));
  // A first run with nothing to deliver creates pgcdc.webhook_subscriptions; the subscription is made with SQL.
  await timePgcdc(['run', '-c', specs[0], '--stop-at', 'now']);
  await admin.query('insert into pgcdc.webhook_subscriptions (url) values ($1)', [`http://127.0.0.1:${receiver.port}/hooks`]);

  const { events, endLsn } = await runScaledWorkload(admin, url);
  await admin.end();
  const results = { ref: [], pgcdc: [], rss: [], requests: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const before = await receiver.stats();
    const [ref, run] = await runAlternating(round, [
      () => timeRecvlogical(url, `ref_${round}`, endLsn, server.major),
      () => timePgcdc(['run', '-c', specs[round], '--stop-at', endLsn]),
    ]);
    const after = await receiver.stats();
    const received = after.events - before.events;
    if (received < events) throw new Error(`round ${round + 1}: the subscriber counted ${received} notifications, expected ${events}`);
    results.ref.push(ref.seconds);
    results.pgcdc.push(run.seconds);
    results.rss.push(run.peakMiB);
    results.requests.push(after.requests - before.requests);
    console.error(`round ${round + 1}: pg_recvlogical ${ref.seconds.toFixed(2)} s; pgcdc webhooks ${run.seconds.toFixed(2)} s (ratio ${(run.seconds / ref.seconds).toFixed(3)}), ${Math.round(events / run.seconds)} events/s, peak RSS ${run.peakMiB.toFixed(0)} MiB`);
  }
  const ref = median(results.ref);
  const ours = median(results.pgcdc);
  console.log(JSON.stringify({
    benchmark: 'Webhook target, 1M inserts + 500k updates, one subscriber for everything on the loopback',
    postgres: server.major,
    events,
    concurrency,
    pg_recvlogical_s: +ref.toFixed(3),
    pg_recvlogical_events_per_s: Math.round(events / ref),
    pgcdc_s: +ours.toFixed(3),
    pgcdc_events_per_s: Math.round(events / ours),
    ratio: +(ours / ref).toFixed(3),
    requests: median(results.requests),
    pgcdc_peak_rss_mib: Math.round(Math.max(...results.rss)),
    ...roundsReport(results.ref, results.pgcdc),
  }, null, 2));
} finally {
  receiver.stop();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
