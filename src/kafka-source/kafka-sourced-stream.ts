/**
 * Runs a stream whose source is Kafka (`spec.source.type: Kafka`): a member of the consumer group
 * reads batches of records, decodes them (`change-message-decoder`), drops what a sink passes over
 * (tombstones, transaction records, heartbeats, excluded tables) and hands the changes to the
 * target (`source-batch-writers`); the offsets of a batch are committed to Kafka only once the
 * target made it durable. One batch may be becoming durable while the next is written. When the
 * group moves partitions away, what was written for them settles first, then the writer lets go of
 * them. Retryable failures (brokers or target unreachable) start the member again with backoff.
 */
import { open, mkdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { StreamConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { ChangeFilter } from '../pipeline/change-filter.js';
import { sleepUnlessAborted } from '../pipeline/abortable-waits.js';
import type { RunStreamOptions, RunStreamResult } from '../pipeline/run-stream.js';
import { newStreamCounters, type StreamCounters } from '../pipeline/stream-processor.js';
import { checkTarget, createTarget } from '../targets/create-target.js';
import { withTransform } from '../transform/transforming-target.js';
import { ChangeMessageDecoder } from './change-message-decoder.js';
import { ChangeTopicConsumer, type PartitionOffset, partitionName } from './change-topic-consumer.js';
import { type DecodedChange, type DecodedControl, type KafkaMessage, NotAChangeEvent } from './decoded-change.js';
import { EventTargetWriter, PostgresPartitionWriter, type SourceBatchWriter, type SourceRecord } from './source-batch-writers.js';

/** Runs a Kafka-sourced stream until it is stopped or fails for good. */
export async function runKafkaSourcedStream(config: StreamConfig, options: RunStreamOptions): Promise<RunStreamResult> {
  const { logger } = options;
  const signal = options.signal ?? new AbortController().signal;
  for (const warning of config.warnings) logger.warn(warning);
  if (options.target === undefined) await checkTarget(config, logger);
  const counters = newStreamCounters();
  const delays = options.retryDelayMs ?? { initial: 1000, max: 30_000 };
  let failures = 0;
  for (;;) {
    const member = new GroupMember(config, options, counters);
    try {
      const outcome = await member.run(signal);
      if (outcome === 'stopped') return { stopReason: 'signal', confirmedLsn: 0, counters };
      failures = 0; // new topics match the pattern: join again with them
    } catch (error) {
      const failure = error instanceof PgcdcError ? error : new PgcdcError('INTERNAL', (error as Error).message, { cause: error });
      if (failure.policy !== 'retry' || signal.aborted) throw failure;
      failures = member.madeProgress ? 1 : failures + 1;
      if (config.maxRetries >= 0 && failures > config.maxRetries) throw failure;
      const delay = Math.min(delays.max, delays.initial * 2 ** (failures - 1));
      logger.warn({ code: failure.code, fix: failure.hint, retryInMs: delay, attempt: failures }, failure.message);
      if (await sleepUnlessAborted(delay, signal)) return { stopReason: 'signal', confirmedLsn: 0, counters };
    }
  }
}

/** Records a sink passes over: tombstones, transaction BEGIN/END, heartbeats. */
function isPassedOver(change: DecodedChange): change is DecodedControl {
  return change.kind === 'tombstone' || change.kind === 'transaction' || change.kind === 'heartbeat';
}

/** What one batch leaves to do once the target made it durable. */
interface PendingBatch {
  readonly durable: Promise<void>;
  readonly offsets: Map<string, PartitionOffset>;
  /** How many changes it delivers (the records themselves are not kept: the target took them). */
  readonly events: number;
}

/** One run of this process as a member of the group, from joining to stopping or failing. */
class GroupMember {
  readonly #config: StreamConfig;
  readonly #options: RunStreamOptions;
  readonly #logger: Logger;
  readonly #counters: StreamCounters;
  readonly #filter: ChangeFilter;
  readonly #included = new Map<string, Map<string, boolean>>();
  #deadLetters: FileHandle | undefined;
  madeProgress = false;

  constructor(config: StreamConfig, options: RunStreamOptions, counters: StreamCounters) {
    this.#config = config;
    this.#options = options;
    this.#logger = options.logger;
    this.#counters = counters;
    this.#filter = new ChangeFilter(config.source.includes, config.source.excludes);
  }

  /** Runs until stopped (`stopped`), or until new topics match the topic pattern (`new-topics`: what was read is settled). */
  async run(signal: AbortSignal): Promise<'stopped' | 'new-topics'> {
    const source = this.#config.kafkaSource!;
    const decoder = new ChangeMessageDecoder({
      unavailableValuePlaceholder: this.#config.source.unavailableValuePlaceholder,
      ...(source.schemaRegistry === undefined
        ? {}
        : { schemaRegistry: { url: source.schemaRegistry.url, ...(source.schemaRegistry.basicAuth ? { basicAuth: { user: source.schemaRegistry.basicAuth.username, password: source.schemaRegistry.basicAuth.password } } : {}) } }),
    });
    const consumer = new ChangeTopicConsumer(source, this.#logger);
    const stopWriters = new AbortController();
    const onAbort = (): void => stopWriters.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let writer: SourceBatchWriter | undefined;
    let pending: PendingBatch | undefined;
    let watch: NodeJS.Timeout | undefined;
    let newTopics: readonly string[] | undefined;
    try {
      writer = await this.#writer(stopWriters.signal);
      await writer.open();
      const topics = await consumer.start(source.maxBatchRecords);
      this.#logger.info({ topics, group: source.groupId }, 'reading the change topics');
      if (source.topicPattern !== undefined) {
        watch = this.#watchTopics(consumer, topics, (found) => {
          newTopics = found;
          consumer.interrupt();
        });
      }
      let held = consumer.assigned;
      this.#logger.info({ partitions: [...held].sort(), generation: consumer.generation }, 'joined the group: holding these partitions');
      for (;;) {
        // New topics: what was written settles; what was fetched and not written is read again by the next member.
        if (newTopics !== undefined) {
          await this.#settleCommitted(pending, consumer);
          pending = undefined;
          this.#logger.info({ topics: newTopics }, 'new topics match spec.source.kafka.topicPattern: joining the group again with them');
          return 'new-topics';
        }
        // Nothing more to read at once: the last batch settles (its offsets committed meanwhile) before waiting.
        if (pending && !consumer.hasBuffered) {
          await this.#settle(pending, consumer);
          pending = undefined;
        }
        const messages = await consumer.next(source.maxBatchRecords, signal, held);
        if (signal.aborted && messages.length === 0) break;
        // Partitions moved: what was written settles (its offsets committed), then the writer lets go.
        if (consumer.assigned !== held) {
          await this.#settleCommitted(pending, consumer);
          pending = undefined;
          held = consumer.assigned;
          await writer.release(held);
          this.#logger.info({ partitions: [...held].sort(), generation: consumer.generation }, 'the group moved partitions: holding these now');
        }
        const { records, offsets, stop } = await this.#decode(messages, held, decoder);
        const { durable } = await writer.write(records);
        if (pending) await this.#settle(pending, consumer);
        pending = { durable, offsets, events: records.length };
        if (stop) {
          // What came before the record is delivered and committed; the record and the rest are not.
          await this.#settleCommitted(pending, consumer);
          pending = undefined;
          throw stop;
        }
      }
      await this.#settleCommitted(pending, consumer);
      pending = undefined;
      return 'stopped';
    } finally {
      clearInterval(watch);
      signal.removeEventListener('abort', onAbort);
      if (pending) await pending.durable.catch(() => undefined);
      stopWriters.abort();
      await consumer.close();
      await writer?.close().catch(() => undefined);
      await this.#deadLetters?.close().catch(() => undefined);
    }
  }

  /** Lists the topics matching the pattern every `topicRefreshIntervalMs`; calls `found` once with the new matches. */
  #watchTopics(consumer: ChangeTopicConsumer, reading: readonly string[], found: (topics: readonly string[]) => void): NodeJS.Timeout {
    const known = new Set(reading);
    let listing = false;
    const timer = setInterval(() => {
      if (listing) return;
      listing = true;
      consumer
        .topicsToRead()
        .then((topics) => {
          const added = topics.filter((topic) => !known.has(topic));
          if (added.length === 0) return;
          clearInterval(timer);
          found(added);
        })
        .catch((error: unknown) => this.#logger.debug({ error: (error as Error).message }, 'could not list the topics matching the pattern; trying again later'))
        .finally(() => (listing = false));
    }, this.#config.kafkaSource!.topicRefreshIntervalMs);
    timer.unref();
    return timer;
  }

  async #writer(signal: AbortSignal): Promise<SourceBatchWriter> {
    if (this.#options.target === undefined && this.#config.target.type === 'Postgres') return new PostgresPartitionWriter(this.#config, this.#logger, signal);
    const target = await withTransform(this.#options.target ?? (await createTarget(this.#config, this.#logger, this.#options.observer)), this.#config, this.#logger, this.#options.observer);
    return new EventTargetWriter(target);
  }

  /**
   * Waits for a batch to be durable, then has its offsets committed: the commit goes on while the
   * next batches are read (each waits for the broker's log flush); `consumer.committed()` waits
   * for it where the offsets must be in Kafka first.
   */
  async #settle(batch: PendingBatch, consumer: ChangeTopicConsumer): Promise<void> {
    await batch.durable;
    void consumer.commit(batch.offsets.values());
    this.madeProgress = true;
    this.#counters.events += batch.events;
  }

  /**
   * Settles `batch` (when there is one), then waits until its offsets and every earlier batch's
   * are committed: before partitions are let go, the group is joined again, or the member stops.
   */
  async #settleCommitted(batch: PendingBatch | undefined, consumer: ChangeTopicConsumer): Promise<void> {
    if (batch) await this.#settle(batch, consumer);
    await consumer.committed();
  }

  /**
   * The changes of `messages` to deliver, and the offsets they take each partition to; up to a
   * record that stops the stream (`stop`), when there is one.
   */
  async #decode(messages: readonly KafkaMessage[], held: ReadonlySet<string>, decoder: ChangeMessageDecoder): Promise<{ records: SourceRecord[]; offsets: Map<string, PartitionOffset>; stop?: PgcdcError }> {
    const records: SourceRecord[] = [];
    // The last record read of each partition (its offset + 1 is what a commit records); records
    // come in runs of one partition, so the partition's name is looked up once per run.
    const lastRead = new Map<string, KafkaMessage>();
    const offsets = () => new Map([...lastRead].map(([name, m]) => [name, { topic: m.topic, partition: m.partition, offset: BigInt(m.offset + 1) }]));
    let runTopic: string | undefined;
    let runPartition = -1;
    let runName = '';
    let runHeld = false;
    for (const message of messages) {
      if (message.partition !== runPartition || message.topic !== runTopic) {
        runTopic = message.topic;
        runPartition = message.partition;
        runName = partitionName(runTopic, runPartition);
        runHeld = held.has(runName);
      }
      if (!runHeld) continue; // fetched before the partition moved: its new holder reads it
      let change: DecodedChange;
      try {
        const decoded = decoder.decode(message);
        change = decoded instanceof Promise ? await decoded : decoded;
      } catch (error) {
        if (!(error instanceof NotAChangeEvent)) throw error;
        const stop = await this.#invalid(message, error.message);
        if (stop) return { records, offsets: offsets(), stop };
        lastRead.set(runName, message);
        continue;
      }
      lastRead.set(runName, message);
      if (isPassedOver(change)) continue;
      if (change.kind !== 'message' && !this.#includesTable(change.schema, change.table)) {
        this.#counters.filtered++;
        continue;
      }
      records.push({ message, change });
    }
    return { records, offsets: offsets() };
  }

  /** Whether the stream passes on changes of `schema.table` (the filter's answer, kept per table). */
  #includesTable(schema: string, table: string): boolean {
    let bySchema = this.#included.get(schema);
    if (bySchema === undefined) this.#included.set(schema, (bySchema = new Map()));
    let included = bySchema.get(table);
    if (included === undefined) bySchema.set(table, (included = this.#filter.includesTable(schema, table)));
    return included;
  }

  /** A record that is not a change event: the error stopping the stream, or set aside durably (before its offset is committed). */
  async #invalid(message: KafkaMessage, reason: string): Promise<PgcdcError | undefined> {
    const source = this.#config.kafkaSource!;
    const where = `topic ${message.topic}, partition ${message.partition}, offset ${message.offset}`;
    if (source.invalidRecords === 'stop') {
      return new PgcdcError('KAFKA_SOURCE_FAILED', `the record at ${where} is not a change event: ${reason}`, {
        hint: 'fix what writes that topic, or set spec.source.kafka.invalidRecords.policy: dead-letter to set such records aside; the changes before it were delivered and committed, it and the later ones were not',
      });
    }
    if (this.#deadLetters === undefined) {
      await mkdir(path.dirname(source.deadLetterFile), { recursive: true });
      this.#deadLetters = await open(source.deadLetterFile, 'a');
    }
    const line = {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset.toString(),
      timestamp: message.timestamp.toString(),
      reason,
      key: message.key === null ? null : message.key.toString('base64'),
      value: message.value === null ? null : message.value.toString('base64'),
      headers: Object.fromEntries([...message.headers].map(([name, value]) => [name, value.toString('base64')])),
    };
    await this.#deadLetters.write(`${JSON.stringify(line)}\n`);
    await this.#deadLetters.datasync();
    this.#options.observer?.deadLettered?.(1);
    this.#logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset.toString(), file: source.deadLetterFile }, `set aside a record that is not a change event: ${reason}`);
    return undefined;
  }
}
