/**
 * The Kafka target's stored position: records of the compacted offsets topic, keyed as Kafka
 * Connect keys a source partition's offsets, valued with Debezium's offset fields plus the count of
 * the transaction's events already written.
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { StreamPosition } from '../records/exactly-once-positions.js';
import type { ChangeRecord as KafkaRecord } from '../records/change-records.js';

/** Kafka Connect's offset key of a source partition: `["<stream>",{"server":"<topic prefix>"}]`. */
export function offsetKey(stream: string, topicPrefix: string): Buffer {
  return Buffer.from(JSON.stringify([stream, { server: topicPrefix }]));
}

/**
 * The offsets-topic record of `position` (Debezium's offset fields `lsn`, `lsn_commit`, plus the
 * count of the transaction's events already written).
 */
export function offsetRecord(topic: string, key: Buffer, position: StreamPosition, partition: number): KafkaRecord {
  const value = `{"lsn":${position.lsn},"lsn_commit":${position.lsn},"events":${position.events}}`;
  return { topic, key, value: Buffer.from(value), partition };
}

/** The position of an offsets-topic record's value; a value pgcdc did not write is refused. */
export function parseOffsetValue(value: Buffer, topic: string, key: Buffer): StreamPosition {
  let parsed: { lsn_commit?: unknown; events?: unknown } | undefined;
  try {
    parsed = JSON.parse(value.toString('utf8')) as typeof parsed;
  } catch {
    // reported below
  }
  if (typeof parsed?.lsn_commit !== 'number' || typeof parsed.events !== 'number') {
    throw new PgcdcError('TARGET_FAILED', `the offsets topic "${topic}" holds, under ${key.toString('utf8')}, a value pgcdc did not write: ${value.toString('utf8').slice(0, 200)}`, {
      hint: 'give this stream an offsets topic of its own (spec.target.kafka.offsetsTopic), or another name (metadata.name) so that its key differs',
    });
  }
  return { lsn: parsed.lsn_commit, events: parsed.events };
}
