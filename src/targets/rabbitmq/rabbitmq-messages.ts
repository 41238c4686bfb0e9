/**
 * Turns a batch's Debezium records into the AMQP messages the RabbitMQ target publishes: body =
 * the record's value (empty for a tombstone), routing key = the record's destination, properties
 * (persistent, JSON content type, message-id from the change's position, timestamp) and headers
 * (pgcdc's metadata, the record key, Debezium's headers, the configured ones); and presents them to
 * the delivery layer as items with an ordering key (the row key's hash, `events/event-key-hash`; truncates and transaction records are barriers).
 */
import type { Options } from 'amqplib';
import type { RabbitMQTargetConfig } from '../../config/rabbitmq-settings.js';
import type { ChangeRecord } from '../records/change-records.js';
import { METADATA_HEADERS, type RecordMetadata, type RecordMetadataReader } from '../records/record-metadata.js';
import { recordKeyHash } from '../../events/event-key-hash.js';
import type { DispatchItems } from '../delivery/ordered-dispatch.js';

const EMPTY = Buffer.alloc(0);

/**
 * The messages of one batch, as delivery items. Only what the records and their metadata hold lives
 * until the batch is confirmed; each message's properties and headers are built when it is
 * published (short-lived objects: the garbage collector's young generation takes them).
 */
export class RabbitMQMessageBatch implements DispatchItems {
  readonly #records: readonly ChangeRecord[];
  readonly #metadata: readonly RecordMetadata[];
  readonly #keys: Int32Array;
  readonly #builder: RabbitMQMessageBuilder;
  readonly #timestamp: number;

  constructor(records: readonly ChangeRecord[], metadata: readonly RecordMetadata[], keys: Int32Array, builder: RabbitMQMessageBuilder, timestamp: number) {
    this.#records = records;
    this.#metadata = metadata;
    this.#keys = keys;
    this.#builder = builder;
    this.#timestamp = timestamp;
  }

  get count(): number {
    return this.#records.length;
  }

  keyOf(index: number): number {
    return this.#keys[index]!;
  }

  bytesOf(index: number): number {
    return this.#records[index]!.value?.length ?? 0;
  }

  routingKey(index: number): string {
    return this.#records[index]!.topic;
  }

  /** The message body: the record's value, empty for a tombstone. */
  body(index: number): Buffer {
    return this.#records[index]!.value ?? EMPTY;
  }

  messageId(index: number): string {
    return this.#builder.messageId(this.#metadata[index]!);
  }

  /** The properties and headers of message `index` (a new object each time). */
  options(index: number): Options.Publish {
    return this.#builder.options(this.#records[index]!, this.#metadata[index]!, this.#timestamp);
  }
}

/** Builds the messages of records, in stream order (message ids are numbered in that order). */
export class RabbitMQMessageBuilder {
  readonly #config: RabbitMQTargetConfig;
  readonly #metadata: RecordMetadataReader;
  readonly #idPrefix: string;

  constructor(config: RabbitMQTargetConfig, streamName: string, metadata: RecordMetadataReader) {
    this.#config = config;
    this.#metadata = metadata;
    this.#idPrefix = `${streamName}:`;
  }

  build(records: readonly ChangeRecord[], nowMs = Date.now()): RabbitMQMessageBatch {
    const metadata: RecordMetadata[] = new Array(records.length);
    const keys = new Int32Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const meta = this.#metadata.of(record);
      metadata[i] = meta;
      keys[i] = recordKeyHash(record.op!, record.event!);
    }
    return new RabbitMQMessageBatch(records, metadata, keys, this, Math.floor(nowMs / 1000));
  }

  messageId(metadata: RecordMetadata): string {
    return this.#idPrefix + metadata.id;
  }

  options(record: ChangeRecord, metadata: RecordMetadata, timestamp: number): Options.Publish {
    const config = this.#config;
    const headers: Record<string, string | number> = {
      [METADATA_HEADERS.op]: metadata.op,
      [METADATA_HEADERS.lsn]: metadata.lsn,
    };
    if (metadata.table !== undefined) headers[METADATA_HEADERS.table] = metadata.table;
    if (metadata.txId !== undefined) headers[METADATA_HEADERS.txId] = metadata.txId;
    if (record.key !== null) headers[METADATA_HEADERS.key] = record.key.toString('utf8');
    if (record.headers !== undefined) for (const [name, value] of record.headers) headers[name.toString('utf8')] = value.toString('utf8');
    for (const name in config.headers) headers[name] = config.headers[name]!;
    return {
      persistent: config.persistent,
      mandatory: config.mandatory,
      contentType: 'application/json',
      messageId: this.#idPrefix + metadata.id,
      timestamp,
      type: metadata.op,
      headers,
    };
  }
}
