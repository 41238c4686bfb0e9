/**
 * The Kafka source's consumer: one member of the stream's consumer group (@platformatic/kafka),
 * reading the change topics from the group's committed offsets (or `startFrom` where it has
 * none), handing records over in batches with backpressure (the fetches pause while a batch's
 * worth waits), telling which partitions this member holds now, and committing the offsets of
 * what the target made durable. Offsets are never committed automatically.
 */
import * as kafka from '@platformatic/kafka';
import type { KafkaSourceConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { describeKafkaError, kafkaClientOptions } from '../targets/kafka/kafka-client-options.js';
import type { KafkaMessage } from './decoded-change.js';

/** `topic:partition`, how the consumer and the writers name a partition. */
export function partitionName(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/** The next offset to read of a partition: what a commit records. */
export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

const REQUEST_TIMEOUT_MS = 30_000;

export class ChangeTopicConsumer {
  readonly #config: KafkaSourceConfig;
  readonly #logger: Logger;
  readonly #consumer: kafka.Consumer<Buffer, Buffer, Buffer, Buffer>;
  #stream: kafka.MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  readonly #buffered: KafkaMessage[] = [];
  #bufferedHead = 0;
  #wake: (() => void) | undefined;
  #failure: PgcdcError | undefined;
  #assigned: ReadonlySet<string> = new Set();
  #highWater = 1;
  #interrupted = false;

  constructor(config: KafkaSourceConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#consumer = new kafka.Consumer({
      ...kafkaClientOptions({ ...config, requestTimeoutMs: REQUEST_TIMEOUT_MS }),
      groupId: config.groupId,
      sessionTimeout: config.sessionTimeoutMs,
      rebalanceTimeout: config.rebalanceTimeoutMs,
      heartbeatInterval: config.heartbeatIntervalMs,
      autocommit: false,
    });
    this.#consumer.on('consumer:group:join', () => this.#refreshAssignments());
    this.#consumer.on('consumer:group:leave', () => this.#refreshAssignments());
  }

  /** The partitions this member holds, as `topic:partition`. */
  get assigned(): ReadonlySet<string> {
    return this.#assigned;
  }

  /** Records were fetched and wait to be taken by `next`. */
  get hasBuffered(): boolean {
    return this.#bufferedHead < this.#buffered.length;
  }

  /** The group's generation (it changes at every rebalance). */
  get generation(): number {
    return this.#consumer.generationId;
  }

  /**
   * Finds the topics (a pattern's, at this moment), checks they exist, joins the group and starts
   * fetching. Resolves with the topics read.
   *
   * @throws PgcdcError KAFKA_SOURCE_FAILED for a missing topic or a pattern matching none,
   *   KAFKA_SOURCE_UNREACHABLE when the brokers cannot be reached
   */
  async start(highWater: number): Promise<readonly string[]> {
    this.#highWater = highWater;
    const topics = await this.topicsToRead();
    try {
      const stream = await this.#consumer.consume({
        topics: [...topics],
        mode: kafka.MessagesStreamModes.COMMITTED,
        fallbackMode: this.#config.startFrom === 'earliest' ? kafka.MessagesStreamFallbackModes.EARLIEST : kafka.MessagesStreamFallbackModes.LATEST,
        autocommit: false,
        isolationLevel: this.#config.isolationLevel === 'read_committed' ? kafka.FetchIsolationLevels.READ_COMMITTED : kafka.FetchIsolationLevels.READ_UNCOMMITTED,
        maxWaitTime: 500,
      });
      this.#stream = stream;
      this.#refreshAssignments();
      stream.on('data', (message: kafka.Message<Buffer, Buffer, Buffer, Buffer>) => this.#received(message));
      stream.on('error', (error: unknown) => this.#failed(this.asSourceError(error, 'reading')));
      stream.on('close', () => this.#failed(new PgcdcError('KAFKA_SOURCE_UNREACHABLE', 'the Kafka consumer stopped reading', { hint: 'pgcdc reconnects and goes on from the last committed offsets' })));
    } catch (error) {
      throw this.asSourceError(error, 'joining the consumer group');
    }
    return topics;
  }

  /**
   * Up to `max` records, waiting for the first; resolves empty when `signal` aborts, `interrupt`
   * was called, or the partitions held are no longer `held` (what the caller last saw: it lets go
   * of those it lost without waiting for records).
   *
   * @throws PgcdcError when reading failed
   */
  async next(max: number, signal: AbortSignal, held: ReadonlySet<string>): Promise<KafkaMessage[]> {
    while (this.#bufferedHead >= this.#buffered.length) {
      if (this.#failure) throw this.#failure;
      if (signal.aborted || this.#assigned !== held || this.#interrupted) return [];
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        this.#wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      this.#wake = undefined;
    }
    const end = Math.min(this.#buffered.length, this.#bufferedHead + max);
    const taken = this.#buffered.slice(this.#bufferedHead, end);
    this.#bufferedHead = end;
    if (this.#bufferedHead === this.#buffered.length) {
      this.#buffered.length = 0;
      this.#bufferedHead = 0;
    }
    if (this.#stream?.isPaused() && this.#buffered.length - this.#bufferedHead < this.#highWater) this.#stream.resume();
    return taken;
  }

  /** Makes a waiting (or the next) `next` resolve at once, empty when nothing is buffered. */
  interrupt(): void {
    this.#interrupted = true;
    this.#wake?.();
  }

  /**
   * Commits the offsets of partitions this member still holds (a partition that moved is the new
   * holder's to commit).
   */
  async commit(offsets: Iterable<PartitionOffset>): Promise<void> {
    const held = [...offsets].filter((o) => this.#assigned.has(partitionName(o.topic, o.partition)));
    if (held.length === 0) return;
    try {
      await this.#consumer.commit({ offsets: held.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: -1 })) });
    } catch (error) {
      // A rebalance under way: the partitions' next holder reads from the last commit, or the
      // target's own position; nothing is lost, at most read again.
      this.#logger.warn({ error: describeKafkaError(error) }, 'could not commit the consumed offsets to Kafka (a rebalance?); what they cover may be read again');
    }
  }

  async close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.removeAllListeners('close');
    stream?.removeAllListeners('error');
    stream?.on('error', () => undefined);
    if (stream) await new Promise<void>((resolve) => stream.close(() => resolve()));
    await new Promise<void>((resolve) => this.#consumer.close(true, () => resolve()));
  }

  /** A client error as one line with the fix: unreachable brokers are retried, the rest stop the stream. */
  asSourceError(error: unknown, doing: string): PgcdcError {
    if (error instanceof PgcdcError) return error;
    const text = describeKafkaError(error);
    const servers = this.#config.bootstrapServers.join(',');
    if (/SASL|authenticat/i.test(text)) {
      return new PgcdcError('KAFKA_SOURCE_FAILED', `Kafka at ${servers} refused the login of "${this.#config.sasl?.username ?? ''}" while ${doing}: ${text}`, {
        hint: 'check spec.source.kafka.sasl: mechanism, username and the password secret',
      });
    }
    if (/AUTHORIZATION_FAILED|not authorized/i.test(text)) {
      return new PgcdcError('KAFKA_SOURCE_FAILED', `Kafka refused "${this.#config.sasl?.username ?? 'this client'}" while ${doing}: ${text}`, {
        hint: `grant the ACLs to read the topics and to use group ${this.#config.groupId} (kafka-acls.sh --add --operation Read --topic … --group ${this.#config.groupId})`,
      });
    }
    return new PgcdcError('KAFKA_SOURCE_UNREACHABLE', `Kafka at ${servers} cannot be reached or did not answer while ${doing}: ${text}`, {
      hint: `check spec.source.kafka.bootstrapServers and that the brokers are up${this.#config.tls ? '' : ' (a TLS listener also needs spec.source.kafka.tls)'}; pgcdc retries, committing nothing it did not deliver`,
    });
  }

  /** The topics to read (a pattern's, at this moment), checked to exist. */
  async topicsToRead(): Promise<readonly string[]> {
    const admin = new kafka.Admin(kafkaClientOptions({ ...this.#config, requestTimeoutMs: REQUEST_TIMEOUT_MS }));
    let existing: Set<string>;
    try {
      existing = new Set(await admin.listTopics());
    } catch (error) {
      throw this.asSourceError(error, 'listing the topics');
    } finally {
      await admin.close().catch(() => undefined);
    }
    const { topics, topicPattern } = this.#config;
    if (topicPattern !== undefined) {
      const pattern = new RegExp(`^(?:${topicPattern})$`);
      const matching = [...existing].filter((topic) => pattern.test(topic)).sort();
      if (matching.length === 0) {
        throw new PgcdcError('KAFKA_SOURCE_FAILED', `no topic on Kafka at ${this.#config.bootstrapServers.join(',')} matches spec.source.kafka.topicPattern ${JSON.stringify(topicPattern)}`, {
          hint: 'check the pattern (it must match whole topic names), or start the stream once the topics exist',
        });
      }
      return matching;
    }
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      throw new PgcdcError('KAFKA_SOURCE_FAILED', `topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => JSON.stringify(t)).join(', ')} of spec.source.kafka.topics ${missing.length > 1 ? 'do' : 'does'} not exist on Kafka at ${this.#config.bootstrapServers.join(',')}`, {
        hint: 'fix the topic names (pgcdc\'s and Debezium\'s change topics are <prefix>.<schema>.<table>), or start the stream once they exist',
      });
    }
    return topics;
  }

  #received(message: kafka.Message<Buffer, Buffer, Buffer, Buffer>): void {
    const headers = new Map<string, Buffer>();
    for (const [name, value] of message.headers) headers.set(name.toString('utf8'), value);
    this.#buffered.push({
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key: message.key ?? null,
      value: message.value ?? null,
      headers,
      timestamp: message.timestamp,
    });
    if (this.#buffered.length - this.#bufferedHead >= this.#highWater * 2) this.#stream?.pause();
    this.#wake?.();
  }

  #failed(error: PgcdcError): void {
    this.#failure ??= error;
    this.#wake?.();
  }

  #refreshAssignments(): void {
    const assigned = new Set<string>();
    for (const { topic, partitions } of this.#consumer.assignments ?? []) for (const partition of partitions) assigned.add(partitionName(topic, partition));
    this.#assigned = assigned;
    this.#wake?.();
  }
}
