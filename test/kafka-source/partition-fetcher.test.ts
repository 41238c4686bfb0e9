/**
 * The Kafka source's fetch loop when leadership moves, on a real three-node Kafka 4 cluster: the
 * leader of the partitions read is stopped while ChangeTopicConsumer reads them; the fetcher finds
 * the new leaders and goes on from its positions. Kafka's Java consumer (TopicDump) is the oracle
 * of what the partitions hold: every record read once, in offset order, nothing skipped. The
 * group's coordinator stopped: the member stops with KAFKA_SOURCE_UNREACHABLE (no uncaught error)
 * and a new member reads on from the committed offsets.
 */
import * as kafkaClient from '@platformatic/kafka';
import { afterEach, describe, expect, it } from 'vitest';
import type { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { ChangeTopicConsumer } from '../../src/kafka-source/change-topic-consumer.js';
import type { KafkaMessage } from '../../src/kafka-source/decoded-change.js';
import { capturedLogger } from '../support/captured-logger.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { kafkaSourceConfig } from '../support/stream-fixtures.js';

describe('Kafka source: fetching across a change of leader', () => {
  const kafka = useKafkaCluster({ brokers: 3 });
  const open: ChangeTopicConsumer[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((consumer) => consumer.close()));
  });

  const sourceConfig = (topic: string, groupId: string, sessionTimeoutMs: number) =>
    kafkaSourceConfig(kafka().bootstrapServers, groupId, [topic], { clientId: 'pf-test', maxBatchRecords: 20, sessionTimeoutMs, rebalanceTimeoutMs: 60_000 });
  const record = (label: string, i: number) => ({ key: `k${i}`, value: `${label} ${i}`, partition: i % 3 });
  /** The node id of the group's coordinator, as FindCoordinator answers. */
  const coordinatorOf = async (groupId: string): Promise<number> => {
    const finder = new kafkaClient.Consumer({ clientId: 'pf-finder', groupId, bootstrapBrokers: kafka().bootstrapServers.split(',') });
    try {
      return await finder.findGroupCoordinator();
    } finally {
      await finder.close(true);
    }
  };

  it('reads on from the new leaders when the leader of its partitions stops', async () => {
    const topic = 'pf.leaders';
    await kafka().createTopic(topic, { partitions: 3, replicationFactor: 3 });
    await kafka().produce(topic, Array.from({ length: 30 }, (_, i) => record('before', i)));
    const source = sourceConfig(topic, 'pf-leaders', 60_000);
    const consumer = new ChangeTopicConsumer(source, capturedLogger().logger);
    open.push(consumer);
    await consumer.start(source.maxBatchRecords);
    const read = async (count: number): Promise<KafkaMessage[]> => {
      const messages: KafkaMessage[] = [];
      const signal = AbortSignal.timeout(120_000);
      while (messages.length < count) {
        const batch = await consumer.next(20, signal, consumer.assigned);
        if (batch.length === 0 && signal.aborted) throw new Error(`read ${messages.length} of ${count} records before giving up`);
        messages.push(...batch);
      }
      return messages;
    };
    const before = await read(30);
    // A leader that is not the group's coordinator (losing that one stops the member: next test).
    const coordinator = await coordinatorOf('pf-leaders');
    const leaders = await Promise.all([0, 1, 2].map((partition) => kafka().leaderOf(topic, partition)));
    const leader = leaders.find((node) => node !== null && node !== coordinator)!;
    expect(leader).toBeDefined();
    const node = kafka().brokers.find((broker) => broker.nodeId === leader)!;
    await node.stop();
    try {
      for (const partition of [0, 1, 2]) await kafka().waitForLeader(topic, partition, leader);
      await kafka().produce(topic, Array.from({ length: 30 }, (_, i) => record('after', i)));
      const after = await read(30);
      const seen = [...before, ...after].map((m) => `${m.partition}:${m.offset}:${m.value?.toString()}`);
      const java = (await kafka().consume('pf\\.leaders', { expect: 60 })).map((r) => `${r.partition}:${r.offset}:${r.value}`);
      expect(seen.sort()).toEqual(java.sort());
      for (const partition of [0, 1, 2]) {
        const offsets = [...before, ...after].filter((m) => m.partition === partition).map((m) => m.offset);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
      expect(consumer.hasBuffered).toBe(false);
    } finally {
      await node.start();
    }
  }, 400_000);

  it("stops with KAFKA_SOURCE_UNREACHABLE when the group's coordinator stops, and a new member reads on from the committed offsets", async () => {
    const topic = 'pf.coordinator';
    await kafka().createTopic(topic, { partitions: 3, replicationFactor: 3 });
    await kafka().produce(topic, Array.from({ length: 30 }, (_, i) => record('before', i)));
    const source = sourceConfig(topic, 'pf-coordinator', 6000);
    const first = new ChangeTopicConsumer(source, capturedLogger().logger);
    open.push(first);
    await first.start(source.maxBatchRecords);
    const firstRead: KafkaMessage[] = [];
    while (firstRead.length < 30) firstRead.push(...(await first.next(30, AbortSignal.timeout(60_000), first.assigned)));
    await first.commit([0, 1, 2].map((partition) => ({ topic, partition, offset: BigInt(Math.max(...firstRead.filter((m) => m.partition === partition).map((m) => m.offset)) + 1) })));
    const coordinator = await coordinatorOf('pf-coordinator');
    const node = kafka().brokers.find((broker) => broker.nodeId === coordinator)!;
    await node.stop();
    try {
      const failure = await (async () => {
        const signal = AbortSignal.timeout(120_000);
        for (;;) {
          try {
            await first.next(30, signal, first.assigned);
          } catch (error) {
            return error as PgcdcError;
          }
          if (signal.aborted) throw new Error('the member did not stop');
        }
      })();
      expect(failure.code).toBe('KAFKA_SOURCE_UNREACHABLE');
      expect(failure.message).toContain("a heartbeat to the consumer group's coordinator failed");
      await kafka().produce(topic, Array.from({ length: 30 }, (_, i) => record('after', i)));
      const second = new ChangeTopicConsumer(source, capturedLogger().logger);
      open.push(second);
      await second.start(source.maxBatchRecords);
      const secondRead: KafkaMessage[] = [];
      const signal = AbortSignal.timeout(120_000);
      while (secondRead.length < 30 && !signal.aborted) secondRead.push(...(await second.next(30, signal, second.assigned)));
      expect(secondRead.map((m) => m.value?.toString()).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `after ${i}`).sort());
    } finally {
      await node.start();
    }
  }, 400_000);
});
