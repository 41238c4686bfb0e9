/**
 * The `NatsJetStream` target: each batch becomes Debezium's records (`records/change-records`, a
 * subject per table from the template), one NATS message each (`nats-messages`: `Nats-Msg-Id` from
 * the position), published pipelined in order (`jetstream-publisher`). A write returns once its
 * messages are handed to the connection; its `durable` settles once JetStream acknowledged every
 * one of them, so the next batch is published while the PubAcks of this one come back. After a
 * lost connection, a timeout or an unavailable stream the unsettled batches are published again,
 * in order, from their first unacknowledged message, on a new connection, with backoff, up to
 * `retryLimit` failures in a row (then they fail and the stream reconnects): JetStream drops what it
 * holds already as duplicates within its duplicate window, so each change is stored once. A
 * message refused for good (too large) is dead-lettered, or stops the stream (`deadLetter.policy`).
 */
import type { NatsJetStreamTargetConfig } from '../../config/nats-jetstream-settings.js';
import type { StreamConfig } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { asPgcdcError, PgcdcError } from '../../errors/pgcdc-error.js';
import { streamEncoderOptions } from '../../events/debezium-json-encoder.js';
import type { EventBatch } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import { deadLetterSetup } from '../delivery/dead-letter-setup.js';
import type { DeadLetter, DeadLetterStore } from '../delivery/dead-letter-store.js';
import { retryDelayMs, type RetryPolicy, sgStreamRetryPolicy } from '../delivery/retry-backoff.js';
import { ChangeRecordBuilder } from '../records/change-records.js';
import { destinationTemplate } from '../records/destination-template.js';
import type { Target, WrittenBatch } from '../target.js';
import { JetStreamPublisher, MessageState, OutgoingBatch, type PublishFailure } from './jetstream-publisher.js';
import { ensureStream, SubjectStreams } from './jetstream-streams.js';
import { openNatsSession, type NatsSession } from './nats-connection.js';
import { type NatsMessage, NatsMessageEncoder } from './nats-messages.js';

const SETTINGS = 'spec.target.natsJetStream';
/** Batches published and not yet acknowledged at most (each keeps its writer's memory). */
const MAX_UNSETTLED_BATCHES = 2;

interface Session extends NatsSession {
  readonly publisher: JetStreamPublisher;
}

/** A batch on its way: its messages, the writer holding their values, and its outcome. */
interface PendingBatch {
  readonly outgoing: OutgoingBatch;
  readonly writer: JsonWriter;
  /** Settles once every message is stored (or refused and set aside), or with the failure. */
  readonly durable: Promise<void>;
  readonly fail: (error: PgcdcError) => void;
}

export class NatsJetStreamTarget implements Target {
  readonly #config: NatsJetStreamTargetConfig;
  readonly #logger: Logger;
  readonly #builder: ChangeRecordBuilder;
  readonly #encoder: NatsMessageEncoder;
  readonly #writers: JsonWriter[] = [];
  readonly #subjects: SubjectStreams;
  readonly #store: DeadLetterStore | undefined;
  readonly #retry: RetryPolicy;
  #session: Session | undefined;
  /** Batches not settled yet, in order. */
  #pending: PendingBatch[] = [];
  /** Publishing again after a failure. */
  #recovering: Promise<void> | undefined;
  /** Failures in a row without a batch settling. */
  #failures = 0;
  /** Bumped by every failure that fails the pending batches: a write begun before publishes nothing. */
  #generation = 0;
  #deadLettered = 0;

  constructor(config: NatsJetStreamTargetConfig, stream: StreamConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#builder = new ChangeRecordBuilder(config, streamEncoderOptions(stream), stream.source.tombstonesOnDelete, destinationTemplate(config.subject, config.topicPrefix, subjectToken));
    this.#encoder = new NatsMessageEncoder(config.msgIdPrefix, config.headers);
    this.#subjects = new SubjectStreams(config.stream.name, logger);
    this.#store = deadLetterSetup(config.deadLetter, stream, SETTINGS).store;
    this.#retry = sgStreamRetryPolicy(config.retryLimit, config.retryBackoffDelaySeconds);
  }

  /** Messages set aside in the dead-letter store since start. */
  get deadLettered(): number {
    return this.#deadLettered;
  }

  async open(): Promise<void> {
    await this.#store?.open();
    await this.#connect();
  }

  /**
   * Publishes `batch`: returns once its messages are handed to the connection (after waiting for
   * room: at most MAX_UNSETTLED_BATCHES unacknowledged); `durable` settles once JetStream
   * acknowledged each.
   */
  async write(batch: EventBatch): Promise<WrittenBatch | void> {
    const generation = this.#generation;
    while (this.#pending.length >= MAX_UNSETTLED_BATCHES) await this.#pending[0]!.durable.catch(() => undefined);
    await this.#recovering;
    if (generation !== this.#generation) throw this.#staleWrite();
    const writer = this.#writers.pop() ?? new JsonWriter();
    let messages: NatsMessage[];
    let session: Session;
    try {
      messages = this.#encoder.encode(this.#builder.build(batch.events, writer));
      if (messages.length > 0) {
        session = await this.#connect();
        await this.#subjects.check(session.manager, distinctSubjects(messages));
      }
    } catch (error) {
      this.#release(writer);
      this.#failPending(asPgcdcError(error, 'TARGET_FAILED'));
      throw error;
    }
    if (messages.length === 0) {
      this.#release(writer);
      return;
    }
    if (generation !== this.#generation) {
      // A failure meanwhile failed the batches before: the pipeline delivers this one again.
      this.#release(writer);
      throw this.#staleWrite();
    }
    const outgoing = new OutgoingBatch(messages);
    this.#refuseOversized(outgoing, session!.publisher.maxPayload);
    if (outgoing.refusals.size > 0 && this.#store === undefined) {
      this.#release(writer);
      const error = this.#stopError(outgoing);
      this.#failPending(error);
      throw error;
    }
    let fail!: (error: PgcdcError) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    const durable = Promise.race([outgoing.settled.then(() => this.#setAside(outgoing)), failed]).finally(() => {
      this.#pending.splice(this.#pending.indexOf(pending) >>> 0, 1);
      this.#release(writer);
    });
    durable.catch(() => undefined);
    const pending: PendingBatch = { outgoing, writer, durable, fail };
    // In order after the batches before; a recovery under way publishes it with them.
    this.#pending.push(pending);
    const current = this.#session;
    if (current?.publisher.usable) current.publisher.add(outgoing);
    else if (!this.#recovering) this.#onFailure({ kind: 'lost', message: 'the connection to the NATS server was lost' });
    await Promise.race([outgoing.published, durable.catch(() => undefined)]);
    return { durable };
  }

  #staleWrite(): PgcdcError {
    return new PgcdcError('TARGET_UNREACHABLE', 'publishing to NATS failed before this batch was published', { hint: 'the stream reconnects and publishes it again' });
  }

  /** Returns a writer whose batch is done to the pool. */
  #release(writer: JsonWriter): void {
    writer.recycle();
    if (this.#writers.length < MAX_UNSETTLED_BATCHES) this.#writers.push(writer);
  }

  /** Marks the messages over the server's `max_payload` refused, with why. */
  #refuseOversized(outgoing: OutgoingBatch, maxPayload: number): void {
    const { messages } = outgoing;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      if (message.size > maxPayload) {
        outgoing.refusals.set(i, `the message of ${message.size} bytes for subject "${message.subject}" is larger than the NATS server's max_payload (${maxPayload} bytes)`);
        outgoing.settle(i, MessageState.Refused);
      }
    }
  }

  /** With the stop policy: the error naming the first refused message. */
  #stopError(outgoing: OutgoingBatch): PgcdcError {
    const index = Math.min(...outgoing.refusals.keys());
    return new PgcdcError('TARGET_FAILED', `${outgoing.refusals.get(index)!} (id ${outgoing.messages[index]!.id}); nothing from it on is acknowledged`, {
      hint: `raise the server's max_payload (and the stream's max_msg_size), or set ${SETTINGS}.deadLetter.policy: dead-letter to set such changes aside`,
    });
  }

  /** Stores the refused messages of a settled batch as dead letters (durably), or fails with the stop policy. */
  async #setAside(outgoing: OutgoingBatch): Promise<void> {
    if (outgoing.refusals.size === 0) return;
    const store = this.#store;
    if (store === undefined) {
      const error = this.#stopError(outgoing);
      this.#failPending(error);
      throw error;
    }
    const failedAt = new Date();
    const letters: DeadLetter[] = [...outgoing.refusals].map(([index, reason]) => {
      const message = outgoing.messages[index]!;
      return { id: message.id, event: message.record.value ?? Buffer.from('null'), error: reason, attempts: 0, failedAt };
    });
    await store.add(letters);
    this.#deadLettered += letters.length;
    for (const letter of letters) this.#logger.warn({ id: letter.id, deadLetters: store.description }, `${letter.error}: set aside as a dead letter`);
  }

  /** A publisher's failure: publish the unsettled batches again on a new connection, or fail them. */
  #onFailure(failure: PublishFailure): void {
    const error = publishError(failure);
    if (error.policy === 'fatal') {
      this.#failPending(error);
      return;
    }
    if (this.#recovering) return;
    const recovering = this.#recover(error).then(
      () => {
        if (this.#recovering === recovering) this.#recovering = undefined;
      },
      (last: unknown) => {
        if (this.#recovering === recovering) this.#recovering = undefined;
        this.#failPending(asPgcdcError(last, 'TARGET_UNREACHABLE'));
      },
    );
    this.#recovering = recovering;
  }

  async #recover(first: PgcdcError): Promise<void> {
    let error = first;
    for (;;) {
      this.#failures++;
      if (this.#failures > this.#retry.limit!) throw error;
      const delay = retryDelayMs(this.#retry, this.#failures);
      const stored = this.#pending.reduce((sum, batch) => sum + batch.outgoing.messages.length - batch.outgoing.unsettled, 0);
      const unsettled = this.#pending.reduce((sum, batch) => sum + batch.outgoing.unsettled, 0);
      this.#logger.warn({ attempt: this.#failures, delayMs: delay, acknowledged: stored, unacknowledged: unsettled }, `${error.toLine()}; publishing again from the first unacknowledged message`);
      await this.#dropSession();
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        const session = await this.#connect(true);
        for (const batch of this.#pending) session.publisher.add(batch.outgoing);
        return;
      } catch (thrown) {
        error = asPgcdcError(thrown, 'TARGET_UNREACHABLE');
        if (error.policy === 'fatal') throw error;
      }
    }
  }

  /** Fails every pending batch with `error`; ids are numbered afresh for the redelivered tail. */
  #failPending(error: PgcdcError): void {
    this.#generation++;
    this.#encoder.restart();
    this.#failures = 0;
    const pending = this.#pending;
    this.#pending = [];
    for (const batch of pending) batch.fail(error);
    void this.#dropSession();
  }

  /** The open session, or a new one (creating the stream when asked). */
  async #connect(recovering = false): Promise<Session> {
    if (this.#session?.publisher.usable) return this.#session;
    if (this.#recovering && !recovering) {
      await this.#recovering;
      return this.#connect();
    }
    await this.#dropSession();
    const session = await openNatsSession(this.#config);
    try {
      if (this.#config.stream.create) await ensureStream(session.manager, this.#config.stream, this.#logger);
    } catch (error) {
      await session.connection.close().catch(() => undefined);
      throw error;
    }
    let publisher: JetStreamPublisher;
    const onFailure = (failure: PublishFailure) => {
      if (this.#session?.publisher === publisher) this.#onFailure(failure);
    };
    publisher = new JetStreamPublisher(session.connection, {
      maxPending: this.#config.maxPending,
      timeoutMs: this.#config.publishTimeoutMs,
      onFailure,
      onProgress: () => (this.#failures = 0),
    });
    this.#session = { ...session, publisher };
    return this.#session;
  }

  async #dropSession(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.publisher.close();
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#pending.map((batch) => batch.durable));
    await this.#recovering?.catch(() => undefined);
    await this.#dropSession();
    await this.#store?.close();
  }
}

/** A schema or table name as a NATS subject token (no whitespace, `*` or `>`). */
function subjectToken(name: string): string {
  return name.replace(/[\s*>]/g, '_');
}

/** The subjects of `messages`, each once (runs of one subject are cheap). */
function* distinctSubjects(messages: readonly NatsMessage[]): Generator<string> {
  let last: string | undefined;
  for (const message of messages) {
    if (message.subject !== last) yield (last = message.subject);
  }
}

/** The one-line error of a publisher's failure. */
function publishError(failure: PublishFailure): PgcdcError {
  switch (failure.kind) {
    case 'lost':
      return new PgcdcError('TARGET_UNREACHABLE', failure.message, { hint: `check the NATS server is up and reachable; ${SETTINGS}.publishTimeout bounds the wait for a PubAck` });
    case 'unavailable':
      return new PgcdcError('TARGET_UNREACHABLE', failure.message, { hint: 'check the JetStream stream capturing the subject exists and has its replicas up' });
    case 'permission':
      return new PgcdcError('TARGET_FAILED', `the NATS server refused a publish: ${failure.message}`, { hint: `allow the user of ${SETTINGS}.credentials to publish to the target's subjects and to subscribe to _INBOX.>` });
    case 'refused':
      return new PgcdcError('TARGET_FAILED', failure.message, { hint: "fix the stream's limits (max_msgs, max_bytes, discard policy) or its configuration" });
  }
}

/**
 * Checks, before the source is touched, that a server answers, accepts the login and has JetStream,
 * and that the configured stream exists unless pgcdc creates it (which `open` does: a check
 * changes nothing on the server).
 */
export async function checkNatsJetStreamTarget(config: NatsJetStreamTargetConfig, _logger: Logger): Promise<void> {
  const session = await openNatsSession(config);
  try {
    const stream = config.stream;
    if (!stream.create && stream.name !== undefined) {
      await session.manager.streams.info(stream.name).catch((error: unknown) => {
        throw new PgcdcError('TARGET_FAILED', `JetStream stream "${stream.name}" does not exist on ${session.connection.getServer()} (${(error as Error).message})`, {
          hint: `create it (nats stream add ${stream.name} --subjects "${config.topicPrefix}.>"), or set ${SETTINGS}.stream.create: true`,
        });
      });
    }
  } finally {
    await session.connection.close().catch(() => undefined);
  }
}
