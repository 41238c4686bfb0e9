/**
 * Tests of the Kafka test harness (test/support/kafka-cluster.ts) against real Kafka 4 brokers: a
 * single node takes records from Kafka's console producer and the harness's producer and the
 * independent reader returns them as written; on three nodes a partition's leader is stopped and
 * killed, another node takes over, and no record is lost.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ensureKafkaJars, useKafkaCluster, type KafkaRecord } from '../support/kafka-cluster.js';

/** Sends "key:value" lines with Kafka's own console producer. */
async function consoleProduce(bootstrapServers: string, topic: string, lines: string[]): Promise<void> {
  const { classpath } = await ensureKafkaJars();
  const args = [
    '-Xmx256m',
    '-XX:TieredStopAtLevel=1',
    '-cp',
    classpath,
    'org.apache.kafka.tools.ConsoleProducer',
    '--bootstrap-server',
    bootstrapServers,
    '--topic',
    topic,
    '--property',
    'parse.key=true',
    '--property',
    'key.separator=:',
    '--producer-property',
    'acks=all',
  ];
  const child = spawn('java', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  child.stdin.end(lines.map((line) => `${line}\n`).join(''));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code, stderr).toBe(0);
}

const byKey = (a: KafkaRecord, b: KafkaRecord) => (a.key ?? '').localeCompare(b.key ?? '');

describe('one broker', () => {
  const cluster = useKafkaCluster({ brokers: 1 });

  it('creates a topic, takes keyed records from the console producer and the harness, and reads them back', async () => {
    const kafka = cluster();
    const created = await kafka.createTopic('orders', { partitions: 3, replicationFactor: 1, config: { 'cleanup.policy': 'delete' } });
    expect(created.partitions.map((p) => [p.partition, p.leader, p.replicas])).toEqual([
      [0, 1, [1]],
      [1, 1, [1]],
      [2, 1, [1]],
    ]);

    await consoleProduce(kafka.bootstrapServers, 'orders', ['k1:one', 'k2:two', 'k3:three', 'k1:one again']);
    const sent = await kafka.produce('orders', [
      { key: 'h1', value: 'Grüße {"json": true}\n', headers: { source: 'pgcdc', empty: null } },
      { key: null, value: 'no key', partition: 2 },
      { key: 'tombstone', value: null, partition: 0 },
    ]);
    expect(sent.map((s) => s.partition).slice(1)).toEqual([2, 0]);

    const records = await kafka.consume('orders', { expect: 7 });
    expect(records).toHaveLength(7);
    // A key always lands on the same partition, in order.
    const k1 = records.filter((r) => r.key === 'k1');
    expect(k1.map((r) => r.value)).toEqual(['one', 'one again']);
    expect(k1[0]!.partition).toBe(k1[1]!.partition);
    expect(k1[1]!.offset).toBeGreaterThan(k1[0]!.offset);
    expect(records.filter((r) => r.key?.startsWith('k')).sort(byKey).map((r) => [r.key, r.value])).toEqual([
      ['k1', 'one'],
      ['k1', 'one again'],
      ['k2', 'two'],
      ['k3', 'three'],
    ]);
    const h1 = records.find((r) => r.key === 'h1')!;
    expect(h1.value).toBe('Grüße {"json": true}\n');
    expect(h1.headers).toEqual({ source: 'pgcdc', empty: null });
    expect(h1).toMatchObject({ topic: 'orders', partition: sent[0]!.partition, offset: sent[0]!.offset });
    expect(typeof h1.timestamp).toBe('number');
    expect(records.find((r) => r.key === null)).toMatchObject({ value: 'no key', partition: 2, headers: {} });
    expect(records.find((r) => r.key === 'tombstone')).toMatchObject({ value: null, partition: 0 });
    // Partition by partition, in offset order.
    const order = records.map((r) => [r.partition, r.offset]);
    expect(order).toEqual([...order].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!));

    // Without expect: what is there now; a regex that matches no topic reads nothing.
    expect(await kafka.consume('orders', { isolation: 'read_uncommitted' })).toEqual(records);
    expect(await kafka.consume('nothing-.*')).toEqual([]);
    await expect(kafka.consume('orders', { expect: 8, timeoutMs: 2_000 })).rejects.toThrow(/timed out after 2000 ms with \d+ records of 8 expected/);
  });

  it('refuses to create a topic twice and describes a missing one as an error', async () => {
    const kafka = cluster();
    await kafka.createTopic('twice');
    await expect(kafka.createTopic('twice')).rejects.toThrow(/TopicExistsException/);
    await kafka.deleteTopic('twice');
    await expect(kafka.describeTopic('missing')).rejects.toThrow(/no topic missing/);
  });
});

describe('three brokers', () => {
  const cluster = useKafkaCluster({ brokers: 3 });

  it('elects a new leader when the leader stops or dies, keeps every record, and takes the node back', async () => {
    const kafka = cluster();
    expect(kafka.brokers.map((b) => b.nodeId)).toEqual([1, 2, 3]);
    const created = await kafka.createTopic('replicated', { partitions: 2, replicationFactor: 3, config: { 'min.insync.replicas': '2' } });
    for (const partition of created.partitions) expect([...partition.replicas].sort()).toEqual([1, 2, 3]);
    const first = Array.from({ length: 10 }, (_, i) => ({ key: `a${i}`, value: `first ${i}`, partition: i % 2 }));
    await kafka.produce('replicated', first);

    // A graceful stop of the leader of partition 0.
    const leader = (await kafka.leaderOf('replicated', 0))!;
    const stopped = kafka.brokers.find((b) => b.nodeId === leader)!;
    await stopped.stop();
    expect(stopped.running).toBe(false);
    const next = await kafka.waitForLeader('replicated', 0, leader);
    expect(next).not.toBe(leader);
    expect((await kafka.consume('replicated', { expect: 10 })).map((r) => r.value).sort()).toEqual(first.map((r) => r.value).sort());

    // Two of three replicas are enough for acks=all with min.insync.replicas=2.
    const second = Array.from({ length: 10 }, (_, i) => ({ key: `b${i}`, value: `second ${i}`, partition: i % 2 }));
    await kafka.produce('replicated', second);
    await stopped.start();
    expect(stopped.running).toBe(true);

    // A crash of the new leader: it is fenced once its session times out.
    const crashed = kafka.brokers.find((b) => b.nodeId === next)!;
    await crashed.kill();
    const third = await kafka.waitForLeader('replicated', 0, next);
    expect(third).not.toBe(next);
    const records = await kafka.consume('replicated', { expect: 20 });
    expect(records.map((r) => r.value).sort()).toEqual([...first, ...second].map((r) => r.value).sort());
    await crashed.start();
    const description = await kafka.describeTopic('replicated');
    expect(description.partitions.every((p) => p.leader !== null)).toBe(true);
  });
});
