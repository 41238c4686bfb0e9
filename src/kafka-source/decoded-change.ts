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

/** `RowValues.starts` of a SQL NULL. */
export const NULL_SPAN = -1;
/** `RowValues.starts` of an unchanged TOASTed value. */
export const UNCHANGED_SPAN = -2;

/**
 * The values of a row image as the record holds them: each value's JSON text is the bytes
 * `[starts[i], ends[i])` of `buf` (NULL_SPAN, UNCHANGED_SPAN otherwise), or `rendered[i]` where a
 * Connect schema's logical type was turned into pgcdc's representation. Targets taking JSON write
 * the bytes as they are (the whole object at once when it is laid out as they would write it:
 * `objectStart`); `texts()` gives them as strings (made once, when first asked).
 */
export class RowValues {
  readonly buf: Buffer;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly rendered: readonly (string | undefined)[] | undefined;
  /**
   * `[objectStart, objectEnd)`: the image's JSON object in `buf`, when every value is the record's
   * bytes or null (none UNCHANGED or rendered); objectStart is -1 otherwise.
   */
  readonly objectStart: number;
  readonly objectEnd: number;
  /** The values' bytes in all (a null counts 4), with `objectStart`. */
  readonly valueBytes: number;
  #texts: ColumnValue[] | undefined;

  constructor(buf: Buffer, starts: readonly number[], ends: readonly number[], rendered: readonly (string | undefined)[] | undefined, objectStart = -1, objectEnd = -1, valueBytes = 0) {
    this.buf = buf;
    this.starts = starts;
    this.ends = ends;
    this.rendered = rendered;
    this.objectStart = objectStart;
    this.objectEnd = objectEnd;
    this.valueBytes = valueBytes;
  }

  /** Values given as texts (Avro records, realigned images). */
  static ofTexts(texts: ColumnValue[]): RowValues {
    const values = new RowValues(EMPTY, texts.map((text) => (text === null ? NULL_SPAN : text === UNCHANGED ? UNCHANGED_SPAN : 0)), [], texts.map((text) => (typeof text === 'string' ? text : undefined)));
    values.#texts = texts;
    return values;
  }

  get length(): number {
    return this.starts.length;
  }

  /** The values as JSON texts, null and UNCHANGED. */
  texts(): readonly ColumnValue[] {
    if (this.#texts !== undefined) return this.#texts;
    const { buf, starts, ends, rendered } = this;
    const texts: ColumnValue[] = new Array(starts.length);
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i]!;
      texts[i] = start === NULL_SPAN ? null : start === UNCHANGED_SPAN ? UNCHANGED : (rendered?.[i] ?? buf.toString('utf8', start, ends[i]!));
    }
    return (this.#texts = texts);
  }
}

const EMPTY = Buffer.alloc(0);

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
  /** `before` and `after` as the record's bytes. */
  readonly beforeValues: RowValues | null;
  readonly afterValues: RowValues | null;
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
  /** The record's offset (below 2^53, as every offset a broker hands out in practice). */
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** The record's headers (read when needed: only a dead letter writes them). */
  readonly headers: ReadonlyMap<string, Buffer>;
  /** The record's timestamp, in milliseconds since the epoch. */
  readonly timestamp: number;
}

/** A record that is not a change event: dead-lettered (or stopping the stream) with its topic, partition and offset. */
export class NotAChangeEvent extends Error {}
