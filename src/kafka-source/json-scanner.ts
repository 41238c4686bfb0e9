/**
 * A byte-level JSON scanner over a record's Buffer, for the Kafka source's hot path: it finds where
 * values start and end (so a column's value is its JSON text sliced from the record, never parsed
 * into a JavaScript number), lists an object's members as name + value span, and decodes strings
 * only where a name is needed. It checks structure only as far as finding value ends needs; a
 * malformed document throws a JsonScanError naming the byte offset.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

export class JsonScanError extends Error {}

/** The members of one JSON object: names, and the [start, end) byte span of each value. */
export interface ObjectMembers {
  /** Where the object starts (its `{`). */
  readonly start: number;
  readonly names: readonly string[];
  readonly starts: number[];
  readonly ends: number[];
}

/** 1 for the bytes that end a number or a literal: `,`, `}`, `]` and whitespace. */
const ENDS_SCALAR = new Uint8Array(256);
for (const byte of [COMMA, CLOSE_BRACE, CLOSE_BRACKET, 0x20, 0x0a, 0x0d, 0x09]) ENDS_SCALAR[byte] = 1;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** The first non-whitespace offset at or after `i`. */
export function skipWhitespace(buf: Buffer, i: number): number {
  while (i < buf.length && isWhitespace(buf[i]!)) i++;
  return i;
}

/** Strings scanned byte by byte up to this length; longer ones through Buffer.indexOf (a native call costs more than a short loop). */
const SHORT_SCAN = 64;

/** The offset just past the string whose opening quote is at `i`. */
export function stringEnd(buf: Buffer, i: number): number {
  const limit = Math.min(buf.length, i + SHORT_SCAN);
  let j = i + 1;
  while (j < limit) {
    const byte = buf[j]!;
    if (byte === QUOTE) return j + 1;
    j += byte === BACKSLASH ? 2 : 1;
  }
  for (;;) {
    const q = buf.indexOf(QUOTE, j);
    if (q < 0) throw new JsonScanError(`unterminated string at byte ${i}`);
    // An escaped quote: an odd number of backslashes before it.
    let backslashes = 0;
    for (let k = q - 1; k > i && buf[k] === BACKSLASH; k--) backslashes++;
    if ((backslashes & 1) === 0) return q + 1;
    j = q + 1;
  }
}

/** The offset just past the JSON value starting at `i` (no whitespace before it). */
export function valueEnd(buf: Buffer, i: number): number {
  const first = buf[i];
  if (first === QUOTE) return stringEnd(buf, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    let j = i;
    while (j < buf.length) {
      const byte = buf[j]!;
      if (byte === QUOTE) {
        j = stringEnd(buf, j);
        continue;
      }
      if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw new JsonScanError(`unterminated ${first === OPEN_BRACE ? 'object' : 'array'} at byte ${i}`);
  }
  if (first === undefined) throw new JsonScanError(`a value is missing at byte ${i}`);
  // A number or a literal: up to the next delimiter.
  let j = i;
  const length = buf.length;
  while (j < length && ENDS_SCALAR[buf[j]!] === 0) j++;
  if (j === i) throw new JsonScanError(`unexpected ${String.fromCharCode(first)} at byte ${i}`);
  return j;
}

/** The text of the string whose quotes span [start, end). */
export function decodeString(buf: Buffer, start: number, end: number): string {
  // Without escapes, the bytes between the quotes are the string's UTF-8.
  const backslash = buf.indexOf(BACKSLASH, start + 1);
  if (backslash < 0 || backslash >= end) return buf.toString('utf8', start + 1, end - 1);
  return JSON.parse(buf.toString('utf8', start, end)) as string;
}

/** The integer spanning [start, end) (digits, optional minus), or undefined for another value. */
export function integerAt(buf: Buffer, start: number, end: number): number | undefined {
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  if (i === end || end - i > 15) {
    const value = Number(buf.toString('latin1', start, end));
    return Number.isFinite(value) ? value : undefined;
  }
  let value = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** Whether [start, end) is the literal `null`. */
export function isNullAt(buf: Buffer, start: number, end: number): boolean {
  return end - start === 4 && buf[start] === 0x6e && buf[start + 1] === 0x75 && buf[start + 2] === 0x6c && buf[start + 3] === 0x6c;
}

/**
 * The member names an object of one kind (a topic's `after`, `source` …) had last time, with their
 * bytes: records of a topic repeat their names in the same order, so a name is decoded when it
 * differs from the one at its position last time, not per record.
 */
export class MemberNameHint {
  names: string[] = [];
  bytes: Buffer[] = [];
  /** The names as one frozen array, the same from record to record while they do not change. */
  stable: readonly string[] | undefined;
}

/** Whether `buf` holds `bytes[from, to)` (by default all of `bytes`) at `at`. */
export function sameBytes(buf: Buffer, at: number, bytes: Buffer, from = 0, to = bytes.length): boolean {
  const length = to - from;
  if (at + length > buf.length) return false;
  // A short run compares faster in a loop than through a native call.
  if (length > 32) return buf.compare(bytes, from, to, at, at + length) === 0;
  for (let k = 0; k < length; k++) if (buf[at + k] !== bytes[from + k]) return false;
  return true;
}

/**
 * `text` as V8's one copy of that string (what a property key becomes): comparing it with a
 * literal (`switch (name) { case 'source': … }`) is then a pointer comparison, not a character one.
 */
function internalized(text: string): string {
  return Object.keys({ [text]: true })[0] ?? text;
}

/** Whether the last memberName call decoded a name other than its hint's. */
let nameChanged = false;
/** Just past the closing quote of the name the last memberName call read. */
let nameEnd = 0;

/**
 * The member name whose opening quote is at `start` (setting `nameEnd`): the hint's `index`-th
 * name when the same bytes and a closing quote follow, found in one pass over them; else decoded.
 */
function memberName(buf: Buffer, start: number, hint: MemberNameHint | undefined, index: number): string {
  const known = hint?.bytes[index];
  if (known !== undefined) {
    const length = known.length;
    const from = start + 1;
    // The known bytes were a whole string's content, so the quote after them closes this one too.
    if (buf[from + length] === QUOTE && sameBytes(buf, from, known)) {
      nameChanged = false;
      nameEnd = from + length + 1;
      return hint!.names[index]!;
    }
  }
  nameChanged = true;
  nameEnd = stringEnd(buf, start);
  const decoded = decodeString(buf, start, nameEnd);
  if (hint === undefined) return decoded;
  const name = internalized(decoded);
  hint.names[index] = name;
  hint.bytes[index] = Buffer.from(buf.subarray(start + 1, nameEnd - 1));
  return name;
}

/**
 * The members of the object whose `{` is at `start` (`end` just past its `}`). With a hint, an
 * object with the same names as the hint's last one gets the same (frozen) names array, and no
 * names array is made for it.
 */
export function objectMembers(buf: Buffer, start: number, hint?: MemberNameHint): ObjectMembers & { end: number } {
  // Sized for the hint's last object: most objects of a topic have as many members.
  const expected = hint === undefined ? 0 : hint.names.length;
  const starts: number[] = expected === 0 ? [] : new Array<number>(expected);
  const ends: number[] = expected === 0 ? [] : new Array<number>(expected);
  const names = scanObject(buf, start, hint, starts, ends);
  return { start, names, starts, ends, end: scannedEnd };
}

/** The member names of the object whose `{` is at `start`, its values skipped (with a hint, as objectMembers gives them). */
export function objectNames(buf: Buffer, start: number, hint?: MemberNameHint): readonly string[] {
  return scanObject(buf, start, hint, undefined, undefined);
}

/** Just past the `}` of the object the last scanObject call read. */
let scannedEnd = 0;

/** Reads the object at `start`: its names (returned), its values' spans into `starts` and `ends` when given, its end into `scannedEnd`. */
function scanObject(buf: Buffer, start: number, hint: MemberNameHint | undefined, starts: number[] | undefined, ends: number[] | undefined): readonly string[] {
  if (buf[start] !== OPEN_BRACE) throw new JsonScanError(`an object was expected at byte ${start}`);
  // Without a hint the names are collected; with one, memberName keeps the hint's names this object's.
  const names: string[] | undefined = hint === undefined ? [] : undefined;
  let count = 0;
  let changed = false;
  let i = skipWhitespace(buf, start + 1);
  if (buf[i] !== CLOSE_BRACE) {
    for (;;) {
      if (buf[i] !== QUOTE) throw new JsonScanError(`a member name was expected at byte ${i}`);
      const name = memberName(buf, i, hint, count);
      if (names !== undefined) names.push(name);
      else if (nameChanged) changed = true;
      i = skipWhitespace(buf, nameEnd);
      if (buf[i] !== COLON) throw new JsonScanError(`":" was expected at byte ${i}`);
      i = skipWhitespace(buf, i + 1);
      const end = valueEnd(buf, i);
      if (starts !== undefined) {
        starts[count] = i;
        ends![count] = end;
      }
      count++;
      i = skipWhitespace(buf, end);
      if (buf[i] === COMMA) {
        i = skipWhitespace(buf, i + 1);
        continue;
      }
      if (buf[i] === CLOSE_BRACE) break;
      throw new JsonScanError(`"," or "}" was expected at byte ${i}`);
    }
  }
  scannedEnd = i + 1;
  if (starts !== undefined && starts.length > count) {
    starts.length = count;
    ends!.length = count;
  }
  if (hint === undefined) return names!;
  if (changed || count !== hint.names.length) {
    hint.names.length = count;
    hint.bytes.length = count;
    hint.stable = undefined;
  }
  return (hint.stable ??= Object.freeze(hint.names.slice()));
}

/** The [start, end) spans of the elements of the array whose `[` is at `start`. */
export function arrayElements(buf: Buffer, start: number): { starts: number[]; ends: number[] } {
  if (buf[start] !== OPEN_BRACKET) throw new JsonScanError(`an array was expected at byte ${start}`);
  const starts: number[] = [];
  const ends: number[] = [];
  let i = skipWhitespace(buf, start + 1);
  if (buf[i] === CLOSE_BRACKET) return { starts, ends };
  for (;;) {
    const end = valueEnd(buf, i);
    starts.push(i);
    ends.push(end);
    i = skipWhitespace(buf, end);
    if (buf[i] === COMMA) {
      i = skipWhitespace(buf, i + 1);
      continue;
    }
    if (buf[i] === CLOSE_BRACKET) return { starts, ends };
    throw new JsonScanError(`"," or "]" was expected at byte ${i}`);
  }
}

/**
 * Walks an object's members one at a time, so that a member's value can be read by whoever knows
 * its shape (a nested object scanned once, by its reader, not first skipped and then read).
 */
export class MemberCursor {
  #buf: Buffer = Buffer.alloc(0);
  #at = 0;
  #hint: MemberNameHint | undefined;
  #index = 0;
  /** The current member's name and where its value starts. */
  name = '';
  valueStart = 0;

  /** Starts at the object whose `{` is at `start`. */
  open(buf: Buffer, start: number, hint?: MemberNameHint): void {
    if (buf[start] !== OPEN_BRACE) throw new JsonScanError(`an object was expected at byte ${start}`);
    this.#buf = buf;
    this.#at = skipWhitespace(buf, start + 1);
    this.#hint = hint;
    this.#index = 0;
  }

  /** Just past the object's `}`, once `next` returned false. */
  get objectEnd(): number {
    return this.#at + 1;
  }

  /** Moves to the next member (false at the object's end); the caller then reads its value and calls `valueRead`. */
  next(): boolean {
    const buf = this.#buf;
    let i = this.#at;
    if (buf[i] === CLOSE_BRACE) return false;
    if (buf[i] !== QUOTE) throw new JsonScanError(`a member name was expected at byte ${i}`);
    this.name = memberName(buf, i, this.#hint, this.#index++);
    i = skipWhitespace(buf, nameEnd);
    if (buf[i] !== COLON) throw new JsonScanError(`":" was expected at byte ${i}`);
    this.valueStart = skipWhitespace(buf, i + 1);
    return true;
  }

  /** The current value ended at `end` (exclusive). */
  valueRead(end: number): void {
    const buf = this.#buf;
    let i = skipWhitespace(buf, end);
    if (buf[i] === COMMA) i = skipWhitespace(buf, i + 1);
    else if (buf[i] !== CLOSE_BRACE) throw new JsonScanError(`"," or "}" was expected at byte ${i}`);
    this.#at = i;
  }

  /** Skips the current value. */
  skipValue(): number {
    const end = valueEnd(this.#buf, this.valueStart);
    this.valueRead(end);
    return end;
  }
}
