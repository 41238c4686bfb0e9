/**
 * The target types this version of pgcdc writes to, one table entry each: the settings section,
 * its schema, and how it becomes a TargetConfig. Adding a target type is adding an entry here.
 */
import path from 'node:path';
import { z } from 'zod';
import { type ConfigPath, type ConfigProblems, formatPath } from './config-issues.js';
import { buildCloudEventTarget, cloudEventTargetSettingsSchema } from './cloudevent-settings.js';
import type { ConfigMapSources } from './config-map-resolver.js';
import { buildKafkaTarget, kafkaTargetSettingsSchema } from './kafka-settings.js';
import { buildNatsJetStreamTarget, natsJetStreamTargetSettingsSchema } from './nats-jetstream-settings.js';
import { buildPgLambdaTarget, pgLambdaTargetSettingsSchema } from './pglambda-settings.js';
import { buildPostgresTarget, postgresTargetSettingsSchema } from './postgres-settings.js';
import { buildRabbitMQTarget, rabbitmqTargetSettingsSchema } from './rabbitmq-settings.js';
import { buildRedisStreamsTarget, redisStreamsTargetSettingsSchema } from './redis-streams-settings.js';
import type { RecordFormat, TargetConfig, TargetType } from './stream-config.js';
import { buildWebhookTarget, webhookTargetSettingsSchema } from './webhook-settings.js';

export const RECORD_FORMATS = ['value', 'record'] as const satisfies readonly RecordFormat[];

const recordFormatSchema = z
  .enum(RECORD_FORMATS)
  .default('value')
  .describe('`value`: one Debezium change event (payload form) per line; `record`: `{"key":…,"value":…}` per line, like a Kafka record, tombstones as `"value":null`.');

/** What building most target settings needs besides them. */
export interface TargetSettingsContext {
  /** Base of relative paths (the target file, certificates). */
  readonly cwd: string;
  /** `metadata.name` of the stream, for defaults such as the target's application_name. */
  readonly streamName: string;
  /** The source's heartbeat interval: the default of a target's own (Kafka's heartbeat records). */
  readonly sourceHeartbeatIntervalMs?: number;
}

/** What building a target needs besides its settings (ConfigMaps and secrets: a PgLambda script). */
export interface TargetBuildContext extends ConfigMapSources, TargetSettingsContext {}

/** The TargetBuildContext of a stream named `streamName` loaded with `sources` (and its source's heartbeat interval). */
export function targetBuildContext(sources: ConfigMapSources & { readonly cwd: string }, streamName: string, sourceHeartbeatIntervalMs = 0): TargetBuildContext {
  return { cwd: sources.cwd, env: sources.env, secretsDir: sources.secretsDir, configMapsDir: sources.configMapsDir, keyDocuments: sources.keyDocuments, streamName, sourceHeartbeatIntervalMs };
}

/** One supported target type. */
interface TargetTypeDefinition<T extends TargetType, S extends z.ZodType> {
  /** The key under `spec.target` holding the settings, e.g. `file`. */
  readonly section: string;
  /** Whether the section must be given when `spec.target.type` is this type. */
  readonly sectionRequired: boolean;
  readonly schema: S;
  /**
   * The TargetConfig of valid settings found at `at` (the section's path), or undefined after
   * adding problems there (files are read, e.g. certificates, so building is asynchronous).
   */
  build(settings: z.output<S>, at: ConfigPath, context: TargetBuildContext, problems: ConfigProblems): Promise<Extract<TargetConfig, { type: T }> | undefined>;
}

function defineTargetType<T extends TargetType, S extends z.ZodType>(definition: TargetTypeDefinition<T, S>): TargetTypeDefinition<T, S> {
  return definition;
}

const stdoutSettingsSchema = z
  .strictObject({ format: recordFormatSchema })
  .describe('Settings of the `Stdout` target: newline-delimited JSON on standard output.');

const fileSettingsSchema = z
  .strictObject({
    path: z.string().min(1).describe('File the records are appended to (relative to the stream file\'s directory); fsynced before each acknowledgement.'),
    format: recordFormatSchema,
  })
  .describe('Settings of the `File` target: newline-delimited JSON appended to a file. Required when the type is `File`.');

/** Every target type pgcdc supports, by `spec.target.type`. */
export const TARGET_TYPES = {
  Stdout: defineTargetType({
    section: 'stdout',
    sectionRequired: false,
    schema: stdoutSettingsSchema,
    build: async (settings) => ({ type: 'Stdout', format: settings.format }),
  }),
  File: defineTargetType({
    section: 'file',
    sectionRequired: true,
    schema: fileSettingsSchema,
    build: async (settings, _at, { cwd }) => ({ type: 'File', path: path.resolve(cwd, settings.path), format: settings.format }),
  }),
  Postgres: defineTargetType({
    section: 'postgres',
    sectionRequired: true,
    schema: postgresTargetSettingsSchema,
    build: buildPostgresTarget,
  }),
  CloudEvent: defineTargetType({
    section: 'cloudEvent',
    sectionRequired: true,
    schema: cloudEventTargetSettingsSchema,
    build: buildCloudEventTarget,
  }),
  PgLambda: defineTargetType({
    section: 'pgLambda',
    sectionRequired: true,
    schema: pgLambdaTargetSettingsSchema,
    build: buildPgLambdaTarget,
  }),
  Webhook: defineTargetType({
    section: 'webhook',
    sectionRequired: false,
    schema: webhookTargetSettingsSchema,
    build: buildWebhookTarget,
  }),
  Kafka: defineTargetType({
    section: 'kafka',
    sectionRequired: true,
    schema: kafkaTargetSettingsSchema,
    build: buildKafkaTarget,
  }),
  NatsJetStream: defineTargetType({
    section: 'natsJetStream',
    sectionRequired: true,
    schema: natsJetStreamTargetSettingsSchema,
    build: buildNatsJetStreamTarget,
  }),
  RedisStreams: defineTargetType({
    section: 'redisStreams',
    sectionRequired: true,
    schema: redisStreamsTargetSettingsSchema,
    build: buildRedisStreamsTarget,
  }),
  RabbitMQ: defineTargetType({
    section: 'rabbitmq',
    sectionRequired: true,
    schema: rabbitmqTargetSettingsSchema,
    build: buildRabbitMQTarget,
  }),
} satisfies { readonly [T in TargetType]: TargetTypeDefinition<T, z.ZodType> };

export const SUPPORTED_TARGET_TYPES = Object.keys(TARGET_TYPES) as TargetType[];

function isSupportedTargetType(type: string): type is TargetType {
  return Object.hasOwn(TARGET_TYPES, type);
}

/** The optional settings sections of all supported target types, for a target object schema. */
export function supportedTargetSections(): Record<string, z.ZodOptional<z.ZodType>> {
  return Object.fromEntries(Object.values(TARGET_TYPES).map((definition) => [definition.section, definition.schema.optional()]));
}

/** The section a type needs, for types known to a document kind (supported or not). */
export type RequiredSections = Readonly<Record<string, string | undefined>>;

/** Sections required by the supported types: `{ File: 'file', Postgres: 'postgres' }`. */
export const SUPPORTED_REQUIRED_SECTIONS: RequiredSections = Object.fromEntries(
  Object.entries(TARGET_TYPES).map(([type, definition]) => [type, definition.sectionRequired ? definition.section : undefined]),
);

/** Zod check of a target object: the section its type requires is present. */
export function requireTargetSection(required: RequiredSections) {
  return (target: { readonly type: string } & Readonly<Record<string, unknown>>, ctx: z.RefinementCtx): void => {
    const section = required[target.type];
    if (section !== undefined && target[section] === undefined) {
      ctx.addIssue({ code: 'custom', path: [section], input: undefined, message: `is missing; expected a map, required when the target type is ${target.type}` });
    }
  };
}

/** A warning for each settings section of `target` other than `section` (the chosen type's). */
export function warnOtherTargetSections(
  target: { readonly type: string } & Readonly<Record<string, unknown>>,
  at: ConfigPath,
  section: string | undefined,
  problems: ConfigProblems,
): void {
  for (const key of Object.keys(target)) {
    if (key !== 'type' && key !== section && target[key] !== undefined) {
      problems.warnNotApplied([...at, key], `${formatPath([...at, 'type'])} is ${target.type}`);
    }
  }
}

/**
 * The TargetConfig of a valid target object found at `at`; a CONFIG_INVALID problem when its type
 * is not supported by this version (`alsoSupported`: types the document kind handles itself, for
 * the message), and a warning for each section of another type.
 */
export async function buildTarget(
  target: { readonly type: string } & Readonly<Record<string, unknown>>,
  at: ConfigPath,
  problems: ConfigProblems,
  context: TargetBuildContext,
  alsoSupported: readonly string[] = [],
): Promise<TargetConfig | undefined> {
  const type = target.type;
  if (!isSupportedTargetType(type)) {
    problems.addIssue({
      path: [...at, 'type'],
      text: `${formatPath([...at, 'type'])}: ${type} is not supported by this version of pgcdc (supported: ${[...SUPPORTED_TARGET_TYPES, ...alsoSupported].join(', ')})`,
      hint: 'write to a file or standard output instead, e.g. target: {type: File, file: {path: changes.jsonl}}',
    });
    return undefined;
  }
  const definition = TARGET_TYPES[type] as TargetTypeDefinition<TargetType, z.ZodType>;
  warnOtherTargetSections(target, at, definition.section, problems);
  const settings = target[definition.section] ?? definition.schema.parse({});
  return definition.build(settings, [...at, definition.section], context, problems);
}
