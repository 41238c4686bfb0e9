/**
 * Cost of spec.transform on streaming throughput, side by side in one run over the same WAL, each
 * side from its own slot: `pgcdc run --stop-at <end>` with the File target on /dev/null and no
 * transform, the same with a trivial transform function (`(event) => event`), and with a function
 * that changes a value of every event (so every event is rebuilt): 1,000,000 inserts then 500,000
 * updates on the benchmark table. Every side must exit 0 with its slot confirmed up to the end.
 * Rounds rotate which side goes first. Reports median wall times, events/s and each transform
 * side's throughput as a fraction of the side without one (the goal: at least 0.7 for the trivial
 * function), peak RSS and the raw rounds.
 *
 * Every side is started with --no-node-snapshot, so the sandbox relaunch (src/cli/sandbox-relaunch.ts,
 * about 0.5 s, which a user's start of a stream with a function includes) is not in the comparison.
 *
 *   npm run bench -- transform     (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_SCALE=1, PGCDC_BENCH_PG=18)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROUNDS, assertSlotConfirmed, median, pgcdcArgs, prepareStreamWorkload, startBenchServer, timeCommand, writeStreamSpec } from './bench-support.mjs';

/** The sides: name, and spec.transform (undefined: none). */
const SIDES = [
  ['none', undefined],
  ['trivial', { script: '(event) => event' }],
  ['changing', { script: '(event) => { event.after.b = event.after.b.toUpperCase(); return event; }' }],
];

const server = await startBenchServer();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-transform-bench-'));
try {
  const url = server.url();
  const slotOf = (side, round) => `transform_${side}_${round}`;
  const slots = Array.from({ length: ROUNDS }, (_, round) => SIDES.map(([side]) => slotOf(side, round))).flat();
  const { events, endLsn } = await prepareStreamWorkload(url, slots);
  const seconds = Object.fromEntries(SIDES.map(([side]) => [side, []]));
  const rss = Object.fromEntries(SIDES.map(([side]) => [side, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order: each side goes first in some round.
    const order = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]);
    for (const [side, transform] of order) {
      const spec = writeStreamSpec(dir, `bench-transform-${side}-${round}`, {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: slotOf(side, round), publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
        target: { type: 'File', file: { path: '/dev/null' } },
        stateDir: path.join(dir, `state-${side}-${round}`),
        ...(transform === undefined ? {} : { transform }),
      });
      const run = await timeCommand(process.execPath, ['--no-node-snapshot', ...pgcdcArgs(['run', '-c', spec, '--stop-at', endLsn])]);
      await assertSlotConfirmed(url, slotOf(side, round), endLsn);
      seconds[side].push(run.seconds);
      rss[side].push(run.peakMiB);
    }
    const line = SIDES.map(([side]) => `${side} ${seconds[side][round].toFixed(2)} s`).join(', ');
    console.error(`round ${round + 1}: ${line}`);
  }
  const base = median(seconds.none);
  const throughput = (side) => +(base / median(seconds[side])).toFixed(3);
  const report = {
    benchmark: 'spec.transform cost, File target on /dev/null, 1M inserts + 500k updates',
    postgres: server.major,
    events,
    none_s: +base.toFixed(3),
    trivial_s: +median(seconds.trivial).toFixed(3),
    changing_s: +median(seconds.changing).toFixed(3),
    none_events_per_s: Math.round(events / base),
    trivial_events_per_s: Math.round(events / median(seconds.trivial)),
    changing_events_per_s: Math.round(events / median(seconds.changing)),
    trivial_throughput_fraction: throughput('trivial'),
    changing_throughput_fraction: throughput('changing'),
    peak_rss_mib: Object.fromEntries(SIDES.map(([side]) => [side, Math.round(Math.max(...rss[side]))])),
    rounds: ROUNDS,
    s_rounds: Object.fromEntries(SIDES.map(([side]) => [side, seconds[side].map((s) => +s.toFixed(3))])),
  };
  console.log(JSON.stringify(report, null, 2));
  if (report.trivial_throughput_fraction < 0.7) console.error(`note: the trivial transform kept ${report.trivial_throughput_fraction} of the throughput, below the 0.7 goal`);
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
