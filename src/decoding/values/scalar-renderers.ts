/**
 * Renderers of scalar values from their text output, one per to_jsonb rule: booleans, exact numbers,
 * floats (exponents written out, as to_jsonb passes them through numeric), strings, and jsonb.
 */
import type { JsonWriter } from '../../encoding/json-writer.js';

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const UPPER_I = 0x49;
const UPPER_N = 0x4e;
const LOWER_T = 0x74;

/** Any value as a JSON string of its text output: the rule for every type without another one. */
export function renderString(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.stringFromBytes(src, start, end);
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

/** bool: the server writes `t` or `f`. */
export function renderBool(w: JsonWriter, src: Buffer, start: number, _end: number): void {
  if (src[start] === LOWER_T) w.bytes(TRUE, 0, 4);
  else w.bytes(FALSE, 0, 5);
}

/** SQL NULL inside an array or composite. */
export function writeNull(w: JsonWriter): void {
  w.bytes(NULL, 0, 4);
}

/** int2, int4, int8: the digits as they are. */
export function renderInteger(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.bytes(src, start, end);
}

/** jsonb: its text output is JSON already (one line, keys unique). */
export function renderJsonb(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.bytes(src, start, end);
}

/** numeric: the digits as they are (numeric_out never uses exponents); NaN and ±Infinity as strings. */
export function renderNumeric(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const first = src[start];
  if (first === UPPER_N || first === UPPER_I || (first === MINUS && src[start + 1] === UPPER_I)) {
    w.stringFromBytes(src, start, end);
  } else {
    w.bytes(src, start, end);
  }
}

/**
 * float4, float8. to_jsonb turns the float's text into a numeric, so `1e-05` is written `0.00001`,
 * `1e+300` as 1 and 300 zeros, and `-0` as `0`; NaN and ±Infinity become strings.
 */
export function renderFloat(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const first = src[start];
  if (first === UPPER_N || first === UPPER_I || (first === MINUS && src[start + 1] === UPPER_I)) {
    w.stringFromBytes(src, start, end);
    return;
  }
  for (let i = start; i < end; i++) {
    const b = src[i];
    if (b === LOWER_E || b === UPPER_E) {
      writePlainDecimal(w, src, start, i, end);
      return;
    }
  }
  if (first === MINUS && end - start === 2 && src[start + 1] === ZERO) {
    w.byte(ZERO);
    return;
  }
  w.bytes(src, start, end);
}

let mantissa = Buffer.allocUnsafe(64);
let plain = Buffer.allocUnsafe(512);

/**
 * Writes `mantissa e exponent` (`src[start, e)` is the mantissa, `src[e]` the `e`) without the
 * exponent, keeping the digits numeric_in keeps: its scale is the mantissa's fraction digits minus
 * the exponent, never below 0 (`1.5e-5` is `0.000015`, `1.5e+2` is `150`).
 */
function writePlainDecimal(w: JsonWriter, src: Buffer, start: number, e: number, end: number): void {
  let i = start;
  const negative = src[i] === MINUS;
  if (negative || src[i] === PLUS) i++;
  // The mantissa's digits without its point, and how many came before the point.
  if (mantissa.length < e - i) mantissa = Buffer.allocUnsafe((e - i) * 2);
  const digits = mantissa;
  let count = 0;
  let before = -1;
  for (; i < e; i++) {
    const b = src[i]!;
    if (b === DOT) before = count;
    else digits[count++] = b;
  }
  if (before < 0) before = count;
  let exponent = 0;
  let j = e + 1;
  const exponentNegative = src[j] === MINUS;
  if (exponentNegative || src[j] === PLUS) j++;
  for (; j < end; j++) exponent = exponent * 10 + (src[j]! - ZERO);
  if (exponentNegative) exponent = -exponent;

  // Digits before the decimal point once the exponent is applied (0 or less: none).
  const point = before + exponent;
  const size = 2 + Math.max(point, 1) + Math.max(count - point, 0) + Math.max(-point, 0);
  if (plain.length < size) plain = Buffer.allocUnsafe(size * 2);
  const out = plain;
  let n = 0;
  let zero = true;
  if (negative) out[n++] = MINUS;
  if (point <= 0) {
    out[n++] = ZERO;
  } else {
    for (let k = 0; k < point; k++) {
      const d = k < count ? digits[k]! : ZERO;
      if (d !== ZERO) zero = false;
      else if (zero && k < point - 1) continue; // a leading zero
      out[n++] = d;
    }
  }
  if (count > point) {
    out[n++] = DOT;
    for (let k = point; k < 0; k++) out[n++] = ZERO;
    for (let k = Math.max(point, 0); k < count; k++) {
      const d = digits[k]!;
      if (d !== ZERO) zero = false;
      out[n++] = d;
    }
  }
  // numeric has no negative zero.
  if (negative && zero) w.bytes(out, 1, n);
  else w.bytes(out, 0, n);
}
