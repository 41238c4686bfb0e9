/**
 * The Kafka target's partitioner against Kafka's own: murmur2 and the partition of random keys
 * (every length remainder, every byte value, JSON keys as the target writes them) computed by
 * org.apache.kafka.common.utils.Utils in a JVM, for several partition counts.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../src/targets/kafka/key-partitioner.js';
import { below, testRandom } from '../support/seeded-random.js';
import { ensureKafkaJars } from '../support/kafka-cluster.js';

const ORACLE = path.resolve('test/kafka/oracles/KafkaPartitionOracle.java');

function javaPartitions(cases: readonly { key: Buffer; partitions: number }[]): { hash: number; partition: number }[] {
  const input = cases.map(({ key, partitions }) => `${key.length === 0 ? '-' : key.toString('hex')} ${partitions}`).join('\n') + '\n';
  const output = execFileSync('java', ['-cp', `${path.resolve('.jvm/kafka/lib')}/*`, ORACLE], { input, encoding: 'utf8', maxBuffer: 1 << 24 });
  return output.trim().split('\n').map((line) => {
    const [hash, partition] = line.split(' ');
    return { hash: Number(hash), partition: Number(partition) };
  });
}

describe('key partitioner', () => {
  beforeAll(async () => {
    await ensureKafkaJars();
  });

  it('gives the partition Kafka\'s Java producer gives, for random and JSON keys', () => {
    const cases: { key: Buffer; partitions: number }[] = [{ key: Buffer.alloc(0), partitions: 3 }];
    for (let i = 0; i < 400; i++) {
      const key = Buffer.alloc(below(testRandom, 41));
      for (let j = 0; j < key.length; j++) key[j] = below(testRandom, 256);
      cases.push({ key, partitions: [1, 2, 3, 6, 7, 12, 100][i % 7]! });
    }
    for (let id = 0; id < 100; id++) {
      cases.push({ key: Buffer.from(`{"id":${id * 7919}}`), partitions: 6 });
      cases.push({ key: Buffer.from(`{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"app.public.t.Key"},"payload":{"id":${id}}}`), partitions: 5 });
      cases.push({ key: Buffer.from(JSON.stringify({ name: `naïve ${id} ✓` })), partitions: 4 });
    }
    const expected = javaPartitions(cases);
    const actual = cases.map(({ key, partitions }) => ({ hash: murmur2(key), partition: partitionForKey(key, partitions) }));
    expect(actual).toEqual(expected);
  });

  it('hashes a slice of a larger buffer as the slice alone', () => {
    const whole = Buffer.from('xx{"id":42}yy');
    expect(murmur2(whole, 2, whole.length - 2)).toBe(murmur2(Buffer.from('{"id":42}')));
  });
});
