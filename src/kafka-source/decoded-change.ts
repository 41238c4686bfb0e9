/**
 * What a record read from a change topic is, once decoded (`change-message-decoder`): a row change
 * with each column's value as JSON text in pgcdc's representation (PostgreSQL's `to_jsonb`), a
 * truncate, a logical decoding message, a tombstone, a transaction BEGIN/END record or a heartbeat.
 * The Kafka source turns the row changes and truncates into stream events for any target.
 */

/** A column value a row image does not carry: an unchanged TOASTed value (Debezium's placeholder). */
export const UNCHANGED = Symbol('unchanged TOAST value');

/** A column's value: its JSON text (`123`, `"a"`, `{"k":1}`), null for SQL NULL, or UNCHANGED. */
export type ColumnValue = string | null | typeof UNCHANGED;

export interface DecodedRow {
  readonly kind: 'row';
  readonly op: 'c' | 'u' | 'd' | 'r';
  readonly schema: string;
  readonly table: string;
  /** The row images' column names, in the record's order (`after`'s, else `before`'s). */
  readonly columns: readonly string[];
  /** The record key's field names (the table's key), in key order; empty when the record has no key. */
  readonly keyColumns: readonly string[];
  /** The record key's values (JSON texts, as `before`/`after`), aligned with `keyColumns`. */
  readonly key: readonly ColumnValue[];
  /** Aligned with `columns`; null when the record has no such image. */
  readonly before: readonly ColumnValue[] | null;
  readonly after: readonly ColumnValue[] | null;
  /** `source.lsn`, `source.txId`, `source.ts_ms` of the change when the record has them. */
  readonly sourceLsn: number | undefined;
  readonly txId: number | undefined;
  readonly tsMs: number | undefined;
  /** `source.snapshot` of a read (`op: 'r'`): `first`, `true`, `last` or `incremental`. */
  readonly snapshot: 'first' | 'true' | 'last' | 'incremental' | undefined;
}

export interface DecodedTruncate {
  readonly kind: 'truncate';
  readonly schema: string;
  readonly table: string;
  readonly sourceLsn: number | undefined;
  readonly txId: number | undefined;
  readonly tsMs: number | undefined;
}

/** A logical decoding message (Debezium's `op: "m"`). */
export interface DecodedMessage {
  readonly kind: 'message';
  readonly prefix: string;
  readonly content: Buffer;
  readonly transactional: boolean;
  readonly sourceLsn: number | undefined;
}

/** Records a sink passes over: a tombstone (null value after a delete), BEGIN/END transaction metadata, a heartbeat. */
export interface DecodedControl {
  readonly kind: 'tombstone' | 'transaction' | 'heartbeat';
}

export type DecodedChange = DecodedRow | DecodedTruncate | DecodedMessage | DecodedControl;

/** A Kafka record as the consumer hands it over. */
export interface KafkaMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyMap<string, Buffer>;
  readonly timestamp: bigint;
}

/** A record that is not a change event: dead-lettered (or stopping the stream) with its topic, partition and offset. */
export class NotAChangeEvent extends Error {}
