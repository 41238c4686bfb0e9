/**
 * Rows of `COPY … TO STDOUT` (text format) used directly as row images: the initial snapshot hands
 * them to the encoder as they arrive, and values are rendered straight from the COPY bytes, the
 * way pgoutput values are (both are the type's output function; COPY only adds backslash escapes
 * and `\N` for null). A field with escapes is unescaped into a scratch buffer first.
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import type { JsonWriter } from '../encoding/json-writer.js';
import type { TableInfo } from './stream-event.js';

const TAB = 0x09;
const BACKSLASH = 0x5c;
const LETTER_N = 0x4e;
const KIND_TEXT = 0x74; // t
const KIND_NULL = 0x6e; // n

/** What follows a backslash, as a byte; octal and hex escapes are handled apart. */
const SIMPLE_ESCAPES = new Int16Array(256).fill(-1);
SIMPLE_ESCAPES[0x62] = 0x08; // \b
SIMPLE_ESCAPES[0x66] = 0x0c; // \f
SIMPLE_ESCAPES[0x6e] = 0x0a; // \n
SIMPLE_ESCAPES[0x72] = 0x0d; // \r
SIMPLE_ESCAPES[0x74] = 0x09; // \t
SIMPLE_ESCAPES[0x76] = 0x0b; // \v

let scratch = Buffer.allocUnsafe(64 * 1024);

/** A COPY row `[start, end)` (no newline) as a row image. */
export function copyRow(buf: Buffer, start: number, end: number): TupleRef {
  return { buf, offset: start, end, kind: 'C' };
}

/** Writes a COPY row as a JSON object of the table's included columns. */
export function writeCopyRowJson(w: JsonWriter, table: TableInfo, row: TupleRef): void {
  const buf = row.buf;
  const end = row.end!;
  const columns = table.columns;
  let pos = row.offset;
  let first = true;
  w.raw('{');
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const start = pos;
    let escaped = false;
    while (pos < end) {
      const b = buf[pos]!;
      if (b === TAB) break;
      if (b === BACKSLASH) {
        escaped = true;
        pos++; // the escaped character cannot be a field separator
      }
      pos++;
    }
    const fieldEnd = pos;
    pos++; // past the tab
    if (!column.included) continue;
    w.raw(first ? column.jsonKey : column.jsonKeyAfterComma);
    first = false;
    if (escaped) {
      if (fieldEnd - start === 2 && buf[start + 1] === LETTER_N) {
        column.renderNull(w);
      } else {
        const length = unescapeCopyText(buf, start, fieldEnd, scratchFor(fieldEnd - start), 0);
        column.render(w, scratch, 0, length);
      }
    } else {
      column.render(w, buf, start, fieldEnd);
    }
  }
  closeRowImage(w, table, first);
}

/** Column `index` of a COPY row: its kind (`t` or `n`) and its unescaped bytes. */
export function copyRowField(row: TupleRef, index: number): { kind: number; buf: Buffer; start: number; end: number } {
  const buf = row.buf;
  const end = row.end!;
  let pos = row.offset;
  for (let i = 0; ; i++) {
    const start = pos;
    let escaped = false;
    while (pos < end && buf[pos] !== TAB) {
      if (buf[pos] === BACKSLASH) {
        escaped = true;
        pos++;
      }
      pos++;
    }
    if (i === index) {
      if (!escaped) return { kind: KIND_TEXT, buf, start, end: pos };
      if (pos - start === 2 && buf[start + 1] === LETTER_N) return { kind: KIND_NULL, buf, start, end: start };
      const copy = Buffer.allocUnsafe(pos - start);
      return { kind: KIND_TEXT, buf: copy, start: 0, end: unescapeCopyText(buf, start, pos, copy, 0) };
    }
    pos++;
  }
}

function scratchFor(length: number): Buffer {
  if (scratch.length < length) scratch = Buffer.allocUnsafe(Math.max(length, scratch.length * 2));
  return scratch;
}

/** Unescapes COPY text `src[start, end)` into `out` at `o`; returns the end in `out`. */
export function unescapeCopyText(src: Buffer, start: number, end: number, out: Buffer, o: number): number {
  let i = start;
  while (i < end) {
    const b = src[i++]!;
    if (b !== BACKSLASH || i >= end) {
      out[o++] = b;
      continue;
    }
    const c = src[i]!;
    const simple = SIMPLE_ESCAPES[c]!;
    if (simple >= 0) {
      out[o++] = simple;
      i++;
    } else if (c >= 0x30 && c <= 0x37) {
      // \ooo: one to three octal digits
      let value = 0;
      for (let n = 0; n < 3 && i < end && src[i]! >= 0x30 && src[i]! <= 0x37; n++) value = value * 8 + (src[i++]! - 0x30);
      out[o++] = value & 0xff;
    } else if (c === 0x78 /* x */ && i + 1 < end && isHex(src[i + 1]!)) {
      // \xhh: one or two hex digits
      let value = hexValue(src[i + 1]!);
      i += 2;
      if (i < end && isHex(src[i]!)) value = value * 16 + hexValue(src[i++]!);
      out[o++] = value;
    } else {
      // Any other character stands for itself (\\ among them).
      out[o++] = c;
      i++;
    }
  }
  return o;
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function hexValue(b: number): number {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10;
}

/** Ends a row image: the fixed fields `spec.transform.addFields` gives the table, after its columns, then `}`. */
export function closeRowImage(w: JsonWriter, table: TableInfo, first: boolean): void {
  const added = table.addedFieldsJson;
  if (added !== undefined) {
    if (!first) w.byte(0x2c); // ,
    w.raw(added);
  }
  w.raw('}');
}
