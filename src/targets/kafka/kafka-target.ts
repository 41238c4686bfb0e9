/**
 * The Kafka target: each batch becomes Debezium-shaped records (`kafka-records`) on the partitions
 * the Java producer would choose (`key-partitioner`), written by an idempotent producer with
 * acks=all; the batch counts as durable once the brokers acknowledged every record (at least
 * once: after a crash the unacknowledged tail is written again).
 */
import type { KafkaTargetConfig, StreamConfig } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { streamEncoderOptions } from '../../events/debezium-json-encoder.js';
import type { EventBatch } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import type { Target, TargetBatching } from '../target.js';
import { partitionForKey } from './key-partitioner.js';
import { KafkaProducer } from './kafka-producer.js';
import { type KafkaRecord, KafkaRecordBuilder } from './kafka-records.js';
import { HEARTBEAT_KEY_SCHEMA, HEARTBEAT_VALUE_SCHEMA } from './connect-schema.js';

export class KafkaTarget implements Target {
  readonly #config: KafkaTargetConfig;
  readonly #logger: Logger;
  readonly #producer: KafkaProducer;
  readonly #builder: KafkaRecordBuilder;
  readonly #writer = new JsonWriter();
  /** Partition counts of the topics written so far. */
  readonly #partitions = new Map<string, number>();
  readonly batching: TargetBatching;
  /** Writes and heartbeats one after the other (the producer has one send in flight). */
  #serial: Promise<unknown> = Promise.resolve();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(config: KafkaTargetConfig, stream: StreamConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#builder = new KafkaRecordBuilder(config, streamEncoderOptions(stream), stream.source.tombstonesOnDelete);
    this.#producer = new KafkaProducer(config, logger);
    this.batching = { events: 20_000, lingerMs: config.lingerMs };
  }

  async open(): Promise<void> {
    await this.#producer.connect();
    if (this.#config.heartbeatIntervalMs > 0) {
      this.#heartbeat = setInterval(() => void this.#serially(() => this.#sendHeartbeat()).catch((error: unknown) => this.#logger.warn({ err: error }, 'heartbeat record not written')), this.#config.heartbeatIntervalMs);
      this.#heartbeat.unref();
    }
  }

  write(batch: EventBatch): Promise<void> {
    return this.#serially(() => this.#write(batch));
  }

  async #write(batch: EventBatch): Promise<void> {
    const records = this.#builder.build(batch.events, this.#writer);
    try {
      await this.#assignPartitions(records);
      await this.#producer.send(records);
    } finally {
      this.#writer.recycle();
    }
  }

  async close(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    await this.#serial.catch(() => undefined);
    await this.#producer.close();
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(task, task);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  /** Sets each record's partition from its key (a keyless record goes to partition 0). */
  async #assignPartitions(records: KafkaRecord[]): Promise<void> {
    const missing = new Set<string>();
    for (const record of records) if (!this.#partitions.has(record.topic)) missing.add(record.topic);
    if (missing.size > 0) await this.#ensureTopics([...missing]);
    for (const record of records) {
      record.partition = record.key === null ? 0 : partitionForKey(record.key, this.#partitions.get(record.topic)!);
    }
  }

  async #ensureTopics(topics: string[]): Promise<void> {
    const counts = await this.#producer.ensureTopics(topics, {});
    for (const [topic, count] of counts) this.#partitions.set(topic, count);
  }

  async #sendHeartbeat(): Promise<void> {
    const topic = this.#config.heartbeatTopic;
    const schemas = this.#config.schemasEnable;
    const keyPayload = `{"serverName":${JSON.stringify(this.#config.topicPrefix)}}`;
    const valuePayload = `{"ts_ms":${Date.now()}}`;
    const record: KafkaRecord = {
      topic,
      key: Buffer.from(schemas ? `{"schema":${HEARTBEAT_KEY_SCHEMA},"payload":${keyPayload}}` : keyPayload),
      value: Buffer.from(schemas ? `{"schema":${HEARTBEAT_VALUE_SCHEMA},"payload":${valuePayload}}` : valuePayload),
      partition: -1,
    };
    await this.#assignPartitions([record]);
    await this.#producer.send([record]);
  }
}

/** Checks, before the source is touched, that the brokers answer and accept the login. */
export async function checkKafkaTarget(config: KafkaTargetConfig, logger: Logger): Promise<void> {
  const producer = new KafkaProducer(config, logger);
  try {
    await producer.connect();
  } finally {
    await producer.close();
  }
}
