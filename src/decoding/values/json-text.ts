/**
 * Renders `json` values (their text exactly as stored) as to_jsonb would, as far as parsed JSON
 * goes: white space between tokens is dropped (so a value stays on one line) and of duplicate keys
 * in an object only the last is kept. Numbers and string escapes are kept as written.
 */
import type { JsonWriter } from '../../encoding/json-writer.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LEFT_CURLY = 0x7b;
const RIGHT_CURLY = 0x7d;
const LEFT_SQUARE = 0x5b;
const RIGHT_SQUARE = 0x5d;

/** JSON's insignificant white space. */
const IS_SPACE = new Uint8Array(256);
IS_SPACE[0x20] = IS_SPACE[0x09] = IS_SPACE[0x0a] = IS_SPACE[0x0d] = 1;

const HAS_SPACE = 1;
const HAS_DUPLICATE_KEY = 2;

/** Key ranges of the objects being scanned, and where each open object's keys begin. */
let keyStarts: Int32Array = new Int32Array(256);
let keyEnds: Int32Array = new Int32Array(256);
let frames: Int32Array = new Int32Array(64);
const ARRAY_FRAME = -1;

let minified = Buffer.allocUnsafe(4096);

/** Writes a json value: as is when it has no white space nor duplicate keys (the common case). */
export function renderJsonText(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const found = scanJson(src, start, end);
  if (found === 0) {
    w.bytes(src, start, end);
  } else if (found === HAS_SPACE) {
    if (minified.length < end - start) minified = Buffer.allocUnsafe((end - start) * 2);
    const n = minify(src, start, end, minified);
    w.bytes(minified, 0, n);
  } else {
    writeDeduplicated(w, src, skipSpace(src, start, end), end);
  }
}

/** Finds white space outside strings and duplicate keys, in one pass. */
function scanJson(src: Buffer, start: number, end: number): number {
  let found = 0;
  let keyTop = 0;
  let frameTop = 0;
  let expectKey = false;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b === QUOTE) {
      const close = stringEnd(src, i, end);
      if (expectKey) {
        if (keyTop === keyStarts.length) growKeys();
        keyStarts[keyTop] = i;
        keyEnds[keyTop++] = close;
        expectKey = false;
      }
      i = close - 1;
    } else if (b === LEFT_CURLY || b === LEFT_SQUARE) {
      if (frameTop === frames.length) frames = grow(frames);
      frames[frameTop++] = b === LEFT_CURLY ? keyTop : ARRAY_FRAME;
      expectKey = b === LEFT_CURLY;
    } else if (b === RIGHT_CURLY) {
      const base = frames[--frameTop]!;
      if (keyTop - base > 1 && hasDuplicate(src, base, keyTop)) found |= HAS_DUPLICATE_KEY;
      keyTop = base;
    } else if (b === RIGHT_SQUARE) {
      frameTop--;
    } else if (b === COMMA) {
      expectKey = frameTop > 0 && frames[frameTop - 1] !== ARRAY_FRAME;
    } else if (IS_SPACE[b] === 1) {
      found |= HAS_SPACE;
    }
  }
  return found;
}

/** Index just after the string token opening at `i`. */
function stringEnd(src: Buffer, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = src[j];
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  return end;
}

/** Whether two of the keys `[from, to)` of the key stack are equal once decoded. */
function hasDuplicate(src: Buffer, from: number, to: number): boolean {
  if (to - from > 16) {
    const seen = new Set<string>();
    for (let k = from; k < to; k++) {
      const key = decodeKey(src, keyStarts[k]!, keyEnds[k]!);
      if (seen.has(key)) return true;
      seen.add(key);
    }
    return false;
  }
  for (let a = from; a < to; a++) {
    for (let b = a + 1; b < to; b++) {
      if (sameKey(src, keyStarts[a]!, keyEnds[a]!, keyStarts[b]!, keyEnds[b]!)) return true;
    }
  }
  return false;
}

function sameKey(src: Buffer, aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  const length = aEnd - aStart;
  if (length === bEnd - bStart) {
    let i = 0;
    while (i < length && src[aStart + i] === src[bStart + i]) i++;
    if (i === length) return true;
  }
  // Different bytes are different keys unless an escape spells a character another way.
  if (!hasBackslash(src, aStart, aEnd) && !hasBackslash(src, bStart, bEnd)) return false;
  return decodeKey(src, aStart, aEnd) === decodeKey(src, bStart, bEnd);
}

function hasBackslash(src: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (src[i] === BACKSLASH) return true;
  return false;
}

/** The key whose quoted token is `src[start, end)`, decoded. */
function decodeKey(src: Buffer, start: number, end: number): string {
  return JSON.parse(src.toString('utf8', start, end)) as string;
}

/** Copies `src[start, end)` to `out` without white space outside strings; returns the length. */
function minify(src: Buffer, start: number, end: number, out: Buffer): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b === QUOTE) {
      const close = stringEnd(src, i, end);
      n += src.copy(out, n, i, close);
      i = close - 1;
    } else if (IS_SPACE[b] === 0) {
      out[n++] = b;
    }
  }
  return n;
}

/**
 * The rare path: writes the value starting at `i` with, in every object, only the last of equal
 * keys (where jsonb keeps the last value). Returns the index after the value.
 */
function writeDeduplicated(w: JsonWriter, src: Buffer, i: number, end: number): number {
  const b = src[i];
  if (b === LEFT_CURLY) {
    const members: { key: string; keyStart: number; keyEnd: number; valueStart: number }[] = [];
    i = skipSpace(src, i + 1, end);
    while (src[i] !== RIGHT_CURLY) {
      const keyEnd = stringEnd(src, i, end);
      const valueStart = skipSpace(src, skipSpace(src, keyEnd, end) + 1, end);
      members.push({ key: decodeKey(src, i, keyEnd), keyStart: i, keyEnd, valueStart });
      i = skipSpace(src, skipValue(src, valueStart, end), end);
      if (src[i] === COMMA) i = skipSpace(src, i + 1, end);
    }
    const last = new Map<string, number>();
    members.forEach((member, index) => last.set(member.key, index));
    w.byte(LEFT_CURLY);
    let first = true;
    members.forEach((member, index) => {
      if (last.get(member.key) !== index) return;
      if (!first) w.byte(COMMA);
      first = false;
      w.bytes(src, member.keyStart, member.keyEnd);
      w.byte(COLON);
      writeDeduplicated(w, src, member.valueStart, end);
    });
    w.byte(RIGHT_CURLY);
    return i + 1;
  }
  if (b === LEFT_SQUARE) {
    w.byte(LEFT_SQUARE);
    i = skipSpace(src, i + 1, end);
    let first = true;
    while (src[i] !== RIGHT_SQUARE) {
      if (!first) w.byte(COMMA);
      first = false;
      i = skipSpace(src, writeDeduplicated(w, src, i, end), end);
      if (src[i] === COMMA) i = skipSpace(src, i + 1, end);
    }
    w.byte(RIGHT_SQUARE);
    return i + 1;
  }
  const valueEnd = skipValue(src, i, end);
  w.bytes(src, i, valueEnd);
  return valueEnd;
}

/** Index after the value starting at `i` (no white space before it). */
function skipValue(src: Buffer, i: number, end: number): number {
  const b = src[i];
  if (b === QUOTE) return stringEnd(src, i, end);
  if (b === LEFT_CURLY || b === LEFT_SQUARE) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const c = src[j];
      if (c === QUOTE) j = stringEnd(src, j, end) - 1;
      else if (c === LEFT_CURLY || c === LEFT_SQUARE) depth++;
      else if ((c === RIGHT_CURLY || c === RIGHT_SQUARE) && --depth === 0) return j + 1;
    }
    return end;
  }
  let j = i;
  while (j < end) {
    const c = src[j]!;
    if (c === COMMA || c === RIGHT_CURLY || c === RIGHT_SQUARE || IS_SPACE[c] === 1) break;
    j++;
  }
  return j;
}

function skipSpace(src: Buffer, i: number, end: number): number {
  while (i < end && IS_SPACE[src[i]!] === 1) i++;
  return i;
}

function growKeys(): void {
  keyStarts = grow(keyStarts);
  keyEnds = grow(keyEnds);
}

function grow(array: Int32Array): Int32Array {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
