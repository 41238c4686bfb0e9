/**
 * A byte-level text writer for the hot path: events are encoded straight from the replication
 * stream's bytes into large output chunks (JSON for most targets, SQL for the Postgres target),
 * with no intermediate JavaScript strings for values.
 */

const QUOTE = 0x22;
const APOSTROPHE = 0x27;
const BACKSLASH = 0x5c;
const HEX = '0123456789abcdef';

/** For COPY text fields: the letter following the backslash that escapes a byte, else 0. */
const COPY_ESCAPES = new Uint8Array(256);
COPY_ESCAPES[0x5c] = 0x5c; // \\
COPY_ESCAPES[0x09] = 0x74; // \t
COPY_ESCAPES[0x0a] = 0x6e; // \n
COPY_ESCAPES[0x0d] = 0x72; // \r

/** Bytes that need escaping inside a JSON string: control characters, `"` and `\`. */
const NEEDS_ESCAPE = new Uint8Array(256);
for (let i = 0; i < 0x20; i++) NEEDS_ESCAPE[i] = 1;
NEEDS_ESCAPE[QUOTE] = 1;
NEEDS_ESCAPE[BACKSLASH] = 1;

/** Short escapes JSON defines; the other control characters become `\u00XX`. */
const SHORT_ESCAPES: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

/** Node's fast string writers behind Buffer#write, which @types/node does not declare. */
interface StringWritingBuffer extends Buffer {
  latin1Write(value: string, offset: number, length: number): number;
  utf8Write(value: string, offset: number): number;
}

/**
 * Appends JSON text to a list of large Buffers.
 *
 * @example
 * const w = new JsonWriter();
 * w.raw('{"a":'); w.stringFromBytes(Buffer.from('x"y'), 0, 3); w.raw('}\n');
 * const chunks = w.take(); // [Buffer('{"a":"x\\"y"}\n')]
 */
export class JsonWriter {
  #chunks: Buffer[] = [];
  /** The slab being written: `[#start, #pos)` is written and not yet taken. */
  #buf: Buffer;
  #start = 0;
  #pos = 0;
  #taken = 0;
  /** Earlier slabs whose bytes were taken, and slabs free for reuse after `recycle()`. */
  #inUse: Buffer[] = [];
  readonly #free: Buffer[] = [];
  readonly #chunkSize: number;

  constructor(chunkSize = 256 * 1024) {
    this.#chunkSize = chunkSize;
    this.#buf = Buffer.allocUnsafe(chunkSize);
  }

  /** Bytes written since the last `take()`. */
  get length(): number {
    return this.#taken + this.#pos - this.#start;
  }

  /** Writes ASCII text as is (keys, punctuation, digits). */
  raw(ascii: string): void {
    const n = ascii.length;
    if (this.#pos + n > this.#buf.length) this.#grow(n);
    if (n <= 32) {
      // Short strings are copied faster by hand than through a native call.
      const buf = this.#buf;
      let pos = this.#pos;
      for (let i = 0; i < n; i++) buf[pos++] = ascii.charCodeAt(i);
      this.#pos = pos;
      return;
    }
    this.#pos += (this.#buf as StringWritingBuffer).latin1Write(ascii, this.#pos, n);
  }

  /** Writes any JavaScript string as UTF-8, as is (SQL text around values: names may be non-ASCII). */
  utf8(text: string): void {
    const worst = text.length * 3;
    if (this.#pos + worst > this.#buf.length) this.#grow(worst);
    this.#pos += this.#buf.write(text, this.#pos, 'utf8');
  }

  /** Writes a non-negative safe integer in decimal, without building a string. */
  integer(value: number): void {
    if (this.#pos + 16 > this.#buf.length) this.#grow(16);
    const buf = this.#buf;
    if (value < 10) {
      buf[this.#pos++] = 0x30 + value;
      return;
    }
    let digits = 1;
    for (let rest = Math.floor(value / 10); rest > 0; rest = Math.floor(rest / 10)) digits++;
    let pos = this.#pos + digits;
    this.#pos = pos;
    let rest = value;
    while (rest > 0) {
      const next = Math.floor(rest / 10);
      buf[--pos] = 0x30 + (rest - next * 10);
      rest = next;
    }
  }

  /** Writes a whole Buffer as is (pre-encoded JSON fragments). */
  fragment(bytes: Buffer): void {
    this.bytes(bytes, 0, bytes.length);
  }

  /** Writes one ASCII byte (punctuation such as `[`, `,` or `"`). */
  byte(code: number): void {
    if (this.#pos >= this.#buf.length) this.#grow(1);
    this.#buf[this.#pos++] = code;
  }

  /** Writes bytes as is (numbers or JSON text already valid). */
  bytes(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.#pos + n > this.#buf.length) this.#grow(n);
    if (n <= 40) {
      // Short runs (numbers, dates, hashes) are copied faster by hand than through Buffer#copy.
      const buf = this.#buf;
      let pos = this.#pos;
      for (let i = start; i < end; i++) buf[pos++] = src[i]!;
      this.#pos = pos;
      return;
    }
    src.copy(this.#buf, this.#pos, start, end);
    this.#pos += n;
  }

  /** Writes UTF-8 bytes as a quoted JSON string, escaping what JSON requires. */
  stringFromBytes(src: Buffer, start: number, end: number): void {
    // Worst case every byte becomes \u00XX (6 bytes), plus two quotes.
    const worst = (end - start) * 6 + 2;
    if (this.#pos + worst > this.#buf.length) this.#grow(worst);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = QUOTE;
    if (end - start <= 64) {
      // Short strings: one pass that copies and escapes.
      for (let i = start; i < end; i++) {
        const b = src[i]!;
        if (NEEDS_ESCAPE[b] === 0) buf[pos++] = b;
        else pos = writeEscape(buf, pos, b);
      }
      buf[pos++] = QUOTE;
      this.#pos = pos;
      return;
    }
    let runStart = start;
    for (let i = start; i < end; i++) {
      const b = src[i]!;
      if (NEEDS_ESCAPE[b] === 0) continue;
      if (i > runStart) pos += src.copy(buf, pos, runStart, i);
      pos = writeEscape(buf, pos, b);
      runStart = i + 1;
    }
    if (end > runStart) pos += src.copy(buf, pos, runStart, end);
    buf[pos++] = QUOTE;
    this.#pos = pos;
  }

  /**
   * Writes UTF-8 bytes as a SQL string literal (`'…'`, quotes doubled; the receiving session must
   * have standard_conforming_strings on, the default since PostgreSQL 9.1).
   */
  sqlLiteralFromBytes(src: Buffer, start: number, end: number): void {
    const worst = (end - start) * 2 + 2;
    if (this.#pos + worst > this.#buf.length) this.#grow(worst);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = APOSTROPHE;
    if (end - start <= 32) {
      // Short values (numbers, dates, keys) are copied faster by hand than through Buffer#copy.
      for (let i = start; i < end; i++) {
        const b = src[i]!;
        buf[pos++] = b;
        if (b === APOSTROPHE) buf[pos++] = APOSTROPHE;
      }
      buf[pos++] = APOSTROPHE;
      this.#pos = pos;
      return;
    }
    let runStart = start;
    for (let i = start; i < end; i++) {
      if (src[i] !== APOSTROPHE) continue;
      pos += src.copy(buf, pos, runStart, i + 1);
      buf[pos++] = APOSTROPHE;
      runStart = i + 1;
    }
    if (end > runStart) pos += src.copy(buf, pos, runStart, end);
    buf[pos++] = APOSTROPHE;
    this.#pos = pos;
  }

  /**
   * Writes UTF-8 bytes as a field of COPY's text format: backslash, tab, newline and carriage
   * return escaped with a backslash.
   */
  copyTextFromBytes(src: Buffer, start: number, end: number): void {
    const worst = (end - start) * 2;
    if (this.#pos + worst > this.#buf.length) this.#grow(worst);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = start; i < end; i++) {
      const b = src[i]!;
      const escaped = COPY_ESCAPES[b]!;
      if (escaped === 0) buf[pos++] = b;
      else {
        buf[pos++] = BACKSLASH;
        buf[pos++] = escaped;
      }
    }
    this.#pos = pos;
  }

  /** Writes a JavaScript string as a quoted JSON string. */
  string(value: string): void {
    const worst = value.length * 6 + 2;
    if (this.#pos + worst > this.#buf.length) this.#grow(worst);
    const start = this.#pos + 1;
    const written = (this.#buf as StringWritingBuffer).utf8Write(value, start);
    // Escape in place only when needed: scan what was just written.
    let clean = true;
    for (let i = start, end = start + written; i < end; i++) {
      if (NEEDS_ESCAPE[this.#buf[i]!] === 1) {
        clean = false;
        break;
      }
    }
    if (clean) {
      this.#buf[this.#pos] = QUOTE;
      this.#buf[start + written] = QUOTE;
      this.#pos = start + written + 1;
      return;
    }
    const copy = Buffer.from(this.#buf.subarray(start, start + written));
    this.stringFromBytes(copy, 0, copy.length);
  }

  /** Writes a finite number in JSON form. */
  number(value: number): void {
    this.raw(String(value));
  }

  /**
   * Returns everything written since the last `take()` as Buffers. They stay valid until
   * `recycle()`, which lets the writer reuse their memory.
   */
  take(): Buffer[] {
    if (this.#pos > this.#start) {
      this.#chunks.push(this.#buf.subarray(this.#start, this.#pos));
      this.#start = this.#pos;
      if (this.#buf.length - this.#pos < 4096) this.#nextSlab(0);
    }
    const out = this.#chunks;
    this.#chunks = [];
    this.#taken = 0;
    return out;
  }

  /**
   * Everything written since the last `take()` as one Buffer of its own (a copy), then `recycle()`:
   * for output kept after the writer is reused (a batch's request bodies).
   */
  takeCopy(): Buffer {
    const chunks = this.take();
    const copy = chunks.length === 1 ? Buffer.from(chunks[0]!) : Buffer.concat(chunks);
    this.recycle();
    return copy;
  }

  /** Declares every Buffer returned by `take()` consumed: their memory is written over from now on. */
  recycle(): void {
    if (this.#pos > this.#start) throw new Error('JsonWriter.recycle() with bytes not taken');
    for (const slab of this.#inUse) if (slab.length === this.#chunkSize) this.#free.push(slab);
    this.#inUse = [];
    this.#start = 0;
    this.#pos = 0;
  }

  #grow(needed: number): void {
    if (this.#pos > this.#start) {
      this.#chunks.push(this.#buf.subarray(this.#start, this.#pos));
      this.#taken += this.#pos - this.#start;
    }
    this.#nextSlab(needed);
  }

  #nextSlab(needed: number): void {
    this.#inUse.push(this.#buf);
    this.#buf = needed <= this.#chunkSize ? (this.#free.pop() ?? Buffer.allocUnsafe(this.#chunkSize)) : Buffer.allocUnsafe(needed);
    this.#start = 0;
    this.#pos = 0;
  }
}

function writeEscape(buf: Buffer, pos: number, b: number): number {
  const short = SHORT_ESCAPES[b];
  if (short !== undefined) {
    buf[pos] = BACKSLASH;
    buf[pos + 1] = short.charCodeAt(1);
    return pos + 2;
  }
  buf[pos] = BACKSLASH;
  buf[pos + 1] = 0x75; // u
  buf[pos + 2] = 0x30;
  buf[pos + 3] = 0x30;
  buf[pos + 4] = HEX.charCodeAt(b >> 4);
  buf[pos + 5] = HEX.charCodeAt(b & 15);
  return pos + 6;
}
