/**
 * The SGStream-only target section `sgCluster` (with the Debezium JDBC sink properties), validated
 * fully as the CRD defines it so documents stay portable; pgcdc writes to it as a Postgres target
 * (sgcluster-target.ts). `cloudEvent` and `pgLambda` are pgcdc's own target types
 * (cloudevent-settings.ts, pglambda-settings.ts).
 */
import { z } from 'zod';
import { secretKeyRefSchema } from './common-schemas.js';

const strings = z.array(z.string());

/** Values of the JDBC sink's `insertMode` (Debezium `insert.mode`). */
export const INSERT_MODES = ['insert', 'upsert', 'update'] as const;
export type InsertMode = (typeof INSERT_MODES)[number];

/** Values of the JDBC sink's `schemaEvolution` (Debezium `schema.evolution`). */
export const SCHEMA_EVOLUTION_MODES = ['none', 'basic'] as const;
export type SchemaEvolutionMode = (typeof SCHEMA_EVOLUTION_MODES)[number];

/** `spec.target.sgCluster.debeziumProperties`: the Debezium JDBC sink properties. */
export const jdbcSinkPropertiesSchema = z.strictObject({
  connectionUrlParameters: z.string().optional(),
  detectInsertMode: z.boolean().optional(),
  removePlaceholders: z.boolean().optional(),
  connectionPoolMin_size: z.int().optional(),
  connectionPoolMax_size: z.int().optional(),
  connectionPoolAcquire_increment: z.int().optional(),
  connectionPoolTimeout: z.int().optional(),
  connectionRestartOnErrors: z.boolean().optional(),
  useTimeZone: z.string().optional(),
  deleteEnabled: z.boolean().optional(),
  truncateEnabled: z.boolean().optional(),
  insertMode: z.enum(INSERT_MODES).optional(),
  primaryKeyMode: z.string().optional(),
  primaryKeyFields: strings.optional(),
  quoteIdentifiers: z.boolean().optional(),
  schemaEvolution: z.enum(SCHEMA_EVOLUTION_MODES).optional(),
  collectionNameFormat: z.string().optional(),
  dialectPostgresPostgisSchema: z.string().optional(),
  dialectSqlserverIdentityInsert: z.boolean().optional(),
  batchSize: z.int().optional(),
  useReductionBuffer: z.boolean().optional(),
  flushMaxRetries: z.int().optional(),
  flushRetryDelayMs: z.int().optional(),
  columnNamingStrategy: z.string().optional(),
  collectionNamingStrategy: z.string().optional(),
});

/** `spec.target.sgCluster`. */
export const sgClusterTargetSchema = z.strictObject({
  name: z.string().min(1),
  database: z.string().optional(),
  username: secretKeyRefSchema.optional(),
  password: secretKeyRefSchema.optional(),
  skipDdlImport: z.boolean().optional(),
  ddlImportRoleSkipFilter: z.string().optional(),
  skipDropPrimaryKeys: z.boolean().optional(),
  skipDropIndexesAndConstraints: z.boolean().optional(),
  skipRestoreIndexesAfterSnapshot: z.boolean().optional(),
  debeziumProperties: jdbcSinkPropertiesSchema.optional(),
});

export type SgClusterTarget = z.output<typeof sgClusterTargetSchema>;
export type JdbcSinkProperties = z.output<typeof jdbcSinkPropertiesSchema>;
