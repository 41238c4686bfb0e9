/**
 * Encodes stream events as Debezium change events (JSON, payload form, one per line), either as the
 * value alone or as a `{"key","value"}` record. Follows Debezium's PostgreSQL connector (3.6): field
 * order, `source` block (origin included), primary-key changes as delete (+ tombstone) + create,
 * tombstones after deletes, truncate (`t`), message (`m`) and schema-change (`schema`, pgcdc's own) events, unchanged TOASTed values taken
 * from a REPLICA IDENTITY FULL old row, and transaction metadata (BEGIN/END + `transaction` block).
 * Options give the Kafka target Debezium's exact records where pgcdc's other targets differ on
 * purpose (key-only old rows, the unchanged TOAST list, transaction ids).
 */
import type { JsonWriter } from '../encoding/json-writer.js';
import type { RecordFormat, StreamConfig } from '../config/stream-config.js';
import type { Lsn } from '../source/lsn.js';
import { PGCDC_VERSION } from '../version.js';
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import type { JsonShape } from '../decoding/values/json-shape.js';
import type { CommitEvent, MessageEvent, RowEvent, SchemaChangeEvent, StreamEvent, TableInfo, TransactionInfo, TruncateEvent } from './stream-event.js';
import { schemaChangeJson } from './schema-change-json.js';
import { closeRowImage } from './copy-row.js';
import { keyChanged, writeKeyJson, writeTupleJson } from './tuple-json.js';

export interface DebeziumEncoderOptions {
  /** `source.name`: the logical server name (the stream name). */
  readonly serverName: string;
  /** `source.db`. */
  readonly database: string;
  /** `source.version`. */
  readonly version: string;
  readonly format: RecordFormat;
  /** Write a null-value record after each delete (record format only: a value line cannot hold one). */
  readonly tombstonesOnDelete: boolean;
  /** Add `transaction` blocks and BEGIN/END records. */
  readonly transactionMetadata: boolean;
  /**
   * Debezium's `skipped.operations`, applied to the records a primary-key change becomes (the
   * pipeline drops every other skipped event before it reaches the encoder).
   */
  readonly skippedOperations: readonly string[];
  /** Wraps each record in an envelope of the target's (value format only: CloudEvents). */
  readonly framing?: RecordFraming;
  /**
   * List the columns whose unchanged TOASTed value was not sent in `unchanged_toast_columns`
   * (pgcdc's addition; default true). Debezium writes no such field.
   */
  readonly unchangedToastColumns?: boolean;
  /**
   * Write a key-only old row (REPLICA IDENTITY DEFAULT or USING INDEX: deletes, primary-key
   * changes) with every column as Debezium does: the ones the server did not send null, or, NOT
   * NULL columns, Debezium's fallback value (default false: the key columns only).
   */
  readonly keyOnlyRowsInFull?: boolean;
  /**
   * How transaction ids are made (`transaction.id`, BEGIN/END `id`): `commit` (default) gives every
   * record of a transaction `<xid>:<commit LSN>`; `operation` gives each its own LSN as Debezium 3.6
   * does (`<xid>:<event LSN>`, END `<xid>:<end of the commit record>`; BEGIN keeps the commit LSN:
   * the stream does not carry the position of the Begin message).
   */
  readonly transactionIds?: 'commit' | 'operation';
  /**
   * The order of an END record's `data_collections`: `first-seen` (default), or `java-hash-map`,
   * the order in which Debezium's HashMap of counts iterates them.
   */
  readonly collectionOrder?: 'first-seen' | 'java-hash-map';
}

/** What every target takes from its stream for the encoder: names, version and event settings. */
export function streamEncoderOptions(stream: StreamConfig): Pick<DebeziumEncoderOptions, 'serverName' | 'database' | 'version' | 'transactionMetadata' | 'skippedOperations'> {
  return {
    serverName: stream.name,
    database: stream.source.connection.database,
    version: PGCDC_VERSION,
    transactionMetadata: stream.source.provideTransactionMetadata,
    skippedOperations: stream.source.skippedOperations,
  };
}

/**
 * What a target writes around each record: CloudEvents put the Debezium value in the `data` of an
 * envelope whose attributes depend on the record.
 */
export interface RecordFraming {
  /** Writes what comes before a record of `event`; `op` is its op, or `BEGIN`/`END` for transaction records. */
  open(w: JsonWriter, op: string, event: StreamEvent): void;
  /** What ends each record instead of the newline (`}\n` closes the envelope). */
  readonly close: string;
}

/** The `id` of a transaction in transaction metadata (BEGIN/END records and `transaction` blocks). */
export function transactionId(txn: TransactionInfo): string {
  return `${txn.xid}:${txn.commitLsn}`;
}

/** The `id` of a transaction's END record: `lsn` is the end of its commit record with `operation` ids. */
export function transactionEndId(txn: TransactionInfo, endLsn: Lsn, ids: DebeziumEncoderOptions['transactionIds']): string {
  return ids === 'operation' ? `${txn.xid}:${endLsn}` : transactionId(txn);
}

/**
 * `entries` (in insertion order) in the order a java.util.HashMap holding them iterates: by bucket
 * (the spread String.hashCode of the key, masked by the table size, 16 doubled while the map is
 * more than 3/4 full), insertion order within a bucket.
 */
export function javaHashMapOrder<T>(entries: readonly (readonly [string, T])[]): [string, T][] {
  let size = 16;
  while (entries.length > size * 0.75) size *= 2;
  const bucket = (key: string): number => {
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
    return (h ^ (h >>> 16)) & (size - 1);
  };
  return entries
    .map((entry, index) => ({ entry, index, bucket: bucket(entry[0]) }))
    .sort((a, b) => a.bucket - b.bucket || a.index - b.index)
    .map(({ entry }) => [entry[0], entry[1]]);
}

/** The end of a `source` block: `xmin` and the replication origin (name; its LSN is not kept). */
function sourceEnd(origin: string | undefined): string {
  return `,"xmin":null,"origin":${origin === undefined ? 'null' : JSON.stringify(origin)},"origin_lsn":null}`;
}

/** The end of a `source` block of a transaction without replication origin. */
const SOURCE_END = sourceEnd(undefined);

/** The data collection Debezium counts logical decoding messages under in transaction metadata. */
const MESSAGE_COLLECTION = 'LOGICAL_DECODING_MESSAGE';

/** Per-transaction counters for transaction metadata. */
interface TransactionProgress {
  txn: TransactionInfo;
  id: string;
  began: boolean;
  total: number;
  perCollection: Map<string, number>;
}

export class DebeziumJsonEncoder {
  readonly #options: DebeziumEncoderOptions;
  readonly #sourcePrefix: string;
  readonly #databaseJson: string;
  #txn: TransactionInfo | undefined;
  /** Pre-encoded `source` fragments of the current transaction, per snapshot marker and table. */
  readonly #sourceFragments = new Map<string, Map<TableInfo, SourceFragments>>();
  /** Pre-encoded endings (`xmin` … `ts_ns}` and newline) of this batch, per op. */
  readonly #endings = new Map<string, Buffer>();
  /** Counts encode() calls: pre-encoded tails are valid within one batch (they hold its time). */
  #batch = 0;
  #nowMs = 0;
  #progress: TransactionProgress | undefined;
  #nowJson = '';
  readonly #unchanged: string[] = [];
  readonly #framing: RecordFraming | undefined;
  /** What ends a record: the line end, after the record's closing brace in record format. */
  readonly #recordEnd: string;

  constructor(options: DebeziumEncoderOptions) {
    this.#options = options;
    this.#framing = options.framing;
    this.#recordEnd = `${options.format === 'record' ? '}' : ''}${options.framing?.close ?? '\n'}`;
    this.#sourcePrefix = `,"source":{"version":${JSON.stringify(options.version)},"connector":"postgresql","name":${JSON.stringify(options.serverName)},`;
    this.#databaseJson = JSON.stringify(options.database);
  }

  /** Encodes a batch; returns the number of records written. */
  encode(events: readonly StreamEvent[], w: JsonWriter, nowMs = Date.now()): number {
    this.#nowMs = nowMs;
    this.#nowJson = `,"ts_ms":${nowMs},"ts_us":${nowMs}000,"ts_ns":${nowMs}000000}`;
    this.#endings.clear();
    this.#batch++;
    let records = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      switch (event.kind) {
        case 'row':
          records += this.#row(w, event);
          break;
        case 'truncate':
          records += this.#truncate(w, event);
          break;
        case 'message':
          records += this.#message(w, event);
          break;
        case 'schema':
          records += this.#schemaChange(w, event);
          break;
        case 'begin':
          if (this.#options.transactionMetadata) this.#startProgress(event.txn);
          break;
        case 'commit':
          records += this.#commit(w, event);
          break;
      }
    }
    return records;
  }

  #row(w: JsonWriter, event: RowEvent): number {
    let records = this.#beginIfNeeded(w, event.txn, event);
    if (event.op === 'u' && keyChanged(event)) {
      // Debezium: a primary-key change is a delete of the old key, its tombstone, then a create.
      const skipped = this.#options.skippedOperations;
      if (!skipped.includes('d')) {
        records += this.#rowRecord(w, event, 'd', event.before, null);
        records += this.#tombstone(w, event.table, event.before);
      }
      if (!skipped.includes('c')) records += this.#rowRecord(w, event, 'c', null, event.after);
      return records;
    }
    records += this.#rowRecord(w, event, event.op, event.before, event.after);
    if (event.op === 'd') records += this.#tombstone(w, event.table, event.before);
    return records;
  }

  #rowRecord(w: JsonWriter, event: RowEvent, op: string, before: RowEvent['before'], after: RowEvent['after']): number {
    const record = this.#options.format === 'record';
    this.#framing?.open(w, op, event);
    if (record) {
      w.raw('{"key":');
      writeKeyJson(w, event.table, after ?? before, before);
      w.raw(',"value":');
    }
    w.raw('{"before":');
    if (before === null) w.raw('null');
    else if (before.kind === 'K' && this.#options.keyOnlyRowsInFull) writeKeyOnlyRowInFull(w, event.table, before);
    else writeTupleJson(w, event.table, before);
    w.raw(',"after":');
    const unchanged = this.#unchanged;
    unchanged.length = 0;
    if (after === null) w.raw('null');
    else if (event.before?.kind === 'O') writeTupleFilledFromOld(w, event.table, after, event.before, unchanged);
    else writeTupleJson(w, event.table, after, unchanged);
    const snapshot = event.snapshot ?? 'false';
    if (!this.#options.transactionMetadata && unchanged.length === 0 && snapshot !== 'incremental' && event.txn.origin === undefined) {
      // The common case: the source block, then an ending that is the same for the whole batch.
      this.#writeSourceAndEnding(w, event.txn, event.table, event.lsn, snapshot, op);
      return 1;
    }
    this.#writeSourceOpen(w, event.txn, event.table, event.lsn, snapshot);
    w.raw(sourceEnd(event.txn.origin));
    this.#writeTransactionBlock(w, event.txn, `${event.table.schema}.${event.table.table}`, event.lsn);
    w.raw(`,"op":"${op}"`);
    if (unchanged.length > 0 && this.#options.unchangedToastColumns !== false) {
      w.raw(',"unchanged_toast_columns":[');
      for (let i = 0; i < unchanged.length; i++) {
        if (i > 0) w.raw(',');
        w.string(unchanged[i]!);
      }
      w.raw(']');
    }
    w.raw(this.#nowJson);
    w.raw(this.#recordEnd);
    return 1;
  }

  /** `,"xmin":null,…},"transaction":null,"op":"…","ts_ms":…,"ts_us":…,"ts_ns":…}` and the line end. */
  #ending(op: string): Buffer {
    let ending = this.#endings.get(op);
    if (!ending) {
      ending = Buffer.from(`${SOURCE_END},"transaction":null,"op":"${op}"${this.#nowJson}${this.#recordEnd}`, 'latin1');
      this.#endings.set(op, ending);
    }
    return ending;
  }

  #tombstone(w: JsonWriter, table: TableInfo, before: RowEvent['before']): number {
    if (!this.#options.tombstonesOnDelete || this.#options.format !== 'record') return 0;
    w.raw('{"key":');
    writeKeyJson(w, table, before);
    w.raw(',"value":null}\n');
    return 1;
  }

  #truncate(w: JsonWriter, event: TruncateEvent): number {
    const records = this.#beginIfNeeded(w, event.txn, event);
    const record = this.#options.format === 'record';
    this.#framing?.open(w, 't', event);
    w.raw(record ? '{"key":null,"value":{"before":null,"after":null' : '{"before":null,"after":null');
    this.#writeSourceOpen(w, event.txn, event.table, event.lsn, 'false');
    w.raw(sourceEnd(event.txn.origin));
    this.#writeTransactionBlock(w, event.txn, `${event.table.schema}.${event.table.table}`, event.lsn);
    w.raw(',"op":"t"');
    w.raw(this.#nowJson);
    w.raw(this.#recordEnd);
    return records + 1;
  }

  /**
   * A message event, laid out as Debezium's message value: `op`, `ts_ms`, `source`, `transaction`,
   * `message`. A transactional message is an event of its transaction (counted under
   * `LOGICAL_DECODING_MESSAGE` in transaction metadata); a non-transactional one belongs to none.
   */
  #message(w: JsonWriter, event: MessageEvent): number {
    const records = event.txn ? this.#beginIfNeeded(w, event.txn, event) : 0;
    const record = this.#options.format === 'record';
    this.#framing?.open(w, 'm', event);
    if (record) {
      w.raw('{"key":{"prefix":');
      w.string(event.prefix);
      w.raw('},"value":');
    }
    w.raw(`{"op":"m","ts_ms":${this.#nowMs}`);
    this.#writeMessageSource(w, event.txn, event.lsn);
    if (event.txn) this.#writeTransactionBlock(w, event.txn, MESSAGE_COLLECTION, event.lsn);
    else w.raw(',"transaction":null');
    w.raw(',"message":{"prefix":');
    w.string(event.prefix);
    w.raw(`,"content":"${event.content.toString('base64')}"}}`);
    w.raw(this.#recordEnd);
    return records + 1;
  }

  /**
   * A schema-change event (pgcdc's, docs/schema-changes.md), laid out as a message value: `op`
   * (`schema`), `ts_ms`, `source` (with the table), `transaction` (counted under the table), then
   * `databaseName` and `schemaChange`; keyed by `{"databaseName"}` in record format, as Debezium
   * keys its schema change events.
   */
  #schemaChange(w: JsonWriter, event: SchemaChangeEvent): number {
    const records = this.#beginIfNeeded(w, event.txn, event);
    this.#framing?.open(w, 'schema', event);
    if (this.#options.format === 'record') w.utf8(`{"key":{"databaseName":${this.#databaseJson}},"value":`);
    w.raw(`{"op":"schema","ts_ms":${this.#nowMs}`);
    const fragments = this.#sourceFragmentsFor(event.txn, `"schema":${JSON.stringify(event.schema)},"table":${JSON.stringify(event.table)}`, 'false');
    w.fragment(fragments.beforeSequenceLsn);
    w.integer(event.lsn);
    w.fragment(fragments.beforeLsn);
    w.integer(event.lsn);
    w.raw(sourceEnd(event.txn.origin));
    this.#writeTransactionBlock(w, event.txn, `${event.schema}.${event.table}`, event.lsn);
    w.raw(`,"databaseName":`);
    w.utf8(this.#databaseJson);
    w.raw(',"schemaChange":');
    w.utf8(schemaChangeJson(event));
    w.raw('}');
    w.raw(this.#recordEnd);
    return records + 1;
  }

  #commit(w: JsonWriter, event: CommitEvent): number {
    const progress = this.#progress;
    if (!this.#options.transactionMetadata || !progress || progress.txn !== event.txn) return 0;
    this.#progress = undefined;
    if (!progress.began) return 0;
    const counts = this.#options.collectionOrder === 'java-hash-map' ? javaHashMapOrder([...progress.perCollection]) : [...progress.perCollection];
    const collections = counts.map(([name, count]) => `{"data_collection":${JSON.stringify(name)},"event_count":${count}}`);
    const id = transactionEndId(event.txn, event.endLsn, this.#options.transactionIds);
    // Debezium's field order: status, id, event_count, data_collections, ts_ms.
    const value = `{"status":"END","id":"${id}","event_count":${progress.total},"data_collections":[${collections.join(',')}],"ts_ms":${Math.floor(event.txn.commitTimeMicros / 1000)}}`;
    this.#writeTransactionRecord(w, id, value, 'END', event);
    return 1;
  }

  #startProgress(txn: TransactionInfo): void {
    this.#progress = { txn, id: transactionId(txn), began: false, total: 0, perCollection: new Map() };
  }

  /** Writes the BEGIN record before a transaction's first event (Debezium skips empty transactions). */
  #beginIfNeeded(w: JsonWriter, txn: TransactionInfo, event: StreamEvent): number {
    if (!this.#options.transactionMetadata) return 0;
    if (!this.#progress || this.#progress.txn !== txn) this.#startProgress(txn);
    const progress = this.#progress!;
    if (progress.began) return 0;
    progress.began = true;
    const value = `{"status":"BEGIN","id":"${progress.id}","event_count":null,"data_collections":null,"ts_ms":${Math.floor(txn.commitTimeMicros / 1000)}}`;
    this.#writeTransactionRecord(w, progress.id, value, 'BEGIN', event);
    return 1;
  }

  #writeTransactionRecord(w: JsonWriter, id: string, value: string, status: 'BEGIN' | 'END', event: StreamEvent): void {
    this.#framing?.open(w, status, event);
    w.raw(this.#options.format === 'record' ? `{"key":{"id":"${id}"},"value":${value}${this.#recordEnd}` : `${value}${this.#recordEnd}`);
  }

  #writeTransactionBlock(w: JsonWriter, txn: TransactionInfo, collection: string, lsn: Lsn): void {
    const progress = this.#progress;
    if (!this.#options.transactionMetadata || !progress || progress.txn !== txn) {
      w.raw(',"transaction":null');
      return;
    }
    const order = (progress.perCollection.get(collection) ?? 0) + 1;
    progress.perCollection.set(collection, order);
    progress.total += 1;
    const id = this.#options.transactionIds === 'operation' ? `${txn.xid}:${lsn}` : progress.id;
    w.raw(`,"transaction":{"id":"${id}","total_order":${progress.total},"data_collection_order":${order}}`);
  }

  /**
   * The `source` block of a transactional event and the batch's ending. Events that repeat an LSN
   * (snapshot reads all carry the consistent point) get it as one pre-encoded tail.
   */
  #writeSourceAndEnding(w: JsonWriter, txn: TransactionInfo, table: TableInfo, lsn: Lsn, snapshot: string, op: string): void {
    const fragments = this.#fragments(txn, table, snapshot);
    if (fragments.tail !== undefined && fragments.tailLsn === lsn && fragments.tailOp === op && fragments.tailBatch === this.#batch) {
      w.fragment(fragments.tail);
      return;
    }
    const ending = this.#ending(op);
    if (fragments.lastLsn === lsn) {
      const digits = Buffer.from(String(lsn), 'latin1');
      fragments.tail = Buffer.concat([fragments.beforeSequenceLsn, digits, fragments.beforeLsn, digits, ending]);
      fragments.tailLsn = lsn;
      fragments.tailOp = op;
      fragments.tailBatch = this.#batch;
      w.fragment(fragments.tail);
      return;
    }
    fragments.lastLsn = lsn;
    w.fragment(fragments.beforeSequenceLsn);
    w.integer(lsn);
    w.fragment(fragments.beforeLsn);
    w.integer(lsn);
    w.fragment(ending);
  }

  /**
   * The `source` block of a transactional event, up to and including its `lsn` (no `xmin`, no
   * brace). Reads of incremental snapshots have no transaction id and no position, as in Debezium.
   */
  #writeSourceOpen(w: JsonWriter, txn: TransactionInfo, table: TableInfo, lsn: Lsn, snapshot: string): void {
    if (snapshot === 'incremental') {
      w.raw(
        `${this.#sourcePrefix}"ts_ms":${Math.floor(txn.commitTimeMicros / 1000)},"snapshot":"incremental","db":${this.#databaseJson},"sequence":null,` +
          `"ts_us":${txn.commitTimeMicros},"ts_ns":${txn.commitTimeMicros}000,${table.sourceJson},"txId":null,"lsn":null`,
      );
      return;
    }
    const fragments = this.#fragments(txn, table, snapshot);
    w.fragment(fragments.beforeSequenceLsn);
    w.integer(lsn);
    w.fragment(fragments.beforeLsn);
    w.integer(lsn);
  }

  /** The cached source fragments of a table in the current transaction. */
  #fragments(txn: TransactionInfo, table: TableInfo, snapshot: string): SourceFragments {
    if (txn !== this.#txn) {
      this.#txn = txn;
      this.#sourceFragments.clear();
    }
    let cache = this.#sourceFragments.get(snapshot);
    if (!cache) {
      cache = new Map();
      this.#sourceFragments.set(snapshot, cache);
    }
    let fragments = cache.get(table);
    if (!fragments) {
      fragments = this.#sourceFragmentsFor(txn, table.sourceJson, snapshot);
      cache.set(table, fragments);
    }
    return fragments;
  }

  #sourceFragmentsFor(txn: TransactionInfo, tableJson: string, snapshot: string): SourceFragments {
    const previous = txn.previousCommitLsn === 0 ? 'null' : `\\"${txn.previousCommitLsn}\\"`;
    const head = `${this.#sourcePrefix}"ts_ms":${Math.floor(txn.commitTimeMicros / 1000)},"snapshot":"${snapshot}","db":${this.#databaseJson},"sequence":"[${previous},\\"`;
    const tail = `\\"]","ts_us":${txn.commitTimeMicros},"ts_ns":${txn.commitTimeMicros}000,${tableJson},"txId":${txn.xid},"lsn":`;
    return { beforeSequenceLsn: Buffer.from(head, 'utf8'), beforeLsn: Buffer.from(tail, 'utf8'), lastLsn: -1, tail: undefined, tailLsn: -1, tailOp: '', tailBatch: -1 };
  }

  /** The `source` block of a message event (no schema or table), closing brace included. */
  #writeMessageSource(w: JsonWriter, txn: TransactionInfo | null, lsn: Lsn): void {
    const noTable = '"schema":"","table":""';
    if (txn === null) {
      // Non-transactional message: no commit time (the processing time instead) and no transaction
      // id; it is a commit position of its own, as for Debezium (the sequence starts with its LSN).
      w.raw(`${this.#sourcePrefix}"ts_ms":${this.#nowMs},"snapshot":"false","db":${this.#databaseJson},"sequence":"[\\"${lsn}\\",\\"${lsn}\\"]",`);
      w.raw(`"ts_us":${this.#nowMs}000,"ts_ns":${this.#nowMs}000000,${noTable},"txId":null,"lsn":${lsn}${SOURCE_END}`);
      return;
    }
    const fragments = this.#sourceFragmentsFor(txn, noTable, 'false');
    w.fragment(fragments.beforeSequenceLsn);
    w.integer(lsn);
    w.fragment(fragments.beforeLsn);
    w.integer(lsn);
    w.raw(sourceEnd(txn.origin));
  }
}

const KIND_TEXT = 0x74; // t
const KIND_UNCHANGED = 0x75; // u
const KIND_BINARY = 0x62; // b

/**
 * Writes a key-only old row with every included column: the key columns' values; null for the
 * others, except NOT NULL ones, which get the fallback Debezium's converters give a missing value
 * of a required field (0, false, "", an empty array or map: a null there would make the record
 * unreadable with its schema, where the field is not optional).
 */
function writeKeyOnlyRowInFull(w: JsonWriter, table: TableInfo, tuple: TupleRef): void {
  const bounds = tupleBounds(tuple);
  let first = true;
  w.raw('{');
  for (let i = 0; i < bounds.count; i++) {
    const column = table.columns[i]!;
    if (!column.included) continue;
    w.raw(first ? column.jsonKey : column.jsonKeyAfterComma);
    first = false;
    if (bounds.kinds[i] === KIND_TEXT) column.render(w, tuple.buf, bounds.starts[i]!, bounds.ends[i]!);
    else if (column.notNull && !column.isReplicaIdentity) w.raw(fallbackJson(column.shape));
    else column.renderNull(w);
  }
  closeRowImage(w, table, first);
}

/** Whether a TupleData has an unchanged TOASTed value (`u`), in one pass without allocating. */
function hasUnchanged(tuple: TupleRef): boolean {
  const buf = tuple.buf;
  const count = buf.readUInt16BE(tuple.offset);
  let pos = tuple.offset + 2;
  for (let i = 0; i < count; i++) {
    const kind = buf[pos++]!;
    if (kind === KIND_UNCHANGED) return true;
    if (kind === KIND_TEXT || kind === KIND_BINARY) pos += 4 + buf.readUInt32BE(pos);
  }
  return false;
}

/** Where each column of a TupleData lies, and its kind byte, in one pass. */
function tupleBounds(tuple: TupleRef): { count: number; kinds: Uint8Array; starts: Int32Array; ends: Int32Array } {
  const buf = tuple.buf;
  const count = buf.readUInt16BE(tuple.offset);
  const kinds = new Uint8Array(count);
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  let pos = tuple.offset + 2;
  for (let i = 0; i < count; i++) {
    const kind = buf[pos++]!;
    kinds[i] = kind;
    if (kind === KIND_TEXT || kind === KIND_BINARY) {
      const length = buf.readUInt32BE(pos);
      starts[i] = pos + 4;
      ends[i] = pos + 4 + length;
      pos += 4 + length;
    }
  }
  return { count, kinds, starts, ends };
}

/** Debezium's fallback of a required field of a value of `shape`. */
function fallbackJson(shape: JsonShape): string {
  switch (shape.kind) {
    case 'boolean':
      return 'false';
    case 'integer':
    case 'float':
    case 'number':
      return '0';
    case 'array':
      return '[]';
    case 'map':
      return '{}';
    case 'connect':
      return shape.fallback;
    default:
      return '""';
  }
}

/**
 * Writes the new row of an update whose old row is whole (REPLICA IDENTITY FULL): an unchanged
 * TOASTed value the server did not send is the old row's value, as Debezium writes it; only a
 * value the old row lacks too gets the placeholder (and is listed in `unchanged`).
 */
function writeTupleFilledFromOld(w: JsonWriter, table: TableInfo, tuple: TupleRef, old: TupleRef, unchanged: string[]): void {
  if (!hasUnchanged(tuple)) {
    writeTupleJson(w, table, tuple, unchanged);
    return;
  }
  const now = tupleBounds(tuple);
  const before = tupleBounds(old);
  let first = true;
  w.raw('{');
  for (let i = 0; i < now.count; i++) {
    const column = table.columns[i]!;
    if (!column.included) continue;
    w.raw(first ? column.jsonKey : column.jsonKeyAfterComma);
    first = false;
    if (now.kinds[i] === KIND_TEXT) column.render(w, tuple.buf, now.starts[i]!, now.ends[i]!);
    else if (now.kinds[i] === KIND_UNCHANGED && before.kinds[i] === KIND_TEXT) column.render(w, old.buf, before.starts[i]!, before.ends[i]!);
    else if (now.kinds[i] === KIND_UNCHANGED) {
      column.renderUnchanged(w);
      unchanged.push(column.name);
    } else column.renderNull(w);
  }
  closeRowImage(w, table, first);
}

/** A transaction's `source` block for one table, split around the two places the event LSN goes. */
interface SourceFragments {
  /** From `,"source":{` to the opening quote of the sequence's second LSN. */
  readonly beforeSequenceLsn: Buffer;
  /** From the sequence's end to `"lsn":`. */
  readonly beforeLsn: Buffer;
  /** The LSN of the previous event written with these fragments. */
  lastLsn: Lsn;
  /** The whole rest of an event for `tailLsn`, `tailOp` and batch `tailBatch`, once an LSN repeats. */
  tail: Buffer | undefined;
  tailLsn: Lsn;
  tailOp: string;
  tailBatch: number;
}
