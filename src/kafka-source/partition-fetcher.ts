/**
 * The Kafka source's fetch loop: reads the partitions this member holds from their leaders, one
 * Fetch request in flight per leader broker (all the partitions it leads), on connections of its
 * own (the consumer's TLS and SASL settings). Responses are parsed only down to each partition's
 * record set, kept as the response's bytes and read by `record-batch-reader`. A partition newly
 * held starts at the group's committed offset (else `startFrom`); one kept across a rebalance keeps
 * its position. Leadership errors refresh the metadata and retry shortly, an out-of-range offset is
 * reset by `startFrom`, an unreachable broker is retried with backoff until `sessionTimeoutMs` of
 * failing, then reported. Group membership and commits stay with @platformatic/kafka's Consumer.
 */
import * as kafka from '@platformatic/kafka';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { describeKafkaError } from '../targets/kafka/kafka-client-options.js';
import type { KafkaMessage } from './decoded-change.js';
import { type AbortedTransaction, RecordBatchReader } from './record-batch-reader.js';

const FETCH_API_KEY = 1;
/** Fetch versions written here: 12 names topics, 13 and later by id, 15 and later drop replica_id. */
const LOWEST_FETCH_VERSION = 12;
const HIGHEST_FETCH_VERSION = 17;
const MAX_WAIT_MS = 500;
const MAX_BYTES = 10 * 1024 * 1024;
const PARTITION_MAX_BYTES = 10 * 1024 * 1024;
/** Session id 0 with epoch -1: a full fetch, no fetch session kept on the broker. */
const NO_SESSION_EPOCH = -1;
const LEADERSHIP_RETRY_MS = 100;
const BACKOFF_INITIAL_MS = 100;
const BACKOFF_MAX_MS = 2000;

/** Partition errors after which the metadata is refreshed and the partition fetched again shortly. */
const LEADERSHIP_ERRORS = new Set([
  3, // UNKNOWN_TOPIC_OR_PARTITION
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_OR_FOLLOWER
  9, // REPLICA_NOT_AVAILABLE
  56, // KAFKA_STORAGE_ERROR
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
  78, // OFFSET_NOT_AVAILABLE
  100, // UNKNOWN_TOPIC_ID
]);
const OFFSET_OUT_OF_RANGE = 1;

type GroupConsumer = kafka.Consumer<Buffer, Buffer, Buffer, Buffer>;

/** A partition this member holds: where it is read next. */
interface HeldPartition {
  readonly topic: string;
  readonly partition: number;
  /** The offset to fetch next; undefined while it is being looked up. */
  position: number | undefined;
  /** In a Fetch request now. */
  fetching: boolean;
  /** Not fetched before this time (Date.now()) after an error. */
  retryAt: number;
}

/** What a Fetch request asks of one partition. */
interface PartitionRequest {
  readonly held: HeldPartition;
  readonly fetchOffset: number;
}

/** One topic of a Fetch response: its partitions' errors and record sets. */
interface FetchedTopic {
  /** The topic's name (Fetch v12) or id as 32 hex digits (v13 and later). */
  readonly topic: string;
  readonly partitions: FetchedPartition[];
}

interface FetchedPartition {
  readonly partition: number;
  readonly errorCode: number;
  readonly abortedTransactions: AbortedTransaction[] | null;
  readonly records: Buffer | null;
}

interface FetchResponse {
  readonly errorCode: number;
  readonly topics: FetchedTopic[];
}

export interface PartitionFetcherOptions {
  readonly consumer: GroupConsumer;
  /** The consumer's connection options (clientId, timeouts, TLS, SASL). */
  readonly connectionOptions: kafka.ConnectionOptions & { readonly clientId: string };
  readonly topics: readonly string[];
  readonly isolationLevel: 'read_committed' | 'read_uncommitted';
  readonly startFrom: 'earliest' | 'latest';
  readonly sessionTimeoutMs: number;
  readonly logger: Logger;
  /** Records fetched, in offset order per partition. */
  readonly received: (messages: KafkaMessage[]) => void;
  /** Fetching cannot go on (a broker unreachable for `sessionTimeoutMs`, an error no retry fixes). */
  readonly failed: (error: unknown, doing: string) => void;
}

export class PartitionFetcher {
  readonly #options: PartitionFetcherOptions;
  readonly #consumer: GroupConsumer;
  readonly #pool: kafka.ConnectionPool;
  readonly #reader = new RecordBatchReader();
  readonly #held = new Map<string, HeldPartition>();
  readonly #inFlight = new Set<number>();
  /** Since when each broker (by node id; -1 for metadata and offset look-ups) has failed without a success. */
  readonly #failingSince = new Map<number, number>();
  readonly #failures = new Map<number, number>();
  #api: kafka.API<[FetchRequestArguments], FetchResponse> | undefined;
  #metadata: kafka.ClusterMetadata | undefined;
  #metadataStale = true;
  #refreshingMetadata = false;
  /** Topic id (32 hex digits) → name, for Fetch v13 and later. */
  readonly #topicNames = new Map<string, string>();
  #retryTimer: NodeJS.Timeout | undefined;
  #paused = false;
  #closed = false;
  #rotation = 0;

  constructor(options: PartitionFetcherOptions) {
    this.#options = options;
    this.#consumer = options.consumer;
    this.#pool = new kafka.ConnectionPool(options.connectionOptions.clientId, { ...options.connectionOptions });
  }

  /** Chooses the Fetch version the brokers speak; call once before `assign`. */
  async start(): Promise<void> {
    const apis = await this.#consumer.listApis();
    const fetch = apis.find((api) => api.apiKey === FETCH_API_KEY);
    const version = Math.min(HIGHEST_FETCH_VERSION, fetch?.maxVersion ?? -1);
    if (fetch === undefined || version < LOWEST_FETCH_VERSION || version < fetch.minVersion) {
      throw new PgcdcError('KAFKA_SOURCE_FAILED', `the Kafka brokers serve Fetch versions ${fetch ? `${fetch.minVersion} to ${fetch.maxVersion}` : 'none'}; pgcdc reads with version ${LOWEST_FETCH_VERSION} or later`, {
        hint: 'read the change topics from Kafka 2.7 or later',
      });
    }
    this.#api = kafka.createAPI<[FetchRequestArguments], FetchResponse>(
      FETCH_API_KEY,
      version,
      (request: FetchRequestArguments) => writeFetchRequest(version, request),
      (_correlationId, _apiKey, _apiVersion, reader) => parseFetchResponse(version, reader),
    );
  }

  /**
   * The partitions held now (`topic:partition` → topic and partition): those kept keep their
   * position, new ones start from the committed offset or `startFrom`, the others are let go.
   */
  assign(partitions: ReadonlyMap<string, { readonly topic: string; readonly partition: number }>): void {
    for (const name of [...this.#held.keys()]) if (!partitions.has(name)) this.#held.delete(name);
    const added: HeldPartition[] = [];
    for (const [name, { topic, partition }] of partitions) {
      if (this.#held.has(name)) continue;
      const held: HeldPartition = { topic, partition, position: undefined, fetching: false, retryAt: 0 };
      this.#held.set(name, held);
      added.push(held);
    }
    if (added.length > 0) {
      this.#metadataStale = true; // new partitions may have appeared since the last look
      void this.#findPositions(added, true);
    }
    this.#pump();
  }

  /** No new Fetch requests until `resume` (those in flight still deliver). */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#pump();
  }

  get paused(): boolean {
    return this.#paused;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#held.clear();
    await this.#pool.close().catch(() => undefined);
  }

  /** Looks up where `partitions` start: the group's committed offsets (when `committed`), else `startFrom`. */
  async #findPositions(partitions: readonly HeldPartition[], committed: boolean): Promise<void> {
    const current = () => partitions.filter((held) => this.#held.get(`${held.topic}:${held.partition}`) === held);
    const byTopic = (list: readonly HeldPartition[]) => {
      const topics = new Map<string, number[]>();
      for (const held of list) topics.set(held.topic, [...(topics.get(held.topic) ?? []), held.partition]);
      return topics;
    };
    try {
      let missing = current();
      if (committed && missing.length > 0) {
        const offsets = await this.#consumer.listCommittedOffsets({ topics: [...byTopic(missing)].map(([topic, list]) => ({ topic, partitions: list })) });
        for (const held of current()) {
          const offset = offsets.get(held.topic)?.[held.partition];
          if (offset !== undefined && offset >= 0n) held.position = Number(offset);
        }
        missing = current().filter((held) => held.position === undefined);
      }
      if (missing.length > 0) {
        const topics = byTopic(missing);
        const offsets = await this.#consumer.listOffsets({
          topics: [...topics.keys()],
          partitions: Object.fromEntries(topics),
          timestamp: this.#options.startFrom === 'earliest' ? kafka.ListOffsetTimestamps.EARLIEST : kafka.ListOffsetTimestamps.LATEST,
          isolationLevel: this.#isolationLevel(),
        });
        for (const held of current()) {
          const offset = offsets.get(held.topic)?.[held.partition];
          if (held.position === undefined && offset !== undefined) held.position = Number(offset);
        }
      }
      this.#succeeded(-1);
    } catch (error) {
      if (this.#closed) return;
      if (this.#failedAgain(-1, error, 'looking up where to read the partitions from')) return;
      const retry = current();
      setTimeout(() => void this.#findPositions(retry, committed), this.#backoff(-1)).unref();
      return;
    }
    this.#pump();
  }

  /** Sends a Fetch request to each leader with none in flight, for its partitions ready to be read. */
  #pump(): void {
    if (this.#closed || this.#paused || this.#api === undefined) return;
    if (this.#metadataStale) {
      this.#refreshMetadata();
      return;
    }
    const metadata = this.#metadata!;
    const now = Date.now();
    let nextRetry = Infinity;
    const requests = new Map<number, PartitionRequest[]>();
    for (const held of this.#held.values()) {
      if (held.position === undefined || held.fetching) continue;
      if (held.retryAt > now) {
        nextRetry = Math.min(nextRetry, held.retryAt);
        continue;
      }
      const leader = metadata.topics.get(held.topic)?.partitions[held.partition]?.leader;
      if (leader === undefined || leader < 0 || !metadata.brokers.has(leader)) {
        held.retryAt = now + LEADERSHIP_RETRY_MS;
        nextRetry = Math.min(nextRetry, held.retryAt);
        this.#metadataStale = true;
        continue;
      }
      if (this.#inFlight.has(leader)) continue;
      let list = requests.get(leader);
      if (list === undefined) requests.set(leader, (list = []));
      list.push({ held, fetchOffset: held.position });
    }
    // The broker fills a response in the order the partitions are asked for: each request starts
    // one partition further, so a partition with much to read does not keep the others waiting.
    this.#rotation++;
    for (const [leader, list] of requests) this.#fetch(leader, list.length > 1 ? rotated(list, this.#rotation % list.length) : list);
    if (nextRetry !== Infinity) this.#retryAt(nextRetry);
  }

  #retryAt(time: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#pump(), Math.max(0, time - Date.now()));
  }

  #refreshMetadata(): void {
    if (this.#refreshingMetadata) return;
    this.#refreshingMetadata = true;
    this.#consumer.metadata({ topics: [...this.#options.topics], forceUpdate: true }, (error, metadata) => {
      this.#refreshingMetadata = false;
      if (this.#closed) return;
      if (error || metadata === undefined) {
        if (!this.#failedAgain(-1, error, 'reading the cluster metadata')) this.#retryAt(Date.now() + this.#backoff(-1));
        return;
      }
      this.#succeeded(-1);
      this.#metadata = metadata;
      this.#metadataStale = false;
      for (const [name, topic] of metadata.topics) if (topic) this.#topicNames.set(topic.id.replaceAll('-', ''), name);
      this.#pump();
    });
  }

  #fetch(leader: number, requests: readonly PartitionRequest[]): void {
    const broker = this.#metadata!.brokers.get(leader)!;
    this.#inFlight.add(leader);
    for (const { held } of requests) held.fetching = true;
    const done = (): void => {
      this.#inFlight.delete(leader);
      for (const { held } of requests) held.fetching = false;
    };
    const unreachable = (error: unknown): void => {
      done();
      if (this.#closed) return;
      const where = `fetching from broker ${leader} at ${broker.host}:${broker.port}`;
      if (this.#failedAgain(leader, error, where)) return;
      const retryAt = Date.now() + this.#backoff(leader);
      for (const { held } of requests) held.retryAt = retryAt;
      this.#metadataStale = true; // the leaders may have moved
      this.#options.logger.debug({ error: describeKafkaError(error) }, `${where} failed; retrying`);
      this.#pump();
    };
    const topics = new Map<string, { topic: string; partitions: { partition: number; fetchOffset: number }[] }>();
    for (const { held, fetchOffset } of requests) {
      const id = this.#api!.version >= 13 ? this.#metadata!.topics.get(held.topic)!.id : held.topic;
      let entry = topics.get(id);
      if (entry === undefined) topics.set(id, (entry = { topic: id, partitions: [] }));
      entry.partitions.push({ partition: held.partition, fetchOffset });
    }
    this.#pool.get(broker, (error, connection) => {
      if (error || connection === undefined) {
        unreachable(error);
        return;
      }
      this.#api!(connection, { isolationLevel: this.#isolationLevel(), topics: [...topics.values()] }, (error, response) => {
        if (error || response === undefined) {
          unreachable(error);
          return;
        }
        done();
        if (this.#closed) return;
        if (response.errorCode !== 0) {
          unreachable(new kafka.ProtocolError(response.errorCode));
          return;
        }
        this.#succeeded(leader);
        try {
          this.#received(requests, response);
        } catch (readError) {
          this.#options.failed(readError, `reading the records fetched from broker ${leader}`);
          return;
        }
        this.#pump();
      });
    });
  }

  /** Reads a response's record sets into messages, advances the positions, handles partition errors. */
  #received(requests: readonly PartitionRequest[], response: FetchResponse): void {
    const asked = new Map<string, PartitionRequest>();
    for (const request of requests) asked.set(`${request.held.topic}:${request.held.partition}`, request);
    const messages: KafkaMessage[] = [];
    const now = Date.now();
    const outOfRange: HeldPartition[] = [];
    for (const fetched of response.topics) {
      const topic = this.#api!.version >= 13 ? this.#topicNames.get(fetched.topic) : fetched.topic;
      if (topic === undefined) continue;
      for (const partition of fetched.partitions) {
        const name = `${topic}:${partition.partition}`;
        const request = asked.get(name);
        const held = this.#held.get(name);
        // Let go meanwhile, or moved by an offset reset: the answer is no longer wanted.
        if (request === undefined || held !== request.held || held.position !== request.fetchOffset) continue;
        if (partition.errorCode === OFFSET_OUT_OF_RANGE) {
          this.#options.logger.warn({ topic, partition: partition.partition, offset: request.fetchOffset, startFrom: this.#options.startFrom }, `offset ${request.fetchOffset} of ${name} is out of range (deleted by retention?); reading from the ${this.#options.startFrom} offset`);
          held.position = undefined;
          outOfRange.push(held);
          continue;
        }
        if (LEADERSHIP_ERRORS.has(partition.errorCode)) {
          held.retryAt = now + LEADERSHIP_RETRY_MS;
          this.#metadataStale = true;
          continue;
        }
        if (partition.errorCode !== 0) {
          this.#options.failed(new kafka.ProtocolError(partition.errorCode), `fetching ${name}`);
          continue;
        }
        if (partition.records !== null) {
          const aborted = this.#options.isolationLevel === 'read_committed' ? (partition.abortedTransactions ?? []) : null;
          held.position = this.#reader.read(partition.records, topic, partition.partition, request.fetchOffset, aborted, messages);
        }
      }
    }
    if (outOfRange.length > 0) void this.#findPositions(outOfRange, false);
    if (messages.length > 0) this.#options.received(messages);
  }

  #isolationLevel(): number {
    return this.#options.isolationLevel === 'read_committed' ? kafka.FetchIsolationLevels.READ_COMMITTED : kafka.FetchIsolationLevels.READ_UNCOMMITTED;
  }

  #succeeded(node: number): void {
    this.#failingSince.delete(node);
    this.#failures.delete(node);
  }

  /** Counts a failure of `node`; reports it (and returns true) once it has failed for `sessionTimeoutMs`. */
  #failedAgain(node: number, error: unknown, doing: string): boolean {
    const now = Date.now();
    const since = this.#failingSince.get(node) ?? now;
    this.#failingSince.set(node, since);
    this.#failures.set(node, (this.#failures.get(node) ?? 0) + 1);
    if (now - since < this.#options.sessionTimeoutMs) return false;
    this.#options.failed(error, doing);
    return true;
  }

  #backoff(node: number): number {
    return Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** ((this.#failures.get(node) ?? 1) - 1));
  }
}

// ---------------------------------------------------------------------------------------------
// The Fetch request and response (versions 12 to 17), written and read here.

interface FetchRequestArguments {
  readonly isolationLevel: number;
  /** Topic name (v12) or id (v13 and later), and the partitions' offsets. */
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly { readonly partition: number; readonly fetchOffset: number }[] }[];
}

/*
  Fetch Request (12-17) => [replica_id (<15)] max_wait_ms min_bytes max_bytes isolation_level session_id session_epoch
    [topics: topic (v12: COMPACT_STRING, else topic_id UUID) [partitions: partition current_leader_epoch
    fetch_offset last_fetched_epoch log_start_offset partition_max_bytes TAG_BUFFER] TAG_BUFFER]
    [forgotten_topics_data] rack_id TAG_BUFFER
*/
function writeFetchRequest(version: number, request: FetchRequestArguments): kafka.Writer {
  const writer = kafka.Writer.create();
  if (version < 15) writer.appendInt32(-1);
  writer
    .appendInt32(MAX_WAIT_MS)
    .appendInt32(1)
    .appendInt32(MAX_BYTES)
    .appendInt8(request.isolationLevel)
    .appendInt32(0)
    .appendInt32(NO_SESSION_EPOCH)
    .appendArray([...request.topics], (w, topic) => {
      if (version >= 13) w.appendUUID(topic.topic);
      else w.appendString(topic.topic);
      w.appendArray([...topic.partitions], (p, partition) => {
        p.appendInt32(partition.partition)
          .appendInt32(-1)
          .appendInt64(BigInt(partition.fetchOffset))
          .appendInt32(-1)
          .appendInt64(-1n)
          .appendInt32(PARTITION_MAX_BYTES);
      });
    })
    .appendArray([], () => undefined)
    .appendString('')
    .appendTaggedFields();
  return writer;
}

/** Reads big-endian integers and compact (varint-prefixed) fields of a response's bytes. */
class ResponseCursor {
  readonly buf: Buffer;
  pos = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  int16(): number {
    const value = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return value;
  }

  int32(): number {
    const value = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  int64(): bigint {
    const value = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return value;
  }

  unsignedVarint(): number {
    let value = 0;
    let scale = 1;
    let byte: number;
    do {
      byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return value;
  }

  skipTaggedFields(): void {
    const count = this.unsignedVarint();
    for (let i = 0; i < count; i++) {
      this.unsignedVarint(); // tag
      this.pos += this.unsignedVarint();
    }
  }
}

/*
  Fetch Response (12-17) => throttle_time_ms error_code session_id [responses: topic (v12: COMPACT_STRING,
    else topic_id UUID) [partitions: partition_index error_code high_watermark last_stable_offset
    log_start_offset [aborted_transactions: producer_id first_offset TAG_BUFFER] preferred_read_replica
    records (COMPACT_RECORDS) TAG_BUFFER] TAG_BUFFER] TAG_BUFFER
*/
function parseFetchResponse(version: number, reader: kafka.Reader): FetchResponse {
  const cursor = new ResponseCursor(reader.buffer.slice(reader.position, reader.buffer.length));
  cursor.int32(); // throttle_time_ms
  const errorCode = cursor.int16();
  cursor.int32(); // session_id
  const topics: FetchedTopic[] = [];
  const topicCount = cursor.unsignedVarint() - 1;
  for (let t = 0; t < topicCount; t++) {
    let topic: string;
    if (version >= 13) {
      topic = cursor.buf.toString('hex', cursor.pos, cursor.pos + 16);
      cursor.pos += 16;
    } else {
      const length = cursor.unsignedVarint() - 1;
      topic = cursor.buf.toString('utf8', cursor.pos, cursor.pos + length);
      cursor.pos += length;
    }
    const partitions: FetchedPartition[] = [];
    const partitionCount = cursor.unsignedVarint() - 1;
    for (let p = 0; p < partitionCount; p++) {
      const partition = cursor.int32();
      const partitionError = cursor.int16();
      cursor.pos += 24; // high_watermark, last_stable_offset, log_start_offset
      const abortedCount = cursor.unsignedVarint() - 1;
      let abortedTransactions: AbortedTransaction[] | null = null;
      if (abortedCount >= 0) {
        abortedTransactions = [];
        for (let a = 0; a < abortedCount; a++) {
          const producerId = cursor.int64();
          const firstOffset = Number(cursor.int64());
          abortedTransactions.push({ producerId, firstOffset });
          cursor.skipTaggedFields();
        }
      }
      cursor.int32(); // preferred_read_replica
      const recordsLength = cursor.unsignedVarint() - 1;
      const records = recordsLength > 0 ? cursor.buf.subarray(cursor.pos, cursor.pos + recordsLength) : null;
      if (recordsLength > 0) cursor.pos += recordsLength;
      cursor.skipTaggedFields();
      partitions.push({ partition, errorCode: partitionError, abortedTransactions, records });
    }
    cursor.skipTaggedFields();
    topics.push({ topic, partitions });
  }
  return { errorCode, topics };
}

/** `list` starting at `first`, the elements before it moved to the end. */
function rotated<T>(list: readonly T[], first: number): T[] {
  return [...list.slice(first), ...list.slice(0, first)];
}
