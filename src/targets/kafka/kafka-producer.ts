/**
 * The Kafka target's connection to the brokers, on @platformatic/kafka (pure TypeScript: installs
 * without a toolchain): an idempotent producer with the configured acks and compression, or a
 * transactional one (exactly once) with a read_committed reader of the offsets topic; topic
 * creation and partition counts; the client's errors turned into one line naming the topic and the
 * fix. Sends are issued one at a time (the client's 1.x idempotent producer must not have two
 * sends in flight), so records reach each partition in the order given.
 */
import type { KafkaTargetConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import * as kafka from '@platformatic/kafka';
import type { ChangeRecord as KafkaRecord } from '../records/change-records.js';
import { partitionForKey } from './key-partitioner.js';
import { describeKafkaError, kafkaClientOptions } from './kafka-client-options.js';

/** Record batch attribute bits (Kafka's protocol): the batch belongs to a transaction; it holds a transaction marker. */
const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;
/** Upper bounds of what a record adds to a request beyond its key and value, and of a request's own header. */
const RECORD_OVERHEAD_BYTES = 32;
const REQUEST_OVERHEAD_BYTES = 4096;

export class KafkaProducer {
  readonly #config: KafkaTargetConfig;
  readonly #logger: Logger;
  #producer: kafka.Producer | undefined;
  #admin: kafka.Admin | undefined;
  readonly #headers: Map<Buffer, Buffer>;
  /** What the configured headers add to each record. */
  readonly #headerBytes: number;

  constructor(config: KafkaTargetConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#headers = new Map(Object.entries(config.headers).map(([name, value]) => [Buffer.from(name), Buffer.from(value)]));
    this.#headerBytes = headerSize(this.#headers);
  }

  /**
   * Connects and reads the cluster's metadata: fails at once when no broker answers or the login is
   * refused. A transactional producer registers its transactional id, which fences an older
   * producer of the same id and aborts its open transaction.
   */
  async connect(): Promise<void> {
    const base = this.#baseOptions();
    this.#admin ??= new kafka.Admin(base);
    const transactional = this.#config.exactlyOnce;
    // With acks=1 the producer is not idempotent (the client's idempotence implies acks=all, as the
    // Java producer's does).
    const idempotent = this.#config.acks === 'all';
    this.#producer = new kafka.Producer({
      ...base,
      idempotent,
      acks: idempotent ? kafka.ProduceAcks.ALL : kafka.ProduceAcks.LEADER,
      compression: this.#config.compression === 'none' ? kafka.CompressionAlgorithms.NONE : this.#config.compression,
      autocreateTopics: false,
      // producerId -1 / epoch -1: InitProducerId then bumps the epoch of a transactional id used
      // before (a restart) instead of failing with PRODUCER_FENCED.
      ...(transactional ? { transactionalId: transactional.transactionalId, producerId: -1n, producerEpoch: -1 } : {}),
    });
    try {
      await this.#admin.metadata({ topics: [] });
      if (transactional) await (await this.#producer.beginTransaction()).cancel();
      else if (idempotent) await this.#producer.initIdempotentProducer({});
    } catch (error) {
      throw this.#transactionError(error, undefined);
    }
  }

  /**
   * A new producer in place of one whose send failed: a new producer id, whose sequence numbers
   * the brokers have no expectation about; for a transactional one, registering the transactional
   * id again completes or aborts what the broker holds of the failed transaction, so the offsets
   * topic read next tells what Kafka has.
   */
  async reconnect(): Promise<void> {
    await this.#producer?.close().catch(() => undefined);
    this.#producer = undefined;
    await this.connect();
  }

  /**
   * The partition count of each of `topics`, creating those missing when allowed (with `config`
   * added to the configured topic settings, and `partitions` instead of the configured count).
   */
  async ensureTopics(topics: readonly string[], overrides: { readonly config?: Readonly<Record<string, string>>; readonly partitions?: number } = {}): Promise<Map<string, number>> {
    const admin = this.#admin!;
    try {
      const known = await this.#existing(topics);
      const missing = topics.filter((topic) => !known.has(topic));
      if (missing.length > 0) {
        const create = this.#config.createTopics;
        if (!create.enabled) {
          throw new PgcdcError('TARGET_FAILED', `Kafka topic "${missing[0]}" does not exist and createTopics.enabled is false`, {
            hint: `create the topic (kafka-topics.sh --create --topic ${missing[0]}), or set spec.target.kafka.createTopics.enabled: true`,
          });
        }
        const configs = Object.entries({ ...create.config, ...overrides.config }).map(([name, value]) => ({ name, value }));
        const partitions = overrides.partitions ?? create.partitions;
        for (const topic of missing) {
          try {
            await admin.createTopics({ topics: [topic], partitions, replicas: create.replicationFactor, configs });
            this.#logger.info({ topic, partitions }, 'created Kafka topic');
          } catch (error) {
            if (!/already exists|TOPIC_ALREADY_EXISTS/i.test(describeKafkaError(error))) throw this.#asTargetError(error, topic, 'create');
          }
        }
        for (const [topic, count] of await this.#partitionCounts(missing)) known.set(topic, count);
      }
      return known;
    } catch (error) {
      throw error instanceof PgcdcError ? error : this.#asTargetError(error, topics[0]);
    }
  }

  /**
   * Produces `records` (partitions set), in order, and resolves once the brokers acknowledged all of
   * them. They go in requests of at most `batchSize` records and `maxRequestSize` bytes (a record
   * batch over the broker's `message.max.bytes` would be refused whole).
   */
  async send(records: readonly KafkaRecord[]): Promise<void> {
    try {
      for (const request of this.#requests(records)) await this.#producer!.send({ messages: request });
    } catch (error) {
      throw this.#asTargetError(error, records[0]?.topic);
    }
  }

  /** Produces `records` as `send` does, in one Kafka transaction, and resolves once it is committed. */
  async sendInTransaction(records: readonly KafkaRecord[]): Promise<void> {
    const producer = this.#producer!;
    let transaction: Awaited<ReturnType<kafka.Producer['beginTransaction']>> | undefined;
    try {
      transaction = await producer.beginTransaction();
      for (const request of this.#requests(records)) await transaction.send({ messages: request });
      await transaction.commit();
    } catch (error) {
      if (transaction && !transaction.completed) await transaction.abort().catch(() => transaction!.cancel().catch(() => undefined));
      throw this.#transactionError(error, records[0]?.topic);
    }
  }

  /** Consecutive runs of `records` as the client's messages, each run within the request limits. */
  *#requests(records: readonly KafkaRecord[]) {
    const configured = this.#headers.size > 0 ? this.#headers : undefined;
    const budget = this.#config.maxRequestSize - REQUEST_OVERHEAD_BYTES;
    let messages: kafka.MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = [];
    let bytes = 0;
    for (const record of records) {
      // Debezium's headers of the record, then the configured ones.
      const own = record.headers;
      const headers = own && configured ? new Map([...own, ...configured]) : (own ?? configured);
      const size = RECORD_OVERHEAD_BYTES + (headers === configured ? this.#headerBytes : headerSize(headers)) + (record.key?.length ?? 0) + (record.value?.length ?? 0);
      if (messages.length > 0 && (messages.length >= this.#config.batchSize || bytes + size > budget)) {
        yield messages;
        messages = [];
        bytes = 0;
      }
      messages.push({ topic: record.topic, partition: record.partition, key: record.key ?? undefined, value: record.value ?? undefined, ...(headers ? { headers: headers as Map<Buffer, Buffer> } : {}) });
      bytes += size;
    }
    if (messages.length > 0) yield messages;
  }

  /**
   * The value last committed under `key` on `topic` (a compacted topic), read as a read_committed
   * consumer would: records of aborted transactions are skipped. Undefined when there is none.
   */
  async lastCommittedValue(topic: string, key: Buffer): Promise<Buffer | undefined> {
    const consumer = new kafka.Consumer({ ...this.#baseOptions(), groupId: `${this.#config.clientId}-offsets` });
    try {
      const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true });
      const info = metadata.topics.get(topic)!;
      const partition = partitionForKey(key, info.partitionsCount);
      const earliest = await consumer.listOffsets({ topics: [topic], partitions: { [topic]: [partition] }, timestamp: -2n });
      let offset = earliest.get(topic)![partition]!;
      let latest: Buffer | undefined;
      /** Values written under `key` in each producer's open transaction. */
      const pending = new Map<bigint, Buffer>();
      for (;;) {
        const leader = (await consumer.metadata({ topics: [topic] })).topics.get(topic)!.partitions[partition]!.leader;
        const response = await consumer.fetch({
          node: leader,
          isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED,
          maxWaitTime: 0,
          minBytes: 0,
          topics: [{ topicId: info.id, partitions: [{ partition, fetchOffset: offset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 4 << 20 }] }],
        });
        const fetched = response.responses[0]!.partitions[0]!;
        for (const batch of fetched.records ?? []) {
          const transactional = (batch.attributes & IS_TRANSACTIONAL) !== 0;
          for (const record of batch.records) {
            if (batch.firstOffset + BigInt(record.offsetDelta) < offset) continue;
            if ((batch.attributes & IS_CONTROL) !== 0) {
              // A transaction marker: key = version (int16), type (int16; 1 = commit, 0 = abort).
              const committed = pending.get(batch.producerId);
              if (committed && record.key!.readInt16BE(2) === 1) latest = committed;
              pending.delete(batch.producerId);
            } else if (record.key?.equals(key) && record.value) {
              if (transactional) pending.set(batch.producerId, record.value);
              else latest = record.value;
            }
          }
          offset = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
        if (offset >= fetched.lastStableOffset || !fetched.records?.length) return latest;
      }
    } catch (error) {
      throw this.#asTargetError(error, topic);
    } finally {
      await consumer.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#producer?.close(), this.#admin?.close()]);
  }

  /** A fenced producer stops the stream (another producer owns the transactional id); the rest as `#asTargetError`. */
  #transactionError(error: unknown, topic: string | undefined): PgcdcError {
    const text = describeKafkaError(error);
    const transactionalId = this.#config.exactlyOnce?.transactionalId;
    if (transactionalId && /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|fence/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `another Kafka producer took over transactional id "${transactionalId}" (a second pgcdc running this stream?): ${text}`, {
        hint: 'run each stream once, or give each its own spec.target.kafka.transactionalId; nothing this producer did not commit was acknowledged at the source',
      });
    }
    return this.#asTargetError(error, topic);
  }

  /** Partition counts of `topics` (which exist or are being created), once every partition has a leader. */
  async #partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const deadline = Date.now() + this.#config.requestTimeoutMs;
    for (;;) {
      let metadata;
      try {
        metadata = await this.#admin!.metadata({ topics: [...topics], forceUpdate: true });
      } catch (error) {
        // A topic just created may not be known to every broker yet.
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      for (const [topic, info] of metadata.topics) {
        if (topics.includes(topic) && info.partitionsCount > 0 && info.partitions.every((partition) => partition.leader >= 0)) counts.set(topic, info.partitionsCount);
      }
      if (counts.size === topics.length || Date.now() > deadline) return counts;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Partition counts of those of `topics` that exist (listed first: a metadata request for a missing topic is retried by the client for seconds). */
  async #existing(topics: readonly string[]): Promise<Map<string, number>> {
    const all = new Set(await this.#admin!.listTopics());
    const present = topics.filter((topic) => all.has(topic));
    return present.length === 0 ? new Map() : this.#partitionCounts(present);
  }

  #baseOptions() {
    return kafkaClientOptions(this.#config);
  }

  /** One line saying what went wrong with `topic` and how to fix it; unreachable brokers are retried. */
  #asTargetError(error: unknown, topic: string | undefined, action: 'create' | 'write' = 'write'): PgcdcError {
    if (error instanceof PgcdcError) return error;
    const text = describeKafkaError(error);
    const config = this.#config;
    const servers = config.bootstrapServers.join(',');
    const on = topic === undefined ? '' : ` (topic "${topic}")`;
    const user = config.sasl?.username;
    const principal = user === undefined ? 'User:<principal>' : `User:${user}`;
    if (/ILLEGAL_SASL_STATE|UNSUPPORTED_SASL_MECHANISM|suitable SASL mechanism/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka at ${servers} does not take a SASL ${config.sasl?.mechanism ?? ''} login there: ${text}`, {
        hint: `point spec.target.kafka.bootstrapServers at the brokers' SASL listener (SASL_PLAINTEXT, or SASL_SSL with tls), or set sasl.mechanism to one it enables (sasl.enabled.mechanisms)`,
      });
    }
    if (/SASL|authenticat/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka at ${servers} refused the login of "${user ?? ''}": ${text}`, {
        hint: 'check spec.target.kafka.sasl: mechanism, username and the password secret',
      });
    }
    if (/CLUSTER_AUTHORIZATION_FAILED/.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka refused "${user ?? 'this client'}" an idempotent producer (cluster authorization): ${text}`, {
        hint: `grant the ACL (kafka-acls.sh --add --allow-principal ${principal} --operation IdempotentWrite --cluster), or Write on the stream's topics`,
      });
    }
    if (/TRANSACTIONAL_ID_AUTHORIZATION_FAILED/.test(text)) {
      const id = config.exactlyOnce?.transactionalId ?? '<id>';
      return new PgcdcError('TARGET_FAILED', `Kafka refused "${user ?? 'this client'}" the transactional id "${id}": ${text}`, {
        hint: `grant the ACL (kafka-acls.sh --add --allow-principal ${principal} --operation Write --operation Describe --transactional-id ${id})`,
      });
    }
    if (/AUTHORIZATION_FAILED|not authorized/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka refused to let "${user ?? 'this client'}" ${action}${on}: ${text}`, {
        hint: `grant the ACL (kafka-acls.sh --add --allow-principal ${principal} --operation ${action === 'create' ? 'Create' : 'Write'} --topic ${topic ?? '<topic>'})`,
      });
    }
    if (/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|too large/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka refused a record${on} as too large: ${text}`, {
        hint: `raise the topic's max.message.bytes (kafka-configs.sh --alter --entity-type topics --entity-name ${topic ?? '<topic>'} --add-config max.message.bytes=<bytes>) and the broker's message.max.bytes, or exclude the large column`,
      });
    }
    if (/INVALID_REPLICATION_FACTOR/.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka could not create topic "${topic}" with createTopics.replicationFactor ${config.createTopics.replicationFactor}: ${text}`, {
        hint: "set spec.target.kafka.createTopics.replicationFactor to at most the number of brokers (-1: the broker's default.replication.factor), or create the topic yourself",
      });
    }
    if (/POLICY_VIOLATION|INVALID_PARTITIONS|INVALID_CONFIG/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka could not create topic "${topic}": ${text}`, {
        hint: 'fix spec.target.kafka.createTopics (partitions, replicationFactor, config) or create the topic yourself',
      });
    }
    if (/ERR_TLS_CERT_ALTNAME_INVALID/.test(text)) {
      return new PgcdcError('TARGET_FAILED', `the certificate of Kafka at ${servers} does not name the host connected to: ${text}`, {
        hint: 'write spec.target.kafka.bootstrapServers with a host name the certificate names, or set spec.target.kafka.tls.skipHostnameVerification: true',
      });
    }
    if (/SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(text)) {
      return new PgcdcError('TARGET_FAILED', `the certificate of Kafka at ${servers} cannot be trusted: ${text}`, {
        hint: config.tls?.caCertificate
          ? "check that spec.target.kafka.tls.caCertificate is the CA that signed the brokers' certificates, and that they are valid now"
          : "set spec.target.kafka.tls.caCertificate to the PEM file of the CA that signed the brokers' certificates",
      });
    }
    return new PgcdcError('TARGET_UNREACHABLE', `Kafka at ${servers} cannot be reached or did not answer${on}: ${text}`, {
      hint: `check spec.target.kafka.bootstrapServers and that the brokers are up${config.tls ? '' : ' (a TLS listener also needs spec.target.kafka.tls)'}; pgcdc retries, acknowledging nothing Kafka does not hold`,
    });
  }
}

/** What `headers` add to a record in a request (an upper bound). */
function headerSize(headers: ReadonlyMap<Buffer, Buffer> | undefined): number {
  let size = 0;
  if (headers) for (const [name, value] of headers) size += name.length + value.length + 10;
  return size;
}
