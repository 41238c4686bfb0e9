/**
 * The normalized, validated configuration of one stream: what every other module reads. Both the
 * native `pgcdc/v1 Stream` document and StackGres `SGStream` documents are turned into this shape.
 */
import type { AlertsConfig } from './alert-settings.js';
import type { ClientTls } from './client-tls-settings.js';
import type { NatsJetStreamTargetConfig } from './nats-jetstream-settings.js';
import type { RabbitMQTargetConfig } from './rabbitmq-settings.js';
import type { RedisStreamsTargetConfig } from './redis-streams-settings.js';
import type { ColumnMaskRules } from '../decoding/values/column-masks.js';
import type { ValueRepresentations } from '../decoding/values/debezium-representations.js';
import type { MessageKeyRule } from './message-key-columns.js';
import type { SandboxGrantsConfig } from '../targets/function/sandbox-grants.js';
import type { TransformConfig } from './transform-settings.js';

/** Debezium snapshot modes (only `never`/`no_data` stream without a snapshot). */
export const SNAPSHOT_MODES = ['initial', 'initial_only', 'never', 'no_data', 'always', 'when_needed'] as const;
export type SnapshotMode = (typeof SNAPSHOT_MODES)[number];

/** Debezium's `publication.autocreate.mode`. */
export const PUBLICATION_AUTOCREATE_MODES = ['all_tables', 'filtered', 'disabled'] as const;
export type PublicationAutocreateMode = (typeof PUBLICATION_AUTOCREATE_MODES)[number];

/** libpq `sslmode` values. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Where and how to connect to a PostgreSQL server. */
export interface ConnectionConfig {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  readonly sslMode: SslMode;
  /** PEM contents (not paths) of the CA, client certificate and key, when given. */
  readonly sslRootCert: string | undefined;
  readonly sslCert: string | undefined;
  readonly sslKey: string | undefined;
  readonly applicationName: string;
  /** Milliseconds to wait for a TCP connection. */
  readonly connectTimeoutMs: number;
}

/** Operations Debezium's `skipped.operations` can name. */
export type SkippableOperation = 'c' | 'u' | 'd' | 't';

/** The source database and how changes are read from it. */
export interface SourceConfig {
  readonly connection: ConnectionConfig;
  /** Anchored regular expressions over `schema.table` and `schema.table.column`. */
  readonly includes: readonly string[];
  readonly excludes: readonly string[];
  readonly snapshotMode: SnapshotMode;
  readonly slotName: string;
  readonly publicationName: string;
  readonly publicationAutocreateMode: PublicationAutocreateMode;
  readonly publishViaPartitionRoot: boolean;
  /** Drop the slot when the stream stops gracefully (Debezium `slot.drop.on.stop`). */
  readonly slotDropOnStop: boolean;
  /** Emit a tombstone after each delete (only targets with keyed records write them). */
  readonly tombstonesOnDelete: boolean;
  /** What an unchanged TOASTed value is rendered as. */
  readonly unavailableValuePlaceholder: string;
  /** Add Debezium transaction metadata (`transaction` block, BEGIN/END records). */
  readonly provideTransactionMetadata: boolean;
  /** Operations to drop (Debezium `skipped.operations`; `none` gives an empty list). */
  readonly skippedOperations: readonly SkippableOperation[];
  /** Prefixes of logical decoding messages to pass on (empty = all) or drop. */
  readonly messagePrefixIncludeList: readonly string[];
  readonly messagePrefixExcludeList: readonly string[];
  /** Ask the server to stream large in-progress transactions (spilled to local disk until commit). */
  readonly streamInProgressTransactions: boolean;
  /** Interval of standby status updates sent to the server. */
  readonly statusIntervalMs: number;
  /** Heartbeats (docs/heartbeats.md): how often to run the action query and ask the server for a keepalive; 0: off. */
  readonly heartbeatIntervalMs: number;
  /** SQL run on the source at each heartbeat, in autocommit on its own connection (Debezium's `heartbeat.action.query`). */
  readonly heartbeatActionQuery?: string;
  /** Retries (and delay) when the slot is in use by another connection. */
  readonly slotMaxRetries: number;
  readonly slotRetryDelayMs: number;
  /** Connections reading the initial snapshot in parallel. */
  readonly snapshotParallelism: number;
  /** Rows per chunk of the initial snapshot (tables are split by ranges of heap pages). */
  readonly snapshotChunkRows: number;
  /** Rows per chunk of an incremental (watermark) snapshot; each chunk is held in memory. */
  readonly incrementalSnapshotChunkRows: number;
  /** Anchored regular expressions over `schema.table` selecting the captured tables to snapshot (empty: all). */
  readonly snapshotIncludes: readonly string[];
  /** The signal table (`schema.table`), Debezium's `signal.data.collection`. */
  readonly signalTable: string;
  /** How often to look for new tables to capture (and snapshot); 0 turns it off. */
  readonly tableDiscoveryIntervalMs: number;
  /** After a `tombstone` signal, keep the slot and publication. */
  readonly skipDropReplicationSlotAndPublicationOnTombstone: boolean;
  /** Debezium's column masking and truncation rules (event targets only). */
  readonly columnMasks: ColumnMaskRules;
  /** Debezium's `message.key.columns`: event keys chosen per table (event targets only). */
  readonly messageKeyColumns: readonly MessageKeyRule[];
  /** Install DDL capture (required) and emit schema-change events (docs/schema-changes.md). */
  readonly captureDdl: boolean;
  /** `schema.table` (exact) → SQL boolean expression: the rows captured and snapshotted (publication row filters, PostgreSQL 15+). */
  readonly rowFilters: Readonly<Record<string, string>>;
}

/** Newline-delimited JSON written to standard output. */
export interface StdoutTargetConfig {
  readonly type: 'Stdout';
  readonly format: RecordFormat;
}

/** Newline-delimited JSON appended to a file, fsynced before each acknowledgement. */
export interface FileTargetConfig {
  readonly type: 'File';
  readonly path: string;
  readonly format: RecordFormat;
}

/**
 * `value`: one Debezium envelope (payload form) per line.
 * `record`: `{"key":…,"value":…}` per line, as a Kafka record; tombstones are `"value":null`.
 */
export type RecordFormat = 'value' | 'record';

/** What to do when an inserted row already exists on the target. */
export const CONFLICT_POLICIES = ['update', 'skip', 'fail'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];

/** What to do when the target rejects a row or a DDL statement: stop, or log it and go on. */
export const ERROR_POLICIES = ['fail', 'skip'] as const;
export type ErrorPolicy = (typeof ERROR_POLICIES)[number];

/**
 * Another PostgreSQL kept in sync (zero-downtime migration): tables created from the source's
 * catalogs, the snapshot loaded with COPY, changes applied in source transaction order with the
 * applied position stored in the same target transaction (exactly once), DDL replayed.
 */
export interface PostgresTargetConfig {
  readonly type: 'Postgres';
  readonly connection: ConnectionConfig;
  /** An inserted row that already exists: overwrite it (`update`), keep it (`skip`) or stop (`fail`). */
  readonly conflictPolicy: ConflictPolicy;
  /** Create missing schemas, types, sequences and tables from the source's catalogs. */
  readonly createTables: boolean;
  /** Replay DDL captured on the source (SGStream `skipDdlImport: false`). */
  readonly replicateDdl: boolean;
  /** During the initial load, create indexes and constraints after the data (SGStream `skipDropIndexesAndConstraints: false`). */
  readonly deferIndexes: boolean;
  /** Apply deletes and truncates (Debezium JDBC sink `delete.enabled`, `truncate.enabled`). */
  readonly deleteEnabled: boolean;
  readonly truncateEnabled: boolean;
  /** A row the target rejects (a constraint): stop, or log it and skip it. */
  readonly rowErrorPolicy: ErrorPolicy;
  /** A DDL statement the target cannot apply: stop, or log it and skip it. */
  readonly ddlErrorPolicy: ErrorPolicy;
  /**
   * Commit each target transaction synchronously (as the server's synchronous_commit says, e.g.
   * waiting for synchronous standbys); otherwise commit asynchronously and acknowledge the source
   * once the target's WAL is flushed past the commit (what native logical replication does).
   */
  readonly synchronousCommit: boolean;
}

/** CloudEvents content modes over HTTP: one event per request (whole, or data + `ce-` headers), or a JSON array of events. */
export const CLOUDEVENT_MODES = ['structured', 'binary', 'batched'] as const;
export type CloudEventMode = (typeof CLOUDEVENT_MODES)[number];

/** Which response statuses count as delivered: any 2xx, or exactly 200 (StackGres). */
export const SUCCESS_STATUS_RULES = ['2xx', '200'] as const;
export type SuccessStatusRule = (typeof SUCCESS_STATUS_RULES)[number];

/** An event that still fails after its retries: set it aside and go on, or stop the stream. */
export const DEAD_LETTER_POLICIES = ['dead-letter', 'stop'] as const;
export type DeadLetterPolicy = (typeof DEAD_LETTER_POLICIES)[number];

/** Where dead letters go: an NDJSON file (undefined: `dead-letters.ndjson` in the state directory) or a table. */
export type DeadLetterStoreConfig =
  | { readonly kind: 'file'; readonly path: string | undefined }
  | { readonly kind: 'table'; readonly connection: ConnectionConfig; readonly table: string };

export interface DeadLetterConfig {
  readonly policy: DeadLetterPolicy;
  readonly store: DeadLetterStoreConfig;
}

/** How a target POSTs events over HTTP and what it does with those it cannot deliver (CloudEvent, Webhook). */
export interface HttpDeliveryConfig {
  readonly headers: Readonly<Record<string, string>>;
  /** 0: no limit. */
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Retries of a failed send; undefined: for ever. */
  readonly retryLimit: number | undefined;
  /** Longest wait between retries; the first is a tenth of it, then it doubles. */
  readonly retryBackoffDelaySeconds: number;
  readonly skipHostnameVerification: boolean;
  /** PEM contents of the CA certificate of the receiver, when given. */
  readonly caCertificate: string | undefined;
  readonly successStatus: SuccessStatusRule;
  /** Retry 4xx (and 3xx) responses instead of dead-lettering the event. */
  readonly retryClientErrors: boolean;
  /** Requests in flight at most (events of one row key are never in flight together). */
  readonly concurrency: number;
  /** Larger events are never sent: they are dead-lettered (or stop the stream). */
  readonly maxEventBytes: number;
  readonly deadLetter: DeadLetterConfig;
}

/** CloudEvents 1.0 (JSON format) POSTed over HTTP, as SGStream's `CloudEvent` target. */
export interface CloudEventTargetConfig extends HttpDeliveryConfig {
  readonly type: 'CloudEvent';
  readonly mode: CloudEventMode;
  readonly url: string;
  /** Batched mode: events per request at most, bytes per request at most, wait for a fuller batch. */
  readonly batchSize: number;
  readonly batchMaxBytes: number;
  readonly lingerMs: number;
}

/** Webhook request bodies: pgstream's envelope `{"Data": <change event>}`, or the change event alone. */
export const WEBHOOK_PAYLOADS = ['pgstream', 'debezium'] as const;
export type WebhookPayload = (typeof WEBHOOK_PAYLOADS)[number];

/**
 * Change events POSTed to the URLs subscribed to them (pgstream's webhook notifier): subscriptions
 * kept in `pgcdc.webhook_subscriptions`, managed over HTTP or with SQL.
 */
export interface WebhookTargetConfig extends HttpDeliveryConfig {
  readonly type: 'Webhook';
  readonly payload: WebhookPayload;
  /** Where the subscription API listens; undefined: no API (subscriptions managed with SQL). */
  readonly subscriptionServer: { readonly host: string; readonly port: number; readonly readTimeoutMs: number } | undefined;
  /** The database holding the subscriptions; undefined: the source database. */
  readonly subscriptionDatabase: ConnectionConfig | undefined;
  /** Reload of the subscriptions when no change was notified. */
  readonly subscriptionPollIntervalMs: number;
}

/**
 * A StackGres PgLambda script run by pgcdc itself, in a sandbox, once per event (the event as a
 * structured CloudEvent), in commit order; failures retried, then dead-lettered or stopping.
 */
export interface PgLambdaTargetConfig {
  readonly type: 'PgLambda';
  /** The script's source text. */
  readonly script: string;
  /** Where the script comes from, for messages: `spec.target.pgLambda.script`, a file, a ConfigMap or Secret key. */
  readonly origin: string;
  /** Heap limit of the sandbox's isolate, in MB. */
  readonly memoryLimitMb: number;
  /** Time the script may take for one event, in milliseconds. */
  readonly timeoutMs: number;
  /** What the script may reach beyond JavaScript (`grants`: network allow-list, environment variables); nothing when absent or empty. */
  readonly grants?: SandboxGrantsConfig;
  /** Retries of an event the script failed; undefined: for ever (SGStream's `knative.http.retryLimit`). */
  readonly retryLimit: number | undefined;
  /** Longest wait between retries; the first is a tenth of it, then it doubles (`knative.http.retryBackoffDelay`). */
  readonly retryBackoffDelaySeconds: number;
  readonly deadLetter: DeadLetterConfig;
}

/** Kafka's `acks` pgcdc accepts: every in-sync replica, or the leader alone (0 would acknowledge nothing). */
export const KAFKA_ACKS = ['all', '1'] as const;
/** zstd needs Node.js's own zstd (22.15 and later), which the Kafka client (@platformatic/kafka) uses. */
export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** A rule of Debezium's ByLogicalTableRouter: tables whose `schema.table` matches go to `topic` (`$1` … groups). */
export interface TopicRoute {
  readonly regex: string;
  readonly topic: string;
}

/**
 * How change events become records (`targets/records/change-records`): shared by the Kafka target
 * and the message-broker targets, which all write what Debezium writes to Kafka.
 */
export interface ChangeRecordSettings {
  /** Debezium's `topic.prefix`: first part of destinations, `source.name` of events. */
  readonly topicPrefix: string;
  readonly topicRouting: readonly TopicRoute[];
  /** Keys and values as JsonConverter writes them with `schemas.enable=true`. */
  readonly schemasEnable: boolean;
  /** Debezium's `__debezium.context.*` headers on change records (`extended.headers.enabled`). */
  readonly extendedHeaders: boolean;
  /** Destination of the transaction metadata records. */
  readonly transactionTopic: string;
}

/**
 * Change events written to Apache Kafka as Debezium on Kafka Connect writes them: a topic per
 * table, the row key as the record key (partitioned as the Java producer does), tombstones,
 * transaction metadata and heartbeat topics; at least once.
 */
export interface KafkaTargetConfig extends ChangeRecordSettings {
  readonly type: 'Kafka';
  readonly bootstrapServers: readonly string[];
  readonly clientId: string;
  readonly acks: (typeof KAFKA_ACKS)[number];
  readonly compression: (typeof KAFKA_COMPRESSIONS)[number];
  readonly lingerMs: number;
  readonly requestTimeoutMs: number;
  readonly tls: ClientTls | undefined;
  readonly sasl: { readonly mechanism: (typeof KAFKA_SASL_MECHANISMS)[number]; readonly username: string; readonly password: string } | undefined;
  readonly createTopics: { readonly enabled: boolean; readonly partitions: number; readonly replicationFactor: number; readonly config: Readonly<Record<string, string>> };
  /** `message.key.columns` rules of the target, applied before the source's. */
  readonly keyColumns: readonly MessageKeyRule[];
  readonly headers: Readonly<Record<string, string>>;
  /** 0: no heartbeat records. */
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTopic: string;
  /** Largest number of records sent in one go (Debezium's `max.batch.size`). */
  readonly batchSize: number;
  /** Largest produce request in bytes (Kafka's `max.request.size`). */
  readonly maxRequestSize: number;
  /**
   * Exactly once: each batch's records and its source position in one Kafka transaction
   * (`transactionalId`), the position on the compacted `offsetsTopic`.
   */
  readonly exactlyOnce: { readonly transactionalId: string; readonly offsetsTopic: string } | undefined;
  /** How keys and values are written: JsonConverter (undefined too) or Avro with a schema registry. */
  readonly converter?: KafkaConverterConfig;
  /** Kafka Connect transforms (`transforms`, `transforms.*`, `predicates`, `predicates.*`), checked by `connectTransformChain`. */
  readonly connectTransforms?: Readonly<Record<string, string>>;
  /** Debezium's value representations of numeric, money, dates and times, bytea, interval and hstore; undefined: to_jsonb's values. */
  readonly valueRepresentations?: ValueRepresentations;
}

/** The Kafka target's converter: Debezium's JsonConverter output, or Confluent's AvroConverter's with a registry. */
export type KafkaConverterConfig =
  | { readonly kind: 'json' }
  | {
      readonly kind: 'avro';
      /** The registry's Confluent-compatible API, its basic auth, and whether new schemas are registered. */
      readonly schemaRegistry: { readonly url: string; readonly basicAuth: { readonly username: string; readonly password: string } | undefined; readonly autoRegister: boolean };
    };

export type TargetConfig =
  | StdoutTargetConfig
  | FileTargetConfig
  | PostgresTargetConfig
  | CloudEventTargetConfig
  | WebhookTargetConfig
  | PgLambdaTargetConfig
  | KafkaTargetConfig
  | NatsJetStreamTargetConfig
  | RedisStreamsTargetConfig
  | RabbitMQTargetConfig;
export type TargetType = TargetConfig['type'];

/** The targets that write Debezium's records (`targets/records`): Kafka and the message brokers. */
export type RecordTargetConfig = Extract<TargetConfig, ChangeRecordSettings>;

const RECORD_TARGET_TYPES: ReadonlySet<TargetType> = new Set<RecordTargetConfig['type']>(['Kafka', 'NatsJetStream', 'RedisStreams', 'RabbitMQ']);

/** `target` when it writes Debezium's records, else undefined. */
export function recordTarget(target: TargetConfig): RecordTargetConfig | undefined {
  return RECORD_TARGET_TYPES.has(target.type) ? (target as RecordTargetConfig) : undefined;
}

/** One stream: a source, a target and how failures are retried. */
export interface StreamConfig {
  /** `metadata.name`: names the slot, the publication and `source.name` in events. */
  readonly name: string;
  readonly source: SourceConfig;
  readonly target: TargetConfig;
  /** Retries after a failure; -1 retries forever, 0 never retries. */
  readonly maxRetries: number;
  /** Local state (slot ownership, spill files, snapshot progress). */
  readonly stateDir: string;
  /** Where the document came from (`pgcdc/v1` or `stackgres.io/v1alpha1`). */
  readonly apiVersion: string;
  /** Things accepted but not applied, each naming the key; logged at start. */
  readonly warnings: readonly string[];
  /** `spec.alerts`: thresholds `pgcdc serve` checks for this stream (native specs only). */
  readonly alerts?: AlertsConfig;
  /** `spec.transform`: declarative shortcuts and a JavaScript function applied to events (native specs only, not for Postgres targets). */
  readonly transform?: TransformConfig;
  /**
   * `spec.source.type: Kafka`: the changes are read from change topics instead of a replication
   * slot; `source` then holds only what targets read of it (filters, defaults), never a database.
   */
  readonly kafkaSource?: KafkaSourceConfig;
}

/** A Kafka source: change topics (pgcdc's or Debezium's) read by a consumer group. */
export interface KafkaSourceConfig {
  readonly bootstrapServers: readonly string[];
  readonly clientId: string;
  /** Kafka's `group.id`: processes with the same group share the topics' partitions. */
  readonly groupId: string;
  /** Topics to read; with `topicPattern`, the topics whose whole name matches it, found at start and every `topicRefreshIntervalMs`. */
  readonly topics: readonly string[];
  readonly topicPattern: string | undefined;
  readonly topicRefreshIntervalMs: number;
  /** Where a partition the group has no committed offset for starts (Kafka's `auto.offset.reset`). */
  readonly startFrom: 'earliest' | 'latest';
  /** Kafka's `isolation.level`: read_committed skips the records of aborted transactions. */
  readonly isolationLevel: 'read_committed' | 'read_uncommitted';
  readonly tls: ClientTls | undefined;
  readonly sasl: KafkaTargetConfig['sasl'];
  /** Where Avro records' writer schemas are fetched by id. */
  readonly schemaRegistry: { readonly url: string; readonly basicAuth: { readonly username: string; readonly password: string } | undefined } | undefined;
  /** A record that is not a change event: stop the stream, or write it to `deadLetterFile` and go on. */
  readonly invalidRecords: 'stop' | 'dead-letter';
  readonly deadLetterFile: string;
  /** Most records handed to the target in one batch. */
  readonly maxBatchRecords: number;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}
