/**
 * The RedisStreams target's exactly-once mode (MULTI/EXEC with the position key) against a real
 * redis-server (AOF, fsync always), through the `pgcdc` command line. The oracle is the source's
 * own trigger-written log of every row change (`audit`, not captured) and the source rows: read
 * back with XRANGE, each logged change is on the table's stream exactly once, in order per key,
 * whatever happened meanwhile (pgcdc killed with -9 at random instants under a concurrent workload,
 * transactions split over several MULTI/EXECs; Redis killed with -9 and started again mid-stream),
 * and the stream rebuilds the table. At least once (exactlyOnce: false) under the same kills: nothing lost.
 */
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import { expectExactlyOnce, expectNothingLost, ITEMS_ONLY, ITEMS_TABLE, itemsWorkload } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { useRedisServer } from '../support/redis-server.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';


describe('RedisStreams target, exactly once', () => {
  const server = useTestServer();
  const redis = useRedisServer();

  function stream(name: string, url: string, settings: Record<string, unknown> = {}, maxRetries = 0) {
    return targetStream({
      url,
      name,
      dir: tempDir(),
      maxRetries,
      source: ITEMS_ONLY,
      // Small batches: transactions are split over several MULTI/EXECs.
      target: { type: 'RedisStreams', redisStreams: { url: redis().url, schemasEnable: false, batchSize: 40, requestTimeout: '5s', connectTimeout: '2s', ...settings } },
    });
  }

  it('writes every change once when pgcdc is killed with -9 at random instants under a concurrent workload', async () => {
    const url = await createDatabase(server(), 'redis_eos');
    await sql(url, ITEMS_TABLE);
    const { specFile } = await stream('e1', url);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const changes = itemsWorkload(url, { keyChanges: true });
    let kills = 0;
    try {
      for (let kill = 0; kill < 5; kill++) {
        const run = startCli(['run', '-c', specFile]);
        await new Promise((resolve) => setTimeout(resolve, 1000 + below(testRandom, 3000)));
        run.child.kill('SIGKILL');
        await run.finished();
        kills++;
      }
    } finally {
      await changes.stop();
    }
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr.slice(-3000)).toBe(0);
    const records = await redis().readStreams('e1.*');
    expect(kills).toBe(5);
    expect(records.length).toBeGreaterThan(100);
    await expectExactlyOnce(url, records);
  }, 300_000);

  it('writes every change once across Redis killed with -9 and started again mid-stream', async () => {
    const url = await createDatabase(server(), 'redis_eos');
    await sql(url, ITEMS_TABLE);
    const { specFile } = await stream('e2', url, {}, -1);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const run = startCli(['run', '-c', specFile]);
    const changes = itemsWorkload(url, { keyChanges: true });
    try {
      await waitFor(async () => ((await redis().with((client) => client.xlen('e2.public.items'))) > 200 ? true : undefined), 60_000, 'changes in Redis before the crash');
      await redis().kill();
      const before = changes.committed();
      await waitFor(() => (changes.committed() >= before + 20 ? true : undefined), 60_000, 'transactions while Redis is down');
      await waitFor(() => (/Redis at 127\.0\.0\.1:\d+ cannot be reached/.test(run.output().stderr) ? true : undefined), 60_000, 'pgcdc to report Redis unreachable');
      await redis().restart();
      const after = changes.committed();
      await waitFor(() => (changes.committed() >= after + 20 ? true : undefined), 60_000, 'transactions after the restart');
    } finally {
      await changes.stop();
      run.child.kill('SIGTERM');
      await run.finished();
    }
    expect(run.child.exitCode ?? 0, run.output().stderr.slice(-3000)).toBe(0);
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr.slice(-3000)).toBe(0);
    await expectExactlyOnce(url, await redis().readStreams('e2.*'));
  }, 300_000);

  it('at least once (exactlyOnce: false): loses nothing when pgcdc is killed with -9 under a concurrent workload', async () => {
    const url = await createDatabase(server(), 'redis_alo');
    await sql(url, ITEMS_TABLE);
    const { specFile } = await stream('a1', url, { exactlyOnce: false });
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const changes = itemsWorkload(url, { keyChanges: true });
    try {
      for (let kill = 0; kill < 3; kill++) {
        const run = startCli(['run', '-c', specFile]);
        await new Promise((resolve) => setTimeout(resolve, 1000 + below(testRandom, 3000)));
        run.child.kill('SIGKILL');
        await run.finished();
      }
    } finally {
      await changes.stop();
    }
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr.slice(-3000)).toBe(0);
    await expectNothingLost(url, await redis().readStreams('a1.*'));
    expect(await redis().with((client) => client.exists('pgcdc:position:a1'))).toBe(0);
  }, 300_000);
});
