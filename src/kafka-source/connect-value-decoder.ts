/**
 * Column values of records that carry a Kafka Connect schema (JsonConverter's `schemas.enable`,
 * or Avro with `connect.name`), turned into pgcdc's representation (PostgreSQL's `to_jsonb`) as
 * JSON text: Debezium's logical types (dates as epoch days, times and timestamps as epoch
 * milli/micro/nanoseconds, decimals as two's complement bytes, JSON documents as strings, bytes as
 * base64) become to_jsonb's strings and exact numbers. Values of other schemas stay as they are.
 * The JSON path works on the value's text sliced from the record; the Avro path (`avro-record-decoder`)
 * hands decoded values to the same formatting.
 */
import { arrayElements, decodeString, isNullAt, objectMembers } from './json-scanner.js';

/** A Connect schema as JsonConverter writes it (the members this decoder reads). */
export interface ConnectSchemaJson {
  readonly type: string;
  readonly name?: string;
  readonly parameters?: Readonly<Record<string, string>>;
  readonly fields?: readonly (ConnectSchemaJson & { readonly field: string })[];
  readonly items?: ConnectSchemaJson;
}

/** The logical types this decoder converts; undefined for values kept as they are. */
export type LogicalKind =
  | 'date'
  | 'time-millis'
  | 'time-micros'
  | 'time-nanos'
  | 'timestamp-millis'
  | 'timestamp-micros'
  | 'timestamp-nanos'
  | 'decimal'
  | 'variable-scale-decimal'
  | 'json'
  | 'bytes';

const LOGICAL_KINDS: ReadonlyMap<string, LogicalKind> = new Map<string, LogicalKind>([
  ['io.debezium.time.Date', 'date'],
  ['org.apache.kafka.connect.data.Date', 'date'],
  ['io.debezium.time.Time', 'time-millis'],
  ['org.apache.kafka.connect.data.Time', 'time-millis'],
  ['io.debezium.time.MicroTime', 'time-micros'],
  ['io.debezium.time.NanoTime', 'time-nanos'],
  ['io.debezium.time.Timestamp', 'timestamp-millis'],
  ['org.apache.kafka.connect.data.Timestamp', 'timestamp-millis'],
  ['io.debezium.time.MicroTimestamp', 'timestamp-micros'],
  ['io.debezium.time.NanoTimestamp', 'timestamp-nanos'],
  ['org.apache.kafka.connect.data.Decimal', 'decimal'],
  ['io.debezium.data.VariableScaleDecimal', 'variable-scale-decimal'],
  ['io.debezium.data.Json', 'json'],
]);

/** The logical kind of a value of Connect type `type` named `name` (bytes without a name: `bytes`). */
export function logicalKind(type: string, name: string | undefined): LogicalKind | undefined {
  const kind = name === undefined ? undefined : LOGICAL_KINDS.get(name);
  if (kind !== undefined) return kind;
  return type === 'bytes' && name === undefined ? 'bytes' : undefined;
}

const MICROS_PER_DAY = 86_400_000_000n;
const MS_PER_DAY = 86_400_000;

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** `YYYY-MM-DD` (to_jsonb's date; years before 1 as `YYYY-MM-DD BC`) of a day count since 1970-01-01; undefined beyond JavaScript's dates (±273 790 years). */
function dateText(days: number): string | undefined {
  const date = new Date(days * MS_PER_DAY);
  if (Number.isNaN(date.getTime())) return undefined;
  const year = date.getUTCFullYear();
  const monthDay = `-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`;
  return year > 0 ? `${pad(year, 4)}${monthDay}` : `${pad(1 - year, 4)}${monthDay} BC`;
}

/** `HH:MM:SS[.ffffff]` (trailing zeros of the fraction dropped, as PostgreSQL writes it) of microseconds since midnight. */
function timeText(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = Number(micros % 1_000_000n);
  const s = Number(seconds);
  const clock = `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`;
  return fraction === 0 ? clock : `${clock}.${pad(fraction, 6).replace(/0+$/, '')}`;
}

/** `YYYY-MM-DDTHH:MM:SS[.ffffff]` (to_jsonb's timestamp) of microseconds since 1970-01-01T00:00; undefined out of range. */
function timestampText(micros: bigint): string | undefined {
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  const date = dateText(Number(days));
  if (date === undefined) return undefined;
  const bc = date.endsWith(' BC');
  return bc ? `${date.slice(0, -3)}T${timeText(rest)} BC` : `${date}T${timeText(rest)}`;
}

/** The exact decimal text of `unscaled` × 10^-scale. */
export function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (scale <= 0) return (negative ? '-' : '') + digits + '0'.repeat(-scale);
  const padded = digits.padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

/** A big-endian two's complement integer. */
export function twosComplement(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  const value = BigInt(`0x${bytes.toString('hex')}`);
  return (bytes[0]! & 0x80) === 0 ? value : value - (1n << BigInt(bytes.length * 8));
}

/** `"\\x<hex>"`: bytea as to_jsonb writes it, as JSON text. */
export function byteaJson(bytes: Buffer): string {
  return `"\\\\x${bytes.toString('hex')}"`;
}

/** Microseconds of an integer count of `unit`s (nanoseconds are cut to microseconds, PostgreSQL's precision). */
function toMicros(count: bigint, unit: 'millis' | 'micros' | 'nanos'): bigint {
  return unit === 'millis' ? count * 1000n : unit === 'micros' ? count : count / 1000n;
}

/**
 * The JSON text of an integer-valued logical type (a date, time or timestamp), from its count;
 * undefined for other kinds and for counts beyond JavaScript's dates (Debezium's infinities among
 * them: those stay numbers).
 */
export function temporalJson(kind: LogicalKind, count: bigint): string | undefined {
  let text: string | undefined;
  switch (kind) {
    case 'date':
      text = dateText(Number(count));
      break;
    case 'time-millis':
    case 'time-micros':
    case 'time-nanos':
      text = timeText(toMicros(count, kind === 'time-millis' ? 'millis' : kind === 'time-micros' ? 'micros' : 'nanos'));
      break;
    case 'timestamp-millis':
    case 'timestamp-micros':
    case 'timestamp-nanos':
      text = timestampText(toMicros(count, kind === 'timestamp-millis' ? 'millis' : kind === 'timestamp-micros' ? 'micros' : 'nanos'));
      break;
  }
  return text === undefined ? undefined : `"${text}"`;
}

/** Renders the JSON value spanning [start, end) of `buf` as pgcdc's JSON text. */
export type JsonValueRenderer = (buf: Buffer, start: number, end: number) => string;

const QUOTE = 0x22;

const INTEGER = /^-?\d+$/;

/**
 * The renderer of values of `schema` in JsonConverter's JSON, or undefined when the value's text
 * is already pgcdc's (no conversion). A value whose JSON type is not the one the logical type has
 * (pgcdc's own strings) is kept as it is.
 */
export function jsonValueRenderer(schema: ConnectSchemaJson): JsonValueRenderer | undefined {
  const kind = logicalKind(schema.type, schema.name);
  if (kind === undefined) {
    if (schema.type !== 'array' || schema.items === undefined) return undefined;
    const item = jsonValueRenderer(schema.items);
    if (item === undefined) return undefined;
    return (buf, start, end) => {
      if (buf[start] !== 0x5b) return buf.toString('utf8', start, end);
      const { starts, ends } = arrayElements(buf, start);
      const parts = starts.map((s, i) => (isNullAt(buf, s, ends[i]!) ? 'null' : item(buf, s, ends[i]!)));
      return `[${parts.join(',')}]`;
    };
  }
  switch (kind) {
    case 'decimal': {
      const scale = Number(schema.parameters?.scale ?? 0);
      return (buf, start, end) => (buf[start] === QUOTE ? decimalText(twosComplement(Buffer.from(decodeString(buf, start, end), 'base64')), scale) : buf.toString('utf8', start, end));
    }
    case 'variable-scale-decimal':
      return (buf, start, end) => {
        if (buf[start] !== 0x7b) return buf.toString('utf8', start, end);
        const members = objectMembers(buf, start);
        const scaleAt = members.names.indexOf('scale');
        const valueAt = members.names.indexOf('value');
        if (scaleAt < 0 || valueAt < 0) return buf.toString('utf8', start, end);
        const scale = Number(buf.toString('utf8', members.starts[scaleAt], members.ends[scaleAt]));
        const unscaled = twosComplement(Buffer.from(decodeString(buf, members.starts[valueAt]!, members.ends[valueAt]!), 'base64'));
        return decimalText(unscaled, scale);
      };
    case 'json':
      // The document's text is the string's content.
      return (buf, start, end) => (buf[start] === QUOTE ? decodeString(buf, start, end) : buf.toString('utf8', start, end));
    case 'bytes':
      return (buf, start, end) => (buf[start] === QUOTE ? byteaJson(Buffer.from(decodeString(buf, start, end), 'base64')) : buf.toString('utf8', start, end));
    default:
      return (buf, start, end) => {
        const text = buf.toString('utf8', start, end);
        return (INTEGER.test(text) ? temporalJson(kind, BigInt(text)) : undefined) ?? text;
      };
  }
}

/** The renderers of a struct schema's fields by name (only fields that need one). */
export function structRenderers(schema: ConnectSchemaJson | undefined): ReadonlyMap<string, JsonValueRenderer> {
  const renderers = new Map<string, JsonValueRenderer>();
  for (const field of schema?.fields ?? []) {
    const renderer = jsonValueRenderer(field);
    if (renderer !== undefined) renderers.set(field.field, renderer);
  }
  return renderers;
}
