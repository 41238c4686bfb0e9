/**
 * Renders stream events as CloudEvents 1.0 in the JSON format. Each Debezium change event (the
 * value the File target writes) becomes the `data` of one CloudEvent whose attributes follow
 * Debezium's: type `io.debezium.connector.postgresql.DataChangeEvent`, source
 * `/debezium/postgresql/<stream>`, `time` the commit time, and lowercase `iodebezium*`
 * extensions; a schema change (pgcdc's own event, docs/schema-changes.md) has type
 * `io.pgcdc.schema.change`. The id comes from the change's position, so an event delivered again after a restart
 * keeps it. The Debezium encoder writes every record straight into one buffer (the attributes
 * around it in structured form, or the data alone for binary mode); the batch keeps each record's
 * bounds, ordering key and id for the dispatcher.
 */
import type { StreamConfig } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { DebeziumJsonEncoder, type DebeziumEncoderOptions, streamEncoderOptions } from '../../events/debezium-json-encoder.js';
import { EventIds } from '../../events/event-ids.js';
import { recordKeyHash } from '../../events/event-key-hash.js';
import type { SchemaChangeEvent, StreamEvent, TableInfo, TransactionInfo } from '../../events/stream-event.js';
import type { DispatchItems } from '../delivery/ordered-dispatch.js';

export const CHANGE_EVENT_TYPE = 'io.debezium.connector.postgresql.DataChangeEvent';
/** The type of schema-change events (pgcdc's own: Debezium has none for PostgreSQL). */
export const SCHEMA_CHANGE_EVENT_TYPE = 'io.pgcdc.schema.change';
/** The type of BEGIN/END records (with transaction metadata), after Debezium's value schema. */
export const TRANSACTION_EVENT_TYPE = 'io.debezium.connector.common.TransactionMetadataValue';

/** An attribute name and its value (string form). */
export type Attribute = readonly [name: string, value: string];

export interface CloudEventRendererOptions extends Omit<DebeziumEncoderOptions, 'format' | 'framing' | 'tombstonesOnDelete'> {
  /** `structured`: each record is a whole CloudEvent; `binary`: each record is the data alone. */
  readonly structured: boolean;
}

/** Attributes shared by the records of one transaction, table and op, rendered once. */
interface AttributeSet {
  readonly pairs: readonly Attribute[];
  /** `,"source":…` up to the last pair, as JSON (structured form). */
  readonly json: Buffer;
}

/** One batch of CloudEvents: record bytes and what the dispatcher and the senders need. */
export class CloudEventBatch implements DispatchItems {
  readonly count: number;
  /** Every record, one after another. */
  readonly body: Buffer;
  readonly #starts: readonly number[];
  readonly #keys: readonly number[];
  readonly #ids: readonly string[];
  readonly #attributes: readonly AttributeSet[];
  readonly #lsns: readonly number[];
  /** Destinations a transform function set, by record (docs/transforms.md). */
  readonly #destinations: ReadonlyMap<number, string> | undefined;

  constructor(body: Buffer, starts: number[], keys: number[], ids: string[], attributes: AttributeSet[], lsns: number[], destinations?: ReadonlyMap<number, string>) {
    this.count = ids.length;
    this.#destinations = destinations;
    this.body = body;
    this.#starts = starts;
    this.#keys = keys;
    this.#ids = ids;
    this.#attributes = attributes;
    this.#lsns = lsns;
  }

  keyOf(index: number): number {
    return this.#keys[index]!;
  }

  bytesOf(index: number): number {
    return this.#starts[index + 1]! - this.#starts[index]!;
  }

  /** The bytes of record `index`: a structured CloudEvent, or the data of a binary one. */
  record(index: number): Buffer {
    return this.body.subarray(this.#starts[index]!, this.#starts[index + 1]!);
  }

  id(index: number): string {
    return this.#ids[index]!;
  }

  /** Where a transform function sent record `index` (a URL path), if it did. */
  destination(index: number): string | undefined {
    return this.#destinations?.get(index);
  }

  /** The WAL position of record `index`; undefined for BEGIN/END records. */
  lsn(index: number): number | undefined {
    const lsn = this.#lsns[index]!;
    return lsn >= 0 ? lsn : undefined;
  }

  /** Every attribute of record `index` but `data`, in order. */
  attributes(index: number): Attribute[] {
    const pairs: Attribute[] = [['specversion', '1.0'], ['id', this.#ids[index]!], ...this.#attributes[index]!.pairs];
    const lsn = this.#lsns[index]!;
    if (lsn >= 0) pairs.push(['iodebeziumlsn', String(lsn)]);
    return pairs;
  }
}

export class CloudEventRenderer {
  /** The renderer of a stream's events: its name, database and event settings. */
  static forStream(stream: StreamConfig, structured: boolean): CloudEventRenderer {
    return new CloudEventRenderer({ ...streamEncoderOptions(stream), structured });
  }

  readonly #options: CloudEventRendererOptions;
  readonly #encoder: DebeziumJsonEncoder;
  readonly #writer = new JsonWriter(1024 * 1024);
  readonly #eventIds = new EventIds();
  readonly #source: string;
  /** Attribute sets of the current transaction, by op and snapshot marker, then table. */
  readonly #sets = new Map<string, Map<TableInfo | null, AttributeSet>>();
  #setsTxn: TransactionInfo | null | undefined;
  #time = '';
  // The batch being rendered.
  #starts: number[] = [];
  #keys: number[] = [];
  #ids: string[] = [];
  #attributes: AttributeSet[] = [];
  #lsns: number[] = [];
  #destinations: Map<number, string> | undefined;

  constructor(options: CloudEventRendererOptions) {
    this.#options = options;
    this.#source = `/debezium/postgresql/${options.serverName}`;
    this.#encoder = new DebeziumJsonEncoder({
      ...options,
      format: 'value',
      tombstonesOnDelete: false,
      framing: { open: (w, op, event) => this.#open(w, op, event), close: options.structured ? '}\n' : '\n' },
    });
  }

  /** The CloudEvents of `events`, in order. */
  render(events: readonly StreamEvent[]): CloudEventBatch {
    this.#starts = [];
    this.#keys = [];
    this.#ids = [];
    this.#attributes = [];
    this.#lsns = [];
    this.#destinations = undefined;
    const w = this.#writer;
    this.#encoder.encode(events, w);
    this.#starts.push(w.length);
    const body = w.takeCopy();
    return new CloudEventBatch(body, this.#starts, this.#keys, this.#ids, this.#attributes, this.#lsns, this.#destinations);
  }

  /** Before each record: note where it starts, its key, id and attributes; write the envelope's head. */
  #open(w: JsonWriter, op: string, event: StreamEvent): void {
    this.#starts.push(w.length);
    const txn = event.txn;
    const transaction = op === 'BEGIN' || op === 'END';
    const table = !transaction && (event.kind === 'row' || event.kind === 'truncate') ? event.table : null;
    const lsn = !transaction && (event.kind === 'row' || event.kind === 'truncate' || event.kind === 'message' || event.kind === 'schema') ? event.lsn : -1;
    const snapshot = !transaction && event.kind === 'row' ? (event.snapshot ?? 'false') : 'false';
    const key = recordKeyHash(op, event);
    const id = this.#eventIds.idOf(op, event);
    const set = !transaction && event.kind === 'schema' ? this.#schemaChangeAttributes(event) : this.#attributeSet(txn, table, op, snapshot);
    this.#keys.push(key);
    this.#ids.push(id);
    this.#attributes.push(set);
    this.#lsns.push(lsn);
    if (!transaction && event.kind === 'row' && event.destination !== undefined) (this.#destinations ??= new Map()).set(this.#ids.length - 1, event.destination);
    if (!this.#options.structured) return;
    w.raw('{"specversion":"1.0","id":');
    w.string(id);
    w.fragment(set.json);
    if (lsn >= 0) {
      w.raw(',"iodebeziumlsn":"');
      w.integer(lsn);
      w.byte(0x22);
    }
    w.raw(',"data":');
  }

  #attributeSet(txn: TransactionInfo | null, table: TableInfo | null, op: string, snapshot: string): AttributeSet {
    if (txn !== this.#setsTxn || txn === null) {
      this.#setsTxn = txn;
      this.#sets.clear();
      this.#time = new Date(txn === null ? Date.now() : Math.floor(txn.commitTimeMicros / 1000)).toISOString();
    }
    const variant = `${op}|${snapshot}`;
    let byTable = this.#sets.get(variant);
    if (!byTable) {
      byTable = new Map();
      this.#sets.set(variant, byTable);
    }
    let set = byTable.get(table);
    if (!set) {
      set = this.#newAttributeSet(table, op, snapshot);
      byTable.set(table, set);
    }
    return set;
  }

  /** The attributes of a schema change (rare: built for each). */
  #schemaChangeAttributes(event: SchemaChangeEvent): AttributeSet {
    const pairs: Attribute[] = [
      ['source', this.#source],
      ['type', SCHEMA_CHANGE_EVENT_TYPE],
      ['time', new Date(Math.floor(event.txn.commitTimeMicros / 1000)).toISOString()],
      ['datacontenttype', 'application/json'],
      ['iodebeziumop', 'schema'],
      ['iodebeziumdb', this.#options.database],
      ['iodebeziumschema', event.schema],
      ['iodebeziumtable', event.table],
    ];
    const json = pairs.map(([name, value]) => `,"${name}":${JSON.stringify(value)}`).join('');
    return { pairs, json: Buffer.from(json, 'utf8') };
  }

  #newAttributeSet(table: TableInfo | null, op: string, snapshot: string): AttributeSet {
    const transaction = op === 'BEGIN' || op === 'END';
    const pairs: Attribute[] = [
      ['source', this.#source],
      ['type', transaction ? TRANSACTION_EVENT_TYPE : CHANGE_EVENT_TYPE],
      ['time', this.#time],
      ['datacontenttype', 'application/json'],
    ];
    if (!transaction) pairs.push(['iodebeziumop', op]);
    pairs.push(['iodebeziumdb', this.#options.database]);
    if (table !== null) pairs.push(['iodebeziumschema', table.schema], ['iodebeziumtable', table.table]);
    if (op !== 'm' && !transaction) pairs.push(['iodebeziumsnapshot', snapshot]);
    const json = pairs.map(([name, value]) => `,"${name}":${JSON.stringify(value)}`).join('');
    return { pairs, json: Buffer.from(json, 'utf8') };
  }
}
