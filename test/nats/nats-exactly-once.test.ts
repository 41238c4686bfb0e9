/**
 * Exactly once on NATS JetStream, within the stream's duplicate window, against a real nats-server.
 * The oracle is the source's own trigger-written log of every row change (`audit`, not captured):
 * the stream read back by the test's client must hold each logged change exactly once, in order
 * per key, and rebuild the table, whatever happened meanwhile: pgcdc killed with -9 at random
 * instants under a concurrent workload (the redelivered tail carries the same Nats-Msg-Id and is
 * dropped by JetStream), or the server killed with -9 and started again mid-stream (the same
 * pgcdc process publishes again from the first unacknowledged message and goes on).
 */
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import { expectExactlyOnce, ITEMS_ONLY, ITEMS_TABLE, itemsWorkload, rebuild } from '../support/change-oracles.js';
import { useNatsServer } from '../support/nats-server.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';


describe('NATS JetStream target, exactly once within the duplicate window', () => {
  const server = useTestServer();
  const nats = useNatsServer();

  async function stream(name: string, url: string, settings: Record<string, unknown> = {}, maxRetries = 0) {
    return targetStream({
      url,
      name,
      dir: tempDir(),
      maxRetries,
      source: ITEMS_ONLY,
      target: { type: 'NatsJetStream', natsJetStream: { servers: nats().url, schemasEnable: false, stream: { create: true, duplicateWindow: '10m' }, ...settings } },
    });
  }

  it('stores every change once when pgcdc is killed with -9 at random instants under a concurrent workload', async () => {
    const url = await createDatabase(server(), 'nats_eos');
    await sql(url, ITEMS_TABLE);
    const { specFile } = await stream('x1', url);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const changes = itemsWorkload(url);
    for (let kill = 0; kill < 4; kill++) {
      const run = startCli(['run', '-c', specFile]);
      await new Promise((resolve) => setTimeout(resolve, 1500 + below(testRandom, 3000)));
      run.child.kill('SIGKILL');
      await run.finished();
    }
    await changes.stop();
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
    expect(last.code, last.stderr).toBe(0);
    const records = await nats().readStream('x1');
    expect(records.length).toBeGreaterThan(100);
    await expectExactlyOnce(url, records);
  }, 300_000);

  // Last: it kills the file's server.
  it('stores every change once across the server killed with -9 and started again mid-stream', async () => {
    const url = await createDatabase(server(), 'nats_eos');
    await sql(url, ITEMS_TABLE);
    const { specFile } = await stream('x2', url, { publishTimeout: '2s', retryBackoffDelay: 2 }, -1);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const run = startCli(['run', '-c', specFile]);
    const changes = itemsWorkload(url);
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await nats().process.kill();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await nats().process.restart();
      await new Promise((resolve) => setTimeout(resolve, 4000));
    } finally {
      await changes.stop();
      run.child.kill('SIGTERM');
    }
    const stopped = await run.finished();
    // The same process went on after the outage: it logged the retries and stopped cleanly.
    expect(stopped.code, stopped.stderr.slice(-3000)).toBe(0);
    expect(stopped.stderr).toMatch(/publishing again from the first unacknowledged message|cannot reach the NATS server/);
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr).toBe(0);
    await expectExactlyOnce(url, await nats().readStream('x2'));
  }, 300_000);
});
