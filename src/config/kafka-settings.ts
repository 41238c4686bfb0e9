/**
 * The `Kafka` target's settings (`spec.target.kafka`): brokers, security (TLS, SASL with secret
 * references), producer tuning under Kafka's own names, topic naming and creation, routing, keys,
 * value format; and how valid settings become a KafkaTargetConfig.
 */
import zlib from 'node:zlib';
import { z } from 'zod';
import { buildClientTls, clientTlsSchema } from './client-tls-settings.js';
import { buildChangeRecordSettings, changeRecordSettingsShape } from './change-record-settings.js';
import { connectTransformChain, transformProblemParts } from '../targets/records/connect-transforms.js';
import { BINARY_MODES, DECIMAL_MODES, HSTORE_MODES, INTERVAL_MODES, TIME_MODES } from '../decoding/values/debezium-representations.js';
import { durationTextSchema, messageKeyColumnsSchema, parseDurationMs, parseServerList, secretKeyRefSchema, serverListSchema } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import type { ConfigMapSources } from './config-map-resolver.js';
import { parseMessageKeyColumns } from './message-key-columns.js';
import { resolveSecret } from './secret-resolver.js';
import { KAFKA_ACKS, KAFKA_COMPRESSIONS, KAFKA_SASL_MECHANISMS, type KafkaTargetConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

export const HOST_PORT = /^[^\s:,]+:\d{1,5}$/;

export const bootstrapServersSchema = serverListSchema
  .describe('Brokers to connect to first (Kafka\'s `bootstrap.servers`): `host:port` entries, as a list or comma-separated.');

export const tlsSchema = clientTlsSchema('Connect to the brokers over TLS (Kafka\'s `security.protocol` SSL, or SASL_SSL with `sasl`).');

export const saslSchema = z
  .strictObject({
    mechanism: z.enum(KAFKA_SASL_MECHANISMS).describe("Kafka's `sasl.mechanism`."),
    username: z.union([z.string().min(1), secretKeyRefSchema]).describe('User name: the name itself, or a Secret reference `{name, key}`.'),
    password: secretKeyRefSchema.describe('Secret reference `{name, key}` holding the password.'),
  })
  .describe('Authenticate with SASL (Kafka\'s `security.protocol` SASL_PLAINTEXT, or SASL_SSL with `tls`).');

/** Debezium's value representations (`spec.target.kafka.valueRepresentations`), each with Debezium's default. */
const valueRepresentationsSchema = z
  .strictObject({
    decimal: z.enum(DECIMAL_MODES).default('precise').describe("numeric and money (Debezium's `decimal.handling.mode`): `precise`, Kafka Connect's Decimal (bytes, base64 in JSON; numeric without precision as io.debezium.data.VariableScaleDecimal), `double` or `string`."),
    time: z.enum(TIME_MODES).default('adaptive').describe("date, time and timestamp (Debezium's `time.precision.mode`): `adaptive` (io.debezium.time.Date, Time or MicroTime, Timestamp or MicroTimestamp by the column's precision), `adaptive_time_microseconds` (every time as MicroTime) or `connect` (Kafka Connect's Date, Time, Timestamp in milliseconds). timestamptz, in every mode, as io.debezium.time.ZonedTimestamp text in UTC with the column's fraction digits (`2024-01-15T08:20:30.500000Z`)."),
    binary: z.enum(BINARY_MODES).default('bytes').describe("bytea (Debezium's `binary.handling.mode`): `bytes` (base64 in JSON), `base64`, `base64-url-safe` or `hex` strings."),
    interval: z.enum(INTERVAL_MODES).default('numeric').describe("interval (Debezium's `interval.handling.mode`): `numeric`, io.debezium.time.MicroDuration microseconds (a month as 30.4375 days), or `string`, io.debezium.time.Interval ISO 8601 text (`P1Y2M3DT4H5M6.5S`)."),
    hstore: z.enum(HSTORE_MODES).default('json').describe("hstore (Debezium's `hstore.handling.mode`): `json`, the hstore as a JSON object in a string (io.debezium.data.Json), or `map`, a map of strings."),
    moneyFractionDigits: z.number().int().min(0).default(2).describe("Scale of money values as precise decimals (Debezium's `money.fraction.digits`)."),
  })
  .describe(
    "Write column values as Debezium's converters do, with these modes, instead of PostgreSQL's to_jsonb values: numeric, money, date, time, timestamp, interval, bytea and hstore columns (and domains over them; arrays keep to_jsonb's values). A Debezium connector configuration sets it from its handling-mode properties, with Debezium's defaults.",
  )
  .meta({ defaultText: "to_jsonb's values" });

const createTopicsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Create each topic before its first record when it does not exist; when false a missing topic stops the stream with its name (unless the broker creates topics itself).'),
    partitions: z.number().int().min(1).default(1).describe('Partitions of a created topic (Kafka Connect\'s `topic.creation.default.partitions`).'),
    replicationFactor: z.number().int().min(-1).default(-1).describe("Replication factor of a created topic; -1: the broker's `default.replication.factor`."),
    config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}).describe('Topic configuration of a created topic, e.g. `{cleanup.policy: compact}`.'),
  })
  .describe('How missing topics are created (Kafka Connect\'s `topic.creation.*`).');

export const schemaRegistrySchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).describe("Base URL of the registry's Confluent-compatible REST API (Confluent's `schema.registry.url`), e.g. `http://registry:8081`, or Apicurio's `http://apicurio:8080/apis/ccompat/v7`."),
    basicAuth: z
      .strictObject({
        username: z.union([z.string().min(1), secretKeyRefSchema]).describe('User name: the name itself, or a Secret reference `{name, key}`.'),
        password: secretKeyRefSchema.describe('Secret reference `{name, key}` holding the password.'),
      })
      .optional()
      .describe("HTTP basic auth to the registry (Confluent's `basic.auth.credentials.source=USER_INFO` with `basic.auth.user.info`)."),
    autoRegister: z.boolean().default(true).describe("Register the schemas of new table shapes (Confluent's `auto.register.schemas`); false: only look up schemas registered beforehand."),
  })
  .describe('The schema registry of `converter: avro`: schemas are registered under `<topic>-key` and `<topic>-value` (TopicNameStrategy), once per new table shape.');

/** `spec.target.kafka`. */
export const kafkaTargetSettingsSchema = z
  .strictObject({
    bootstrapServers: bootstrapServersSchema,
    clientId: z.string().min(1).optional().describe("Kafka's `client.id`.").meta({ defaultText: 'pgcdc-<metadata.name>' }),
    ...changeRecordSettingsShape,
    acks: z
      .union([z.enum(KAFKA_ACKS), z.literal(1).transform(() => '1' as const), z.literal(-1).transform(() => 'all' as const)])
      .default('all')
      .describe("Kafka's `acks`: the replicas that must hold a record before it counts as written (`all` = -1 or `1`). With `1` the producer is not idempotent (as Kafka's Java producer): a retried send can write a record twice, and a broker failure can lose acknowledged records."),
    compression: z.enum(KAFKA_COMPRESSIONS).default('none').describe("Kafka's `compression.type`; zstd needs Node.js 22.15 or later."),
    batchSize: z.number().int().min(1).default(20_000).describe("Largest number of records sent to the brokers in one request set (Debezium's `max.batch.size`); fewer go when the changes trickle in (see `linger`)."),
    maxRequestSize: z
      .number()
      .int()
      .min(65_536)
      .default(1_048_576)
      .describe("Largest produce request in bytes (Kafka's `max.request.size`); records are sent in as many requests as this needs. Keep it at most the broker's `message.max.bytes` (and the topics' `max.message.bytes`); a single record over that stops the stream with the topic named."),
    linger: durationTextSchema.default('5ms').describe("How long records wait for a fuller batch (Kafka's `linger.ms`)."),
    requestTimeout: durationTextSchema.default('30s').describe("How long a request to a broker may take (Kafka's `request.timeout.ms`)."),
    tls: tlsSchema.optional(),
    sasl: saslSchema.optional(),
    createTopics: createTopicsSchema.default({ enabled: true, partitions: 1, replicationFactor: -1, config: {} }).meta({ defaultText: 'the defaults below' }),
    keyColumns: messageKeyColumnsSchema.default([]).describe("Key columns per table (Debezium's `message.key.columns`), before the source's `messageKeyColumns`: `\"<regex over schema.table>:<column>,<column>\"`."),
    headers: z.record(z.string(), z.string()).default({}).describe('Headers added to every record.'),
    heartbeatInterval: durationTextSchema
      .optional()
      .describe("Write a heartbeat record to `__debezium-heartbeat.<prefix>` this often (Debezium's `heartbeat.interval.ms`); 0: none.")
      .meta({ defaultText: 'spec.source.postgres.heartbeatInterval (0: none)' }),
    exactlyOnce: z
      .boolean()
      .default(false)
      .describe(
        "Exactly once (Kafka Connect's `exactly.once.support`, KIP-618): each batch's records and its source position are written in one Kafka transaction, the position to the compacted `offsetsTopic`; after a crash the stream resumes from the committed position, so a `read_committed` consumer sees every change once. A second pgcdc with the same `transactionalId` fences this one. Needs `acks: all`.",
      ),
    transactionalId: z.string().min(1).optional().describe("Kafka's `transactional.id` of the exactly-once producer: one per stream.").meta({ defaultText: 'pgcdc-<metadata.name>' }),
    converter: z
      .enum(['json', 'avro'])
      .default('json')
      .describe(
        "How keys and values are written: `json`, Kafka Connect's JsonConverter (with `schemasEnable`), or `avro`, Confluent's AvroConverter: the Confluent wire format (magic byte, schema id, Avro binary) with Avro schemas derived from the Connect schemas as AvroConverter derives them, registered in `schemaRegistry`. `schemasEnable` does not apply to Avro.",
      ),
    schemaRegistry: schemaRegistrySchema.optional(),
    offsetsTopic: z
      .string()
      .min(1)
      .default('pgcdc-offsets')
      .describe("Compacted topic holding each exactly-once stream's committed source position (Kafka Connect's `offsets.storage.topic`), keyed `[\"<metadata.name>\",{\"server\":\"<topicPrefix>\"}]`; created when missing (25 partitions, `cleanup.policy=compact`)."),
    connectTransforms: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .default({})
      .describe(
        "Kafka Connect transforms (SMTs) applied to each record before it is written, as a connector configuration names them: `transforms: unwrap`, `transforms.unwrap.type: io.debezium.transforms.ExtractNewRecordState`, `transforms.<name>.<option>`, `transforms.<name>.predicate`/`negate`, `predicates`, `predicates.<name>.type`/`<option>` (docs/connect-transforms.md lists the supported ones).",
      ),
    valueRepresentations: valueRepresentationsSchema.optional(),
  })
  .describe('Settings of the `Kafka` target: change events written to Apache Kafka as Debezium on Kafka Connect writes them (topics, keys, partitions, JSON). Required when the type is `Kafka`.');

export type KafkaTargetSettings = z.output<typeof kafkaTargetSettingsSchema>;

/**
 * The KafkaTargetConfig of valid settings found at `at` (`spec.target.kafka`), or undefined after
 * adding problems there (a malformed server, an unreadable certificate, a missing secret).
 */
export async function buildKafkaTarget(
  settings: KafkaTargetSettings,
  at: ConfigPath,
  context: TargetSettingsContext & ConfigMapSources,
  problems: ConfigProblems,
): Promise<KafkaTargetConfig | undefined> {
  const servers = parseServerList(settings.bootstrapServers);
  let ok = true;
  for (const server of servers) {
    if (!HOST_PORT.test(server)) {
      problems.add([...at, 'bootstrapServers'], `has ${JSON.stringify(server)}, which is not host:port`, { hint: 'write each broker as host:port, e.g. localhost:9092' });
      ok = false;
    }
  }
  const tls = settings.tls && (await buildClientTls(settings.tls, [...at, 'tls'], context.cwd, problems));
  const sasl = settings.sasl && (await buildSasl(settings.sasl, [...at, 'sasl'], context, problems));
  if (settings.compression === 'zstd' && typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync !== 'function') {
    problems.add([...at, 'compression'], `is zstd, which needs Node.js 22.15 or later (this is ${process.version})`, { hint: 'use lz4, snappy or gzip, or run pgcdc on a newer Node.js' });
    ok = false;
  }
  if (settings.exactlyOnce && settings.acks !== 'all') {
    problems.add([...at, 'acks'], 'is 1, but exactlyOnce needs every in-sync replica to hold a record (acks: all)', { hint: 'remove acks (all is the default) or set exactlyOnce: false' });
    ok = false;
  }
  const chain = connectTransformChain(settings.connectTransforms);
  if ('problems' in chain) {
    for (const problem of chain.problems) {
      const { property, rest } = transformProblemParts(problem);
      problems.add([...at, 'connectTransforms', property], rest, { hint: 'docs/connect-transforms.md lists the supported transforms and their options' });
    }
    ok = false;
  }
  let converter: KafkaTargetConfig['converter'] = { kind: 'json' };
  if (settings.converter === 'avro') {
    if (settings.schemaRegistry === undefined) {
      problems.add([...at, 'schemaRegistry'], 'is missing, but converter avro needs a schema registry', { hint: 'add schemaRegistry: {url: http://<registry>:8081}' });
      ok = false;
    } else {
      const registry = await buildSchemaRegistry(settings.schemaRegistry, [...at, 'schemaRegistry'], context, problems);
      if (registry === null) ok = false;
      else converter = { kind: 'avro', schemaRegistry: registry };
    }
  } else if (settings.schemaRegistry !== undefined) {
    problems.add([...at, 'schemaRegistry'], 'is set, but converter is json, which uses no schema registry', { hint: 'add converter: avro, or remove schemaRegistry' });
    ok = false;
  }
  if (!ok || tls === null || sasl === null) return undefined;
  const records = buildChangeRecordSettings(settings, context.streamName);
  return {
    type: 'Kafka',
    ...records,
    bootstrapServers: servers,
    clientId: settings.clientId ?? `pgcdc-${context.streamName}`,
    acks: settings.acks,
    compression: settings.compression,
    lingerMs: parseDurationMs(settings.linger)!,
    requestTimeoutMs: parseDurationMs(settings.requestTimeout)!,
    tls,
    sasl,
    createTopics: settings.createTopics,
    keyColumns: settings.keyColumns.flatMap(parseMessageKeyColumns),
    headers: settings.headers,
    heartbeatIntervalMs: settings.heartbeatInterval === undefined ? (context.sourceHeartbeatIntervalMs ?? 0) : parseDurationMs(settings.heartbeatInterval)!,
    heartbeatTopic: `__debezium-heartbeat.${records.topicPrefix}`,
    batchSize: settings.batchSize,
    maxRequestSize: settings.maxRequestSize,
    exactlyOnce: settings.exactlyOnce ? { transactionalId: settings.transactionalId ?? `pgcdc-${context.streamName}`, offsetsTopic: settings.offsetsTopic } : undefined,
    converter,
    connectTransforms: settings.connectTransforms,
    ...(settings.valueRepresentations === undefined ? {} : { valueRepresentations: settings.valueRepresentations }),
  };
}

/** The schema registry settings with their secrets resolved; null after a problem. */
export async function buildSchemaRegistry(registry: NonNullable<KafkaTargetSettings['schemaRegistry']>, at: ConfigPath, sources: ConfigMapSources, problems: ConfigProblems): Promise<(KafkaTargetConfig['converter'] & { kind: 'avro' })['schemaRegistry'] | null> {
  if (registry.basicAuth === undefined) return { url: registry.url, basicAuth: undefined, autoRegister: registry.autoRegister };
  const auth = registry.basicAuth;
  const [username, password] = await Promise.all([
    typeof auth.username === 'string' ? auth.username : resolveSecret(auth.username, [...at, 'basicAuth', 'username'], sources, problems),
    resolveSecret(auth.password, [...at, 'basicAuth', 'password'], sources, problems),
  ]);
  if (username === undefined || password === undefined) return null;
  return { url: registry.url, basicAuth: { username, password }, autoRegister: registry.autoRegister };
}

/** The SASL settings with their secrets resolved; null after a problem. */
export async function buildSasl(sasl: NonNullable<KafkaTargetSettings['sasl']>, at: ConfigPath, sources: ConfigMapSources, problems: ConfigProblems): Promise<KafkaTargetConfig['sasl'] | null> {
  const [username, password] = await Promise.all([
    typeof sasl.username === 'string' ? sasl.username : resolveSecret(sasl.username, [...at, 'username'], sources, problems),
    resolveSecret(sasl.password, [...at, 'password'], sources, problems),
  ]);
  if (username === undefined || password === undefined) return null;
  return { mechanism: sasl.mechanism, username, password };
}
