/**
 * The `Kafka` source's settings (`spec.source.kafka`): brokers and security as the Kafka target's,
 * topics or a topic pattern, the consumer group, where a partition with no committed offset starts,
 * the schema registry of Avro records, what becomes of a record that is not a change event; and how
 * a stream with this source is built (its target checked for what a Kafka source can feed).
 */
import path from 'node:path';
import { z } from 'zod';
import { buildAlerts } from './alert-settings.js';
import { durationTextSchema, parseDurationMs, parseServerList, regexListSchema, regexSchema } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { buildClientTls } from './client-tls-settings.js';
import { bootstrapServersSchema, buildSasl, buildSchemaRegistry, HOST_PORT, saslSchema, schemaRegistrySchema, tlsSchema } from './kafka-settings.js';
import type { NativeStreamDocument } from './native-stream-schema.js';
import { buildSourceConfig, sourceOptionsShape } from './source-options-schema.js';
import type { BuildContext, BuiltStream } from './stream-kinds.js';
import type { ConnectionConfig, KafkaSourceConfig, TargetConfig } from './stream-config.js';
import { buildTarget, targetBuildContext } from './target-types.js';
import { buildNativeTransform, checkTransformFitsTarget } from './transform-target-checks.js';

const KAFKA_SOURCE_PATH: ConfigPath = ['spec', 'source', 'kafka'];

/** `spec.source.kafka`. */
export const kafkaSourceSettingsSchema = z
  .strictObject({
    bootstrapServers: bootstrapServersSchema,
    clientId: z.string().min(1).optional().describe("Kafka's `client.id`.").meta({ defaultText: 'pgcdc-<metadata.name>' }),
    groupId: z
      .string()
      .min(1)
      .optional()
      .describe("Kafka's `group.id`: pgcdc processes running streams with the same group share the topics' partitions, and a partition moves to another process when one stops or joins.")
      .meta({ defaultText: 'pgcdc-<metadata.name>' }),
    topics: z.array(z.string().min(1)).optional().describe('Change topics to read (pgcdc\'s Kafka target\'s or Debezium\'s, e.g. `pg_repl.public.table1`). One of `topics` and `topicPattern`.'),
    topicPattern: regexSchema
      .optional()
      .describe("A regular expression over topic names (the whole name must match, as Kafka Connect's `topics.regex`): the topics matching it are read, also those created later (looked for every `topicRefreshInterval`). One of `topics` and `topicPattern`."),
    topicRefreshInterval: durationTextSchema
      .default('30s')
      .describe("With `topicPattern`: how often the brokers' topics are listed for new matches (Kafka's `metadata.max.age.ms` for a pattern subscription). A new match makes the process rejoin the group with it; its partitions start by `startFrom`."),
    startFrom: z
      .enum(['earliest', 'latest'])
      .default('earliest')
      .describe("Where a partition starts when the group has no committed offset for it (Kafka's `auto.offset.reset`)."),
    isolationLevel: z
      .enum(['read_committed', 'read_uncommitted'])
      .default('read_committed')
      .describe("Kafka's `isolation.level`: `read_committed` reads only committed Kafka transactions (what pgcdc's exactly-once Kafka target writes), skipping the records of aborted ones."),
    tls: tlsSchema.optional(),
    sasl: saslSchema.optional(),
    schemaRegistry: schemaRegistrySchema
      .omit({ autoRegister: true })
      .optional()
      .describe('The schema registry Avro records (Confluent wire format) were written with: their writer schemas are fetched from it by id.'),
    includes: regexListSchema.default([]).describe('Regular expressions over `schema.table` of the changes to pass on, anchored at both ends; empty passes every table.'),
    excludes: regexListSchema.default([]).describe('Regular expressions over `schema.table` of the changes not to pass on.'),
    unavailableValuePlaceholder: z
      .string()
      .default('__debezium_unavailable_value')
      .describe("The text that stands for an unchanged TOASTed value in the records (Debezium's `unavailable.value.placeholder`): such a column is left as it is on a Postgres target."),
    invalidRecords: z
      .strictObject({
        policy: z
          .enum(['stop', 'dead-letter'])
          .default('stop')
          .describe('`stop`: a record that is not a change event stops the stream (its offset is not committed); `dead-letter`: it is written to `file` with its topic, partition and offset, and reading goes on.'),
        file: z.string().min(1).optional().describe('NDJSON file of the set-aside records, relative to the stream file\'s directory.').meta({ defaultText: '<stateDir>/invalid-records.ndjson' }),
      })
      .default({ policy: 'stop' })
      .describe('What becomes of a record that is not a change event (not JSON, no `op`, an Avro record without a registry …).'),
    maxBatchRecords: z.number().int().min(1).default(10_000).describe('Most records handed to the target in one batch (a batch is one transaction on a Postgres target).'),
    sessionTimeout: durationTextSchema.default('30s').describe("Kafka's `session.timeout.ms`: a process silent this long (killed, cut off) loses its partitions to the others."),
    rebalanceTimeout: durationTextSchema.default('60s').describe("Kafka's `rebalance.timeout.ms`: how long the group waits for its members to finish what they read before partitions move."),
    heartbeatInterval: durationTextSchema.default('3s').describe("Kafka's `heartbeat.interval.ms`."),
  })
  .describe('Settings of the `Kafka` source: change topics read by a consumer group and handed to the target. Required when the source type is `Kafka`.');

export type KafkaSourceSettings = z.output<typeof kafkaSourceSettingsSchema>;

/**
 * A Kafka-sourced stream has no source database: `source.connection` says so to anything that
 * would fall back on it (a webhook target's subscription table) instead of connecting nowhere.
 */
const NO_SOURCE_DATABASE: ConnectionConfig = {
  host: '',
  port: 0,
  database: '',
  user: '',
  password: undefined,
  sslMode: 'disable',
  sslRootCert: undefined,
  sslCert: undefined,
  sslKey: undefined,
  applicationName: '',
  connectTimeoutMs: 0,
};

/** The targets a Kafka source cannot feed as they are set, with the fix. */
function targetProblem(target: TargetConfig): { at: ConfigPath; message: string; hint: string } | undefined {
  if (target.type === 'Kafka' && target.exactlyOnce !== undefined) {
    return { at: ['spec', 'target', 'kafka', 'exactlyOnce'], message: 'is true, but its position is one source LSN, which records read from several partitions do not have', hint: 'set exactlyOnce: false (records carry their source partition and offset as ids)' };
  }
  if (target.type === 'RedisStreams' && target.exactlyOnce) {
    return { at: ['spec', 'target', 'redisStreams', 'exactlyOnce'], message: 'is true (the default), but its position is one source LSN, which records read from several partitions do not have', hint: 'set exactlyOnce: false' };
  }
  if (target.type === 'Webhook' && target.subscriptionDatabase === undefined) {
    return { at: ['spec', 'target', 'webhook', 'subscriptionDatabase'], message: 'is missing: a Kafka-sourced stream has no source database to keep the subscriptions in', hint: 'set subscriptionDatabase to the database holding the webhook subscriptions table' };
  }
  return undefined;
}

/** The StreamConfig of a valid native document whose source type is Kafka, or undefined after adding problems. */
export async function buildKafkaSourcedStream(document: NativeStreamDocument, context: BuildContext, problems: ConfigProblems): Promise<BuiltStream | undefined> {
  const name = document.metadata.name;
  const settings = document.spec.source.kafka!;
  const stateDir = path.resolve(context.cwd, document.spec.stateDir ?? path.join('.pgcdc', name));
  const [kafkaSource, target, transform] = await Promise.all([
    buildKafkaSource(settings, KAFKA_SOURCE_PATH, { ...context, streamName: name, stateDir }, problems),
    buildTarget(document.spec.target, ['spec', 'target'], problems, targetBuildContext(context, name)),
    buildNativeTransform(document.spec.transform, document.spec.target, context, name, problems),
  ]);
  if (kafkaSource === undefined || target === undefined || transform === 'failed') return undefined;
  checkTransformFitsTarget(transform, target, problems);
  const problem = targetProblem(target);
  if (problem !== undefined) {
    problems.add(problem.at, problem.message, { hint: problem.hint });
    return undefined;
  }
  const options = z.object(sourceOptionsShape).parse({ unavailableValuePlaceholder: settings.unavailableValuePlaceholder });
  return {
    name,
    source: buildSourceConfig(name, NO_SOURCE_DATABASE, settings, options),
    target,
    maxRetries: document.spec.maxRetries,
    stateDir,
    apiVersion: document.apiVersion,
    kafkaSource,
    ...(document.spec.alerts === undefined ? {} : { alerts: buildAlerts(document.spec.alerts)! }),
    ...(transform === undefined ? {} : { transform }),
  };
}

async function buildKafkaSource(
  settings: KafkaSourceSettings,
  at: ConfigPath,
  context: BuildContext & { readonly streamName: string; readonly stateDir: string },
  problems: ConfigProblems,
): Promise<KafkaSourceConfig | undefined> {
  let ok = true;
  const servers = parseServerList(settings.bootstrapServers);
  for (const server of servers) {
    if (!HOST_PORT.test(server)) {
      problems.add([...at, 'bootstrapServers'], `has ${JSON.stringify(server)}, which is not host:port`, { hint: 'write each broker as host:port, e.g. localhost:9092' });
      ok = false;
    }
  }
  if ((settings.topics === undefined || settings.topics.length === 0) === (settings.topicPattern === undefined)) {
    problems.add([...at, settings.topics === undefined ? 'topics' : 'topicPattern'], settings.topicPattern === undefined ? 'is missing: name the topics to read' : 'is set together with topics', {
      hint: 'give either topics (a list of topic names) or topicPattern (a regular expression over topic names)',
    });
    ok = false;
  }
  const [tls, sasl, schemaRegistry] = await Promise.all([
    settings.tls && buildClientTls(settings.tls, [...at, 'tls'], context.cwd, problems),
    settings.sasl && buildSasl(settings.sasl, [...at, 'sasl'], context, problems),
    settings.schemaRegistry && buildSchemaRegistry({ ...settings.schemaRegistry, autoRegister: false }, [...at, 'schemaRegistry'], context, problems),
  ]);
  if (!ok || tls === null || sasl === null || schemaRegistry === null) return undefined;
  return {
    bootstrapServers: servers,
    clientId: settings.clientId ?? `pgcdc-${context.streamName}`,
    groupId: settings.groupId ?? `pgcdc-${context.streamName}`,
    topics: settings.topics ?? [],
    topicPattern: settings.topicPattern,
    topicRefreshIntervalMs: parseDurationMs(settings.topicRefreshInterval)!,
    startFrom: settings.startFrom,
    isolationLevel: settings.isolationLevel,
    tls,
    sasl,
    schemaRegistry: schemaRegistry && { url: schemaRegistry.url, basicAuth: schemaRegistry.basicAuth },
    invalidRecords: settings.invalidRecords.policy,
    deadLetterFile: settings.invalidRecords.file === undefined ? path.join(context.stateDir, 'invalid-records.ndjson') : path.resolve(context.cwd, settings.invalidRecords.file),
    maxBatchRecords: settings.maxBatchRecords,
    sessionTimeoutMs: parseDurationMs(settings.sessionTimeout)!,
    rebalanceTimeoutMs: parseDurationMs(settings.rebalanceTimeout)!,
    heartbeatIntervalMs: parseDurationMs(settings.heartbeatInterval)!,
  };
}
