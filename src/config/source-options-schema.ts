/**
 * The tunable settings of a source, with pgcdc's defaults: set directly under
 * `spec.source.postgres` in native documents, or through `debeziumProperties` in either kind.
 */
import { z } from 'zod';
import type { HashColumnRule, LengthColumnRule } from '../decoding/values/column-masks.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { parseMessageKeyColumns } from './message-key-columns.js';
import {
  durationTextSchema,
  hashColumnRulesSchema,
  lengthColumnRulesSchema,
  messageKeyColumnsSchema,
  millisecondsSchema,
  parseDurationMs,
  publicationNameSchema,
  regexListSchema,
  slotNameSchema,
} from './common-schemas.js';
import {
  type ConnectionConfig,
  PUBLICATION_AUTOCREATE_MODES,
  SNAPSHOT_MODES,
  type SkippableOperation,
  type SourceConfig,
} from './stream-config.js';

export const SKIPPABLE_OPERATIONS = ['c', 'u', 'd', 't'] as const satisfies readonly SkippableOperation[];

/** The schemas of the settings, without defaults (debeziumProperties reuses them). */
export const sourceOptionValueSchemas = {
  snapshotMode: z.enum(SNAPSHOT_MODES),
  slotName: slotNameSchema,
  publicationName: publicationNameSchema,
  publicationAutocreateMode: z.enum(PUBLICATION_AUTOCREATE_MODES),
  publishViaPartitionRoot: z.boolean(),
  slotDropOnStop: z.boolean(),
  tombstonesOnDelete: z.boolean(),
  unavailableValuePlaceholder: z.string(),
  provideTransactionMetadata: z.boolean(),
  skippedOperations: z.array(z.enum(SKIPPABLE_OPERATIONS)),
  messagePrefixIncludeList: regexListSchema,
  messagePrefixExcludeList: regexListSchema,
  streamInProgressTransactions: z.boolean(),
  statusIntervalMs: millisecondsSchema(100),
  heartbeatInterval: durationTextSchema,
  heartbeatActionQuery: z.string().trim().min(1, 'is empty; expected an SQL statement'),
  slotMaxRetries: z.int().min(0).max(1000),
  slotRetryDelayMs: millisecondsSchema(0),
  snapshotParallelism: z.int().min(1).max(64),
  snapshotChunkRows: z.int().min(1),
  incrementalSnapshotChunkRows: z.int().min(1).max(1_000_000),
  snapshotIncludes: regexListSchema,
  signalTable: z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'is not schema.table'),
  tableDiscoveryIntervalMs: millisecondsSchema(0),
  skipDropReplicationSlotAndPublicationOnTombstone: z.boolean(),
  columnMaskWithLengthChars: lengthColumnRulesSchema,
  columnMaskHash: hashColumnRulesSchema,
  columnMaskHashV2: hashColumnRulesSchema,
  columnTruncateToLengthChars: lengthColumnRulesSchema,
  messageKeyColumns: messageKeyColumnsSchema,
  captureDdl: z.boolean(),
  rowFilters: z.record(z.string(), z.string().trim().min(1, 'is empty; expected an SQL boolean expression')).superRefine((filters, ctx) => {
    for (const table of Object.keys(filters)) {
      if (/^[^.\s]+\.[^.\s]+$/.test(table)) continue;
      ctx.addIssue({ code: 'custom', path: [table], input: table, message: `names "${table}", which is not schema.table (the exact names, e.g. public.orders)` });
    }
  }),
};

const v = sourceOptionValueSchemas;

/** The settings with their defaults and documentation. */
export const sourceOptionsShape = {
  snapshotMode: v.snapshotMode
    .default('initial')
    .describe('When to copy existing rows before streaming (Debezium snapshot modes; `never` and `no_data` skip the copy, `initial_only` stops after it).'),
  slotName: v.slotName
    .optional()
    .describe('Logical replication slot the stream reads from; created when missing.')
    .meta({ defaultText: 'pgcdc_<metadata.name> (characters outside [a-z0-9_] replaced by _)' }),
  publicationName: v.publicationName
    .optional()
    .describe('Publication that selects the tables the slot decodes.')
    .meta({ defaultText: 'pgcdc_<metadata.name> (characters outside [a-z0-9_] replaced by _)' }),
  publicationAutocreateMode: v.publicationAutocreateMode
    .default('filtered')
    .describe('Whether pgcdc creates the publication when missing: for all tables, for the tables the filters select, or not at all.'),
  publishViaPartitionRoot: v.publishViaPartitionRoot
    .default(false)
    .describe('Report changes of partitions as changes of their partitioned root table.'),
  slotDropOnStop: v.slotDropOnStop.default(false).describe('Drop the replication slot when the stream stops gracefully.'),
  tombstonesOnDelete: v.tombstonesOnDelete.default(true).describe('Follow each delete with a tombstone record (written by targets with keyed records).'),
  unavailableValuePlaceholder: v.unavailableValuePlaceholder
    .default('__debezium_unavailable_value')
    .describe('What an unchanged TOASTed value that the server did not send is rendered as.'),
  provideTransactionMetadata: v.provideTransactionMetadata
    .default(false)
    .describe('Add a `transaction` block to each event and emit BEGIN/END transaction records.'),
  skippedOperations: v.skippedOperations
    .default([])
    .describe('Operations not to emit: `c` create, `u` update, `d` delete, `t` truncate.'),
  messagePrefixIncludeList: v.messagePrefixIncludeList
    .default([])
    .describe('Regular expressions over logical decoding message prefixes to emit (empty: all).'),
  messagePrefixExcludeList: v.messagePrefixExcludeList
    .default([])
    .describe('Regular expressions over logical decoding message prefixes to drop.'),
  streamInProgressTransactions: v.streamInProgressTransactions
    .default(true)
    .describe('Ask the server to stream large transactions before they commit (spilled to the state directory until commit).'),
  statusIntervalMs: v.statusIntervalMs.default(10_000).describe('Milliseconds between standby status updates sent to the server.'),
  heartbeatInterval: v.heartbeatInterval
    .default('0')
    .describe(
      "How often to run `heartbeatActionQuery` and ask the server for its position, so a slot whose database sees no captured changes confirms the WAL other databases write (Debezium's `heartbeat.interval.ms`, docs/heartbeats.md); also the Kafka target's `heartbeatInterval` when that is not set. 0: off.",
    ),
  heartbeatActionQuery: v.heartbeatActionQuery
    .optional()
    .describe(
      "SQL run on the source at each heartbeat, in autocommit on a connection of its own (Debezium's `heartbeat.action.query`), e.g. an upsert into a heartbeat table or `select pg_logical_emit_message(false, 'heartbeat', '')`. A failure is logged once per distinct error and the stream goes on. Needs `heartbeatInterval`.",
    ),
  slotMaxRetries: v.slotMaxRetries.default(6).describe('Attempts to acquire the slot while another connection holds it.'),
  slotRetryDelayMs: v.slotRetryDelayMs.default(10_000).describe('Milliseconds between attempts to acquire the slot.'),
  snapshotParallelism: v.snapshotParallelism.default(4).describe('Connections reading the initial snapshot in parallel.'),
  snapshotChunkRows: v.snapshotChunkRows
    .default(100_000)
    .describe('Rows per chunk of the initial snapshot: tables are split into ranges of heap pages holding about this many rows.'),
  incrementalSnapshotChunkRows: v.incrementalSnapshotChunkRows
    .default(10_000)
    .describe('Rows per chunk of incremental (watermark) snapshots, resumed snapshots and snapshots of new tables; a chunk is held in memory. (A Postgres target copies those tables in chunks of `snapshotChunkRows`.)'),
  snapshotIncludes: v.snapshotIncludes
    .default([])
    .describe('Regular expressions over schema.table choosing which captured tables the snapshot copies (empty: all of them).'),
  signalTable: v.signalTable
    .default('pgcdc.signals')
    .describe('Signal table (schema.table) with columns id, type, data; created when missing. Rows inserted there are signals, never events.'),
  tableDiscoveryIntervalMs: v.tableDiscoveryIntervalMs
    .default(10_000)
    .describe('Milliseconds between looks for new tables the filters select: they are added to the publication and snapshotted. 0 turns it off.'),
  skipDropReplicationSlotAndPublicationOnTombstone: v.skipDropReplicationSlotAndPublicationOnTombstone
    .default(false)
    .describe('After a `tombstone` signal, keep the replication slot and publication instead of dropping them (SGStream\'s option of the same name).'),
  columnMaskWithLengthChars: v.columnMaskWithLengthChars
    .default([])
    .describe('Character columns whose values (nulls too) are replaced by `<length>` asterisks, as Debezium\'s `column.mask.with.<length>.chars`: entries `"<length>:<regular expression over schema.table.column>"` (anchored, case-insensitive). Not with a Postgres target.'),
  columnMaskHash: v.columnMaskHash
    .default({})
    .describe('Character columns whose values are replaced by the hex salted hash of the value as Debezium\'s `column.mask.hash.<algorithm>.with.salt.<salt>` computes it (hashing strategy 1: the Java-serialized string), cut to the length of a `varchar(n)`/`char(n)` column: `{<algorithm>: {<salt>: [regular expressions over schema.table.column]}}`. Not with a Postgres target.'),
  columnMaskHashV2: v.columnMaskHashV2
    .default({})
    .describe('As `columnMaskHash`, with Debezium\'s hashing strategy 2 (the UTF-8 bytes of the value: the same hash as `digest(salt || value)` anywhere else).'),
  columnTruncateToLengthChars: v.columnTruncateToLengthChars
    .default([])
    .describe('Character columns whose values are cut to `<length>` characters (UTF-16 code units, as Debezium counts them), as Debezium\'s `column.truncate.to.<length>.chars`: entries `"<length>:<regular expression>"`. A column also named by a mask is masked. Not with a Postgres target.'),
  captureDdl: v.captureDdl
    .default(false)
    .describe('Capture DDL on the source (event triggers, installed at start; they need a superuser) and emit a schema-change event for each CREATE, ALTER, RENAME or DROP of a captured table, in commit order with its rows (docs/schema-changes.md). A role that cannot install the capture stops the stream. A Postgres target with `replicateDdl` captures DDL whatever this says.'),
  messageKeyColumns: v.messageKeyColumns
    .default([])
    .describe('The event key of matching tables, instead of the primary key or replica identity, as Debezium\'s `message.key.columns`: entries `"<regular expression over schema.table>:<column>,<column>"` (several separated by `;`). Not with a Postgres target (it applies changes by the table\'s own key).'),
  rowFilters: v.rowFilters
    .default({})
    .describe('Rows to capture per table: `schema.table` (exact names, not patterns) → an SQL boolean expression over its columns, e.g. `region = \'eu\' AND NOT archived`. Applied by the server (publication row filters, PostgreSQL 15+; needs publicationAutocreateMode `filtered`, or a user publication with the same filters) and by every snapshot; the columns used must be in the table\'s replica identity (docs/row-filters.md).'),
};

export const sourceOptionsSchema = z.strictObject(sourceOptionsShape);
export type SourceOptions = z.output<typeof sourceOptionsSchema>;
export type SourceOptionName = keyof SourceOptions;

/** Every setting at its default (slot and publication names are derived later). */
export const SOURCE_OPTION_DEFAULTS: SourceOptions = sourceOptionsSchema.parse({});

/**
 * The default slot and publication name of a stream: `pgcdc_` + the name lower-cased, every
 * character outside [a-z0-9_] replaced by `_`, cut to PostgreSQL's 63 characters.
 *
 * @example
 * defaultObjectName('orders-to-file'); // 'pgcdc_orders_to_file'
 */
export function defaultObjectName(streamName: string): string {
  return `pgcdc_${streamName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/** The complete source configuration of a stream. */
export function buildSourceConfig(
  streamName: string,
  connection: ConnectionConfig,
  filters: { readonly includes?: readonly string[]; readonly excludes?: readonly string[] },
  options: SourceOptions,
): SourceConfig {
  const { columnMaskWithLengthChars, columnMaskHash, columnMaskHashV2, columnTruncateToLengthChars, messageKeyColumns, heartbeatInterval, heartbeatActionQuery, ...settings } = options;
  return {
    connection,
    includes: [...(filters.includes ?? [])],
    excludes: [...(filters.excludes ?? [])],
    ...settings,
    heartbeatIntervalMs: sourceHeartbeatIntervalMs(options),
    ...(heartbeatActionQuery === undefined ? {} : { heartbeatActionQuery }),
    columnMasks: {
      maskWithChars: lengthRules(columnMaskWithLengthChars),
      hash: [...hashRules(columnMaskHash, 1), ...hashRules(columnMaskHashV2, 2)],
      truncateToChars: lengthRules(columnTruncateToLengthChars),
    },
    messageKeyColumns: messageKeyColumns.flatMap(parseMessageKeyColumns),
    slotName: options.slotName ?? defaultObjectName(streamName),
    publicationName: options.publicationName ?? defaultObjectName(streamName),
    skippedOperations: [...options.skippedOperations],
    messagePrefixIncludeList: [...options.messagePrefixIncludeList],
    messagePrefixExcludeList: [...options.messagePrefixExcludeList],
    snapshotIncludes: [...options.snapshotIncludes],
  };
}

/** Milliseconds between source heartbeats (0: off); also the Kafka target's default heartbeat interval. */
export function sourceHeartbeatIntervalMs(options: Pick<SourceOptions, 'heartbeatInterval'>): number {
  return parseDurationMs(options.heartbeatInterval) ?? 0;
}

/** `"<length>:<regex>"` entries (checked by the schema) as rules, one per entry. */
function lengthRules(entries: readonly string[]): LengthColumnRule[] {
  return entries.map((entry) => {
    const colon = entry.indexOf(':');
    return { length: Number(entry.slice(0, colon)), columns: [entry.slice(colon + 1)] };
  });
}

function hashRules(rules: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>, version: HashColumnRule['version']): HashColumnRule[] {
  return Object.entries(rules).flatMap(([algorithm, bySalt]) => Object.entries(bySalt).map(([salt, columns]) => ({ algorithm, salt, version, columns: [...columns] })));
}


/**
 * Settings that change the values or keys of events: a Postgres target copies rows as they are
 * and applies changes by the table's own key, so it refuses them (the data would leave unmasked).
 */
const EVENT_ONLY_SETTINGS = ['columnMaskWithLengthChars', 'columnMaskHash', 'columnMaskHashV2', 'columnTruncateToLengthChars', 'messageKeyColumns'] as const satisfies readonly SourceOptionName[];

/** An error for each event-only setting `options` gives, at the path `pathOf` tells, for a Postgres target. */
export function refuseEventOnlySettings(options: SourceOptions, pathOf: (setting: SourceOptionName) => ConfigPath, problems: ConfigProblems): void {
  for (const setting of EVENT_ONLY_SETTINGS) {
    const value: object = options[setting];
    if (Object.keys(value).length === 0) continue;
    problems.add(pathOf(setting), 'is not applied by a Postgres target, which copies rows as they are and applies changes by the table\'s own key: the data would leave unmasked', {
      hint: 'remove it, or stream to a target that receives events (File, CloudEvent, Webhook, PgLambda) and mask there',
    });
  }
}

/** An error when `rowFilters` is given with a publication FOR ALL TABLES, which cannot carry row filters. */
export function checkRowFilterSettings(options: SourceOptions, pathOf: (setting: SourceOptionName) => ConfigPath, problems: ConfigProblems): void {
  if (Object.keys(options.rowFilters).length === 0 || options.publicationAutocreateMode !== 'all_tables') return;
  problems.add(pathOf('rowFilters'), 'needs a publication that lists its tables, but publicationAutocreateMode is all_tables (FOR ALL TABLES cannot carry row filters)', {
    hint: 'set publicationAutocreateMode to filtered (pgcdc then publishes the captured tables, each with its filter), or remove rowFilters',
  });
}

/** An error when `heartbeatActionQuery` is given without `heartbeatInterval` (it would never run). */
export function checkHeartbeatSettings(options: SourceOptions, pathOf: (setting: SourceOptionName) => ConfigPath, problems: ConfigProblems): void {
  if (options.heartbeatActionQuery === undefined || sourceHeartbeatIntervalMs(options) > 0) return;
  problems.add(pathOf('heartbeatActionQuery'), 'is set but heartbeatInterval is 0, so it would never run', {
    hint: 'set heartbeatInterval (e.g. 10s), or remove heartbeatActionQuery',
  });
}
