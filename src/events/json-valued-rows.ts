/**
 * Row events whose values are JSON texts rather than a PostgreSQL table's text output: tables whose
 * columns are of type json and render the stored JSON text unchanged (so every encoder writes each
 * value exactly as it was given: big integers, `1.00`, nested documents), and pgoutput-layout
 * tuples holding those texts. Used for what a transform function returns and for the changes a
 * Kafka source reads from change topics.
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import { writeJsonNull } from '../decoding/values/column-masks.js';
import type { ValueRenderer } from '../decoding/values/value-renderer.js';
import type { JsonWriter } from '../encoding/json-writer.js';
import { NULL_SPAN, type RowValues, UNCHANGED, UNCHANGED_SPAN, type ColumnValue } from '../kafka-source/decoded-change.js';
import { asciiJson } from '../transform/table-shortcuts.js';
import { closeRowImage } from './copy-row.js';
import type { ColumnInfo, TableInfo } from './stream-event.js';

const KIND_TEXT = 0x74; // t
const KIND_NULL = 0x6e; // n
const KIND_UNCHANGED = 0x75; // u

/** The oid of PostgreSQL's json type: the type every JSON-valued column claims. */
export const JSON_TYPE_OID = 114;

/** Debezium's default placeholder of an unchanged TOASTed value (`unavailable.value.placeholder`). */
export const DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER = '__debezium_unavailable_value';

/** Writes a value as the JSON text stored in the tuple. */
export const writeJsonText: ValueRenderer = (w, src, start, end) => w.bytes(src, start, end);

/** Writes a value as a JSON string holding its JSON text (a field of Kafka Connect's `io.debezium.data.Json` schema). */
export const writeJsonTextAsString: ValueRenderer = (w, src, start, end) => w.stringFromBytes(src, start, end);

/** How a JSON-valued column is described: by default a json column; `from` keeps a real column's type and key flag. */
export interface JsonValuedColumnOptions {
  /** The column this one stands for: its type, modifier, shape and replica identity flag are kept. */
  readonly from?: ColumnInfo;
  /** Part of the replica identity (when there is no `from`). */
  readonly isKey?: boolean;
  /** Write values as JSON strings holding their text instead of the JSON itself. */
  readonly asString?: boolean;
  /** Writes an unchanged TOASTed value; default: null. */
  readonly renderUnchanged?: (w: JsonWriter) => void;
}

/** A column named `name` whose tuple values are JSON texts. */
export function jsonValuedColumn(name: string, options: JsonValuedColumnOptions = {}): ColumnInfo {
  const { from } = options;
  const jsonKey = `${asciiJson(name)}:`;
  return {
    name,
    typeOid: from?.typeOid ?? JSON_TYPE_OID,
    typeModifier: from?.typeModifier ?? -1,
    typeName: from?.typeName ?? 'json',
    isReplicaIdentity: from?.isReplicaIdentity ?? options.isKey ?? false,
    notNull: false,
    included: true,
    jsonKey,
    jsonKeyAfterComma: `,${jsonKey}`,
    shape: from?.shape ?? { kind: 'json', type: 'json' },
    render: options.asString === true ? writeJsonTextAsString : writeJsonText,
    renderUnchanged: options.renderUnchanged ?? writeJsonNull,
    renderNull: writeJsonNull,
  };
}

/** First synthetic oid: far above the oids a database hands out early, to stay recognisable. */
const FIRST_SYNTHETIC_OID = 0xf000_0000;

/** The tables seen for one `schema.table`: its synthetic oid, and one TableInfo per column and key list. */
interface TableEntry {
  readonly oid: number;
  /** The TableInfo returned last (most events reuse it: checked without building a cache key). */
  last: TableInfo | undefined;
  lastColumns: readonly string[];
  lastKeyColumns: readonly string[];
  readonly byLists: Map<string, TableInfo>;
}

/**
 * TableInfos of JSON-valued columns for tables known by name only (no catalog): one per table and
 * column list, each distinct table with a synthetic oid of its own. An unchanged TOASTed value is
 * written as Debezium's placeholder string.
 */
export class JsonValuedTables {
  readonly #tables = new Map<string, Map<string, TableEntry>>();
  readonly #renderUnchanged: (w: JsonWriter) => void;
  #nextOid = FIRST_SYNTHETIC_OID;

  constructor(unavailableValuePlaceholder: string = DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER) {
    const placeholder = Buffer.from(JSON.stringify(unavailableValuePlaceholder), 'utf8');
    this.#renderUnchanged = (w) => w.bytes(placeholder, 0, placeholder.length);
  }

  /** A TableInfo for `schema.table` with `columns` (JSON-valued) and the key columns by name (no key when the columns lack one of them). */
  table(schema: string, table: string, columns: readonly string[], keyColumns: readonly string[]): TableInfo {
    const entry = this.#entry(schema, table);
    if (entry.last !== undefined && sameNames(entry.lastColumns, columns) && sameNames(entry.lastKeyColumns, keyColumns)) return entry.last;
    const cacheKey = `${columns.join('\u0000')}\u0001${keyColumns.join('\u0000')}`;
    let info = entry.byLists.get(cacheKey);
    if (info === undefined) {
      info = this.#build(entry.oid, schema, table, columns, keyColumns);
      entry.byLists.set(cacheKey, info);
    }
    entry.last = info;
    entry.lastColumns = columns;
    entry.lastKeyColumns = keyColumns;
    return info;
  }

  #entry(schema: string, table: string): TableEntry {
    let bySchema = this.#tables.get(schema);
    if (bySchema === undefined) {
      bySchema = new Map();
      this.#tables.set(schema, bySchema);
    }
    let entry = bySchema.get(table);
    if (entry === undefined) {
      entry = { oid: this.#nextOid++, last: undefined, lastColumns: [], lastKeyColumns: [], byLists: new Map() };
      bySchema.set(table, entry);
    }
    return entry;
  }

  #build(oid: number, schema: string, table: string, names: readonly string[], keyNames: readonly string[]): TableInfo {
    const found = keyNames.map((name) => names.indexOf(name));
    const keyColumns = found.includes(-1) ? [] : found;
    const columns = names.map((name, index) => jsonValuedColumn(name, { isKey: keyColumns.includes(index), renderUnchanged: this.#renderUnchanged }));
    return {
      oid,
      schema,
      table,
      replicaIdentity: keyColumns.length > 0 ? 'd' : 'f',
      columns,
      keyColumns,
      included: true,
      isSignalTable: false,
      sourceJson: `"schema":${asciiJson(schema)},"table":${asciiJson(table)}`,
    };
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A TupleData (kind `N`, `O` or `K`) holding each value's text (`t`: a JSON text here, a
 * PostgreSQL input text for the Postgres target), null (`n`) or unchanged TOAST (`u`), written
 * into one Buffer.
 */
export function textTuple(values: readonly ColumnValue[], kind: 'N' | 'O' | 'K'): TupleRef {
  const count = values.length;
  let size = 2;
  for (let i = 0; i < count; i++) {
    const value = values[i]!;
    size += typeof value === 'string' ? 5 + Buffer.byteLength(value, 'utf8') : 1;
  }
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt16BE(count, 0);
  let pos = 2;
  for (let i = 0; i < count; i++) {
    const value = values[i]!;
    if (typeof value === 'string') {
      buf[pos] = KIND_TEXT;
      const length = buf.write(value, pos + 5, 'utf8');
      buf.writeUInt32BE(length, pos + 1);
      pos += 5 + length;
    } else {
      buf[pos++] = value === UNCHANGED ? KIND_UNCHANGED : KIND_NULL;
    }
  }
  return { buf, offset: 0, kind };
}

/** Values up to this length are copied byte by byte (a native copy costs more for short ones). */
const SHORT_COPY = 40;

/** The TupleData (kind `N`, `O` or `K`) of a row image's values: each value's bytes copied as they are in the record. */
function valuesTuple(values: RowValues, kind: 'N' | 'O' | 'K'): TupleRef {
  const { buf: src, starts, ends, rendered } = values;
  const count = starts.length;
  let size = 2;
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    const text = rendered?.[i];
    if (text !== undefined) size += 5 + Buffer.byteLength(text, 'utf8');
    else size += start < 0 ? 1 : 5 + ends[i]! - start;
  }
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt16BE(count, 0);
  let pos = 2;
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    const text = rendered?.[i];
    if (text !== undefined) {
      buf[pos] = KIND_TEXT;
      const length = buf.write(text, pos + 5, 'utf8');
      buf.writeUInt32BE(length, pos + 1);
      pos += 5 + length;
    } else if (start === NULL_SPAN) {
      buf[pos++] = KIND_NULL;
    } else if (start === UNCHANGED_SPAN) {
      buf[pos++] = KIND_UNCHANGED;
    } else {
      const end = ends[i]!;
      const length = end - start;
      buf[pos] = KIND_TEXT;
      buf.writeUInt32BE(length, pos + 1);
      pos += 5;
      if (length <= SHORT_COPY) for (let k = start; k < end; k++) buf[pos++] = src[k]!;
      else pos += src.copy(buf, pos, start, end);
    }
  }
  return { buf, offset: 0, kind };
}

/**
 * A row image of a record read by the Kafka source, as a TupleRef: JSON encoders write it straight
 * from the record's bytes (`writeRecordImageJson`); whatever reads `buf` (a key hash, a transform,
 * the Postgres target) gets its TupleData, built once, when first read.
 */
export class RecordImageTuple implements TupleRef {
  readonly offset = 0;
  readonly kind: 'O' | 'N';
  readonly values: RowValues;
  /** The image's column names, in the record's order (the values' order). */
  readonly names: readonly string[];
  #buf: Buffer | undefined;

  constructor(values: RowValues, kind: 'O' | 'N', names: readonly string[]) {
    this.values = values;
    this.kind = kind;
    this.names = names;
  }

  get buf(): Buffer {
    return (this.#buf ??= valuesTuple(this.values, this.kind).buf);
  }
}

/** Per table: the record names it was checked against last, and what verbatimKeysLength said. */
const verbatimKeys = new WeakMap<TableInfo, { readonly names: readonly string[]; readonly length: number }>();

/**
 * When images with these column `names` are written exactly as a compact record holds them (the
 * table's columns are these, in this order, every one included, its value written as is, its name
 * plain ASCII; nothing added), the length of all the `"name":` keys; else -1.
 */
function verbatimKeysLength(table: TableInfo, names: readonly string[]): number {
  let checked = verbatimKeys.get(table);
  if (checked === undefined || checked.names !== names) {
    const columns = table.columns;
    const verbatim =
      table.addedFieldsJson === undefined &&
      columns.length === names.length &&
      columns.every((column, i) => column.name === names[i] && column.included && column.render === writeJsonText && column.renderNull === writeJsonNull && /^[\x20-\x7e]*$/.test(column.name) && !/["\\]/.test(column.name) && column.jsonKey === `"${column.name}":`);
    checked = { names, length: verbatim ? columns.reduce((sum, column) => sum + column.jsonKey.length, 0) : -1 };
    verbatimKeys.set(table, checked);
  }
  return checked.length;
}

/**
 * writeTupleJson of a RecordImageTuple: each included column's value written from the record's
 * bytes; the record's object copied whole when it is exactly what that would write (compact, its
 * names as the table's keys, every value its bytes or null: its length tells, see RowValues).
 */
export function writeRecordImageJson(w: JsonWriter, table: TableInfo, tuple: RecordImageTuple, unchanged?: string[]): void {
  const values = tuple.values;
  const { buf, starts, ends, rendered } = values;
  const columns = table.columns;
  const count = starts.length;
  if (values.objectStart >= 0) {
    const keysLength = verbatimKeysLength(table, tuple.names);
    if (keysLength >= 0 && values.objectEnd - values.objectStart === 2 + Math.max(count - 1, 0) + values.valueBytes + keysLength) {
      w.bytes(buf, values.objectStart, values.objectEnd);
      return;
    }
  }
  let first = true;
  w.raw('{');
  for (let i = 0; i < count; i++) {
    const column = columns[i]!;
    if (!column.included) continue;
    w.raw(first ? column.jsonKey : column.jsonKeyAfterComma);
    first = false;
    const start = starts[i]!;
    const text = rendered?.[i];
    if (text !== undefined) {
      const bytes = Buffer.from(text, 'utf8');
      column.render(w, bytes, 0, bytes.length);
    } else if (start === NULL_SPAN) {
      column.renderNull(w);
    } else if (start === UNCHANGED_SPAN) {
      column.renderUnchanged(w);
      unchanged?.push(column.name);
    } else {
      column.render(w, buf, start, ends[i]!);
    }
  }
  closeRowImage(w, table, first);
}
