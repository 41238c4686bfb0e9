/**
 * Encodes stream events as Debezium change events (JSON, payload form, one per line), either as the
 * value alone or as a `{"key","value"}` record. Follows Debezium's PostgreSQL connector: field order,
 * `source` block, primary-key changes as delete (+ tombstone) + create, tombstones after deletes,
 * truncate (`t`) and message (`m`) events, and transaction metadata (BEGIN/END + `transaction` block).
 */
import type { JsonWriter } from '../encoding/json-writer.js';
import type { RecordFormat, StreamConfig } from '../config/stream-config.js';
import type { Lsn } from '../source/lsn.js';
import { PGCDC_VERSION } from '../version.js';
import type { CommitEvent, MessageEvent, RowEvent, StreamEvent, TableInfo, TransactionInfo, TruncateEvent } from './stream-event.js';
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
    else writeTupleJson(w, event.table, before);
    w.raw(',"after":');
    const unchanged = this.#unchanged;
    unchanged.length = 0;
    if (after === null) w.raw('null');
    else writeTupleJson(w, event.table, after, unchanged);
    const snapshot = event.snapshot ?? 'false';
    if (!this.#options.transactionMetadata && unchanged.length === 0 && snapshot !== 'incremental') {
      // The common case: the source block, then an ending that is the same for the whole batch.
      this.#writeSourceAndEnding(w, event.txn, event.table, event.lsn, snapshot, op);
      return 1;
    }
    this.#writeSourceOpen(w, event.txn, event.table, event.lsn, snapshot);
    w.raw(',"xmin":null}');
    this.#writeTransactionBlock(w, event.txn, `${event.table.schema}.${event.table.table}`);
    w.raw(`,"op":"${op}"`);
    if (unchanged.length > 0) {
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

  /** `,"xmin":null},"transaction":null,"op":"…","ts_ms":…,"ts_us":…,"ts_ns":…}` and the line end. */
  #ending(op: string): Buffer {
    let ending = this.#endings.get(op);
    if (!ending) {
      ending = Buffer.from(`,"xmin":null},"transaction":null,"op":"${op}"${this.#nowJson}${this.#recordEnd}`, 'latin1');
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
    w.raw(',"xmin":null}');
    this.#writeTransactionBlock(w, event.txn, `${event.table.schema}.${event.table.table}`);
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
    if (event.txn) this.#writeTransactionBlock(w, event.txn, MESSAGE_COLLECTION);
    else w.raw(',"transaction":null');
    w.raw(',"message":{"prefix":');
    w.string(event.prefix);
    w.raw(`,"content":"${event.content.toString('base64')}"}}`);
    w.raw(this.#recordEnd);
    return records + 1;
  }

  #commit(w: JsonWriter, event: CommitEvent): number {
    const progress = this.#progress;
    if (!this.#options.transactionMetadata || !progress || progress.txn !== event.txn) return 0;
    this.#progress = undefined;
    if (!progress.began) return 0;
    const collections = [...progress.perCollection].map(([name, count]) => `{"data_collection":${JSON.stringify(name)},"event_count":${count}}`);
    const value = `{"status":"END","id":"${progress.id}","ts_ms":${Math.floor(event.txn.commitTimeMicros / 1000)},"event_count":${progress.total},"data_collections":[${collections.join(',')}]}`;
    this.#writeTransactionRecord(w, progress.id, value, 'END', event);
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
    const value = `{"status":"BEGIN","id":"${progress.id}","ts_ms":${Math.floor(txn.commitTimeMicros / 1000)},"event_count":null,"data_collections":null}`;
    this.#writeTransactionRecord(w, progress.id, value, 'BEGIN', event);
    return 1;
  }

  #writeTransactionRecord(w: JsonWriter, id: string, value: string, status: 'BEGIN' | 'END', event: StreamEvent): void {
    this.#framing?.open(w, status, event);
    w.raw(this.#options.format === 'record' ? `{"key":{"id":"${id}"},"value":${value}${this.#recordEnd}` : `${value}${this.#recordEnd}`);
  }

  #writeTransactionBlock(w: JsonWriter, txn: TransactionInfo, collection: string): void {
    const progress = this.#progress;
    if (!this.#options.transactionMetadata || !progress || progress.txn !== txn) {
      w.raw(',"transaction":null');
      return;
    }
    const order = (progress.perCollection.get(collection) ?? 0) + 1;
    progress.perCollection.set(collection, order);
    progress.total += 1;
    w.raw(`,"transaction":{"id":"${progress.id}","total_order":${progress.total},"data_collection_order":${order}}`);
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
      // Non-transactional message: no commit time (the processing time instead) and no transaction id.
      w.raw(`${this.#sourcePrefix}"ts_ms":${this.#nowMs},"snapshot":"false","db":${this.#databaseJson},"sequence":"[null,\\"${lsn}\\"]",`);
      w.raw(`"ts_us":${this.#nowMs}000,"ts_ns":${this.#nowMs}000000,${noTable},"txId":null,"lsn":${lsn},"xmin":null}`);
      return;
    }
    const fragments = this.#sourceFragmentsFor(txn, noTable, 'false');
    w.fragment(fragments.beforeSequenceLsn);
    w.integer(lsn);
    w.fragment(fragments.beforeLsn);
    w.integer(lsn);
    w.raw(',"xmin":null}');
  }
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
