/**
 * The event model every target consumes: row changes, truncates, logical messages, schema changes
 * and transaction boundaries, in commit order. Row images stay as references into the received
 * pgoutput bytes; `TableInfo` carries what is needed to render them (chosen once per relation).
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import type { JsonShape } from '../decoding/values/json-shape.js';
import type { ValueRenderer } from '../decoding/values/value-renderer.js';
import type { JsonWriter } from '../encoding/json-writer.js';
import type { Lsn } from '../source/lsn.js';

/** A column of a captured table, with its renderers resolved. */
export interface ColumnInfo {
  readonly name: string;
  readonly typeOid: number;
  readonly typeModifier: number;
  /** The SQL type, as `format_type` spells it (`numeric(12,2)`, `"my schema".mood[]`). */
  readonly typeName: string;
  /** Sent in `K` tuples (part of the replica identity). */
  readonly isReplicaIdentity: boolean;
  /** Declared NOT NULL. */
  readonly notNull: boolean;
  /** Passes the column filters: filtered-out columns are absent from events. */
  readonly included: boolean;
  /** `"name":` and `,"name":`, JSON-encoded once. */
  readonly jsonKey: string;
  readonly jsonKeyAfterComma: string;
  /** The JSON shape of the values `render` writes (for schemas of the events). */
  readonly shape: JsonShape;
  readonly render: ValueRenderer;
  /** Writes the unchanged-TOAST placeholder rendered for this column's type. */
  readonly renderUnchanged: (w: JsonWriter) => void;
  /** Writes a null of this column: `null`, or a column mask's replacement. */
  readonly renderNull: (w: JsonWriter) => void;
}

/** A captured table as described by the latest Relation message. */
export interface TableInfo {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  /** `d`, `n`, `f` or `i`, as in pg_class.relreplident. */
  readonly replicaIdentity: string;
  /** Every column the server sends, in tuple order. */
  readonly columns: readonly ColumnInfo[];
  /** Indexes (into `columns`) of the event key: the primary key, else the replica identity index. */
  readonly keyColumns: readonly number[];
  /** Passes the table filters; changes of excluded tables are dropped. */
  readonly included: boolean;
  /** The signal table: its rows are signals, never events. */
  readonly isSignalTable: boolean;
  /** `"schema":"…","table":"…"`, JSON-encoded once. */
  readonly sourceJson: string;
  /** Fields with fixed values written after the columns of each row image (`spec.transform.addFields`): `"k":v,…`, encoded once. */
  readonly addedFieldsJson?: string;
}

/** The transaction an event belongs to. */
export interface TransactionInfo {
  readonly xid: number;
  /** LSN of the commit record (Begin's final LSN). */
  readonly commitLsn: Lsn;
  readonly commitTimeMicros: number;
  /** Commit LSN of the transaction before this one, 0 when unknown. */
  readonly previousCommitLsn: Lsn;
  /** Replication origin, when the change was replayed from elsewhere. */
  origin: string | undefined;
}

/**
 * Debezium's `source.snapshot` of a read event: the first and last of the initial snapshot, the
 * others, and reads of an incremental (watermark) snapshot.
 */
export type SnapshotMarker = 'first' | 'true' | 'last' | 'incremental';

/** An insert (`c`), update (`u`), delete (`d`) or snapshot read (`r`). */
export interface RowEvent {
  readonly kind: 'row';
  readonly op: 'c' | 'u' | 'd' | 'r';
  readonly table: TableInfo;
  readonly lsn: Lsn;
  readonly txn: TransactionInfo;
  /** Old row: `K` (key columns only), `O` (full row) or null. */
  readonly before: TupleRef | null;
  readonly after: TupleRef | null;
  /** Set on snapshot reads (`op: 'r'`) only. */
  readonly snapshot?: SnapshotMarker;
  /**
   * Where a transform function sent the event, instead of its table's destination: a Kafka topic,
   * NATS subject, Redis stream key or RabbitMQ routing key; the URL path of CloudEvent requests.
   */
  readonly destination?: string;
  /** The record's id when it does not come from a WAL position (a change read from Kafka: `topic:partition:offset`). */
  readonly recordId?: string;
}

export interface TruncateEvent {
  readonly kind: 'truncate';
  readonly table: TableInfo;
  readonly lsn: Lsn;
  readonly txn: TransactionInfo;
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  readonly recordId?: string;
}

/** A `pg_logical_emit_message` message; `txn` is null for non-transactional ones. */
export interface MessageEvent {
  readonly kind: 'message';
  readonly lsn: Lsn;
  readonly txn: TransactionInfo | null;
  readonly prefix: string;
  readonly content: Buffer;
}

/** A column of a table as a schema-change event lists it (docs/schema-changes.md). */
export interface SchemaColumn {
  readonly name: string;
  /** The SQL type, as `format_type` spells it (`numeric(12,2)`, `public.mood[]`). */
  readonly type: string;
  readonly nullable: boolean;
  /** The default expression, null when none. */
  readonly default: string | null;
  /** Part of the primary key. */
  readonly primaryKey: boolean;
}

/**
 * A DDL command that created, altered, renamed or dropped a captured table (from the source's
 * `pgcdc.ddl` message), in commit order with the rows around it. `before`/`after` are the table's
 * columns before and after the command, null where the table did not exist.
 */
export interface SchemaChangeEvent {
  readonly kind: 'schema';
  readonly operation: 'CREATE' | 'ALTER' | 'RENAME' | 'DROP';
  /** The table's oid on the source. */
  readonly oid: number;
  /** The table's name after the command (its name before it for a DROP). */
  readonly schema: string;
  readonly table: string;
  /** The name before a RENAME (or a move to another schema), else null. */
  readonly previous: { readonly schema: string; readonly table: string } | null;
  readonly before: readonly SchemaColumn[] | null;
  readonly after: readonly SchemaColumn[] | null;
  /** The command tag, e.g. `ALTER TABLE`. */
  readonly commandTag: string;
  /** The statement text as the client sent it (`current_query()`), null when unknown. */
  readonly query: string | null;
  readonly lsn: Lsn;
  readonly txn: TransactionInfo;
}

export interface BeginEvent {
  readonly kind: 'begin';
  readonly txn: TransactionInfo;
}

export interface CommitEvent {
  readonly kind: 'commit';
  readonly txn: TransactionInfo;
  /** End of the commit record: the position acknowledged once this transaction is durable. */
  readonly endLsn: Lsn;
}

export type StreamEvent = RowEvent | TruncateEvent | MessageEvent | SchemaChangeEvent | BeginEvent | CommitEvent;
export type StreamEventKind = StreamEvent['kind'];

/** A group of consecutive events handed to a target in one call. */
export interface EventBatch {
  readonly events: readonly StreamEvent[];
}
