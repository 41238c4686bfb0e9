/**
 * Turns rows of `COPY … TO STDOUT` (text format) into pgoutput TupleData, so that snapshot rows are
 * rendered by exactly the same code, and to exactly the same JSON, as streamed rows. The text of a
 * value is the type's output function in both cases; COPY only adds backslash escapes and `\N`.
 * Rows are written one after another into large slabs (no allocation per row).
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { TupleRef } from '../decoding/pgoutput-messages.js';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
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

export class CopyRowDecoder {
  readonly #slabSize: number;
  #slab: Buffer;
  #pos = 0;

  constructor(slabSize = 1024 * 1024) {
    this.#slabSize = slabSize;
    this.#slab = Buffer.allocUnsafe(slabSize);
  }

  /** Converts the row `buf[start, end)` (its newline included) of `columnCount` columns. */
  decode(buf: Buffer, start: number, end: number, columnCount: number): TupleRef {
    // Escapes only shrink values; each column adds a kind byte and a length.
    const worst = end - start + 2 + columnCount * 5;
    if (this.#pos + worst > this.#slab.length) {
      this.#slab = Buffer.allocUnsafe(Math.max(this.#slabSize, worst));
      this.#pos = 0;
    }
    const out = this.#slab;
    const offset = this.#pos;
    let o = offset + 2;
    let i = start;
    const last = buf[end - 1] === NEWLINE ? end - 1 : end;
    let columns = 0;
    while (i <= last && columns < columnCount) {
      columns++;
      if (buf[i] === BACKSLASH && buf[i + 1] === 0x4e /* N */ && (i + 2 === last || buf[i + 2] === TAB)) {
        out[o++] = KIND_NULL;
        i += 3;
        continue;
      }
      out[o] = KIND_TEXT;
      const lengthAt = o + 1;
      o += 5;
      const valueStart = o;
      while (i < last) {
        const b = buf[i]!;
        if (b === TAB) break;
        if (b !== BACKSLASH) {
          out[o++] = b;
          i++;
          continue;
        }
        i = unescape(buf, i + 1, last, out, o);
        o = unescapedEnd;
      }
      out.writeUInt32BE(o - valueStart, lengthAt);
      i++; // the tab (or past the end)
    }
    if (columns !== columnCount || (columnCount > 0 && i <= last)) {
      throw new PgcdcError('PROTOCOL', `a COPY row has ${columns === columnCount ? 'more' : columns} columns where ${columnCount} were expected`, {
        hint: 'the table changed shape during the snapshot; run the snapshot again',
      });
    }
    out.writeUInt16BE(columnCount, offset);
    this.#pos = o;
    return { buf: out, offset, kind: 'N' };
  }
}

/** Where `unescape` left the output; module state keeps the hot loop free of allocations. */
let unescapedEnd = 0;

/** Decodes the escape starting at `buf[i]` (after the backslash) into `out[o]`; returns the next input index. */
function unescape(buf: Buffer, i: number, last: number, out: Buffer, o: number): number {
  const c = buf[i]!;
  const simple = SIMPLE_ESCAPES[c]!;
  if (simple >= 0) {
    out[o] = simple;
    unescapedEnd = o + 1;
    return i + 1;
  }
  if (c >= 0x30 && c <= 0x37) {
    // \ooo: one to three octal digits
    let value = 0;
    let n = 0;
    while (n < 3 && i < last && buf[i]! >= 0x30 && buf[i]! <= 0x37) {
      value = value * 8 + (buf[i]! - 0x30);
      i++;
      n++;
    }
    out[o] = value & 0xff;
    unescapedEnd = o + 1;
    return i;
  }
  if (c === 0x78 /* x */ && i + 1 < last && isHex(buf[i + 1]!)) {
    // \xhh: one or two hex digits
    let value = hexValue(buf[i + 1]!);
    i += 2;
    if (i < last && isHex(buf[i]!)) {
      value = value * 16 + hexValue(buf[i]!);
      i++;
    }
    out[o] = value;
    unescapedEnd = o + 1;
    return i;
  }
  // Any other character stands for itself (\\ among them).
  out[o] = c;
  unescapedEnd = o + 1;
  return i + 1;
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function hexValue(b: number): number {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10;
}
