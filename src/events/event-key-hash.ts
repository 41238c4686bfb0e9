/**
 * A 31-bit hash of an event's key (its table and the text of its key columns), for routing
 * events of the same row to the same ordered lane. The same row hashes the same whether it comes
 * from the stream (pgoutput text) or from a snapshot (COPY text, unescaped).
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import { copyRowField } from './copy-row.js';
import type { StreamEvent, TableInfo } from './stream-event.js';
import { columnBounds } from './tuple-json.js';

const KIND_TEXT = 0x74; // t
const KIND_UNCHANGED = 0x75; // u
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The hash of the row key of `tuple` (a key column left unchanged in TOAST is read from `old`);
 * rows of a table without a key all hash alike, which keeps them in order.
 */
export function rowKeyHash(table: TableInfo, tuple: TupleRef, old: TupleRef | null): number {
  let hash = mixInteger(FNV_OFFSET, table.oid);
  const keys = table.keyColumns;
  for (let k = 0; k < keys.length; k++) {
    const index = keys[k]!;
    let buf = tuple.buf;
    let field: { kind: number; start: number; end: number };
    if (tuple.kind === 'C') {
      const copied = copyRowField(tuple, index);
      buf = copied.buf;
      field = copied;
    } else {
      field = columnBounds(tuple, index);
      if (field.kind === KIND_UNCHANGED && old !== null && old.kind !== 'C') {
        const previous = columnBounds(old, index);
        if (previous.kind === KIND_TEXT) {
          buf = old.buf;
          field = previous;
        }
      }
    }
    hash = Math.imul(hash ^ field.kind, FNV_PRIME);
    for (let i = field.start; i < field.end; i++) hash = Math.imul(hash ^ buf[i]!, FNV_PRIME);
  }
  return (hash >>> 0) & 0x7fffffff;
}

/**
 * The ordering key of a record the Debezium encoder writes for `event` with op `op`: its row's
 * key hash (a primary-key change is a delete of the old key then a create of the new one), its
 * message prefix's hash, or -1 (a barrier, ordered against everything) for a truncate, a schema
 * change or a transaction record.
 */
export function recordKeyHash(op: string, event: StreamEvent): number {
  if (op === 'BEGIN' || op === 'END') return -1;
  switch (event.kind) {
    case 'row':
      return rowKeyHash(event.table, op === 'd' ? event.before! : (event.after ?? event.before!), event.before);
    case 'message':
      return textHash(event.prefix);
    case 'truncate':
    case 'schema':
    case 'begin':
    case 'commit':
      return -1;
  }
}

/** The hash of a string (a message prefix). */
export function textHash(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
  return (hash >>> 0) & 0x7fffffff;
}

function mixInteger(hash: number, value: number): number {
  let h = hash;
  for (let shift = 0; shift < 32; shift += 8) h = Math.imul(h ^ ((value >>> shift) & 0xff), FNV_PRIME);
  return h;
}
