/**
 * The schema of StackGres `stackgres.io/v1alpha1 SGStream` documents, accepting every field of the
 * SGStream CRD, plus pgcdc's own target types (`Stdout`, `File`, `Postgres`) as an extension
 * (`CloudEvent` and `PgLambda` are both).
 */
import { z } from 'zod';
import { maxRetriesSchema, portSchema, regexListSchema, secretKeyRefSchema } from './common-schemas.js';
import { debeziumPropertiesSchema } from './debezium-properties.js';
import { objectMetaSchema, podsSchema, streamResourceMetadataSchema } from './kubernetes-schemas.js';
import { sgClusterTargetSchema } from './sgstream-target-schemas.js';
import { type RequiredSections, requireTargetSection, SUPPORTED_REQUIRED_SECTIONS, SUPPORTED_TARGET_TYPES, supportedTargetSections } from './target-types.js';

export const SGSTREAM_API_VERSION = 'stackgres.io/v1alpha1';
export const SGSTREAM_KIND = 'SGStream';

const sourceFields = {
  database: z.string().min(1).optional(),
  username: secretKeyRefSchema.optional(),
  password: secretKeyRefSchema.optional(),
  includes: regexListSchema.optional(),
  excludes: regexListSchema.optional(),
  debeziumProperties: debeziumPropertiesSchema.optional(),
};

const sgClusterSourceSchema = z.strictObject({
  name: z.string().min(1),
  ...sourceFields,
  skipDropReplicationSlotAndPublicationOnTombstone: z.boolean().optional(),
});

const postgresSourceSchema = z.strictObject({
  host: z.string().min(1),
  port: portSchema.optional(),
  ...sourceFields,
});

const SOURCE_SECTIONS: RequiredSections = { SGCluster: 'sgCluster', Postgres: 'postgres' };

const sgStreamSourceSchema = z
  .strictObject({
    type: z.enum(['SGCluster', 'Postgres']),
    sgCluster: sgClusterSourceSchema.optional(),
    postgres: postgresSourceSchema.optional(),
  })
  .superRefine((source, ctx) => {
    const section = SOURCE_SECTIONS[source.type];
    if (section !== undefined && source[section as 'sgCluster' | 'postgres'] === undefined) {
      ctx.addIssue({ code: 'custom', path: [section], input: undefined, message: `is missing; expected a map, required when the source type is ${source.type}` });
    }
  });

/** The target types of the CRD besides pgcdc's own: SGCluster (written to as a Postgres target). */
export const SGSTREAM_ONLY_TARGET_TYPES = ['SGCluster'] as const;

const sgStreamTargetSchema = z
  .strictObject({
    type: z.enum([...SGSTREAM_ONLY_TARGET_TYPES, ...SUPPORTED_TARGET_TYPES]),
    sgCluster: sgClusterTargetSchema.optional(),
    ...supportedTargetSections(),
  })
  .superRefine(requireTargetSection({ ...SUPPORTED_REQUIRED_SECTIONS, SGCluster: 'sgCluster' }));

/** `spec.debeziumEngineProperties`: Debezium engine settings (none applies to pgcdc). */
const debeziumEnginePropertiesSchema = z.strictObject({
  offsetCommitPolicy: z.string().optional(),
  offsetFlushIntervalMs: z.int().optional(),
  offsetFlushTimeoutMs: z.int().optional(),
  errorsMaxRetries: z.int().optional(),
  errorsRetryDelayInitialMs: z.int().optional(),
  errorsRetryDelayMaxMs: z.int().optional(),
  transforms: z.record(z.string(), z.record(z.string(), z.string())).optional(),
  predicates: z.record(z.string(), z.record(z.string(), z.string())).optional(),
  recordProcessingThreads: z.int().optional(),
  recordProcessingShutdownTimeoutMs: z.int().optional(),
  recordProcessingOrder: z.enum(['ORDERED', 'UNORDERED']).optional(),
  recordProcessingWithSerialConsumer: z.boolean().optional(),
  taskManagementTimeoutMs: z.int().optional(),
});

export const sgStreamSchema = z.strictObject({
  apiVersion: z.literal(SGSTREAM_API_VERSION),
  kind: z.literal(SGSTREAM_KIND),
  metadata: objectMetaSchema,
  spec: z.strictObject({
    source: sgStreamSourceSchema,
    target: sgStreamTargetSchema,
    maxRetries: maxRetriesSchema,
    metadata: streamResourceMetadataSchema.optional(),
    pods: podsSchema.optional(),
    debeziumEngineProperties: debeziumEnginePropertiesSchema.optional(),
  }),
  /** Written by the operator; accepted so `kubectl get -o yaml` output loads. */
  status: z.record(z.string(), z.unknown()).optional(),
});

export type SgStreamDocument = z.output<typeof sgStreamSchema>;
