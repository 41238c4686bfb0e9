/**
 * `debeziumProperties` of a Postgres source: every key the SGStream CRD lists is accepted with its
 * type; the ones pgcdc honours become source settings, every other one becomes a warning.
 */
import { z } from 'zod';
import { millisecondsSchema, stringMapSchema } from './common-schemas.js';
import { isDeepStrictEqual } from 'node:util';
import { type ConfigPath, type ConfigProblems, describeValue, formatPath } from './config-issues.js';
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
  columnTruncateToLengthChars: applied.columnTruncateToLengthChars.optional().describe('Character columns whose values are truncated: `"<length>:<regex over schema.table.column>"` entries.'),
  columnMaskWithLengthChars: applied.columnMaskWithLengthChars.optional().describe('Character columns whose values are masked with `<length>` asterisks: `"<length>:<regex over schema.table.column>"` entries.'),
  columnMaskHash: applied.columnMaskHash.optional().describe('Character columns masked with a salted hash, by algorithm and salt (hashing strategy 1).'),
  columnMaskHashV2: applied.columnMaskHashV2.optional().describe('As columnMaskHash, hashing strategy 2 (the UTF-8 bytes of the value).'),
  columnPropagateSourceType: strings.optional().describe('Columns whose original type is added to the schema.'),
  datatypePropagateSourceType: strings.optional().describe('Data types whose original type is added to the schema.'),
  messageKeyColumns: applied.messageKeyColumns.optional().describe('Custom message key columns per table: `"<regex over schema.table>:<column>,<column>"` entries.'),
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
  heartbeatIntervalMs: millisecondsSchema(0).optional().describe('Milliseconds between heartbeats (0: none).'),
  heartbeatActionQuery: applied.heartbeatActionQuery.optional().describe('Query run on the source at each heartbeat.'),
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
  captureDdl: applied.captureDdl.optional().describe('pgcdc extension (not in the SGStream CRD): capture DDL and emit schema-change events, as spec.source.postgres.captureDdl.'),
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
  heartbeatIntervalMs: 'heartbeatInterval',
  heartbeatActionQuery: 'heartbeatActionQuery',
  slotMaxRetries: 'slotMaxRetries',
  slotRetryDelayMs: 'slotRetryDelayMs',
  snapshotMaxThreads: 'snapshotParallelism',
  incrementalSnapshotChunkSize: 'incrementalSnapshotChunkRows',
  snapshotIncludeCollectionList: 'snapshotIncludes',
  signalDataCollection: 'signalTable',
  columnMaskWithLengthChars: 'columnMaskWithLengthChars',
  columnMaskHash: 'columnMaskHash',
  columnMaskHashV2: 'columnMaskHashV2',
  columnTruncateToLengthChars: 'columnTruncateToLengthChars',
  messageKeyColumns: 'messageKeyColumns',
  captureDdl: 'captureDdl',
} as const satisfies Partial<Record<DebeziumPropertyName, SourceOptionName>>;

/** Properties whose value is written differently in the source setting they set. */
const CONVERTED_VALUES: Partial<Record<DebeziumPropertyName, (value: never) => unknown>> = {
  skippedOperations: (operations: string[]) => operations.filter((operation) => operation !== 'none'),
  heartbeatIntervalMs: (ms: number) => (ms === 0 ? '0' : `${ms}ms`),
};

/** Properties that are checked (an unsupported value is an error) but set nothing. */
const CHECKED_ONLY: readonly DebeziumPropertyName[] = ['pluginName'];

/**
 * What pgcdc does with a property it does not apply: `ignored` (a warning with the reason: it is
 * about machinery pgcdc does not have, and changes nothing that leaves the database), or `refused`
 * (an error: it would change which rows, columns or values leave, or how they are rendered, and
 * pgcdc does not do it). `allowed` values are what pgcdc does anyway and pass silently.
 * `renders` marks how values are rendered: refused for targets that receive events, ignored by
 * a Postgres target (values land in their own column types there).
 */
export type PropertyDisposition =
  | { readonly status: 'ignored'; readonly reason: string }
  | { readonly status: 'refused'; readonly reason: string; readonly allowed?: readonly unknown[]; readonly renders?: boolean };

const ignored = (reason: string): PropertyDisposition => ({ status: 'ignored', reason });
const refused = (reason: string, allowed?: readonly unknown[]): PropertyDisposition => ({ status: 'refused', reason, ...(allowed ? { allowed } : {}) });
const rendering = (reason: string, allowed?: readonly unknown[]): PropertyDisposition => ({ status: 'refused', reason, renders: true, ...(allowed ? { allowed } : {}) });

const NATURAL_JSON = 'pgcdc writes values as PostgreSQL\'s to_jsonb does (a Kafka target writes Debezium\'s with spec.target.kafka.valueRepresentations)';
const NO_TOPICS = 'pgcdc writes no Kafka topics yet';
const WATERMARKS = 'pgcdc\'s watermarks are logical decoding messages, written to no table';

/** Every property of the CRD pgcdc does not apply, and what it does with it. */
export const UNAPPLIED_DEBEZIUM_PROPERTIES = {
  slotFailover: ignored('pgcdc creates slots without failover; set it with pg_create_logical_replication_slot yourself on PostgreSQL 17+'),
  skipMessagesWithoutChange: refused('pgcdc emits every update, also those that change no included column', [false]),
  timePrecisionMode: rendering(`${NATURAL_JSON}: temporal values as ISO 8601 strings, not Debezium's epoch numbers`),
  decimalHandlingMode: rendering(`${NATURAL_JSON}: numeric values as exact JSON numbers`),
  hstoreHandlingMode: rendering(`${NATURAL_JSON}: hstore values as JSON objects (Debezium's map)`, ['map']),
  intervalHandlingMode: rendering(`${NATURAL_JSON}: intervals as their PostgreSQL text`),
  binaryHandlingMode: rendering(`${NATURAL_JSON}: bytea values as "\\\\x…" hex strings`),
  moneyFractionDigits: rendering(`${NATURAL_JSON}: money values as their text`),
  schemaNameAdjustmentMode: rendering('pgcdc writes schema names as they are', ['none']),
  fieldNameAdjustmentMode: rendering('pgcdc writes column names as they are', ['none']),
  columnPropagateSourceType: ignored('pgcdc\'s events carry no Kafka Connect schema, where Debezium puts the source type'),
  datatypePropagateSourceType: ignored('pgcdc\'s events carry no Kafka Connect schema, where Debezium puts the source type'),
  replicaIdentityAutosetValues: refused('pgcdc does not change tables\' replica identity; run ALTER TABLE … REPLICA IDENTITY FULL (or USING INDEX) yourself'),
  converters: refused('custom Kafka Connect converters (Java classes) cannot run in pgcdc'),
  snapshotIsolationMode: ignored('pgcdc reads every snapshot from one exported snapshot (repeatable read), consistent with the slot'),
  snapshotModeConfigurationBasedSnapshotData: ignored('only read with snapshotMode configuration_based, which pgcdc refuses'),
  snapshotModeConfigurationBasedSnapshotSchema: ignored('only read with snapshotMode configuration_based, which pgcdc refuses'),
  snapshotModeConfigurationBasedStartStream: ignored('only read with snapshotMode configuration_based, which pgcdc refuses'),
  snapshotModeConfigurationBasedSnapshotOnSchemaError: ignored('only read with snapshotMode configuration_based, which pgcdc refuses'),
  snapshotModeConfigurationBasedSnapshotOnDataError: ignored('only read with snapshotMode configuration_based, which pgcdc refuses'),
  snapshotModeCustomName: ignored('only read with snapshotMode custom, which pgcdc refuses'),
  snapshotLockingMode: ignored('pgcdc locks no table for a snapshot beyond a brief NOWAIT check per chunk'),
  snapshotLockingModeCustomName: ignored('only read with snapshotLockingMode custom'),
  snapshotQueryMode: refused('pgcdc reads every row of a table (select_all)', ['select_all']),
  snapshotQueryModeCustomName: ignored('only read with snapshotQueryMode custom, which pgcdc refuses'),
  snapshotLockTimeoutMs: ignored('pgcdc never waits for a lock to snapshot (NOWAIT)'),
  snapshotSelectStatementOverrides: refused('pgcdc snapshots every row of a table; to copy some rows, send an execute-snapshot signal with additional-conditions (docs/signals.md)'),
  eventProcessingFailureHandlingMode: refused('pgcdc stops on an event it cannot process (fail) and never skips one', ['fail']),
  maxBatchSize: ignored('pgcdc batches what is ready, bounded in bytes'),
  maxQueueSize: ignored('pgcdc\'s queue is bounded in bytes'),
  maxQueueSizeInBytes: ignored('pgcdc\'s queue holds 4 MiB'),
  pollIntervalMs: ignored('pgcdc delivers as soon as changes arrive'),
  includeUnknownDatatypes: ignored('pgcdc knows every type (a type without a rule of its own is written as its text), so no column is left out'),
  databaseInitialStatements: refused('pgcdc runs no statements of yours on its connections; set session defaults with ALTER ROLE … SET instead'),
  schemaRefreshMode: ignored('pgcdc follows the Relation messages of the stream'),
  snapshotDelayMs: ignored('pgcdc starts snapshots at once'),
  streamingDelayMs: ignored('pgcdc starts streaming at once'),
  snapshotFetchSize: ignored('pgcdc reads snapshots with COPY, in chunks of snapshotChunkRows'),
  slotStreamParams: refused('pgcdc chooses pgoutput\'s options itself (an option such as origin would change which changes leave)'),
  flushLsnSource: ignored('pgcdc always confirms to the slot what the target made durable'),
  retriableRestartConnectorWaitMs: ignored('pgcdc reconnects with its own backoff'),
  signalEnabledChannels: ignored('pgcdc reads signals from the signal table and `pgcdc signal`'),
  notificationEnabledChannels: ignored('pgcdc reports in its log and `pgcdc status`'),
  incrementalSnapshotWatermarkingStrategy: ignored(WATERMARKS),
  readOnly: ignored(WATERMARKS),
  xminFetchIntervalMs: ignored('pgcdc does not track the slot\'s xmin'),
  topicNamingStrategy: ignored(NO_TOPICS),
  topicDelimiter: ignored(NO_TOPICS),
  topicCacheSize: ignored(NO_TOPICS),
  topicHeartbeatPrefix: ignored(NO_TOPICS),
  topicTransaction: ignored(NO_TOPICS),
  customMetricTags: ignored('pgcdc has no metrics endpoint yet'),
  errorsMaxRetries: ignored('set spec.maxRetries'),
  databaseQueryTimeoutMs: ignored('pgcdc\'s catalog queries are short and cancelled on stop'),
  guardrailCollectionsMax: ignored('pgcdc captures every table the filters select'),
  guardrailCollectionsLimitAction: ignored('pgcdc captures every table the filters select'),
  extendedHeadersEnabled: ignored(NO_TOPICS),
} as const satisfies Record<Exclude<DebeziumPropertyName, keyof typeof APPLIED_DEBEZIUM_PROPERTIES | 'pluginName'>, PropertyDisposition>;

/** Whether the stream's target receives rendered events (every target but Postgres) or keeps rows in their own types. */
export type TargetValues = 'events' | 'rows';

/**
 * The source settings `properties` (found at `path`) set; for each property pgcdc does not
 * apply, a warning with the reason (ignored) or an error (refused). `none` in skippedOperations
 * means no operation is skipped; heartbeatIntervalMs becomes a duration text.
 */
export function sourceOptionsFromDebezium(
  properties: DebeziumProperties | undefined,
  path: ConfigPath,
  problems: ConfigProblems,
  target: TargetValues,
): Partial<SourceOptions> {
  const options: Partial<Record<SourceOptionName, unknown>> = {};
  for (const [key, value] of Object.entries(properties ?? {}) as [DebeziumPropertyName, unknown][]) {
    if (value === undefined || CHECKED_ONLY.includes(key)) continue;
    const setting = (APPLIED_DEBEZIUM_PROPERTIES as Partial<Record<DebeziumPropertyName, SourceOptionName>>)[key];
    if (setting !== undefined) {
      const convert = CONVERTED_VALUES[key] as ((value: unknown) => unknown) | undefined;
      options[setting] = convert ? convert(value) : value;
      continue;
    }
    const disposition: PropertyDisposition = (UNAPPLIED_DEBEZIUM_PROPERTIES as Record<string, PropertyDisposition>)[key]!;
    if (disposition.status === 'ignored') problems.warnNotApplied([...path, key], disposition.reason);
    else if (disposition.allowed?.some((allowed) => isDeepStrictEqual(allowed, value))) continue;
    else if (disposition.renders && target === 'rows') problems.warnNotApplied([...path, key], 'a Postgres target writes values in their own column types');
    else refuse(problems, [...path, key], value, disposition);
  }
  return options as Partial<SourceOptions>;
}

function refuse(problems: ConfigProblems, path: ConfigPath, value: unknown, disposition: Extract<PropertyDisposition, { status: 'refused' }>): void {
  const allowed = disposition.allowed === undefined ? '' : `; the only value accepted is ${disposition.allowed.map((v) => JSON.stringify(v)).join(' or ')}`;
  problems.add(path, `is ${describeValue(value, path)}, which pgcdc does not apply and would change what leaves the database: ${disposition.reason}${allowed}`, {
    hint: `remove ${formatPath(path)}${disposition.allowed === undefined ? '' : ' or set it to what pgcdc does'}`,
  });
}

/** How the configuration reference describes what pgcdc does with a property. */
export function debeziumPropertyStatus(property: string): string {
  const setting = (APPLIED_DEBEZIUM_PROPERTIES as Record<string, string>)[property];
  if (setting !== undefined) return setting === property ? 'applied' : `applied as \`${setting}\``;
  if (property === 'pluginName') return 'checked: `pgoutput` only';
  const disposition = (UNAPPLIED_DEBEZIUM_PROPERTIES as Record<string, PropertyDisposition>)[property];
  if (disposition === undefined) return 'unknown';
  if (disposition.status === 'ignored') return `ignored: ${disposition.reason}`;
  const allowed = disposition.allowed === undefined ? '' : ` (except ${disposition.allowed.map((v) => `\`${String(v)}\``).join(', ')})`;
  return `refused${allowed}${disposition.renders ? ' with event targets, ignored by a Postgres target' : ''}: ${disposition.reason}`;
}
