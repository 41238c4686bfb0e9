/**
 * A record as its XADD, packed (`entry-packer`): the stream key, `MAXLEN ~ n` when trimming, the
 * `*` id, then the fields of the configured layout (`keyValue`: `key` and `value`, as Debezium
 * Server's redis sink in its extended format, nulls as its `null.key`/`null.value`; `columns`: `op`
 * and one field per column of the row image, null columns left out), the pgcdc metadata fields
 * (`pgcdc-id`, `pgcdc-op`, `pgcdc-table`, `pgcdc-lsn`, `pgcdc-txid`) and the record's Debezium
 * headers.
 */
import type { RedisStreamsTargetConfig } from '../../config/redis-streams-settings.js';
import type { ChangeRecord } from '../records/change-records.js';
import { METADATA_HEADERS, type RecordMetadata } from '../records/record-metadata.js';
import { EntryPacker, type PackedString } from './entry-packer.js';


/** Bytes of an entry besides its key, value, headers, id and table: field names, op, LSN, txid, headers of strings. */
const ENTRY_OVERHEAD = 160;

const FIELD = {
  key: EntryPacker.packed('key'),
  value: EntryPacker.packed('value'),
  op: EntryPacker.packed('op'),
  id: EntryPacker.packed(METADATA_HEADERS.id),
  pgcdcOp: EntryPacker.packed(METADATA_HEADERS.op),
  table: EntryPacker.packed(METADATA_HEADERS.table),
  lsn: EntryPacker.packed(METADATA_HEADERS.lsn),
  txId: EntryPacker.packed(METADATA_HEADERS.txId),
  star: EntryPacker.packed('*'),
};

export class RedisEntries {
  readonly #config: RedisStreamsTargetConfig;
  /** `MAXLEN ~ n` packed, or none. */
  readonly #trim: readonly PackedString[];
  readonly #nullKey: Buffer;
  readonly #nullValue: Buffer;
  /** Stream keys packed, by key. */
  readonly #keys = new Map<string, PackedString>();

  /** The Redis key of a record's destination (hash-tagged in a cluster). */
  readonly #keyOf: (topic: string) => string;

  constructor(config: RedisStreamsTargetConfig, keyOf: (topic: string) => string) {
    this.#config = config;
    this.#keyOf = keyOf;
    this.#trim = config.maxLen === undefined ? [] : ['MAXLEN', '~', String(config.maxLen)].map((text) => EntryPacker.packed(text));
    this.#nullKey = Buffer.from(config.nullKey);
    this.#nullValue = Buffer.from(config.nullValue);
  }

  /** About the size in bytes of `record`'s entry packed (at least it; the `columns` layout's at most). */
  size(record: ChangeRecord, metadata: RecordMetadata): number {
    let bytes = ENTRY_OVERHEAD + record.topic.length * 3 + (record.key?.length ?? this.#nullKey.length) + (record.value?.length ?? this.#nullValue.length) + metadata.id.length + (metadata.table?.length ?? 0) * 3;
    if (record.headers) for (const [name, value] of record.headers) bytes += 10 + name.length + value.length;
    return bytes;
  }

  /** Packs the entry of `record` into `packer`. */
  pack(record: ChangeRecord, metadata: RecordMetadata, packer: EntryPacker): void {
    packer.beginEntry();
    let key = this.#keys.get(record.topic);
    if (key === undefined) {
      key = EntryPacker.packed(this.#keyOf(record.topic));
      this.#keys.set(record.topic, key);
    }
    packer.constant(key);
    for (const part of this.#trim) packer.constant(part);
    packer.constant(FIELD.star);
    if (this.#config.fieldLayout === 'columns' && record.value !== null && record.event?.kind === 'row') {
      this.#columnFields(packer, record.value);
    } else {
      packer.constant(FIELD.key);
      packer.bytes(record.key ?? this.#nullKey);
      packer.constant(FIELD.value);
      packer.bytes(record.value ?? this.#nullValue);
    }
    packer.constant(FIELD.id);
    packer.string(metadata.id);
    packer.constant(FIELD.pgcdcOp);
    packer.string(metadata.op);
    if (metadata.table !== undefined) {
      packer.constant(FIELD.table);
      packer.string(metadata.table);
    }
    packer.constant(FIELD.lsn);
    packer.string(metadata.lsn);
    if (metadata.txId !== undefined) {
      packer.constant(FIELD.txId);
      packer.string(String(metadata.txId));
    }
    if (record.headers) {
      for (const [name, value] of record.headers) {
        packer.bytes(name);
        packer.bytes(value);
      }
    }
    packer.endEntry();
  }

  /**
   * `op`, then each column of the row image (after; before for a delete) as a field: text as it
   * is, other values as JSON, null columns left out.
   */
  #columnFields(packer: EntryPacker, value: Buffer): void {
    const parsed = JSON.parse(value.toString('utf8')) as { payload?: unknown };
    const payload = (this.#config.schemasEnable ? parsed.payload : parsed) as { op: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null };
    packer.constant(FIELD.op);
    packer.string(payload.op);
    const row = payload.after ?? payload.before ?? {};
    for (const column in row) {
      const columnValue = row[column];
      if (columnValue === null || columnValue === undefined) continue;
      packer.string(column);
      packer.string(typeof columnValue === 'string' ? columnValue : JSON.stringify(columnValue));
    }
  }
}
