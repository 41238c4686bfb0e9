/**
 * `spec.source.type: Kafka` documents: what a valid one becomes (defaults, the group, the dead-letter
 * file), and one line per problem for what cannot work (no topics, topics and a pattern, the wrong
 * section, a target whose position is one source LSN, a webhook without its subscription database).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

function kafkaDoc(kafka: string, target = '  target:\n    type: Stdout\n'): string {
  return `apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: fanout\nspec:\n  source:\n    type: Kafka\n    kafka:\n${kafka}${target}`;
}

/** The message and fix of the CONFIG_INVALID error of a document whose spec.source.kafka is `kafka`. */
async function failure(kafka: string, target?: string): Promise<string> {
  const error = await parseStreamConfig(kafkaDoc(kafka, target), { fileName: 's.yaml', env: {}, cwd: '/tmp' }).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  expect((error as PgcdcError).code).toBe('CONFIG_INVALID');
  return `${(error as PgcdcError).message} (fix: ${(error as PgcdcError).hint})`;
}

describe('Kafka source settings', () => {
  it('become a stream reading the topics in a consumer group named after the stream', async () => {
    const config = await parseStreamConfig(kafkaDoc('      bootstrapServers: k1:9092,k2:9092\n      topics: [pg.public.orders]\n      includes: [public\\.orders]\n'), { fileName: 's.yaml', env: {}, cwd: '/srv' });
    expect(config.kafkaSource).toEqual({
      bootstrapServers: ['k1:9092', 'k2:9092'],
      clientId: 'pgcdc-fanout',
      groupId: 'pgcdc-fanout',
      topics: ['pg.public.orders'],
      topicPattern: undefined,
      topicRefreshIntervalMs: 30_000,
      startFrom: 'earliest',
      isolationLevel: 'read_committed',
      tls: undefined,
      sasl: undefined,
      schemaRegistry: undefined,
      invalidRecords: 'stop',
      deadLetterFile: path.join('/srv', '.pgcdc', 'fanout', 'invalid-records.ndjson'),
      maxBatchRecords: 10_000,
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 60_000,
      heartbeatIntervalMs: 3_000,
    });
    expect(config.source.includes).toEqual(['public\\.orders']);
    expect(config.source.unavailableValuePlaceholder).toBe('__debezium_unavailable_value');
  });

  it('refuse what cannot work, one line each with the fix', async () => {
    expect(await failure('      bootstrapServers: k:9092\n')).toMatch(/spec\.source\.kafka\.topics is missing: name the topics to read/);
    expect(await failure('      bootstrapServers: k:9092\n      topics: [a]\n      topicPattern: "a.*"\n')).toMatch(/spec\.source\.kafka\.topicPattern is set together with topics/);
    expect(await failure('      bootstrapServers: k\n      topics: [a]\n')).toMatch(/bootstrapServers has "k", which is not host:port/);
    expect(await failure('      bootstrapServers: k:9092\n      topics: [a]\n      groupID: g\n')).toMatch(/spec\.source\.kafka\.groupID is not a known key; did you mean groupId\?/);
    expect(
      await failure('      bootstrapServers: k:9092\n      topics: [a]\n', '  target:\n    type: Kafka\n    kafka:\n      bootstrapServers: k:9092\n      exactlyOnce: true\n'),
    ).toMatch(/spec\.target\.kafka\.exactlyOnce is true, but its position is one source LSN.*set exactlyOnce: false/s);
    expect(await failure('      bootstrapServers: k:9092\n      topics: [a]\n', '  target:\n    type: RedisStreams\n    redisStreams:\n      url: redis://r:6379\n')).toMatch(
      /spec\.target\.redisStreams\.exactlyOnce is true \(the default\)/,
    );
    expect(await failure('      bootstrapServers: k:9092\n      topics: [a]\n    postgres:\n      url: postgres://db/x\n')).toMatch(/spec\.source\.postgres is set, but the source type is Kafka/);
    const noSection = await parseStreamConfig(kafkaDoc('').replace('    kafka:\n', ''), { fileName: 's.yaml', env: {}, cwd: '/tmp' }).catch((error: Error) => error.message);
    expect(noSection).toMatch(/spec\.source\.kafka is missing; expected a map, required when the source type is Kafka/);
  });
});
