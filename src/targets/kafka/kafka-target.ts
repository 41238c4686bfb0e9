/**
 * The Kafka target: each batch becomes Debezium-shaped records (`targets/records/change-records`)
 * on the partitions the Java producer would choose (`key-partitioner`). At least once by default:
 * an idempotent producer with acks=all, the batch durable once the brokers acknowledged every
 * record (after a crash the unacknowledged tail is written again). Exactly once: the batch's
 * records and the position they reach go in one Kafka transaction
 * (`targets/records/exactly-once-positions`, `kafka-offsets`); after a crash or a failed
 * transaction the committed position is read back and what Kafka holds is not written again.
 */
import type { KafkaTargetConfig, StreamConfig } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { streamEncoderOptions } from '../../events/debezium-json-encoder.js';
import type { EventBatch } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import type { Target, TargetBatching } from '../target.js';
import { partitionForKey } from './key-partitioner.js';
import { KafkaProducer } from './kafka-producer.js';
import { type ChangeRecord as KafkaRecord, ChangeRecordBuilder } from '../records/change-records.js';
import { HEARTBEAT_KEY_SCHEMA, HEARTBEAT_VALUE_SCHEMA } from '../records/connect-schema.js';
import { ExactlyOncePositions, isAfter, NO_POSITION, type StreamPosition } from '../records/exactly-once-positions.js';
import { AvroConverter } from '../records/avro-converter.js';
import { ConnectRecordStage, type RecordConverter } from '../records/connect-record-stage.js';
import { connectTransformChain } from '../records/connect-transforms.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { offsetKey, offsetRecord, parseOffsetValue } from './kafka-offsets.js';
import { formatLsn } from '../../source/lsn.js';

/** Partitions of a created offsets topic (Kafka Connect's `offsets.storage.partitions` default). */
const OFFSETS_TOPIC_PARTITIONS = 25;

export class KafkaTarget implements Target {
  readonly #config: KafkaTargetConfig;
  readonly #logger: Logger;
  readonly #producer: KafkaProducer;
  readonly #builder: ChangeRecordBuilder;
  /** Avro (or Connect transforms): the built records are read back, transformed and converted; undefined for JSON as built. */
  readonly #stage: ConnectRecordStage | undefined;
  readonly #writer = new JsonWriter();
  /** Partition counts of the topics written so far. */
  readonly #partitions = new Map<string, number>();
  readonly batching: TargetBatching;
  /** The last send (of a batch or a heartbeat): sends go one after the other. */
  #lastSend: { readonly done: Promise<void> } = { done: Promise.resolve() };
  /** Writes under way (no heartbeat meanwhile: records flow). */
  #writing = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Exactly once: the positions and this stream's key on the offsets topic. */
  readonly #positions: ExactlyOncePositions | undefined;
  readonly #offsetKey: Buffer;
  /** A send failed: the next write starts with a new producer. */
  #recover = false;

  constructor(config: KafkaTargetConfig, stream: StreamConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#stage = recordStage(config);
    // The stage reads records back with their schemas: the builder writes them whatever schemasEnable says.
    this.#builder = new ChangeRecordBuilder(this.#stage ? { ...config, schemasEnable: true } : config, streamEncoderOptions(stream), stream.source.tombstonesOnDelete);
    this.#producer = new KafkaProducer(config, logger);
    this.batching = { events: config.batchSize, lingerMs: config.lingerMs };
    this.#positions = config.exactlyOnce && new ExactlyOncePositions();
    this.#offsetKey = offsetKey(stream.name, config.topicPrefix);
  }

  async open(): Promise<void> {
    await this.#producer.connect();
    if (this.#config.exactlyOnce) {
      const topic = this.#config.exactlyOnce.offsetsTopic;
      const counts = await this.#producer.ensureTopics([topic], { partitions: OFFSETS_TOPIC_PARTITIONS, config: { 'cleanup.policy': 'compact' } });
      this.#partitions.set(topic, counts.get(topic)!);
      await this.#readCommittedPosition();
    }
    if (this.#config.heartbeatIntervalMs > 0) {
      this.#heartbeat = setInterval(() => void this.#heartbeatAfterLastSend().catch((error: unknown) => this.#logger.warn({ err: error }, 'heartbeat record not written')), this.#config.heartbeatIntervalMs);
      this.#heartbeat.unref();
    }
  }

  /**
   * Sends `batch` and resolves once the brokers acknowledged it (exactly once: once its Kafka
   * transaction is committed). One send is in flight at a time (a heartbeat's included), so records
   * reach each partition in order.
   */
  async write(batch: EventBatch): Promise<void> {
    this.#writing++;
    try {
      await this.#lastSend.done.catch(() => undefined); // a heartbeat under way
      const { records, reached } = await this.#encode(batch);
      try {
        await this.#chainSend(() => this.#send(records, reached));
      } finally {
        this.#writer.recycle();
      }
    } finally {
      this.#writing--;
    }
  }

  /** Starts `send` as the last send. */
  #chainSend(send: () => Promise<void>): Promise<void> {
    const done = send();
    this.#lastSend = { done };
    return done;
  }

  /** The records of `batch` (and, exactly once, the position they take Kafka to), values in the writer. */
  async #encode(batch: EventBatch): Promise<{ records: KafkaRecord[]; reached: StreamPosition | undefined }> {
    const positions = this.#positions;
    if (this.#recover) {
      // A new producer id: the broker may have lost the tail the old one's sequence numbers count
      // (a broker killed before it flushed: OUT_OF_ORDER_SEQUENCE_NUMBER on every send after).
      await this.#producer.reconnect();
      if (positions) {
        await this.#readCommittedPosition();
        positions.restart();
      }
      this.#recover = false;
    }
    const events = positions ? positions.unwritten(batch.events) : batch.events;
    const built = this.#builder.build(events, this.#writer);
    // Converted records own their bytes: the writer's slices are not needed past this point then.
    const records = this.#stage ? await this.#stage.convert(built) : built;
    // The position moves only forward (a batch of events Kafka holds already reaches no further).
    const reached = positions && isAfter(positions.reached, positions.committed) ? positions.reached : undefined;
    if (reached) records.push(offsetRecord(this.#config.exactlyOnce!.offsetsTopic, this.#offsetKey, reached, -1));
    await this.#assignPartitions(records);
    return { records, reached };
  }

  /**
   * Sends `records`: in one Kafka transaction when exactly once, `reached` then committed with them.
   * After a failure the next write starts with a new producer (and, exactly once, recovers the
   * transaction).
   */
  async #send(records: KafkaRecord[], reached?: StreamPosition): Promise<void> {
    if (records.length === 0) return;
    try {
      if (this.#positions) await this.#producer.sendInTransaction(records);
      else await this.#producer.send(records);
    } catch (error) {
      this.#recover = true;
      throw error;
    }
    if (reached && isAfter(reached, this.#positions!.committed)) this.#positions!.committed = reached;
  }

  /** Exactly once: the position the offsets topic holds for this stream. */
  async #readCommittedPosition(): Promise<void> {
    const value = await this.#producer.lastCommittedValue(this.#config.exactlyOnce!.offsetsTopic, this.#offsetKey);
    const position = value ? parseOffsetValue(value, this.#config.exactlyOnce!.offsetsTopic, this.#offsetKey) : NO_POSITION;
    this.#positions!.committed = position;
    this.#logger.info(
      position.lsn < 0 ? { offsetsTopic: this.#config.exactlyOnce!.offsetsTopic } : { offsetsTopic: this.#config.exactlyOnce!.offsetsTopic, lsn: formatLsn(position.lsn), events: position.events },
      position.lsn < 0 ? 'exactly once: no position committed to Kafka yet' : 'exactly once: Kafka holds the changes up to this position; they are not written again',
    );
  }

  async close(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    await this.#lastSend.done.catch(() => undefined);
    await this.#producer.close();
  }

  /** A heartbeat record, sent after the last send (skipped while a batch is being encoded: records flow then). */
  async #heartbeatAfterLastSend(): Promise<void> {
    // Not while a batch is on its way (records flow then), nor before the next write recovers the producer.
    const quiet = (previous: unknown) => this.#lastSend === previous && this.#writing === 0 && !this.#recover;
    const previous = this.#lastSend;
    await previous.done.catch(() => undefined);
    if (!quiet(previous)) return;
    const record = await this.#heartbeatRecord();
    if (record === undefined || !quiet(previous)) return;
    await this.#chainSend(() => this.#send([record]));
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
    const counts = await this.#producer.ensureTopics(topics);
    for (const [topic, count] of counts) this.#partitions.set(topic, count);
  }

  /** The heartbeat record; undefined when a Connect transform dropped it. */
  async #heartbeatRecord(): Promise<KafkaRecord | undefined> {
    const schemas = this.#stage !== undefined || this.#config.schemasEnable;
    const keyPayload = `{"serverName":${JSON.stringify(this.#config.topicPrefix)}}`;
    const valuePayload = `{"ts_ms":${Date.now()}}`;
    const built: KafkaRecord = {
      topic: this.#config.heartbeatTopic,
      key: Buffer.from(schemas ? `{"schema":${HEARTBEAT_KEY_SCHEMA},"payload":${keyPayload}}` : keyPayload),
      value: Buffer.from(schemas ? `{"schema":${HEARTBEAT_VALUE_SCHEMA},"payload":${valuePayload}}` : valuePayload),
      partition: -1,
    };
    const record = this.#stage ? (await this.#stage.convert([built]))[0] : built;
    if (record === undefined) return undefined;
    await this.#assignPartitions([record]);
    record.partition = 0; // as Debezium writes heartbeats, whatever the key
    return record;
  }
}

/**
 * The stage between the builder and the producer when the stream has Connect transforms or Avro;
 * undefined otherwise (JSON as built, at full speed).
 */
function recordStage(config: KafkaTargetConfig): ConnectRecordStage | undefined {
  const chain = connectTransformChain(config.connectTransforms ?? {});
  if ('problems' in chain) throw new PgcdcError('CONFIG_INVALID', `spec.target.kafka.connectTransforms: ${chain.problems.join('; ')}`, { hint: 'docs/connect-transforms.md lists the supported transforms and their options' });
  const converter = config.converter ?? { kind: 'json' };
  if (converter.kind === 'json' && chain.transforms.length === 0) return undefined;
  const recordConverter: RecordConverter = converter.kind === 'avro' ? { kind: 'avro', avro: new AvroConverter(converter.schemaRegistry) } : { kind: 'json', schemasEnable: config.schemasEnable };
  return new ConnectRecordStage(recordConverter, chain.transforms);
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
