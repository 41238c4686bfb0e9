/**
 * Stream decoding throughput, side by side in one run: pg_recvlogical writing pgoutput to
 * /dev/null (the server's decoding is the ceiling) versus `pgcdc run --stop-at <end>` with the File
 * target on /dev/null, each reading its own slot over the same WAL: 1,000,000 inserts then 500,000
 * updates on the benchmark table. Rounds alternate which side goes first; pgcdc's slot must be
 * confirmed up to the end. Reports median wall times, the ratio, events/s, pgcdc's peak RSS and the
 * raw rounds.
 *
 *   npm run bench -- stream        (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_PG=18, PGCDC_BENCH_SCALE=1)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROUNDS, assertSlotConfirmed, median, prepareStreamWorkload, roundsReport, runAlternating, startBenchServer, timePgcdc, timeRecvlogical, writeStreamSpec } from './bench-support.mjs';

const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-bench-'));
try {
  const url = server.url();
  const slots = Array.from({ length: ROUNDS }, (_, round) => [`ref_${round}`, `pgcdc_${round}`]).flat();
  const { events, endLsn } = await prepareStreamWorkload(url, slots);

  const results = { ref: [], pgcdc: [], rss: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const spec = writeStreamSpec(dir, `bench-${round}`, {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `pgcdc_${round}`, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
      target: { type: 'File', file: { path: '/dev/null' } },
      stateDir: path.join(dir, `state-${round}`),
    });
    const [ref, run] = await runAlternating(round, [
      () => timeRecvlogical(url, `ref_${round}`, endLsn, server.major),
      () => timePgcdc(['run', '-c', spec, '--stop-at', endLsn]),
    ]);
    await assertSlotConfirmed(url, `pgcdc_${round}`, endLsn);
    results.ref.push(ref.seconds);
    results.pgcdc.push(run.seconds);
    results.rss.push(run.peakMiB);
    console.error(`round ${round + 1}: pg_recvlogical ${ref.seconds.toFixed(2)} s, pgcdc ${run.seconds.toFixed(2)} s (ratio ${(run.seconds / ref.seconds).toFixed(3)}), pgcdc peak RSS ${run.peakMiB.toFixed(0)} MiB`);
  }
  const ref = median(results.ref);
  const ours = median(results.pgcdc);
  console.log(JSON.stringify({
    benchmark: 'stream decoding, 1M inserts + 500k updates',
    postgres: server.major,
    events,
    pg_recvlogical_s: +ref.toFixed(3),
    pgcdc_s: +ours.toFixed(3),
    ratio: +(ours / ref).toFixed(3),
    pgcdc_events_per_s: Math.round(events / ours),
    pgcdc_peak_rss_mib: Math.round(Math.max(...results.rss)),
    ...roundsReport(results.ref, results.pgcdc),
  }, null, 2));
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
