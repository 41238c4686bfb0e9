/**
 * The Kafka target's connection to the brokers, on @platformatic/kafka (pure TypeScript: installs
 * without a toolchain): an idempotent producer with the configured acks and compression, topic
 * creation and partition counts, and the client's errors turned into one line naming the topic and
 * the fix. Sends are issued one at a time (the client's 1.x idempotent producer must not have two
 * sends in flight), so records reach each partition in the order given.
 */
import type { KafkaTargetConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import * as kafka from '@platformatic/kafka';
import type { KafkaRecord } from './kafka-records.js';


export class KafkaProducer {
  readonly #config: KafkaTargetConfig;
  readonly #logger: Logger;
  #producer: kafka.Producer | undefined;
  #admin: kafka.Admin | undefined;
  readonly #headers: Map<Buffer, Buffer>;

  constructor(config: KafkaTargetConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#headers = new Map(Object.entries(config.headers).map(([name, value]) => [Buffer.from(name), Buffer.from(value)]));
  }

  /** Connects and reads the cluster's metadata: fails at once when no broker answers or the login is refused. */
  async connect(): Promise<void> {
    const base = this.#baseOptions();
    this.#admin = new kafka.Admin(base);
    this.#producer = new kafka.Producer({
      ...base,
      idempotent: true,
      acks: this.#config.acks === 'all' ? kafka.ProduceAcks.ALL : kafka.ProduceAcks.LEADER,
      compression: this.#config.compression === 'none' ? kafka.CompressionAlgorithms.NONE : this.#config.compression,
      autocreateTopics: false,
    });
    try {
      await this.#admin.metadata({ topics: [] });
      await this.#producer.initIdempotentProducer({});
    } catch (error) {
      throw this.#asTargetError(error, undefined);
    }
  }

  /**
   * The partition count of each of `topics`, creating those missing when allowed (with `config`
   * added to the configured topic settings).
   */
  async ensureTopics(topics: readonly string[], config: Readonly<Record<string, string>>): Promise<Map<string, number>> {
    const admin = this.#admin!;
    try {
      const known = await this.#partitionCounts(topics);
      const missing = topics.filter((topic) => !known.has(topic));
      if (missing.length > 0) {
        const create = this.#config.createTopics;
        if (!create.enabled) {
          throw new PgcdcError('TARGET_FAILED', `Kafka topic "${missing[0]}" does not exist and createTopics.enabled is false`, {
            hint: `create the topic (kafka-topics.sh --create --topic ${missing[0]}), or set spec.target.kafka.createTopics.enabled: true`,
          });
        }
        const configs = Object.entries({ ...create.config, ...config }).map(([name, value]) => ({ name, value }));
        for (const topic of missing) {
          try {
            await admin.createTopics({ topics: [topic], partitions: create.partitions, replicas: create.replicationFactor, configs });
            this.#logger.info({ topic, partitions: create.partitions }, 'created Kafka topic');
          } catch (error) {
            if (!/already exists|TOPIC_ALREADY_EXISTS/i.test(describe(error))) throw this.#asTargetError(error, topic, 'create');
          }
        }
        for (const [topic, count] of await this.#partitionCounts(missing, true)) known.set(topic, count);
      }
      return known;
    } catch (error) {
      throw error instanceof PgcdcError ? error : this.#asTargetError(error, topics[0]);
    }
  }

  /** Produces `records` (partitions set) and resolves once the brokers acknowledged all of them. */
  async send(records: readonly KafkaRecord[]): Promise<void> {
    if (records.length === 0) return;
    const headers = this.#headers.size > 0 ? this.#headers : undefined;
    const messages = records.map((record) => ({
      topic: record.topic,
      partition: record.partition,
      key: record.key ?? undefined,
      value: record.value ?? undefined,
      ...(headers ? { headers } : {}),
    }));
    try {
      await this.#producer!.send({ messages });
    } catch (error) {
      throw this.#asTargetError(error, records[0]!.topic);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#producer?.close(), this.#admin?.close()]);
  }

  async #partitionCounts(topics: readonly string[], waitForLeaders = false): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const deadline = Date.now() + this.#config.requestTimeoutMs;
    for (;;) {
      let metadata;
      try {
        metadata = await this.#admin!.metadata({ topics: [...topics], forceUpdate: true });
      } catch (error) {
        // A topic that does not exist fails the whole metadata request.
        if (!waitForLeaders && /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition|unknown topic/i.test(describe(error))) return this.#existing(topics);
        if (waitForLeaders && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        throw error;
      }
      for (const [topic, info] of metadata.topics) {
        if (topics.includes(topic) && info.partitionsCount > 0 && (!waitForLeaders || info.partitions.every((partition) => partition.leader >= 0))) counts.set(topic, info.partitionsCount);
      }
      if (!waitForLeaders || counts.size === topics.length || Date.now() > deadline) return counts;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Partition counts of those of `topics` that exist, one metadata request each. */
  async #existing(topics: readonly string[]): Promise<Map<string, number>> {
    const all = new Set(await this.#admin!.listTopics());
    const present = topics.filter((topic) => all.has(topic));
    return present.length === 0 ? new Map() : this.#partitionCounts(present, true);
  }

  #baseOptions() {
    const config = this.#config;
    const tls = config.tls;
    return {
      clientId: config.clientId,
      bootstrapBrokers: [...config.bootstrapServers],
      timeout: config.requestTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectTimeout: Math.min(config.requestTimeoutMs, 10_000),
      retries: 5,
      retryDelay: 500,
      ...(tls
        ? {
            tls: {
              ...(tls.caCertificate ? { ca: tls.caCertificate } : {}),
              ...(tls.certificate ? { cert: tls.certificate, key: tls.key } : {}),
              ...(tls.skipHostnameVerification ? { checkServerIdentity: () => undefined } : {}),
            },
          }
        : {}),
      ...(config.sasl ? { sasl: { mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } } : {}),
    };
  }

  /** One line saying what went wrong with `topic` and how to fix it; unreachable brokers are retried. */
  #asTargetError(error: unknown, topic: string | undefined, action: 'create' | 'write' = 'write'): PgcdcError {
    const text = describe(error);
    const servers = this.#config.bootstrapServers.join(',');
    const on = topic === undefined ? '' : ` (topic "${topic}")`;
    if (/SASL|authenticat/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka at ${servers} refused the login of "${this.#config.sasl?.username ?? ''}": ${text}`, {
        hint: 'check spec.target.kafka.sasl: mechanism, username and the password secret',
      });
    }
    if (/AUTHORIZATION_FAILED|not authorized/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka refused to let "${this.#config.sasl?.username ?? 'this client'}" ${action}${on}: ${text}`, {
        hint: `grant the ACL (kafka-acls.sh --add --allow-principal User:<name> --operation ${action === 'create' ? 'Create' : 'Write'} --topic ${topic ?? '<topic>'})`,
      });
    }
    if (/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|too large/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka refused a record${on} as too large: ${text}`, {
        hint: `raise the topic's max.message.bytes (kafka-configs.sh --alter --entity-type topics --entity-name ${topic ?? '<topic>'} --add-config max.message.bytes=<bytes>) and the broker's message.max.bytes, or exclude the large column`,
      });
    }
    if (/POLICY_VIOLATION|INVALID_REPLICATION_FACTOR|INVALID_PARTITIONS|INVALID_CONFIG/i.test(text)) {
      return new PgcdcError('TARGET_FAILED', `Kafka could not create topic "${topic}": ${text}`, {
        hint: 'fix spec.target.kafka.createTopics (partitions, replicationFactor, config) or create the topic yourself',
      });
    }
    if (error instanceof PgcdcError) return error;
    return new PgcdcError('TARGET_UNREACHABLE', `Kafka at ${servers} cannot be reached or did not answer${on}: ${text}`, {
      hint: 'check spec.target.kafka.bootstrapServers and that the brokers are up; pgcdc retries, acknowledging nothing Kafka does not hold',
    });
  }
}

/** The messages of an error and of what it wraps (the client nests the brokers' errors). */
function describe(error: unknown): string {
  const parts: string[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (depth > 4 || e === null || e === undefined) return;
    if (e instanceof Error) {
      const code = (e as { code?: unknown; apiCode?: unknown }).apiCode ?? (e as { code?: unknown }).code;
      parts.push(code === undefined ? e.message : `${e.message} [${String(code)}]`);
      if (e instanceof AggregateError) for (const inner of e.errors) visit(inner, depth + 1);
      visit((e as { cause?: unknown }).cause, depth + 1);
    } else parts.push(String(e));
  };
  visit(error, 0);
  return [...new Set(parts)].join('; ');
}
