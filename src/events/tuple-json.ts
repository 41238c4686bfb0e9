/**
 * Renders pgoutput TupleData as JSON objects (the natural rendering), and reads single columns
 * out of it: the hot path of every JSON target.
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import { JsonWriter } from '../encoding/json-writer.js';
import { closeRowImage, copyRowField, writeCopyRowJson } from './copy-row.js';
import { RecordImageTuple, writeRecordImageJson } from './json-valued-rows.js';
import type { RowEvent, TableInfo } from './stream-event.js';

const KIND_TEXT = 0x74; // t
const KIND_NULL = 0x6e; // n
const KIND_UNCHANGED = 0x75; // u
const KIND_BINARY = 0x62; // b

/**
 * Writes the row as a JSON object of its included columns. A `K` tuple holds only the replica
 * identity columns (the others are sent as null), so only those are written. Names of unchanged
 * TOAST columns are appended to `unchanged` when given.
 */
export function writeTupleJson(w: JsonWriter, table: TableInfo, tuple: TupleRef, unchanged?: string[]): void {
  if (tuple.kind === 'C') return writeCopyRowJson(w, table, tuple);
  if (tuple instanceof RecordImageTuple) return writeRecordImageJson(w, table, tuple, unchanged);
  const buf = tuple.buf;
  const columns = table.columns;
  const keyOnly = tuple.kind === 'K';
  let pos = tuple.offset;
  const count = buf.readUInt16BE(pos);
  pos += 2;
  let first = true;
  w.raw('{');
  for (let i = 0; i < count; i++) {
    const kind = buf[pos++];
    const column = columns[i]!;
    let start = 0;
    let end = 0;
    if (kind === KIND_TEXT || kind === KIND_BINARY) {
      const length = buf.readUInt32BE(pos);
      start = pos + 4;
      end = start + length;
      pos = end;
    }
    if (!column.included || (keyOnly && !column.isReplicaIdentity)) continue;
    w.raw(first ? column.jsonKey : column.jsonKeyAfterComma);
    first = false;
    if (kind === KIND_TEXT) {
      column.render(w, buf, start, end);
    } else if (kind === KIND_NULL) {
      column.renderNull(w);
    } else if (kind === KIND_UNCHANGED) {
      column.renderUnchanged(w);
      unchanged?.push(column.name);
    } else {
      // Binary format is never requested; write the bytes as hex so nothing is silently lost.
      w.string(`\\x${buf.toString('hex', start, end)}`);
    }
  }
  closeRowImage(w, table, first);
}

/**
 * Writes the event key `{"k1":v1,…}` from the key columns of `tuple`, or `null` without a key. A
 * key column left unchanged in TOAST (`u`) is taken from `old` when given: the server sends the old
 * key whenever a key column is stored out of line, so the key is never lost to a placeholder.
 */
export function writeKeyJson(w: JsonWriter, table: TableInfo, tuple: TupleRef | null, old: TupleRef | null = null): void {
  const keys = table.keyColumns;
  if (keys.length === 0 || tuple === null) {
    w.raw('null');
    return;
  }
  w.raw('{');
  for (let k = 0; k < keys.length; k++) {
    const index = keys[k]!;
    const column = table.columns[index]!;
    w.raw(k === 0 ? column.jsonKey : column.jsonKeyAfterComma);
    if (tuple.kind === 'C') {
      const field = copyRowField(tuple, index);
      if (field.kind === KIND_TEXT) column.render(w, field.buf, field.start, field.end);
      else column.renderNull(w);
      continue;
    }
    let source = tuple;
    let bounds = columnBounds(tuple, index);
    if (bounds.kind === KIND_UNCHANGED && old !== null) {
      const previous = columnBounds(old, index);
      if (previous.kind === KIND_TEXT) {
        source = old;
        bounds = previous;
      }
    }
    if (bounds.kind === KIND_TEXT) column.render(w, source.buf, bounds.start, bounds.end);
    else if (bounds.kind === KIND_UNCHANGED) column.renderUnchanged(w);
    else column.renderNull(w);
  }
  w.raw('}');
}

/** Where column `index` of a tuple lies, and its kind byte (`t`, `n`, `u`, `b`). */
export function columnBounds(tuple: TupleRef, index: number): { kind: number; start: number; end: number } {
  if (tuple.kind === 'C') throw new Error('columnBounds of a COPY row: use copyRowField');
  const buf = tuple.buf;
  let pos = tuple.offset + 2;
  for (let i = 0; ; i++) {
    const kind = buf[pos++]!;
    if (kind === KIND_TEXT || kind === KIND_BINARY) {
      const length = buf.readUInt32BE(pos);
      if (i === index) return { kind, start: pos + 4, end: pos + 4 + length };
      pos += 4 + length;
    } else if (i === index) {
      return { kind, start: pos, end: pos };
    }
  }
}

/**
 * True when an update changed the event key: the old tuple carries the key columns and at least
 * one of them differs from the new tuple. Debezium reports such an update as delete + create.
 */
export function keyChanged(event: RowEvent): boolean {
  const before = event.before;
  const after = event.after;
  if (event.op !== 'u' || before === null || after === null) return false;
  const keys = event.table.keyColumns;
  if (keys.length === 0) return false;
  for (const index of keys) {
    const old = columnBounds(before, index);
    if (old.kind !== KIND_TEXT) return false; // the old tuple does not carry this key column
    const now = columnBounds(after, index);
    if (now.kind === KIND_UNCHANGED) continue;
    if (now.kind !== KIND_TEXT || before.buf.compare(after.buf, now.start, now.end, old.start, old.end) !== 0) return true;
  }
  return false;
}

/** The row as a plain object (slow path for library users and tests): values as `JSON.parse` gives them. */
export function tupleToObject(table: TableInfo, tuple: TupleRef): Record<string, unknown> {
  const w = new JsonWriter(4096);
  writeTupleJson(w, table, tuple);
  return JSON.parse(Buffer.concat(w.take()).toString('utf8')) as Record<string, unknown>;
}
