/**
 * The Kafka target's exactly-once mode against a real broker. The oracle is the source's own
 * trigger-written log of every row change (`audit`, not captured): a read_committed consumer must
 * find each logged change exactly once on the table's topic, in order per key, whatever happened to
 * pgcdc meanwhile (kill -9 at random instants, transactions split over several Kafka transactions,
 * the broker killed and started again), and the topic rebuilt must equal the table. Also: a second
 * producer taking the transactional id over fences the running stream, which stops with one line
 * and acknowledges nothing Kafka does not hold.
 */
import * as kafkaClient from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { runCli, startCli } from '../support/cli.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { expectExactlyOnce, ITEMS_ONLY, ITEMS_TABLE, itemsWorkload, recordedChanges } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { pgcdcRejection as failure } from '../support/rejection.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';


describe('Kafka target, exactly once', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();

  async function exactlyOnceStream(name: string, url: string, kafkaSettings: Record<string, unknown> = {}, maxRetries = 0) {
    return targetStream({
      url,
      name,
      dir: tempDir(),
      maxRetries,
      source: ITEMS_ONLY,
      // Small batches: transactions are split over several Kafka transactions.
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: false, exactlyOnce: true, batchSize: 40, ...kafkaSettings } },
    });
  }

  it('writes every change once when killed with -9 at random instants under a concurrent workload', async () => {
    const url = await createDatabase(server(), 'kafka_eos');
    await sql(url, ITEMS_TABLE);
    await kafka().createTopic('e1.public.items', { partitions: 3 });
    const { specFile } = await exactlyOnceStream('e1', url);
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
    const records = await kafka().consume('e1\\.public\\.items', { isolation: 'read_committed', timeoutMs: 60_000 });
    await expectExactlyOnce(url, records);
    expect(records.length).toBeGreaterThan(100);
  }, 300_000);

  it('stops with one line, acknowledging nothing more, when another producer takes its transactional id', async () => {
    const url = await createDatabase(server(), 'kafka_eos');
    await sql(url, ITEMS_TABLE);
    const { config } = await exactlyOnceStream('e2', url);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // creates the slot
    const stop = new AbortController();
    const run = failure(runStream(config, { logger: silentLogger(), signal: stop.signal }));
    try {
      await sql(url, 'insert into items values (1, 1, null)');
      await waitFor(async () => ((await kafka().consume('e2\\.public\\.items', { timeoutMs: 5_000 }).catch(() => [])).length === 1 ? true : undefined), 60_000, 'the first change in Kafka');
      const usurper = new kafkaClient.Producer({ clientId: 'usurper', bootstrapBrokers: [kafka().bootstrapServers], idempotent: true, transactionalId: 'pgcdc-e2', producerId: -1n, producerEpoch: -1 });
      await (await usurper.beginTransaction()).cancel();
      await usurper.close();
      await sql(url, 'insert into items values (2, 2, null)');
      const error = await run;
      expect(error.message).toMatch(/another Kafka producer took over transactional id "pgcdc-e2"/);
      expect(recordedChanges(await kafka().consume('e2\\.public\\.items', { timeoutMs: 30_000 }))).toEqual([{ op: 'c', id: 1 }]);
      // Nothing Kafka does not hold was acknowledged: the slot sends the second change again, once.
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });
      expect(recordedChanges(await kafka().consume('e2\\.public\\.items', { timeoutMs: 30_000 }))).toEqual([{ op: 'c', id: 1 }, { op: 'c', id: 2 }]);
    } finally {
      stop.abort();
    }
  }, 180_000);

  // Last: it stops the file's broker.
  it('writes every change once across a broker killed with -9 and started again mid-stream', async () => {
    const url = await createDatabase(server(), 'kafka_eos');
    await sql(url, ITEMS_TABLE);
    const { specFile } = await exactlyOnceStream('e3', url, { requestTimeout: '5s' }, -1);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const run = startCli(['run', '-c', specFile]);
    const changes = itemsWorkload(url);
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await kafka().brokers[0]!.kill();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await kafka().brokers[0]!.start();
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      await changes.stop();
      run.child.kill('SIGTERM');
      await run.finished();
    }
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr).toBe(0);
    await expectExactlyOnce(url, await kafka().consume('e3\\.public\\.items', { isolation: 'read_committed', timeoutMs: 60_000 }));
  }, 300_000);
});
