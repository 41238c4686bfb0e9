/**
 * The Kafka source's consumer: one member of the stream's consumer group (@platformatic/kafka's
 * Consumer for joining, heartbeats, rebalances and commits), reading the change topics with its
 * own fetch loop (`partition-fetcher`, records read by `record-batch-reader`) from the group's
 * committed offsets (or `startFrom` where it has none), handing records over in batches with
 * backpressure (no new fetches while a batch's worth waits), telling which partitions this member
 * holds now, and committing the offsets of what the target made durable. Offsets are never
 * committed automatically.
 */
import * as kafka from '@platformatic/kafka';
import type { KafkaSourceConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { describeKafkaError, kafkaClientOptions } from '../targets/kafka/kafka-client-options.js';
import type { KafkaMessage } from './decoded-change.js';
import { PartitionFetcher } from './partition-fetcher.js';

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
/** Between attempts to join the group again after a failed heartbeat. */
const REJOIN_RETRY_MS = 1000;

export class ChangeTopicConsumer {
  readonly #config: KafkaSourceConfig;
  readonly #logger: Logger;
  readonly #consumer: kafka.Consumer<Buffer, Buffer, Buffer, Buffer>;
  #fetcher: PartitionFetcher | undefined;
  #buffered: KafkaMessage[] = [];
  #bufferedHead = 0;
  #wake: (() => void) | undefined;
  #failure: PgcdcError | undefined;
  #assigned: ReadonlySet<string> = new Set();
  #highWater = 1;
  #interrupted = false;
  #rejoining = false;
  #closed = false;
  /** Since when commits to the group coordinator have failed without one succeeding (Date.now()). */
  #coordinatorFailingSince: number | undefined;
  /** Offsets of partitions held, to commit once the commit under way is done, by partition name (those let go are dropped). */
  readonly #toCommit = new Map<string, PartitionOffset>();
  #committing: Promise<void> | undefined;
  /** Whether #commitQueued is under way (it may end within the call that starts it). */
  #commitRunning = false;
  /** The member id and generation of the assignment last seen. */
  #memberId: string | null = null;
  #generation = 0;

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
    // A rejoin that failed for good (the client emits it rather than throwing).
    this.#consumer.on('error', (error: unknown) => this.#failed(this.asSourceError(error, 'rejoining the consumer group')));
    this.#consumer.on('consumer:heartbeat:error', ({ error }: { error: unknown }) => this.#heartbeatFailed(error));
    failMissingCoordinator(this.#consumer);
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
    const source = this.#config;
    this.#fetcher = new PartitionFetcher({
      consumer: this.#consumer,
      connectionOptions: kafkaClientOptions({ ...source, requestTimeoutMs: REQUEST_TIMEOUT_MS }),
      topics,
      isolationLevel: source.isolationLevel,
      startFrom: source.startFrom,
      sessionTimeoutMs: source.sessionTimeoutMs,
      logger: this.#logger,
      received: (messages) => this.#received(messages),
      failed: (error, doing) => this.#failed(this.asSourceError(error, doing)),
    });
    try {
      await this.#fetcher.start();
      for (const topic of topics) this.#consumer.topics.track(topic);
      await this.#consumer.joinGroup({});
    } catch (error) {
      throw this.asSourceError(error, 'joining the consumer group');
    }
    this.#refreshAssignments();
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
    if (this.#failure) throw this.#failure;
    while (this.#bufferedHead >= this.#buffered.length) {
      if (this.#failure) throw this.#failure;
      if (signal.aborted || this.#assigned !== held || this.#interrupted) return [];
      if (this.#fetcher?.paused) this.#fetcher.resume(); // nothing buffered: fetch
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
    const taken = this.#bufferedHead === 0 && end === this.#buffered.length ? this.#buffered : this.#buffered.slice(this.#bufferedHead, end);
    this.#bufferedHead = end;
    if (this.#bufferedHead === this.#buffered.length) {
      this.#buffered = [];
      this.#bufferedHead = 0;
    } else if (this.#bufferedHead >= this.#highWater) {
      // The records taken are let go: a buffer that never drains (fetches keep up with the
      // target) would otherwise keep every record read since it last did.
      this.#buffered = this.#buffered.slice(this.#bufferedHead);
      this.#bufferedHead = 0;
    }
    if (this.#fetcher?.paused && this.#buffered.length - this.#bufferedHead < this.#highWater) this.#fetcher.resume();
    return taken;
  }

  /** Makes a waiting (or the next) `next` resolve at once, empty when nothing is buffered. */
  interrupt(): void {
    this.#interrupted = true;
    this.#wake?.();
  }

  /**
   * Commits the offsets of partitions this member still holds (a partition that moved is the new
   * holder's to commit), after those given before. One commit request is under way at a time:
   * offsets given meanwhile go in the next one, the latest of each partition. Resolves once they
   * are committed or the commit failed (logged; the member fails when the coordinator refuses
   * commits for a session timeout); the caller need not wait for it (`committed` does).
   */
  commit(offsets: Iterable<PartitionOffset>): Promise<void> {
    for (const offset of offsets) {
      const name = partitionName(offset.topic, offset.partition);
      if (this.#assigned.has(name)) this.#toCommit.set(name, offset);
    }
    if (!this.#commitRunning) this.#committing = this.#commitQueued();
    return this.#committing!;
  }

  /** Resolves once every offset given to `commit` so far was committed (or its commit failed). */
  committed(): Promise<void> {
    return this.#commitRunning ? this.#committing! : Promise.resolve();
  }

  async #commitQueued(): Promise<void> {
    this.#commitRunning = true;
    try {
      while (this.#toCommit.size > 0) {
        const offsets = [...this.#toCommit.values()].map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: -1 }));
        this.#toCommit.clear();
        try {
          await this.#consumer.commit({ offsets });
          this.#coordinatorFailingSince = undefined;
        } catch (error) {
          // A rebalance under way: the partitions' next holder reads from the last commit, or the
          // target's own position; nothing is lost, at most read again.
          this.#logger.warn({ error: describeKafkaError(error) }, 'could not commit the consumed offsets to Kafka (a rebalance?); what they cover may be read again');
          this.#commitFailed(error);
        }
      }
    } finally {
      this.#commitRunning = false;
    }
  }

  /**
   * After a failed heartbeat (other than one asking to rejoin) the 1.x client sends no more: the
   * group would give this member's partitions to others once its session expired while it went on
   * reading them. So it joins again at once (a kept partition keeps its position), trying for a
   * session timeout; when that fails, the member stops (the stream starts a new one, which reads on
   * from the committed offsets).
   */
  #heartbeatFailed(error: unknown): void {
    if (this.#rejoining || this.#failure !== undefined) return;
    this.#rejoining = true;
    this.#logger.warn({ error: describeKafkaError(error) }, 'a heartbeat to the consumer group failed: joining the group again');
    const deadline = Date.now() + this.#config.sessionTimeoutMs;
    const attempt = (): void => {
      this.#consumer.joinGroup({}).then(
        () => (this.#rejoining = false),
        (rejoin: unknown) => {
          if (this.#closed) return;
          // A broker restarting answers COORDINATOR_LOAD_IN_PROGRESS for a while: try again within the session.
          if (Date.now() < deadline) {
            setTimeout(attempt, REJOIN_RETRY_MS).unref();
            return;
          }
          this.#failed(
            new PgcdcError('KAFKA_SOURCE_UNREACHABLE', `a heartbeat to the consumer group's coordinator failed (${describeKafkaError(error)}), and so did joining the group again (${describeKafkaError(rejoin)})`, {
              hint: 'pgcdc starts a new member of the group and reads on from the committed offsets',
            }),
          );
        },
      );
    };
    attempt();
  }

  /**
   * A commit failed. Commits fail for a moment during a rebalance; once none has succeeded for a
   * session timeout, the member stops (the stream joins again and reads on from the committed
   * offsets). The client keeps its first coordinator for good (platformatic/kafka#290), so a new
   * member is also what finds a new one.
   */
  #commitFailed(error: unknown): void {
    const now = Date.now();
    this.#coordinatorFailingSince ??= now;
    if (now - this.#coordinatorFailingSince < this.#config.sessionTimeoutMs) return;
    this.#failed(
      new PgcdcError('KAFKA_SOURCE_UNREACHABLE', `the consumer group's coordinator has refused commits for ${Math.round((now - this.#coordinatorFailingSince) / 1000)} s (${describeKafkaError(error)})`, {
        hint: 'pgcdc joins the group again and reads on from the committed offsets',
      }),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.committed();
    await this.#fetcher?.close();
    this.#fetcher = undefined;
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

  #received(messages: KafkaMessage[]): void {
    if (this.#bufferedHead === this.#buffered.length) {
      this.#buffered = messages;
      this.#bufferedHead = 0;
    } else {
      for (const message of messages) this.#buffered.push(message);
    }
    if (this.#buffered.length - this.#bufferedHead >= this.#highWater * 2) this.#fetcher?.pause();
    this.#wake?.();
  }

  #failed(error: PgcdcError): void {
    this.#failure ??= error;
    this.#wake?.();
  }

  /**
   * The group's assignment changed: a new `assigned` set, the fetcher told, records of partitions
   * let go dropped. A member that missed a generation (its session expired, or it joined anew) may
   * have had its partitions read by another member meanwhile: it starts them all again from the
   * committed offsets, as Kafka's Java consumer does when it loses its partitions.
   */
  #refreshAssignments(): void {
    const assigned = new Map<string, { topic: string; partition: number }>();
    for (const { topic, partitions } of this.#consumer.assignments ?? []) for (const partition of partitions) assigned.set(partitionName(topic, partition), { topic, partition });
    const { memberId, generationId } = this.#consumer;
    const missedGeneration = memberId !== this.#memberId || generationId > this.#generation + 1;
    const same = assigned.size === this.#assigned.size && [...assigned.keys()].every((name) => this.#assigned.has(name));
    this.#memberId = memberId;
    this.#generation = generationId;
    if (same && !missedGeneration) return;
    const names = new Set(assigned.keys());
    this.#assigned = names;
    // Offsets not committed yet of partitions let go are the next holder's; after a missed
    // generation another member may have committed past them.
    for (const name of [...this.#toCommit.keys()]) if (missedGeneration || !names.has(name)) this.#toCommit.delete(name);
    if (missedGeneration) {
      this.#buffered = [];
      this.#fetcher?.assign(new Map());
    } else {
      this.#buffered = this.#buffered.slice(this.#bufferedHead).filter((message) => names.has(partitionName(message.topic, message.partition)));
    }
    this.#bufferedHead = 0;
    this.#fetcher?.assign(assigned);
    // What was let go may have been what paused the fetches: with less than a batch's worth left, fetch again.
    if (this.#fetcher?.paused && this.#buffered.length < this.#highWater) this.#fetcher.resume();
    this.#wake?.();
  }
}

/**
 * @platformatic/kafka 1.x keeps the group coordinator's id for good (platformatic/kafka#290): once
 * that broker has left the cluster's metadata, a group operation asks its connection pool for
 * `undefined` and throws a TypeError out of a callback (an uncaught exception). This makes it an
 * error of that operation (a failed heartbeat or commit), which stops the member.
 */
function failMissingCoordinator(consumer: object): void {
  let symbol: symbol | undefined;
  for (let proto = Object.getPrototypeOf(consumer) as object | null; proto !== null && symbol === undefined; proto = Object.getPrototypeOf(proto) as object | null) {
    symbol = Object.getOwnPropertySymbols(proto).find((candidate) => candidate.description === 'plt.kafka.base.getConnection');
  }
  if (symbol === undefined) return;
  const target = consumer as Record<symbol, (broker: unknown, callback: (error: unknown, connection?: unknown) => void) => void>;
  const getConnection = target[symbol]!;
  target[symbol] = function (this: unknown, broker, callback) {
    if (broker === undefined) {
      callback(new Error('the group coordinator is no longer among the cluster\'s brokers'));
      return;
    }
    getConnection.call(this, broker, callback);
  };
}
