/**
 * The `RedisStreams` target: each batch becomes Debezium's records (`records/change-records`), one
 * XADD each on its stream key (`redis-entries`), appended by one atomic script run per slice of at
 * most `batchSize` events (`redis-connection`), on one connection, a few slices in flight. Exactly
 * once (the default): each run also moves the position key to the position its last event reaches
 * (`records/exactly-once-positions`), checking first that it holds what the previous run left;
 * after a crash or a failed run the position is read back and the events Redis holds are dropped
 * before they become records. A batch is durable once Redis replied to its runs. Entries too large
 * for the server, or for a key holding another type, go by the dead-letter policy (set aside
 * durably before the run that passes them, or the stream stops).
 */
import type { RedisStreamsTargetConfig } from '../../config/redis-streams-settings.js';
import type { StreamConfig } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { streamEncoderOptions } from '../../events/debezium-json-encoder.js';
import type { EventBatch, StreamEvent } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import { formatLsn, parseLsn } from '../../source/lsn.js';
import { deadLetterSetup } from '../delivery/dead-letter-setup.js';
import type { DeadLetter, DeadLetterStore } from '../delivery/dead-letter-store.js';
import { type ChangeRecord, ChangeRecordBuilder } from '../records/change-records.js';
import { destinationTemplate } from '../records/destination-template.js';
import { ExactlyOncePositions, isAfter, NO_POSITION, positionAfter, type StreamPosition } from '../records/exactly-once-positions.js';
import { type RecordMetadata, RecordMetadataReader } from '../records/record-metadata.js';
import type { Target, TargetBatching, WrittenBatch } from '../target.js';
import { EntryPacker } from './entry-packer.js';
import { type PositionMove, RedisConnection } from './redis-connection.js';
import { RedisEntries } from './redis-entries.js';
import { describeRedisError } from './redis-errors.js';

const SETTINGS = 'spec.target.redisStreams';
/** Appends sent before the first reply is awaited. */
const MAX_IN_FLIGHT = 4;
/** The lowest `proto-max-bulk-len` Redis accepts. */
const MIN_PROTO_MAX_BULK_LEN = 1 << 20;
/** Bytes of entries in one script run at most (the server's limit permitting). */
const MAX_GROUP_BYTES = 16 << 20;
/** What packing adds to the entries' sizes at most, and then some. */
const PACKING_SLACK = 64 << 10;

/** A stream's position as the position key holds it. */
export function positionText(position: StreamPosition): string {
  return `{"lsn":"${formatLsn(position.lsn)}","events":${position.events}}`;
}

/** The position in the position key's value. */
export function parsePosition(text: string, key: string): StreamPosition {
  try {
    const parsed = JSON.parse(text) as { lsn: string; events: number };
    if (typeof parsed.lsn === 'string' && Number.isInteger(parsed.events)) return { lsn: parseLsn(parsed.lsn), events: parsed.events };
  } catch {
    // reported below
  }
  throw new PgcdcError('TARGET_FAILED', `Redis key "${key}" holds ${JSON.stringify(text.slice(0, 80))}, which is not a pgcdc position`, {
    hint: `give ${SETTINGS}.positionKey a key of its own (pgcdc writes {"lsn","events"} there), or delete that key to write every change again`,
  });
}

/**
 * Keys with the hash tag `{<prefix>}` (Redis Cluster: every key of the stream in one slot): a key
 * that starts with the prefix gets it in braces (`shop.public.items` → `{shop}.public.items`), any
 * other key gets `{<prefix>}.` before it; a key holding the tag already is left as it is.
 */
export function hashTagged(prefix: string): (key: string) => string {
  const tag = `{${prefix}}`;
  const tagged = new Map<string, string>();
  return (key) => {
    let result = tagged.get(key);
    if (result === undefined) {
      result = key.includes(tag) ? key : key.startsWith(prefix) ? `${tag}${key.slice(prefix.length)}` : `${tag}.${key}`;
      tagged.set(key, result);
    }
    return result;
  };
}

export class RedisStreamsTarget implements Target {
  readonly #config: RedisStreamsTargetConfig;
  readonly #stream: StreamConfig;
  readonly #logger: Logger;
  readonly #builder: ChangeRecordBuilder;
  readonly #metadata = new RecordMetadataReader();
  readonly #entries: RedisEntries;
  /** The Redis key of a destination: itself, or in a cluster with the stream's hash tag. */
  readonly #keyOf: (topic: string) => string;
  readonly #positionKey: string | undefined;
  readonly #packer = new EntryPacker();
  readonly #writer = new JsonWriter();
  readonly #positions: ExactlyOncePositions | undefined;
  readonly batching: TargetBatching;
  #connection: RedisConnection | undefined;
  /** A write failed: the next one starts on a new connection (and reads the position back). */
  #recover = false;
  /** Stream keys known to be streams (or missing). */
  readonly #checkedKeys = new Set<string>();
  /** Entries larger than this are not sent. */
  #maxEntryBytes: number;
  /** Bytes of entries in one script run at most. */
  #groupBytes = MIN_PROTO_MAX_BULK_LEN;
  #deadLetters: DeadLetterStore | undefined;
  readonly #stopOnFailure: boolean;
  /** The last append sent. */
  #lastSent: Promise<void> | undefined;
  /** The first failure of an append since the last connection. */
  #appendFailure: unknown;
  /** Appends sent and not replied to yet. */
  #inFlight: Promise<void>[] = [];
  /** Exactly once: what the position key holds once every append sent has run ('' = nothing). */
  #positionValue = '';

  constructor(config: RedisStreamsTargetConfig, stream: StreamConfig, logger: Logger) {
    this.#config = config;
    this.#stream = stream;
    this.#logger = logger;
    this.#builder = new ChangeRecordBuilder(config, streamEncoderOptions(stream), stream.source.tombstonesOnDelete, destinationTemplate(config.streamKey, config.topicPrefix));
    this.#keyOf = config.cluster ? hashTagged(config.topicPrefix) : (topic) => topic;
    this.#positionKey = config.exactlyOnce && this.#keyOf(config.exactlyOnce.positionKey);
    this.#entries = new RedisEntries(config, this.#keyOf);
    this.#positions = config.exactlyOnce && new ExactlyOncePositions();
    this.batching = { events: config.batchSize, lingerMs: config.lingerMs };
    this.#maxEntryBytes = config.maxEntryBytes;
    this.#stopOnFailure = config.deadLetter.policy === 'stop';
  }

  async open(): Promise<void> {
    const setup = deadLetterSetup(this.#config.deadLetter, this.#stream, SETTINGS);
    this.#deadLetters = setup.store;
    await this.#deadLetters?.open();
    await this.#connect();
  }

  /** A new connection; the server's bulk limit; exactly once: the position Redis holds. */
  async #connect(): Promise<void> {
    this.#connection?.drop();
    const connection = new RedisConnection(this.#config, this.#logger);
    this.#connection = connection;
    await connection.connect();
    const serverLimit = await connection.maxBulkLength();
    // The entries of a script run travel in one argument: within the server's limit (the lowest
    // Redis allows when it cannot be read), and an entry alone too.
    this.#maxEntryBytes = Math.min(this.#config.maxEntryBytes, (serverLimit ?? Infinity) - PACKING_SLACK);
    this.#groupBytes = Math.min(MAX_GROUP_BYTES, (serverLimit ?? MIN_PROTO_MAX_BULK_LEN) - PACKING_SLACK);
    this.#checkedKeys.clear();
    if (this.#positions) {
      const key = this.#positionKey!;
      const [type] = await connection.types([key]);
      if (type !== 'string' && type !== 'none') throw new PgcdcError('TARGET_FAILED', `Redis key "${key}" holds a ${type}, not the stream's position`, { hint: `give ${SETTINGS}.positionKey a key of its own` });
      const text = await connection.get(key);
      const position = text === undefined ? NO_POSITION : parsePosition(text, key);
      this.#positionValue = text ?? '';
      this.#positions.committed = position;
      this.#positions.restart();
      this.#logger.info(
        { positionKey: key, ...(position.lsn < 0 ? {} : { lsn: formatLsn(position.lsn), events: position.events }) },
        position.lsn < 0 ? 'exactly once: no position in Redis yet' : 'exactly once: Redis holds the changes up to this position; they are not written again',
      );
    }
  }

  /**
   * Sends the batch's slices (each one script run) and returns once they are written to the
   * connection; `durable` settles once Redis replied to each (with AOF `appendfsync always`, once
   * they are on disk). Up to MAX_IN_FLIGHT slices wait for their replies while the next batches
   * are encoded and sent; Redis runs them in order, and in exactly-once mode each checks that the
   * position key holds what the one before left, so a refused slice is never passed by the next.
   */
  async write(batch: EventBatch): Promise<WrittenBatch> {
    const sent: Promise<void>[] = [];
    try {
      if (this.#recover || this.#connection === undefined) {
        await Promise.allSettled(this.#inFlight);
        this.#inFlight = [];
        await this.#connect();
        this.#recover = false;
        this.#appendFailure = undefined;
      }
      const size = this.#config.batchSize;
      try {
        for (let start = 0; start < batch.events.length; start += size) {
          const slice = batch.events.length <= size ? batch.events : batch.events.slice(start, start + size);
          for (const group of await this.#prepare(slice)) {
            while (this.#inFlight.length >= MAX_IN_FLIGHT) await this.#inFlight[0];
            if (this.#recover) throw new PgcdcError('TARGET_UNREACHABLE', 'an earlier Redis append failed; the batch is delivered again');
            sent.push(this.#send(group));
          }
        }
      } finally {
        // The commands are written: their bytes were copied.
        this.#writer.recycle();
      }
    } catch (error) {
      this.#recover = true;
      this.#connection?.drop();
      for (const send of sent) send.catch(() => undefined);
      // An append in flight failed first (the connection went with it): its error is the cause.
      await Promise.allSettled(this.#inFlight);
      throw this.#appendFailure ?? error;
    }
    return { durable: sent.length === 1 ? sent[0]! : Promise.all(sent).then(() => undefined) };
  }

  /**
   * The entries of `events`, packed in groups (one script run each) of at most the group size the
   * server takes in one argument, each with the position it reaches (groups split at event
   * boundaries); none when there is nothing to send. The last group's bytes are valid until the
   * next call (sent before it).
   */
  async #prepare(events: readonly StreamEvent[]): Promise<PreparedGroup[]> {
    const positions = this.#positions;
    const start = positions?.reached;
    const unwritten = positions ? positions.unwritten(events) : events;
    const records = this.#builder.build(unwritten, this.#writer);
    const wrongKeys = await this.#wrongTypeKeys(records);
    const packer = this.#packer;
    const groups: PreparedGroup[] = [];
    packer.begin();
    let failed: FailedEntry[] | undefined;
    let bytes = 0;
    let firstKey: string | undefined;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const metadata = this.#metadata.of(record);
      const wrongType = wrongKeys?.get(record.topic);
      const size = this.#entries.size(record, metadata);
      if (wrongType !== undefined || size > this.#maxEntryBytes) {
        const error =
          wrongType !== undefined
            ? `the key holds a ${wrongType}, not a stream (WRONGTYPE)`
            : `the entry is ${size} bytes, more than the ${this.#maxEntryBytes} allowed (the server's proto-max-bulk-len less what packing needs, or maxEntryBytes)`;
        (failed ??= []).push({ record, metadata, error });
        continue;
      }
      if (packer.entries > 0 && bytes + size > this.#groupBytes && record.event !== records[i - 1]!.event) {
        // A group full: sent with the position after its last event (a copy: the packer goes on).
        const last = records[i - 1]!.event!;
        const reached = start && positionAfter(start, events, last);
        groups.push({ entries: Buffer.from(packer.finish()), firstKey, bytes, reached: reached && isAfter(reached, positions!.committed) ? reached : undefined });
        packer.begin();
        bytes = 0;
      }
      if (packer.entries === 0) firstKey = this.#keyOf(record.topic);
      bytes += size;
      this.#entries.pack(record, metadata, packer);
    }
    if (failed) await this.#settleFailed(failed);
    const reached = positions && isAfter(positions.reached, positions.committed) ? positions.reached : undefined;
    if (packer.entries > 0 || reached !== undefined) groups.push({ entries: packer.finish(), firstKey, bytes, reached });
    return groups;
  }

  /**
   * The keys of `records` first seen on this connection that hold another type than a stream:
   * their XADD would fail inside the script after the entries before it (Redis does not roll
   * back), so they are checked before (TYPE, once per key and connection).
   */
  async #wrongTypeKeys(records: readonly ChangeRecord[]): Promise<Map<string, string> | undefined> {
    let newKeys: string[] | undefined;
    for (const record of records) {
      if (this.#checkedKeys.has(record.topic)) continue;
      this.#checkedKeys.add(record.topic);
      (newKeys ??= []).push(record.topic);
    }
    if (!newKeys) return undefined;
    const topics = newKeys;
    newKeys = topics.map(this.#keyOf);
    if (!newKeys) return undefined;
    const types = await this.#connection!.types(newKeys);
    let wrongKeys: Map<string, string> | undefined;
    for (const [i, topic] of topics.entries()) {
      if (types[i] === 'stream' || types[i] === 'none') continue;
      (wrongKeys ??= new Map()).set(topic, types[i]!);
      this.#checkedKeys.delete(topic);
    }
    return wrongKeys;
  }

  /** Sends a group; resolves once Redis replied. In exactly-once mode it moves the position key. */
  #send(slice: PreparedGroup): Promise<void> {
    const positions = this.#positions;
    let move: PositionMove | undefined;
    let reached: StreamPosition | undefined;
    if (positions) {
      // Snapshot reads alone reach no position: the key stays as it is.
      reached = slice.reached;
      const value = reached ? positionText(reached) : '';
      move = { key: this.#positionKey!, value, expected: this.#positionValue };
      if (value !== '') this.#positionValue = value;
    }
    const previous = this.#lastSent;
    const done = this.#connection!.appendAtomically(slice.entries, slice.firstKey, move).then(
      () => {
        if (reached && isAfter(reached, positions!.committed)) positions!.committed = reached;
      },
      async (error: unknown) => {
        this.#recover = true;
        this.#connection?.drop();
        // Failures are told in order: an append sent before that failed is the cause of this one.
        await previous?.catch(() => undefined);
        const failure = this.#appendFailure ?? (await this.#tooLarge(error, slice));
        this.#appendFailure ??= failure;
        throw failure;
      },
    );
    this.#lastSent = done;
    const tracked = done.finally(() => this.#inFlight.splice(this.#inFlight.indexOf(tracked), 1));
    tracked.catch(() => undefined);
    this.#inFlight.push(tracked);
    return done;
  }

  /**
   * A server over its `proto-max-bulk-len` closes the connection while the entry is still being
   * sent, without a reply pgcdc can read: when its limit could not be read (no CONFIG permission),
   * a connection lost while sending an entry over 1 MB (the lowest limit Redis allows) that is
   * answered again at once is taken as that entry refused.
   */
  async #tooLarge(error: unknown, slice: PreparedGroup): Promise<unknown> {
    if (!(error instanceof PgcdcError) || error.code !== 'TARGET_UNREACHABLE' || slice.bytes <= MIN_PROTO_MAX_BULK_LEN) return error;
    const probe = new RedisConnection(this.#config, this.#logger);
    try {
      await probe.connect();
    } catch {
      return error;
    } finally {
      await probe.close();
    }
    return new PgcdcError('TARGET_FAILED', `Redis at ${probe.server} refused an entry on key "${slice.firstKey}" as too large: it closed the connection while receiving a group of entries of ${slice.bytes} bytes (${describeRedisError(error.cause ?? error)})`, {
      hint: `raise the server's proto-max-bulk-len (CONFIG SET proto-max-bulk-len …), or set ${SETTINGS}.maxEntryBytes below it so such entries go by deadLetter.policy`,
    });
  }

  /** Entries that cannot be written: set aside durably (before the position passes them), or the stream stops. */
  async #settleFailed(failed: readonly FailedEntry[]): Promise<void> {
    const first = failed[0]!;
    if (this.#stopOnFailure || this.#deadLetters === undefined) {
      throw new PgcdcError('TARGET_FAILED', `Redis stream "${first.record.topic}" cannot take the change ${first.metadata.id} (${first.metadata.table ?? first.metadata.op}): ${first.error}`, {
        hint: /WRONGTYPE/.test(first.error)
          ? `rename or delete that key, or change ${SETTINGS}.streamKey; nothing past this change was acknowledged`
          : `raise the server's proto-max-bulk-len, or set ${SETTINGS}.deadLetter.policy: dead-letter to set such entries aside; nothing past this change was acknowledged`,
      });
    }
    const failedAt = new Date();
    const letters: DeadLetter[] = failed.map(({ record, metadata, error }) => ({ id: metadata.id, event: record.value ?? Buffer.from('null'), error, attempts: 0, failedAt }));
    await this.#deadLetters.add(letters);
    this.#logger.warn({ count: letters.length, first: first.metadata.id, stream: first.record.topic, error: first.error, deadLetters: this.#deadLetters.description }, 'Redis entries set aside as dead letters');
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#inFlight);
    await this.#connection?.close();
    this.#connection = undefined;
    await this.#deadLetters?.close();
  }
}

/** A group of entries (one script run) and the position they take the stream to (undefined: no further). */
interface PreparedGroup {
  readonly entries: Buffer;
  readonly firstKey: string | undefined;
  /** The entries' size (about). */
  readonly bytes: number;
  readonly reached: StreamPosition | undefined;
}

/** A record that cannot be written, and why. */
interface FailedEntry {
  readonly record: ChangeRecord;
  readonly metadata: RecordMetadata;
  readonly error: string;
}

/** Checks, before the source is touched, that the server answers, accepts the login and lets the user read the position. */
export async function checkRedisStreamsTarget(config: RedisStreamsTargetConfig, logger: Logger): Promise<void> {
  const connection = new RedisConnection(config, logger);
  try {
    await connection.connect();
    if (config.exactlyOnce) {
      const key = config.cluster ? hashTagged(config.topicPrefix)(config.exactlyOnce.positionKey) : config.exactlyOnce.positionKey;
      const text = await connection.get(key);
      if (text !== undefined) parsePosition(text, key);
    }
  } finally {
    await connection.close();
  }
}
