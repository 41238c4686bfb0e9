/**
 * Renders timestamp and timestamptz text (DateStyle ISO) the way to_jsonb does, in XML Schema
 * style: `T` between date and time, and a time zone offset always with minutes (`+00:00`).
 * Dates need no rule of their own (to_jsonb writes them as their ISO text), nor do time and timetz.
 */
import type { JsonWriter } from '../../encoding/json-writer.js';

const QUOTE = 0x22;
const SPACE = 0x20;
const COLON = 0x3a;
const PLUS = 0x2b;
const MINUS = 0x2d;
const LOWER_I = 0x69;
const UPPER_T = 0x54;
const ZERO = 0x30;

let out = Buffer.allocUnsafe(64);

function outFor(length: number): Buffer {
  // Room for the quotes and the added `:00`.
  if (out.length < length + 8) out = Buffer.allocUnsafe(length + 64);
  return out;
}

/**
 * timestamp: `2020-01-02 03:04:05.5` becomes `"2020-01-02T03:04:05.5"`; a BC suffix stays
 * (`"0044-03-15T10:00:00 BC"`), as do `infinity` and `-infinity`.
 */
export function renderTimestamp(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const first = src[start];
  if (first === LOWER_I || first === MINUS) {
    w.stringFromBytes(src, start, end);
    return;
  }
  const buf = outFor(end - start);
  let i = openDateTime(buf, src, start, end);
  let n = i - start + 1;
  while (i < end) buf[n++] = src[i++]!;
  buf[n++] = QUOTE;
  w.bytes(buf, 0, n);
}

/**
 * Writes the opening quote, the date and a `T` in place of the space into `buf`; returns where the
 * time starts in `src`. The output length so far is always that index `- start + 1`.
 */
function openDateTime(buf: Buffer, src: Buffer, start: number, end: number): number {
  let n = 0;
  buf[n++] = QUOTE;
  let i = start;
  while (i < end && src[i] !== SPACE) buf[n++] = src[i++]!;
  if (i < end) {
    buf[n] = UPPER_T;
    i++;
  }
  return i;
}

/**
 * timestamptz: as timestamp, and the offset gets its minutes when the server left them out:
 * `2020-01-02 03:04:05+00` becomes `"2020-01-02T03:04:05+00:00"`, `+05:30` and `-00:19:32` stay.
 */
export function renderTimestamptz(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const first = src[start];
  if (first === LOWER_I || first === MINUS) {
    w.stringFromBytes(src, start, end);
    return;
  }
  const buf = outFor(end - start);
  let i = openDateTime(buf, src, start, end);
  let n = i - start + 1;
  // The time, up to the offset's sign.
  while (i < end) {
    const b = src[i]!;
    if (b === PLUS || b === MINUS) break;
    buf[n++] = b;
    i++;
  }
  if (i + 3 <= end) {
    buf[n++] = src[i]!;
    buf[n++] = src[i + 1]!;
    buf[n++] = src[i + 2]!;
    i += 3;
    if (i >= end || src[i] !== COLON) {
      buf[n++] = COLON;
      buf[n++] = ZERO;
      buf[n++] = ZERO;
    }
  }
  while (i < end) buf[n++] = src[i++]!;
  buf[n++] = QUOTE;
  w.bytes(buf, 0, n);
}
