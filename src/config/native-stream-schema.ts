/**
 * The schema of native `pgcdc/v1 Stream` documents: the single source of truth for their
 * validation, defaults and reference documentation (docs/configuration.md is rendered from it).
 */
import { z } from 'zod';
import { alertsSchema } from './alert-settings.js';
import { kubernetesNameSchema, maxRetriesSchema, regexListSchema } from './common-schemas.js';
import { connectionUrlSchema } from './connection-url-setting.js';
import { debeziumPropertiesSchema } from './debezium-properties.js';
import { kafkaSourceSettingsSchema } from './kafka-source-settings.js';
import { sourceOptionsShape } from './source-options-schema.js';
import { transformSettingsSchema } from './transform-settings.js';
import { requireTargetSection, SUPPORTED_REQUIRED_SECTIONS, SUPPORTED_TARGET_TYPES, supportedTargetSections } from './target-types.js';

export const NATIVE_API_VERSION = 'pgcdc/v1';
export const NATIVE_KIND = 'Stream';

export const nativePostgresSourceSchema = z
  .strictObject({
    url: connectionUrlSchema.describe(
      'Where to connect: `postgres://user:password@host:port/database?sslmode=…`. Query parameters: `sslmode` (default `prefer`), `sslrootcert`, `sslcert`, `sslkey` (PEM files, read at start), `application_name` (default `pgcdc-<metadata.name>`), `connect_timeout` (seconds, default 10), `host`, `port`, `user`, `password`. User defaults to `postgres`, database to the user name, host to `localhost`.',
    ),
    includes: regexListSchema
      .default([])
      .describe('Regular expressions over `schema.table` (and `schema.table.column`) to capture, anchored at both ends; empty captures everything.'),
    excludes: regexListSchema.default([]).describe('Regular expressions over `schema.table` (and `schema.table.column`) not to capture.'),
    ...sourceOptionsShape,
    debeziumProperties: debeziumPropertiesSchema
      .optional()
      .describe('Debezium PostgreSQL connector properties, as in SGStream; a setting given directly above wins over the same one here.'),
  })
  .describe('The PostgreSQL server changes are captured from.');

export const nativeSourceSchema = z
  .strictObject({
    type: z.enum(['Postgres', 'Kafka']).describe('The kind of source: a PostgreSQL database (`postgres`), or change topics on Kafka written by pgcdc or Debezium (`kafka`, docs/kafka-source.md).'),
    postgres: nativePostgresSourceSchema.optional(),
    kafka: kafkaSourceSettingsSchema.optional(),
  })
  .superRefine((source, ctx) => {
    const section = source.type === 'Kafka' ? 'kafka' : 'postgres';
    if (source[section] === undefined) ctx.addIssue({ code: 'custom', path: [section], input: undefined, message: `is missing; expected a map, required when the source type is ${source.type}` });
    const other = source.type === 'Kafka' ? 'postgres' : 'kafka';
    if (source[other] !== undefined) ctx.addIssue({ code: 'custom', path: [other], input: undefined, message: `is set, but the source type is ${source.type}; remove it or set type: ${other === 'kafka' ? 'Kafka' : 'Postgres'}` });
  });

export const nativeTargetSchema = z
  .strictObject({
    type: z.enum(SUPPORTED_TARGET_TYPES).describe('Where change events go.'),
    ...supportedTargetSections(),
  })
  .superRefine(requireTargetSection(SUPPORTED_REQUIRED_SECTIONS));

export const nativeStreamSchema = z.strictObject({
  apiVersion: z.literal(NATIVE_API_VERSION).describe('Document format version.'),
  kind: z.literal(NATIVE_KIND).describe('Document kind.'),
  metadata: z.strictObject({
    name: kubernetesNameSchema.describe('Name of the stream: names the default slot, publication and state directory, and `source.name` in events.'),
  }),
  spec: z.strictObject({
    source: nativeSourceSchema,
    target: nativeTargetSchema,
    maxRetries: maxRetriesSchema,
    stateDir: z
      .string()
      .min(1)
      .optional()
      .describe('Local directory of spilled in-progress transactions and the default dead-letter file, relative to the stream file\'s directory. The state a restart needs (slot ownership, snapshot plan and progress) is kept in the source database, in `pgcdc.stream_state`, keyed by the slot.')
      .meta({ defaultText: '.pgcdc/<metadata.name>' }),
    alerts: alertsSchema,
    transform: transformSettingsSchema,
  }),
});

export type NativeStreamDocument = z.output<typeof nativeStreamSchema>;
