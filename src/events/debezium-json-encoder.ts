/**
 * Encodes stream events as Debezium change events (JSON, payload form, one per line), either as the
 * value alone or as a `{"key","value"}` record. Follows Debezium's PostgreSQL connector: field order,
 * `source` block, primary-key changes as delete (+ tombstone) + create, tombstones after deletes,
 * truncate (`t`) and message (`m`) events, and transaction metadata (BEGIN/END + `transaction` block).
 */
import type { JsonWriter } from '../encoding/json-writer.js';
import type { RecordFormat } from '../config/stream-config.js';
import type { Lsn } from '../source/lsn.js';
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
}

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
  #txnHead = '';
  #txnMiddle = '';
  #txnTail = '';
  #txnId = '';
  #nowMs = 0;
  #progress: TransactionProgress | undefined;
  #nowJson = '';
  readonly #unchanged: string[] = [];

  constructor(options: DebeziumEncoderOptions) {
    this.#options = options;
    this.#sourcePrefix = `,"source":{"version":${JSON.stringify(options.version)},"connector":"postgresql","name":${JSON.stringify(options.serverName)},`;
    this.#databaseJson = JSON.stringify(options.database);
  }

  /** Encodes a batch; returns the number of records written. */
  encode(events: readonly StreamEvent[], w: JsonWriter, nowMs = Date.now()): number {
    this.#nowMs = nowMs;
    this.#nowJson = `,"ts_ms":${nowMs},"ts_us":${nowMs}000,"ts_ns":${nowMs}000000}`;
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
    let records = this.#beginIfNeeded(w, event.txn);
    if (event.op === 'u' && keyChanged(event)) {
      // Debezium: a primary-key change is a delete of the old key, its tombstone, then a create.
      records += this.#rowRecord(w, event, 'd', event.before, null);
      records += this.#tombstone(w, event.table, event.before);
      return records + this.#rowRecord(w, event, 'c', null, event.after);
    }
    records += this.#rowRecord(w, event, event.op, event.before, event.after);
    if (event.op === 'd') records += this.#tombstone(w, event.table, event.before);
    return records;
  }

  #rowRecord(w: JsonWriter, event: RowEvent, op: string, before: RowEvent['before'], after: RowEvent['after']): number {
    const record = this.#options.format === 'record';
    if (record) {
      w.raw('{"key":');
      writeKeyJson(w, event.table, after ?? before);
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
    this.#writeSource(w, event.txn, event.table, event.lsn, op === 'r');
    this.#writeTransactionBlock(w, event.txn, event.table);
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
    w.raw(record ? '}\n' : '\n');
    return 1;
  }

  #tombstone(w: JsonWriter, table: TableInfo, before: RowEvent['before']): number {
    if (!this.#options.tombstonesOnDelete || this.#options.format !== 'record') return 0;
    w.raw('{"key":');
    writeKeyJson(w, table, before);
    w.raw(',"value":null}\n');
    return 1;
  }

  #truncate(w: JsonWriter, event: TruncateEvent): number {
    const records = this.#beginIfNeeded(w, event.txn);
    const record = this.#options.format === 'record';
    w.raw(record ? '{"key":null,"value":{"before":null,"after":null' : '{"before":null,"after":null');
    this.#writeSource(w, event.txn, event.table, event.lsn, false);
    this.#writeTransactionBlock(w, event.txn, event.table);
    w.raw(',"op":"t"');
    w.raw(this.#nowJson);
    w.raw(record ? '}\n' : '\n');
    return records + 1;
  }

  #message(w: JsonWriter, event: MessageEvent): number {
    const records = event.txn ? this.#beginIfNeeded(w, event.txn) : 0;
    const record = this.#options.format === 'record';
    if (record) {
      w.raw('{"key":{"prefix":');
      w.string(event.prefix);
      w.raw('},"value":');
    }
    w.raw('{');
    w.raw(this.#sourcePrefix.slice(1));
    this.#writeSourceFields(w, event.txn, '"schema":"","table":""', event.lsn, false);
    w.raw(',"op":"m"');
    w.raw(this.#nowJson.slice(0, -1));
    w.raw(',"message":{"prefix":');
    w.string(event.prefix);
    w.raw(`,"content":"${event.content.toString('base64')}"}}`);
    w.raw(record ? '}\n' : '\n');
    return records + 1;
  }

  #commit(w: JsonWriter, event: CommitEvent): number {
    const progress = this.#progress;
    if (!this.#options.transactionMetadata || !progress || progress.txn !== event.txn) return 0;
    this.#progress = undefined;
    if (!progress.began) return 0;
    const collections = [...progress.perCollection].map(([name, count]) => `{"data_collection":${JSON.stringify(name)},"event_count":${count}}`);
    const value = `{"status":"END","id":"${progress.id}","ts_ms":${Math.floor(event.txn.commitTimeMicros / 1000)},"event_count":${progress.total},"data_collections":[${collections.join(',')}]}`;
    this.#writeTransactionRecord(w, progress.id, value);
    return 1;
  }

  #startProgress(txn: TransactionInfo): void {
    this.#progress = { txn, id: `${txn.xid}:${txn.commitLsn}`, began: false, total: 0, perCollection: new Map() };
  }

  /** Writes the BEGIN record before a transaction's first event (Debezium skips empty transactions). */
  #beginIfNeeded(w: JsonWriter, txn: TransactionInfo): number {
    if (!this.#options.transactionMetadata) return 0;
    if (!this.#progress || this.#progress.txn !== txn) this.#startProgress(txn);
    const progress = this.#progress!;
    if (progress.began) return 0;
    progress.began = true;
    const value = `{"status":"BEGIN","id":"${progress.id}","ts_ms":${Math.floor(txn.commitTimeMicros / 1000)},"event_count":null,"data_collections":null}`;
    this.#writeTransactionRecord(w, progress.id, value);
    return 1;
  }

  #writeTransactionRecord(w: JsonWriter, id: string, value: string): void {
    w.raw(this.#options.format === 'record' ? `{"key":{"id":"${id}"},"value":${value}}\n` : `${value}\n`);
  }

  #writeTransactionBlock(w: JsonWriter, txn: TransactionInfo, table: TableInfo): void {
    const progress = this.#progress;
    if (!this.#options.transactionMetadata || !progress || progress.txn !== txn) {
      w.raw(',"transaction":null');
      return;
    }
    const collection = `${table.schema}.${table.table}`;
    const order = (progress.perCollection.get(collection) ?? 0) + 1;
    progress.perCollection.set(collection, order);
    progress.total += 1;
    w.raw(`,"transaction":{"id":"${progress.id}","total_order":${progress.total},"data_collection_order":${order}}`);
  }

  #writeSource(w: JsonWriter, txn: TransactionInfo, table: TableInfo, lsn: Lsn, snapshot: boolean): void {
    w.raw(this.#sourcePrefix);
    this.#writeSourceFields(w, txn, table.sourceJson, lsn, snapshot);
  }

  /** The `source` fields after `name`, in Debezium's order, and the closing brace. */
  #writeSourceFields(w: JsonWriter, txn: TransactionInfo | null, tableJson: string, lsn: Lsn, snapshot: boolean): void {
    if (txn === null) {
      // Non-transactional message: no commit time and no transaction id.
      w.raw(`"ts_ms":${this.#nowMs},"snapshot":"false","db":${this.#databaseJson},"sequence":"[null,\\"${lsn}\\"]",${tableJson},"txId":null,"lsn":${lsn},"xmin":null}`);
      return;
    }
    if (txn !== this.#txn) {
      this.#txn = txn;
      const previous = txn.previousCommitLsn === 0 ? 'null' : `\\"${txn.previousCommitLsn}\\"`;
      this.#txnHead = `"ts_ms":${Math.floor(txn.commitTimeMicros / 1000)},"snapshot":"`;
      this.#txnMiddle = `","db":${this.#databaseJson},"sequence":"[${previous},\\"`;
      this.#txnTail = `\\"]","ts_us":${txn.commitTimeMicros},"ts_ns":${txn.commitTimeMicros}000,`;
      this.#txnId = `,"txId":${txn.xid},"lsn":`;
    }
    w.raw(this.#txnHead);
    w.raw(snapshot ? 'true' : 'false');
    w.raw(this.#txnMiddle);
    w.raw(String(lsn));
    w.raw(this.#txnTail);
    w.raw(tableJson);
    w.raw(this.#txnId);
    w.raw(String(lsn));
    w.raw(',"xmin":null}');
  }
}
