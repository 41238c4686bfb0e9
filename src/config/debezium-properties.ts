/**
 * `debeziumProperties` of a Postgres source: every key the SGStream CRD lists is accepted with its
 * type; the ones pgcdc honours become source settings, every other one becomes a warning.
 */
import { z } from 'zod';
import { stringMapSchema } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { type SourceOptionName, type SourceOptions, SKIPPABLE_OPERATIONS, sourceOptionValueSchemas as applied } from './source-options-schema.js';
import { PUBLICATION_AUTOCREATE_MODES, SNAPSHOT_MODES } from './stream-config.js';

const strings = z.array(z.string());
const int = z.int();
const bool = z.boolean();
const str = z.string();

const pluginNameSchema = z.enum(['pgoutput', 'decoderbufs']).superRefine((plugin, ctx) => {
  if (plugin === 'decoderbufs') {
    ctx.addIssue({
      code: 'custom',
      input: plugin,
      message: 'is "decoderbufs"; expected pgoutput (pgcdc decodes only the pgoutput plugin built into PostgreSQL)',
      params: { hint: 'remove pluginName or set it to pgoutput; pgoutput needs no server extension' },
    });
  }
});

/** An enumeration whose Debezium-only values get their own message instead of a near match. */
function debeziumEnum<const T extends readonly [string, ...string[]]>(values: T, debeziumOnly: readonly string[]) {
  return z.enum(values, {
    error: (issue) =>
      typeof issue.input === 'string' && debeziumOnly.includes(issue.input)
        ? `is "${issue.input}", a Debezium value pgcdc does not support; expected one of: ${values.join(', ')}`
        : undefined,
  });
}

const skippedOperationsSchema = z.array(z.enum([...SKIPPABLE_OPERATIONS, 'none'])).superRefine((operations, ctx) => {
  if (operations.includes('none') && operations.length > 1) {
    ctx.addIssue({ code: 'custom', input: operations, message: 'lists "none" with other operations; expected either [none] or a list of c, u, d, t' });
  }
});

/** Every property of the Debezium PostgreSQL connector the CRD lists, camelCase. */
export const debeziumPropertiesShape = {
  pluginName: pluginNameSchema.optional().describe('Logical decoding plugin; only `pgoutput` is supported.'),
  slotName: applied.slotName.optional().describe('Replication slot name.'),
  slotDropOnStop: applied.slotDropOnStop.optional().describe('Drop the slot on a graceful stop.'),
  slotFailover: bool.optional().describe('Create a failover slot (PostgreSQL 17+).'),
  publicationName: applied.publicationName.optional().describe('Publication name.'),
  skipMessagesWithoutChange: bool.optional().describe('Skip updates that change no included column.'),
  timePrecisionMode: str.optional().describe('How temporal values are represented.'),
  decimalHandlingMode: str.optional().describe('How numeric/decimal values are represented.'),
  hstoreHandlingMode: str.optional().describe('How hstore values are represented.'),
  intervalHandlingMode: str.optional().describe('How interval values are represented.'),
  tombstonesOnDelete: applied.tombstonesOnDelete.optional().describe('Emit a tombstone after each delete.'),
  columnTruncateToLengthChars: strings.optional().describe('Columns whose text values are truncated.'),
  columnMaskWithLengthChars: strings.optional().describe('Columns whose text values are masked with asterisks.'),
  columnMaskHash: z.record(z.string(), z.record(z.string(), strings)).optional().describe('Columns masked with a salted hash, by algorithm and salt.'),
  columnMaskHashV2: z.record(z.string(), z.record(z.string(), strings)).optional().describe('As columnMaskHash, hashing strategy version 2.'),
  columnPropagateSourceType: strings.optional().describe('Columns whose original type is added to the schema.'),
  datatypePropagateSourceType: strings.optional().describe('Data types whose original type is added to the schema.'),
  messageKeyColumns: strings.optional().describe('Custom message key columns per table.'),
  publicationAutocreateMode: debeziumEnum(PUBLICATION_AUTOCREATE_MODES, ['no_tables']).optional().describe('Publication creation mode.'),
  replicaIdentityAutosetValues: strings.optional().describe('Replica identities to set on tables at start.'),
  binaryHandlingMode: str.optional().describe('How bytea values are represented.'),
  schemaNameAdjustmentMode: str.optional().describe('Schema name adjustment for converters.'),
  fieldNameAdjustmentMode: str.optional().describe('Field name adjustment for converters.'),
  moneyFractionDigits: int.optional().describe('Fraction digits of money values.'),
  messagePrefixIncludeList: applied.messagePrefixIncludeList.optional().describe('Logical message prefixes to emit.'),
  messagePrefixExcludeList: applied.messagePrefixExcludeList.optional().describe('Logical message prefixes to drop.'),
  converters: z.record(z.string(), stringMapSchema).optional().describe('Custom converters and their settings.'),
  snapshotIsolationMode: str.optional().describe('Isolation level of the snapshot transaction.'),
  snapshotMode: debeziumEnum(SNAPSHOT_MODES, ['configuration_based', 'custom']).optional().describe('When to snapshot.'),
  snapshotModeConfigurationBasedSnapshotData: bool.optional().describe('configuration_based mode: snapshot data.'),
  snapshotModeConfigurationBasedSnapshotSchema: bool.optional().describe('configuration_based mode: snapshot schema.'),
  snapshotModeConfigurationBasedStartStream: bool.optional().describe('configuration_based mode: stream after the snapshot.'),
  snapshotModeConfigurationBasedSnapshotOnSchemaError: bool.optional().describe('configuration_based mode: snapshot schema on error.'),
  snapshotModeConfigurationBasedSnapshotOnDataError: bool.optional().describe('configuration_based mode: snapshot data on error.'),
  snapshotModeCustomName: str.optional().describe('Custom snapshotter name.'),
  snapshotLockingMode: str.optional().describe('Table locks taken during the snapshot.'),
  snapshotLockingModeCustomName: str.optional().describe('Custom snapshot lock name.'),
  snapshotQueryMode: str.optional().describe('How snapshot queries are built.'),
  snapshotQueryModeCustomName: str.optional().describe('Custom snapshot query name.'),
  snapshotIncludeCollectionList: applied.snapshotIncludes.optional().describe('Tables to include in the snapshot.'),
  snapshotLockTimeoutMs: int.optional().describe('Lock wait limit during the snapshot.'),
  snapshotSelectStatementOverrides: stringMapSchema.optional().describe('Per-table snapshot SELECT statements.'),
  eventProcessingFailureHandlingMode: str.optional().describe('Reaction to event processing failures.'),
  maxBatchSize: int.optional().describe('Largest batch of events.'),
  maxQueueSize: int.optional().describe('Records the internal queue holds.'),
  maxQueueSizeInBytes: int.optional().describe('Bytes the internal queue holds.'),
  pollIntervalMs: int.optional().describe('Wait for new events between polls.'),
  includeUnknownDatatypes: bool.optional().describe('Emit columns of unknown types.'),
  databaseInitialStatements: strings.optional().describe('SQL run on each new connection.'),
  statusUpdateIntervalMs: applied.statusIntervalMs.optional().describe('Milliseconds between standby status updates.'),
  heartbeatIntervalMs: int.optional().describe('Heartbeat message interval.'),
  heartbeatActionQuery: str.optional().describe('Query run on each heartbeat.'),
  schemaRefreshMode: str.optional().describe('When the in-memory schema is refreshed.'),
  snapshotDelayMs: int.optional().describe('Delay before the snapshot.'),
  streamingDelayMs: int.optional().describe('Delay before streaming.'),
  snapshotFetchSize: int.optional().describe('Rows fetched per snapshot batch.'),
  slotStreamParams: stringMapSchema.optional().describe('Extra options for the decoding plugin.'),
  slotMaxRetries: applied.slotMaxRetries.optional().describe('Attempts to acquire a busy slot.'),
  slotRetryDelayMs: applied.slotRetryDelayMs.optional().describe('Milliseconds between attempts to acquire the slot.'),
  unavailableValuePlaceholder: applied.unavailableValuePlaceholder.optional().describe('Placeholder of unchanged TOASTed values.'),
  provideTransactionMetadata: applied.provideTransactionMetadata.optional().describe('Add transaction metadata.'),
  publishViaPartitionRoot: applied.publishViaPartitionRoot.optional().describe('Publish partition changes as the root table.'),
  flushLsnSource: bool.optional().describe('Confirm processed LSNs to the slot.'),
  retriableRestartConnectorWaitMs: int.optional().describe('Wait before restarting after a retriable error.'),
  skippedOperations: skippedOperationsSchema.optional().describe('Operations not to emit: c, u, d, t, or none.'),
  signalDataCollection: applied.signalTable.optional().describe('Signal table (schema.table).'),
  signalEnabledChannels: strings.optional().describe('Enabled signal channels.'),
  notificationEnabledChannels: strings.optional().describe('Enabled notification channels.'),
  incrementalSnapshotChunkSize: applied.incrementalSnapshotChunkRows.optional().describe('Rows per incremental snapshot chunk.'),
  incrementalSnapshotWatermarkingStrategy: str.optional().describe('Incremental snapshot watermarking.'),
  readOnly: bool.optional().describe('Incremental snapshots without writing watermarks.'),
  xminFetchIntervalMs: int.optional().describe('How often the slot xmin is read.'),
  topicNamingStrategy: str.optional().describe('Topic naming strategy class.'),
  topicDelimiter: str.optional().describe('Topic name delimiter.'),
  topicCacheSize: int.optional().describe('Topic name cache size.'),
  topicHeartbeatPrefix: str.optional().describe('Heartbeat topic prefix.'),
  topicTransaction: str.optional().describe('Transaction topic name.'),
  snapshotMaxThreads: applied.snapshotParallelism.optional().describe('Connections reading the snapshot in parallel.'),
  customMetricTags: stringMapSchema.optional().describe('Extra metric tags.'),
  errorsMaxRetries: int.optional().describe('Retries after retriable errors.'),
  databaseQueryTimeoutMs: int.optional().describe('Query timeout.'),
  guardrailCollectionsMax: int.optional().describe('Most tables the stream may capture.'),
  guardrailCollectionsLimitAction: str.optional().describe('What happens beyond guardrailCollectionsMax.'),
  extendedHeadersEnabled: bool.optional().describe('Add context headers to messages.'),
};

export const debeziumPropertiesSchema = z.strictObject(debeziumPropertiesShape);
export type DebeziumProperties = z.output<typeof debeziumPropertiesSchema>;
type DebeziumPropertyName = keyof DebeziumProperties;

/** The properties pgcdc honours, and the source setting each one sets. */
export const APPLIED_DEBEZIUM_PROPERTIES = {
  slotName: 'slotName',
  publicationName: 'publicationName',
  publicationAutocreateMode: 'publicationAutocreateMode',
  snapshotMode: 'snapshotMode',
  tombstonesOnDelete: 'tombstonesOnDelete',
  unavailableValuePlaceholder: 'unavailableValuePlaceholder',
  provideTransactionMetadata: 'provideTransactionMetadata',
  skippedOperations: 'skippedOperations',
  messagePrefixIncludeList: 'messagePrefixIncludeList',
  messagePrefixExcludeList: 'messagePrefixExcludeList',
  publishViaPartitionRoot: 'publishViaPartitionRoot',
  slotDropOnStop: 'slotDropOnStop',
  statusUpdateIntervalMs: 'statusIntervalMs',
  slotMaxRetries: 'slotMaxRetries',
  slotRetryDelayMs: 'slotRetryDelayMs',
  snapshotMaxThreads: 'snapshotParallelism',
  incrementalSnapshotChunkSize: 'incrementalSnapshotChunkRows',
  snapshotIncludeCollectionList: 'snapshotIncludes',
  signalDataCollection: 'signalTable',
} as const satisfies Partial<Record<DebeziumPropertyName, SourceOptionName>>;

/** Properties that are checked (an unsupported value is an error) but set nothing. */
const CHECKED_ONLY: readonly DebeziumPropertyName[] = ['pluginName'];

/**
 * The source settings `properties` (found at `path`) set; a warning for each accepted property
 * pgcdc does not apply. `none` in skippedOperations means no operation is skipped.
 */
export function sourceOptionsFromDebezium(
  properties: DebeziumProperties | undefined,
  path: ConfigPath,
  problems: ConfigProblems,
): Partial<SourceOptions> {
  const options: Partial<Record<SourceOptionName, unknown>> = {};
  for (const [key, value] of Object.entries(properties ?? {}) as [DebeziumPropertyName, unknown][]) {
    if (value === undefined || CHECKED_ONLY.includes(key)) continue;
    const setting = (APPLIED_DEBEZIUM_PROPERTIES as Partial<Record<DebeziumPropertyName, SourceOptionName>>)[key];
    if (setting === undefined) problems.warnNotApplied([...path, key]);
    else options[setting] = key === 'skippedOperations' ? (value as string[]).filter((operation) => operation !== 'none') : value;
  }
  return options as Partial<SourceOptions>;
}
