/**
 * Debezium's value representations (`decimal.handling.mode`, `time.precision.mode`,
 * `binary.handling.mode`, `interval.handling.mode`, `hstore.handling.mode`,
 * `money.fraction.digits`) as renderers and Kafka Connect shapes chosen once per column, in place
 * of the to_jsonb renderer: numeric as Connect's Decimal (base64 of the unscaled two's complement
 * bytes) or Debezium's VariableScaleDecimal, dates and times as epoch numbers, timestamptz in UTC
 * with the column's fraction digits, bytea as base64 or hex, intervals as Debezium's MicroDuration
 * (its 30.4375-day month) or ISO 8601 text, hstore as a JSON document in a string; each shape with
 * Debezium's fallback for a NOT NULL field it has no value for. Only the scalar columns of these
 * types (and domains over them) are represented; every other column keeps its to_jsonb rendering.
 */
import type { JsonWriter } from '../../encoding/json-writer.js';
import { javaHashMapOrder } from '../../events/debezium-json-encoder.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { JsonShape } from './json-shape.js';
import { TYPE_OID, type PgType } from './pg-type.js';
import { renderString } from './scalar-renderers.js';
import type { ValueRenderer } from './value-renderer.js';

export const DECIMAL_MODES = ['precise', 'double', 'string'] as const;
export const TIME_MODES = ['adaptive', 'adaptive_time_microseconds', 'connect'] as const;
export const BINARY_MODES = ['bytes', 'base64', 'base64-url-safe', 'hex'] as const;
export const INTERVAL_MODES = ['numeric', 'string'] as const;
export const HSTORE_MODES = ['json', 'map'] as const;

/** The representations of a stream's values, as Debezium's properties name them. */
export interface ValueRepresentations {
  readonly decimal: (typeof DECIMAL_MODES)[number];
  readonly time: (typeof TIME_MODES)[number];
  readonly binary: (typeof BINARY_MODES)[number];
  readonly interval: (typeof INTERVAL_MODES)[number];
  readonly hstore: (typeof HSTORE_MODES)[number];
  /** The scale of money values as precise decimals (`money.fraction.digits`). */
  readonly moneyFractionDigits: number;
}

/** Debezium's defaults, what a Debezium connector configuration gets when it sets none. */
export const DEBEZIUM_DEFAULT_REPRESENTATIONS: ValueRepresentations = { decimal: 'precise', time: 'adaptive', binary: 'bytes', interval: 'numeric', hstore: 'json', moneyFractionDigits: 2 };

/** A column's renderer and the shape of what it writes. */
export interface RepresentedColumn {
  readonly render: ValueRenderer;
  readonly shape: JsonShape;
}

const OID = { ...TYPE_OID, date: 1082, time: 1083, interval: 1186, money: 790 } as const;

const connect = (connectType: string, fallback: string, name?: string, parameters?: Record<string, string>, extra?: { fields?: string; doc?: string }): JsonShape => ({
  kind: 'connect',
  connectType,
  fallback,
  ...(name === undefined ? {} : { name }),
  ...(parameters === undefined ? {} : { parameters }),
  ...(extra?.fields === undefined ? {} : { fields: extra.fields }),
  ...(extra?.doc === undefined ? {} : { doc: extra.doc }),
});

const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
const VARIABLE_SCALE_FIELDS = '[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]';

/**
 * The representation of a column of `type` (its base type, domains resolved) with `typeModifier`,
 * or undefined when the column keeps its to_jsonb rendering.
 */
export function representedColumn(representations: ValueRepresentations, type: PgType, typeModifier: number): RepresentedColumn | undefined {
  if (type.kind !== 'base') return undefined;
  switch (type.oid) {
    case OID.numeric:
      return numericColumn(representations.decimal, typeModifier);
    case OID.money:
      return moneyColumn(representations.decimal, representations.moneyFractionDigits);
    case OID.bytea:
      return binaryColumn(representations.binary);
    case OID.date:
      return representations.time === 'connect'
        ? { shape: connect('int32', '0', 'org.apache.kafka.connect.data.Date'), render: renderEpochDay }
        : { shape: connect('int32', '0', 'io.debezium.time.Date'), render: renderEpochDay };
    case OID.time: {
      const precision = typeModifier < 0 ? 6 : typeModifier;
      if (representations.time === 'connect') return { shape: connect('int32', '0', 'org.apache.kafka.connect.data.Time'), render: renderMilliOfDay };
      if (representations.time === 'adaptive' && precision <= 3) return { shape: connect('int32', '0', 'io.debezium.time.Time'), render: renderMilliOfDay };
      return { shape: connect('int64', '0', 'io.debezium.time.MicroTime'), render: renderMicroOfDay };
    }
    case OID.timestamp: {
      const precision = typeModifier < 0 ? 6 : typeModifier;
      if (representations.time === 'connect') return { shape: connect('int64', '0', 'org.apache.kafka.connect.data.Timestamp'), render: renderEpochMilli };
      if (precision <= 3) return { shape: connect('int64', '0', 'io.debezium.time.Timestamp'), render: renderEpochMilli };
      return { shape: connect('int64', '0', 'io.debezium.time.MicroTimestamp'), render: renderEpochMicro };
    }
    case OID.timestamptz: {
      const digits = typeModifier < 0 ? 6 : typeModifier;
      return { shape: connect('string', '"1970-01-01T00:00:00Z"', 'io.debezium.time.ZonedTimestamp'), render: (w, src, start, end) => writeZonedTimestamp(w, src.toString('latin1', start, end), digits) };
    }
    case OID.interval:
      return representations.interval === 'string'
        ? { shape: connect('string', '"P0Y0M0DT0H0M0S"', 'io.debezium.time.Interval'), render: renderIsoInterval }
        : { shape: connect('int64', '0', 'io.debezium.time.MicroDuration'), render: renderMicroDuration };
    default:
      if (type.name === 'hstore' && representations.hstore === 'json') return { shape: connect('string', '"{}"', 'io.debezium.data.Json'), render: renderHstoreJson };
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// numeric and money

function numericColumn(mode: ValueRepresentations['decimal'], typeModifier: number): RepresentedColumn {
  // The fallback: zero at the column's scale.
  if (mode === 'string') return { shape: connect('string', `"${zeroAtScale(typeModifier < 4 ? 0 : (typeModifier - 4) & 0xffff)}"`), render: renderDecimalString };
  if (mode === 'double') return { shape: connect('double', '0.0'), render: renderDouble };
  if (typeModifier < 4) {
    // numeric without precision: Debezium's VariableScaleDecimal.
    return { shape: connect('struct', '{"scale":0,"value":"AA=="}', 'io.debezium.data.VariableScaleDecimal', undefined, { fields: VARIABLE_SCALE_FIELDS, doc: 'Variable scaled decimal' }), render: renderVariableScaleDecimal };
  }
  const precision = ((typeModifier - 4) >> 16) & 0xffff;
  const scale = (typeModifier - 4) & 0xffff;
  return { shape: connect('bytes', '"AA=="', DECIMAL, { scale: String(scale), 'connect.decimal.precision': String(precision) }), render: (w, src, start, end) => writeDecimalBytes(w, src.toString('latin1', start, end), scale) };
}

function moneyColumn(mode: ValueRepresentations['decimal'], fractionDigits: number): RepresentedColumn {
  // Debezium reads money's text as an exact decimal: its digits, without currency sign or grouping.
  if (mode === 'double') return { shape: connect('double', '0.0'), render: (w, src, start, end) => writeDouble(w, Number(moneyDecimal(src.toString('utf8', start, end)))) };
  if (mode === 'string') return { shape: connect('string', `"${zeroAtScale(fractionDigits)}"`), render: (w, src, start, end) => w.string(moneyDecimal(src.toString('utf8', start, end))) };
  return { shape: connect('bytes', '"AA=="', DECIMAL, { scale: String(fractionDigits) }), render: (w, src, start, end) => writeDecimalBytes(w, moneyDecimal(src.toString('utf8', start, end)), fractionDigits) };
}

/** Zero with `scale` fraction digits (`0`, `0.00`), as BigDecimal writes it. */
function zeroAtScale(scale: number): string {
  return scale === 0 ? '0' : `0.${'0'.repeat(scale)}`;
}

/** money's text (`$1,234.56`, `-$1.00`, `($1.00)`) as a decimal text (`1234.56`, `-1.00`). */
function moneyDecimal(text: string): string {
  const digits = text.replace(/[^0-9.]/g, '');
  return text.includes('-') || text.includes('(') ? `-${digits}` : digits;
}

/** numeric as text (`string` mode): its digits; NaN and the infinities by the names of Debezium's SpecialValueDecimal. */
function renderDecimalString(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const first = src[start];
  if (first === 0x4e) w.raw('"NAN"');
  else if (first === 0x49) w.raw('"POSITIVE_INFINITY"');
  else if (first === 0x2d && src[start + 1] === 0x49) w.raw('"NEGATIVE_INFINITY"');
  else renderString(w, src, start, end);
}

function renderDouble(w: JsonWriter, src: Buffer, start: number, end: number): void {
  writeDouble(w, Number(src.toString('latin1', start, end)));
}

/**
 * A double as JsonConverter writes it: Java's Double.toString digits (`100.0`, `9.223372036854776E16`,
 * so that keys hold Debezium's bytes), NaN and the infinities as strings (Jackson's default).
 */
function writeDouble(w: JsonWriter, value: number): void {
  if (Number.isFinite(value)) w.raw(javaDoubleString(value));
  else w.raw(Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"');
}

/** Java's Double.toString of a finite double: plain between 10^-3 and 10^7 (a fraction digit at least), else `d.dddE±n`. */
export function javaDoubleString(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const plain = String(value);
    return plain.includes('.') ? plain : `${plain}.0`;
  }
  const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent.replace('+', '')}`;
}

/** A decimal text (`-12.5`, `1.2e+21`) as its sign, digits and the power of ten of the last digit. */
function decimalParts(text: string): { negative: boolean; digits: string; exponent: number } | undefined {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) return undefined;
  const fraction = match[3] ?? '';
  return { negative: match[1] === '-', digits: (match[2] ?? '') + fraction || '0', exponent: Number(match[4] ?? 0) - fraction.length };
}

/** The unscaled value of `text` at `scale` (half up, as BigDecimal.setScale(scale, HALF_UP)), or undefined for NaN and the infinities. */
function unscaledAt(text: string, scale: number): bigint | undefined {
  const parts = decimalParts(text);
  if (parts === undefined) return undefined;
  let unscaled = BigInt(parts.digits);
  const shift = parts.exponent + scale;
  if (shift >= 0) unscaled *= 10n ** BigInt(shift);
  else {
    const divisor = 10n ** BigInt(-shift);
    const rest = unscaled % divisor;
    unscaled = unscaled / divisor + (rest * 2n >= divisor ? 1n : 0n);
  }
  return parts.negative ? -unscaled : unscaled;
}

/** Connect's Decimal in JSON: the base64 of BigInteger.toByteArray (minimal two's complement, big-endian). */
function decimalBytes(unscaled: bigint): string {
  let hex: string;
  if (unscaled >= 0n) {
    hex = unscaled.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    if (Number.parseInt(hex[0]!, 16) >= 8) hex = `00${hex}`;
  } else {
    let bytes = 1;
    while (-(1n << BigInt(bytes * 8 - 1)) > unscaled) bytes++;
    hex = ((1n << BigInt(bytes * 8)) + unscaled).toString(16).padStart(bytes * 2, '0');
  }
  return Buffer.from(hex, 'hex').toString('base64');
}

function writeDecimalBytes(w: JsonWriter, text: string, scale: number): void {
  const unscaled = unscaledAt(text, scale);
  // NaN and the infinities have no Decimal: Debezium writes null.
  if (unscaled === undefined) w.raw('null');
  else w.raw(`"${decimalBytes(unscaled)}"`);
}

/** numeric without precision: `{"scale":…,"value":…}`, trailing zeros stripped (no negative scale). */
function renderVariableScaleDecimal(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const text = src.toString('latin1', start, end);
  const parts = decimalParts(text);
  if (parts === undefined) {
    w.raw('null');
    return;
  }
  const dot = text.indexOf('.');
  const fraction = dot < 0 ? '' : text.slice(dot + 1).replace(/0+$/, '');
  const whole = dot < 0 ? text : text.slice(0, dot);
  const unscaled = BigInt(`${whole}${fraction}`.replace('+', '') || '0');
  const scale = unscaled === 0n ? 0 : fraction.length;
  w.raw(`{"scale":${scale},"value":"${decimalBytes(unscaled === 0n ? 0n : unscaled)}"}`);
}

// ---------------------------------------------------------------------------------------------
// bytea

function binaryColumn(mode: ValueRepresentations['binary']): RepresentedColumn {
  switch (mode) {
    case 'bytes':
      return { shape: connect('bytes', '""'), render: (w, src, start, end) => w.raw(`"${byteaBytes(src, start, end).toString('base64')}"`) };
    case 'base64':
      return { shape: connect('string', '""'), render: (w, src, start, end) => w.raw(`"${byteaBytes(src, start, end).toString('base64')}"`) };
    case 'base64-url-safe':
      // Java's URL-safe encoder keeps the padding, Node's drops it.
      return { shape: connect('string', '""'), render: (w, src, start, end) => w.raw(`"${padBase64(byteaBytes(src, start, end).toString('base64url'))}"`) };
    case 'hex':
      return { shape: connect('string', '""'), render: (w, src, start, end) => w.raw(`"${byteaBytes(src, start, end).toString('hex')}"`) };
  }
}

function padBase64(text: string): string {
  return text.length % 4 === 0 ? text : text + '='.repeat(4 - (text.length % 4));
}

/** The bytes of a bytea's hex text output (`\x…`, bytea_output hex). */
function byteaBytes(src: Buffer, start: number, end: number): Buffer {
  if (src[start] !== 0x5c || src[start + 1] !== 0x78) throw new PgcdcError('PROTOCOL', `bytea value not in hex format from the server: ${JSON.stringify(src.toString('utf8', start, Math.min(end, start + 40)))}`);
  return Buffer.from(src.toString('latin1', start + 2, end), 'hex');
}

// ---------------------------------------------------------------------------------------------
// date, time, timestamp

const MICROS_PER_DAY = 86_400_000_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical year). */
function epochDay(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The epoch day of a date or timestamp text (DateStyle ISO: `YYYY-MM-DD…[ BC]`). */
function epochDayOf(text: string): number {
  const match = /^(\d+)-(\d\d)-(\d\d)/.exec(text)!;
  const year = Number(match[1]);
  return epochDay(text.endsWith(' BC') ? 1 - year : year, Number(match[2]), Number(match[3]));
}

/** `HH:MM:SS[.ffffff]` (24:00:00 included) as microseconds. */
function microOfDay(text: string): number {
  const match = /(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?/.exec(text)!;
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1_000_000 + Number((match[4] ?? '').padEnd(6, '0'));
}

/**
 * Debezium's values of `infinity` and `-infinity` timestamps: the JDBC driver's
 * DATE_POSITIVE_INFINITY and DATE_NEGATIVE_INFINITY taken as microseconds.
 */
const INFINITY_MICROS = 9223372036825200000n;
const MINUS_INFINITY_MICROS = -9223372036832400000n;

function renderEpochDay(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const text = src.toString('latin1', start, end);
  if (text === 'infinity' || text === '-infinity') {
    // Debezium's LocalDates standing for the infinities.
    w.raw(text === 'infinity' ? String(epochDay(-5877611, 6, 21)) : String(epochDay(-5877611, 6, 22)));
    return;
  }
  w.raw(String(epochDayOf(text)));
}

function renderMilliOfDay(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.raw(String(Math.floor(microOfDay(src.toString('latin1', start, end)) / 1000)));
}

function renderMicroOfDay(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.raw(String(microOfDay(src.toString('latin1', start, end))));
}

/** A timestamp's text as epoch microseconds (a bigint beyond 2^53). */
function epochMicros(text: string): bigint | number {
  if (text === 'infinity') return INFINITY_MICROS;
  if (text === '-infinity') return MINUS_INFINITY_MICROS;
  const days = epochDayOf(text);
  const micros = microOfDay(text.slice(text.indexOf(' ') + 1));
  return Math.abs(days) < 100_000 ? days * MICROS_PER_DAY + micros : BigInt(days) * BigInt(MICROS_PER_DAY) + BigInt(micros);
}

function renderEpochMicro(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.raw(String(epochMicros(src.toString('latin1', start, end))));
}

function renderEpochMilli(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const micros = epochMicros(src.toString('latin1', start, end));
  if (typeof micros === 'number') w.raw(String(Math.floor(micros / 1000)));
  else {
    const millis = micros / 1000n;
    w.raw(String(micros < 0n && millis * 1000n !== micros ? millis - 1n : millis));
  }
}

/**
 * timestamptz as Debezium's ZonedTimestamp: ISO 8601 in UTC with `Z` and as many fraction digits as
 * the column's precision (6 without one). The session's TimeZone is UTC, so the text's offset is
 * +00; infinity and -infinity stay as they are.
 */
function writeZonedTimestamp(w: JsonWriter, text: string, digits: number): void {
  if (text === 'infinity' || text === '-infinity') {
    w.raw(`"${text}"`);
    return;
  }
  const match = /^(\d+)-(\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?\+00( BC)?$/.exec(text);
  if (match === null) throw new PgcdcError('PROTOCOL', `timestamptz value not in UTC ISO format from the server: ${JSON.stringify(text)}`);
  const year = match[5] === undefined ? Number(match[1]) : 1 - Number(match[1]);
  const yearText = year > 9999 ? `+${year}` : year < 0 ? `-${String(-year).padStart(4, '0')}` : String(year).padStart(4, '0');
  const fraction = digits === 0 ? '' : `.${(match[4] ?? '').padEnd(digits, '0').slice(0, digits)}`;
  w.raw(`"${yearText}-${match[2]}T${match[3]}${fraction}Z"`);
}

// ---------------------------------------------------------------------------------------------
// interval

interface IntervalParts {
  years: number;
  months: number;
  days: number;
  hours: number;
  minutes: number;
  /** The seconds as their decimal text, sign included (`-6.5`). */
  seconds: string;
}

/** An interval's text (IntervalStyle postgres: `1 year 2 mons -3 days -04:05:06.5`) as the JDBC driver's PGInterval reads it. */
function intervalParts(text: string): IntervalParts {
  const parts: IntervalParts = { years: 0, months: 0, days: 0, hours: 0, minutes: 0, seconds: '0' };
  for (const token of text.matchAll(/([+-]?\d+) (year|mon|day)s?|([+-]?)(\d+):(\d\d):(\d\d(?:\.\d+)?)/g)) {
    if (token[2] !== undefined) {
      const count = Number(token[1]);
      if (token[2] === 'year') parts.years = count;
      else if (token[2] === 'mon') parts.months = count;
      else parts.days = count;
    } else {
      const sign = token[3] === '-' ? -1 : 1;
      parts.hours = sign * Number(token[4]);
      parts.minutes = sign * Number(token[5]);
      parts.seconds = `${sign < 0 ? '-' : ''}${token[6]}`;
    }
  }
  return parts;
}

/** MicroDuration.durationMicros with Debezium's month of 365.25 / 12 days, truncated to a long. */
function renderMicroDuration(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const p = intervalParts(src.toString('latin1', start, end));
  const days = (p.years * 12 + p.months) * (365.25 / 12) + p.days;
  const seconds = ((days * 24 + p.hours) * 60 + p.minutes) * 60 + Number(p.seconds);
  const micros = Math.trunc(seconds * 1e6);
  if (Number.isSafeInteger(micros)) w.raw(String(micros));
  else {
    const long = BigInt(micros);
    w.raw(String(long > 9223372036854775807n ? 9223372036854775807n : long < -9223372036854775808n ? -9223372036854775808n : long));
  }
}

/** Interval.toIsoString: `P<y>Y<m>M<d>DT<h>H<m>M<s>S`, seconds without trailing zeros. */
function renderIsoInterval(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const p = intervalParts(src.toString('latin1', start, end));
  w.raw(`"P${p.years}Y${p.months}M${p.days}DT${p.hours}H${p.minutes}M${plainSeconds(p.seconds)}S"`);
}

/** Decimal seconds text as BigDecimal's stripTrailingZeros().toPlainString(). */
function plainSeconds(text: string): string {
  const negative = text.startsWith('-');
  let [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.') as [string, string?];
  fraction = fraction.slice(0, 6).replace(/0+$/, '');
  whole = whole.replace(/^0+(?=\d)/, '');
  const value = fraction === '' ? whole : `${whole}.${fraction}`;
  return negative && /[1-9]/.test(value) ? `-${value}` : value;
}

// ---------------------------------------------------------------------------------------------
// hstore

/** hstore as Debezium's `json` mode: its pairs as a JSON object in a string, in Java HashMap order. */
function renderHstoreJson(w: JsonWriter, src: Buffer, start: number, end: number): void {
  const entries = javaHashMapOrder(hstorePairs(src.toString('utf8', start, end)));
  let json = '{';
  for (let i = 0; i < entries.length; i++) {
    const [key, value] = entries[i]!;
    json += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${value === null ? 'null' : JSON.stringify(value)}`;
  }
  w.string(`${json}}`);
}

/** The pairs of an hstore's text output (`"k"=>"v", "n"=>NULL`). */
function hstorePairs(text: string): [string, string | null][] {
  const pairs: [string, string | null][] = [];
  const pattern = /\s*"((?:[^"\\]|\\.)*)"\s*=>\s*(?:"((?:[^"\\]|\\.)*)"|(NULL))\s*,?/gy;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null && match[0] !== '') {
    pairs.push([unescapeHstore(match[1]!), match[3] === undefined ? unescapeHstore(match[2]!) : null]);
  }
  return pairs;
}

function unescapeHstore(text: string): string {
  return text.includes('\\') ? text.replace(/\\(.)/gs, '$1') : text;
}
