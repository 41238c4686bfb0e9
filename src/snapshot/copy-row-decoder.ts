/**
 * Turns rows of `COPY … TO STDOUT` (text format) into pgoutput TupleData, for incremental snapshot
 * chunks: their rows are compared with streamed ones (by key bytes) before they are emitted, so
 * they need the same unescaped layout. Rows are written one after another into large slabs.
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import { unescapeCopyText } from '../events/copy-row.js';
import { counted, inflect } from '../text/counts.js';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const KIND_TEXT = 0x74; // t
const KIND_NULL = 0x6e; // n

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
        // An escape: find the field's end, then unescape the rest of it at once.
        let fieldEnd = i;
        while (fieldEnd < last && buf[fieldEnd] !== TAB) fieldEnd += buf[fieldEnd] === BACKSLASH ? 2 : 1;
        o = unescapeCopyText(buf, i, Math.min(fieldEnd, last), out, o);
        i = Math.min(fieldEnd, last);
      }
      out.writeUInt32BE(o - valueStart, lengthAt);
      i++; // the tab (or past the end)
    }
    if (columns !== columnCount || (columnCount > 0 && i <= last)) {
      const found = columns === columnCount ? 'more columns' : counted(columns, 'column');
      throw new PgcdcError('PROTOCOL', `a COPY row has ${found} where ${counted(columnCount, 'column')} ${inflect(columnCount, 'was', 'were')} expected`, {
        hint: 'the table changed shape during the snapshot; run the snapshot again',
      });
    }
    out.writeUInt16BE(columnCount, offset);
    this.#pos = o;
    return { buf: out, offset, kind: 'N' };
  }
}
