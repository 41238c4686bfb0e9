/**
 * The SGStream-only target sections (`pgLambda`, `sgCluster`), validated fully as the CRD defines
 * them so documents stay portable. pgcdc writes to `sgCluster` targets (see sgcluster-target.ts),
 * not to `pgLambda` ones; `cloudEvent` is one of pgcdc's own target types (cloudevent-target.ts).
 */
import { z } from 'zod';
import { secretKeyRefSchema, stringMapSchema } from './common-schemas.js';
import { sgStreamHttpShape } from './http-delivery-settings.js';

const keyRefSchema = z.strictObject({ name: z.string().optional(), key: z.string().optional() });

const scriptFromSchema = z
  .strictObject({ secretKeyRef: keyRefSchema.optional(), configMapKeyRef: keyRefSchema.optional() })
  .superRefine((scriptFrom, ctx) => {
    const given = [scriptFrom.secretKeyRef, scriptFrom.configMapKeyRef].filter((ref) => ref !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        input: scriptFrom,
        message: `has ${given === 0 ? 'neither' : 'both'} secretKeyRef and configMapKeyRef; expected exactly one of them`,
      });
    }
  });

/** `spec.target.pgLambda`. */
export const pgLambdaTargetSchema = z
  .strictObject({
    scriptType: z.enum(['javascript']).optional(),
    script: z.string().optional(),
    scriptFrom: scriptFromSchema.optional(),
    knative: z
      .strictObject({
        annotations: stringMapSchema.optional(),
        labels: stringMapSchema.optional(),
        http: z.strictObject({ ...sgStreamHttpShape, url: sgStreamHttpShape.url.optional() }).optional(),
      })
      .optional(),
  })
  .superRefine((lambda, ctx) => {
    if (lambda.script !== undefined && lambda.scriptFrom !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['scriptFrom'], input: lambda.scriptFrom, message: 'is given together with script; expected only one of script and scriptFrom' });
    }
  });

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
