/**
 * The Kafka source's own fetch path (partition-fetcher, record-batch-reader) read through
 * ChangeTopicConsumer on a real Kafka 4 broker, against Kafka's Java consumer (TopicDump) as the
 * oracle: records recompressed by the broker with each codec, with headers, null keys and
 * tombstones, log-append timestamps, committed and aborted Kafka transactions (read_committed and
 * read_uncommitted), commits given while one is under way (the Admin API's committed offsets the
 * oracle), resuming after committed offsets, and `startFrom: latest`.
 */
import * as kafkaClient from '@platformatic/kafka';
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaSourceConfig } from '../../src/config/stream-config.js';
import { ChangeTopicConsumer, type PartitionOffset } from '../../src/kafka-source/change-topic-consumer.js';
import type { KafkaMessage } from '../../src/kafka-source/decoded-change.js';
import { capturedLogger } from '../support/captured-logger.js';
import { type KafkaRecord, type KafkaRecordToProduce, useKafkaCluster } from '../support/kafka-cluster.js';
import { kafkaSourceConfig } from '../support/stream-fixtures.js';
import { waitFor } from '../support/postgres.js';

const WAIT_MS = 60_000;

/** A record as both sides give it, to compare. */
interface Seen {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string | null>;
}

function fromConsumer(message: KafkaMessage): Seen {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value === null ? null : message.value.toString('utf8'),
    headers: Object.fromEntries([...message.headers].map(([name, value]) => [name, value.toString('utf8')])),
  };
}

function fromJava(record: KafkaRecord): Seen {
  return { topic: record.topic, partition: record.partition, offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers };
}

/** Per topic and partition, in the order read (each partition's records must come in offset order). */
function byPartition(records: readonly Seen[]): Map<string, Seen[]> {
  const partitions = new Map<string, Seen[]>();
  for (const record of records) {
    const name = `${record.topic}:${record.partition}`;
    partitions.set(name, [...(partitions.get(name) ?? []), record]);
  }
  return new Map([...partitions].sort(([a], [b]) => a.localeCompare(b)));
}

describe('Kafka source: the fetch path', () => {
  const kafka = useKafkaCluster();
  const open: ChangeTopicConsumer[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((consumer) => consumer.close()));
  });

  const config = (groupId: string, topics: readonly string[], more: Partial<KafkaSourceConfig> = {}) => kafkaSourceConfig(kafka().bootstrapServers, groupId, topics, more);

  /** Starts a consumer (closed after the test). */
  const started = async (source: KafkaSourceConfig): Promise<ChangeTopicConsumer> => {
    const consumer = new ChangeTopicConsumer(source, capturedLogger().logger);
    open.push(consumer);
    await consumer.start(source.maxBatchRecords);
    return consumer;
  };

  /** Reads with `next` until `count` records came, in batches of the consumer's `max`. */
  const read = async (consumer: ChangeTopicConsumer, count: number): Promise<KafkaMessage[]> => {
    const messages: KafkaMessage[] = [];
    const signal = AbortSignal.timeout(WAIT_MS);
    while (messages.length < count) {
      const batch = await consumer.next(50, signal, consumer.assigned);
      if (batch.length === 0 && signal.aborted) throw new Error(`read ${messages.length} of ${count} records before giving up`);
      expect(batch.length).toBeLessThanOrEqual(50);
      messages.push(...batch);
    }
    return messages;
  };

  it("reads every codec the broker recompresses with, headers, null keys, tombstones and log-append times as Kafka's Java consumer does", async () => {
    const records = (prefix: string): KafkaRecordToProduce[] => [
      { key: `${prefix}-k1`, value: '{"op":"c","after":{"id":1}}', headers: { 'pgcdc-op': 'c', 'pgcdc-table': 'public.items' } },
      { key: null, value: 'a value without a key: é, ü, 🙂' },
      { key: `${prefix}-k1`, value: null },
      { key: `${prefix}-k2`, value: 'x'.repeat(70_000), headers: { long: 'h'.repeat(300), empty: '' } },
      ...Array.from({ length: 40 }, (_, i) => ({ key: `${prefix}-k${i % 7}`, value: `{"n":${i}}`, partition: i % 2 })),
    ];
    const topics: string[] = [];
    for (const codec of ['producer', 'gzip', 'snappy', 'lz4', 'zstd']) {
      const topic = `rb.codec.${codec}`;
      await kafka().createTopic(topic, { partitions: 2, config: { 'compression.type': codec } });
      topics.push(topic);
    }
    const appendTime = 'rb.codec.append-time';
    await kafka().createTopic(appendTime, { partitions: 2, config: { 'message.timestamp.type': 'LogAppendTime', 'compression.type': 'lz4' } });
    topics.push(appendTime);
    let produced = 0;
    for (const topic of topics) {
      const batch = records(topic);
      // Twice: more than one batch in a partition.
      await kafka().produce(topic, batch);
      await kafka().produce(topic, batch);
      produced += batch.length * 2;
    }
    const java = (await kafka().consume('rb\\.codec\\..*', { expect: produced })).map(fromJava);
    expect(java).toHaveLength(produced);

    const consumer = await started(config('rb-codecs', topics));
    expect([...consumer.assigned].sort()).toEqual(topics.flatMap((topic) => [`${topic}:0`, `${topic}:1`]).sort());
    const messages = await read(consumer, produced);
    expect(byPartition(messages.map(fromConsumer))).toEqual(byPartition(java));
    // What was produced, beside the oracle: tombstones and keyless records as such.
    expect(messages.filter((m) => m.value === null)).toHaveLength(topics.length * 2);
    expect(messages.filter((m) => m.key === null)).toHaveLength(topics.length * 2);
    expect(messages.find((m) => m.topic === 'rb.codec.zstd' && m.headers.get('pgcdc-table') !== undefined)?.headers.get('pgcdc-op')?.toString()).toBe('c');
  }, 300_000);

  it('reads only the committed Kafka transactions with read_committed, all of them with read_uncommitted', async () => {
    const topic = 'rb.txn';
    await kafka().createTopic(topic, { partitions: 2 });
    const producer = new kafkaClient.Producer({ clientId: 'rb-txn', bootstrapBrokers: [kafka().bootstrapServers], idempotent: true, transactionalId: 'rb-txn', producerId: -1n, producerEpoch: -1 });
    const messages = (label: string, count: number) =>
      Array.from({ length: count }, (_, i) => ({ topic, partition: i % 2, key: Buffer.from(`${label}-${i}`), value: Buffer.from(`${label} ${i}`), headers: new Map([[Buffer.from('txn'), Buffer.from(label)]]) }));
    try {
      await kafka().produce(topic, [{ key: 'plain-0', value: 'before', partition: 0 }]);
      for (const [label, outcome] of [['aborted-1', 'abort'], ['committed-1', 'commit'], ['aborted-2', 'abort'], ['aborted-3', 'abort'], ['committed-2', 'commit']] as const) {
        const transaction = await producer.beginTransaction();
        await transaction.send({ messages: messages(label, 6) });
        if (outcome === 'abort') await transaction.abort();
        else await transaction.commit();
      }
      await kafka().produce(topic, [{ key: 'plain-1', value: 'after', partition: 0 }, { key: 'plain-2', value: 'after', partition: 1 }]);
    } finally {
      await producer.close();
    }
    const committed = (await kafka().consume('rb\\.txn', { isolation: 'read_committed', expect: 15 })).map(fromJava);
    const everything = (await kafka().consume('rb\\.txn', { isolation: 'read_uncommitted', expect: 33 })).map(fromJava);
    expect(committed.map((r) => r.value).filter((v) => v?.startsWith('aborted'))).toEqual([]);
    expect(committed).toHaveLength(15);
    expect(everything).toHaveLength(33);

    const readCommitted = await started(config('rb-txn-committed', [topic]));
    expect(byPartition((await read(readCommitted, committed.length)).map(fromConsumer))).toEqual(byPartition(committed));
    expect(readCommitted.hasBuffered).toBe(false);
    const readUncommitted = await started(config('rb-txn-uncommitted', [topic], { isolationLevel: 'read_uncommitted' }));
    expect(byPartition((await read(readUncommitted, everything.length)).map(fromConsumer))).toEqual(byPartition(everything));
    expect(readUncommitted.hasBuffered).toBe(false);
  }, 300_000);

  it('fetches again when a rebalance takes away the partition whose records filled its buffer', async () => {
    const topic = 'rb.refill';
    await kafka().createTopic(topic, { partitions: 2 });
    await kafka().produce(topic, Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `old ${i}`, partition: i % 2 })));
    // Which member a group gives partition 0 depends on the members' random ids: groups are tried
    // until the member with the buffered records gets it (an even chance each time).
    const tries = 12;
    for (let attempt = 1; attempt <= tries; attempt++) {
      const group = `rb-refill-${attempt}`;
      // The group has partition 0 read already and partition 1 not at all.
      const seed = await started(config(group, [topic]));
      await read(seed, 40);
      await seed.commit([{ topic, partition: 0, offset: 20n }, { topic, partition: 1, offset: 0n }]);
      await seed.close();
      open.splice(open.indexOf(seed), 1);
      // A batch is 5 records: 20 of partition 1 buffered pause the fetches (nothing is taken).
      const first = await started(config(group, [topic], { maxBatchRecords: 5 }));
      await waitFor(() => (first.hasBuffered ? true : undefined), WAIT_MS, 'records buffered');
      const second = await started(config(group, [topic], { maxBatchRecords: 5 }));
      await waitFor(() => (first.assigned.size === 1 && second.assigned.size === 1 ? true : undefined), WAIT_MS, 'the partitions shared');
      if (first.assigned.has(`${topic}:0`)) {
        // What it had buffered (partition 1's) is let go: it must fetch partition 0 again.
        await kafka().produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: `n${i}`, value: `new ${i}`, partition: i % 2 })));
        expect((await read(first, 5)).map((m) => m.value?.toString()).sort()).toEqual(['new 0', 'new 2', 'new 4', 'new 6', 'new 8']);
        expect((await read(second, 25)).filter((m) => m.partition === 1)).toHaveLength(25);
        return;
      }
      for (const consumer of [first, second]) {
        await consumer.close();
        open.splice(open.indexOf(consumer), 1);
      }
    }
    throw new Error(`in ${tries} groups the member holding the buffered records never got partition 0`);
  }, 600_000);

  it("commits offsets given while a commit is under way in the next one, the latest of each partition, and none of a partition it does not hold", async () => {
    const topic = 'rb.commits';
    await kafka().createTopic(topic, { partitions: 3 });
    await kafka().produce(topic, Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 3 })));
    const consumer = await started(config('rb-commits', [topic]));
    await read(consumer, 60);
    // The group's committed offsets as Kafka's Admin API lists them (-1: none).
    const admin = new kafkaClient.Admin({ clientId: 'rb-commits-admin', bootstrapBrokers: kafka().bootstrapServers.split(',') });
    const committedOffsets = async (): Promise<bigint[]> => {
      const [group] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: 'rb-commits', topics: [{ name: topic, partitionIndexes: [0, 1, 2] }] }] });
      const offsets = [-1n, -1n, -1n];
      for (const t of group?.topics ?? []) for (const p of t.partitions) offsets[p.partitionIndex] = p.committedOffset;
      return offsets;
    };
    try {
      // Offsets of a partition not held only (a topic it does not read): nothing to commit, and
      // the commits after it still go out.
      await consumer.commit([{ topic: 'rb.not-read', partition: 0, offset: 5n }]);
      // 60 commits without waiting, each partition's offsets rising.
      const given: Promise<void>[] = [];
      for (let i = 1; i <= 20; i++) for (const partition of [0, 1, 2]) given.push(consumer.commit([{ topic, partition, offset: BigInt(i) }]));
      await consumer.committed();
      expect(await committedOffsets()).toEqual([20n, 20n, 20n]);
      // Every promise commit gave resolved (none left waiting).
      await Promise.all(given);
      // One more after the queue drained goes out too.
      await consumer.commit([{ topic, partition: 1, offset: 19n }]);
      expect(await committedOffsets()).toEqual([20n, 19n, 20n]);
    } finally {
      await admin.close();
    }
  }, 300_000);

  it('resumes after the committed offsets, and with startFrom latest skips what was there', async () => {
    const topic = 'rb.resume';
    await kafka().createTopic(topic, { partitions: 2 });
    const landed = await kafka().produce(topic, Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2 })));
    const first = await started(config('rb-resume', [topic]));
    const all = await read(first, 30);
    // Commit the first 10 of each partition: a restart goes on from the 11th.
    const offsets: PartitionOffset[] = [0, 1].map((partition) => ({ topic, partition, offset: 10n }));
    await first.commit(offsets);
    await first.close();
    open.splice(open.indexOf(first), 1);
    const again = await started(config('rb-resume', [topic]));
    const rest = await read(again, 10);
    expect(byPartition(rest.map(fromConsumer))).toEqual(byPartition(all.filter((m) => m.offset >= 10).map(fromConsumer)));
    expect(all.map((m) => `${m.partition}:${m.offset}`).sort()).toEqual(landed.map((l) => `${l.partition}:${l.offset}`).sort());

    // startFrom latest, a group with no commits: none of the 30, only what is produced after it joined.
    const latest = await started(config('rb-latest', [topic], { startFrom: 'latest' }));
    const after: KafkaMessage[] = [];
    let sent = 0;
    while (after.length === 0) {
      expect(sent).toBeLessThan(60);
      await kafka().produce(topic, [{ key: `late${sent}`, value: `late ${sent}`, partition: sent % 2 }]);
      sent++;
      after.push(...(await latest.next(50, AbortSignal.timeout(1000), latest.assigned)));
    }
    expect(after.every((m) => m.offset >= 15 && m.value?.toString().startsWith('late '))).toBe(true);
  }, 300_000);

  // Last in the file: it stops the broker.
  it('goes on from its positions after the broker restarts within the session timeout, and stops with KAFKA_SOURCE_UNREACHABLE when it stays down', async () => {
    const topic = 'rb.restart';
    await kafka().createTopic(topic, { partitions: 2 });
    await kafka().produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `before ${i}`, partition: i % 2 })));
    const patient = await started(config('rb-restart', [topic], { sessionTimeoutMs: 120_000, rebalanceTimeoutMs: 120_000 }));
    const before = await read(patient, 10);
    const [broker] = kafka().brokers;
    await broker!.stop();
    await broker!.start();
    await kafka().waitForLeader(topic, 0);
    await kafka().waitForLeader(topic, 1);
    await kafka().produce(topic, Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: `after ${i}`, partition: i % 2 })));
    const after = await read(patient, 6);
    // Nothing read twice, nothing skipped: the positions were kept across the restart.
    expect(byPartition([...before, ...after].map(fromConsumer))).toEqual(byPartition((await kafka().consume('rb\\.restart', { expect: 16 })).map(fromJava)));

    const hasty = await started(config('rb-down', [topic], { sessionTimeoutMs: 6000 }));
    await read(hasty, 16);
    await broker!.kill();
    try {
      const failure = await (async () => {
        for (;;) await hasty.next(50, AbortSignal.timeout(WAIT_MS), hasty.assigned);
      })().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'KAFKA_SOURCE_UNREACHABLE' });
      // Whichever notices first: the fetch loop, or a heartbeat and the rejoin after it.
      expect((failure as Error).message).toMatch(
        /^(Kafka at 127\.0\.0\.1:\d+ cannot be reached or did not answer while (fetching from broker 1 at 127\.0\.0\.1:\d+|reading the cluster metadata): .*ECONNREFUSED|a heartbeat to the consumer group's coordinator failed .*, and so did joining the group again)/,
      );
    } finally {
      await broker!.start();
    }
  }, 300_000);
});
