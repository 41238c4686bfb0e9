/**
 * hstore values (the extension's type, found by name as Debezium finds it) as to_jsonb gives them:
 * through the extension's cast to json, an object of text keys and text-or-null values in the order
 * of hstore's text output (`"k"=>"v", "n"=>NULL`, keys and values quoted, `"` and `\` escaped).
 */
import type { JsonWriter } from '../../encoding/json-writer.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const UPPER_N = 0x4e;
const LOWER_N = 0x6e;
const NULL = Buffer.from('null');

/** Writes the hstore whose text output is `src[start, end)` as a JSON object. */
export function renderHstore(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.raw('{');
  let pos = start;
  let first = true;
  for (;;) {
    pos = skipBlanks(src, pos, end);
    if (pos >= end) break;
    if (!first) w.raw(',');
    first = false;
    pos = writeQuoted(w, src, pos, end);
    pos = skipBlanks(src, pos, end);
    if (src[pos] !== 0x3d || src[pos + 1] !== 0x3e) throw malformed(src, start, end);
    w.raw(':');
    pos = skipBlanks(src, pos + 2, end);
    if (src[pos] === UPPER_N || src[pos] === LOWER_N) {
      // NULL, unquoted (hstore_out writes it upper-case).
      w.bytes(NULL, 0, 4);
      pos += 4;
    } else {
      pos = writeQuoted(w, src, pos, end);
    }
    pos = skipBlanks(src, pos, end);
    if (pos < end && src[pos] !== 0x2c) throw malformed(src, start, end);
    pos++;
  }
  w.raw('}');
}

function skipBlanks(src: Buffer, pos: number, end: number): number {
  while (pos < end && (src[pos] === 0x20 || src[pos] === 0x09 || src[pos] === 0x0a || src[pos] === 0x0d)) pos++;
  return pos;
}

/** Writes the quoted string at `pos` (unescaped, as a JSON string); returns the position after it. */
function writeQuoted(w: JsonWriter, src: Buffer, pos: number, end: number): number {
  if (src[pos] !== QUOTE) throw malformed(src, pos, end);
  const from = pos + 1;
  let escaped = false;
  let i = from;
  for (; i < end && src[i] !== QUOTE; i++) {
    if (src[i] === BACKSLASH) {
      escaped = true;
      i++;
    }
  }
  if (i >= end) throw malformed(src, pos, end);
  if (!escaped) {
    w.stringFromBytes(src, from, i);
  } else {
    const bytes: number[] = [];
    for (let j = from; j < i; j++) bytes.push(src[j] === BACKSLASH ? src[++j]! : src[j]!);
    const unescaped = Buffer.from(bytes);
    w.stringFromBytes(unescaped, 0, unescaped.length);
  }
  return i + 1;
}

function malformed(src: Buffer, start: number, end: number): PgcdcError {
  return new PgcdcError('PROTOCOL', `malformed hstore value from the server: ${JSON.stringify(src.toString('utf8', start, Math.min(end, start + 200)))}`);
}
