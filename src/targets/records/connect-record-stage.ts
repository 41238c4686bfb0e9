/**
 * The Kafka target's stage between the record builder and the producer when a stream has Connect
 * transforms or a converter other than JsonConverter: each built record (JsonConverter bytes with
 * schemas) is read back into a ConnectRecord (schemas parsed once per distinct schema text, int64
 * beyond 2^53 read as bigint, a number written otherwise than JavaScript would write it, like `1.00`,
 * as a lossless-json LosslessNumber), passed through the transform chain, then written by the converter:
 * JsonConverter (with or without schemas, the same bytes the builder writes for an untouched record)
 * or Avro with a schema registry (`avro-converter`). Streams with neither never build this stage.
 */
import { isInteger, isSafeNumber, LosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { type AvroConverter, LONG_INTEGER_MARK } from './avro-converter.js';
import type { ChangeRecord } from './change-records.js';
import type { ConnectRecord, ConnectSchema, ConnectTransform } from './connect-record.js';
import { applyConnectTransforms } from './connect-transforms.js';

/** How the stage writes keys and values. */
export type RecordConverter = { readonly kind: 'json'; readonly schemasEnable: boolean } | { readonly kind: 'avro'; readonly avro: AvroConverter };

/** A parsed schema, and the bytes of `{"schema":<its text>` (`end` long) that open records with it. */
interface ParsedSchema {
  readonly schema: ConnectSchema;
  readonly bytes: Buffer;
  readonly end: number;
}

/** Distinct schema texts kept parsed (table shapes, the fixed schemas): past this the cache starts anew. */
const SCHEMA_CACHE_LIMIT = 10_000;

const SCHEMA_OPEN = Buffer.from('{"schema":');
const PAYLOAD_OPEN = ',"payload":';
/** LONG_INTEGER_MARK as a JSON string escape. */
const LONG_INTEGER_MARK_ESCAPED = `\\u${LONG_INTEGER_MARK.charCodeAt(0).toString(16).padStart(4, '0')}`;

export class ConnectRecordStage {
  readonly #converter: RecordConverter;
  readonly #transforms: readonly ConnectTransform[];
  /** Parsed schemas by their text, and each parsed schema's text (written back unchanged). */
  readonly #schemas = new Map<string, ConnectSchema>();
  readonly #schemaTexts = new WeakMap<ConnectSchema, string>();
  /** Per topic, the schema of its last key and value (a table's records share one). */
  readonly #lastKeySchemas = new Map<string, ParsedSchema>();
  readonly #lastValueSchemas = new Map<string, ParsedSchema>();

  constructor(converter: RecordConverter, transforms: readonly ConnectTransform[]) {
    this.#converter = converter;
    this.#transforms = transforms;
  }

  /** The records as the transforms and the converter make them (dropped ones left out), in order. */
  async convert(records: readonly ChangeRecord[]): Promise<ChangeRecord[]> {
    const out: ChangeRecord[] = [];
    for (const built of records) {
      const record = applyConnectTransforms(this.#transforms, this.connectRecordOf(built));
      if (record !== null) out.push(await this.#write(record));
    }
    return out;
  }

  /** A built record (JsonConverter bytes with schemas) as a ConnectRecord. */
  connectRecordOf(record: ChangeRecord): ConnectRecord {
    const key = record.key === null ? { schema: null, payload: null } : this.#read(record.key, this.#lastKeySchemas, record.topic);
    const value = record.value === null ? { schema: null, payload: null } : this.#read(record.value, this.#lastValueSchemas, record.topic);
    const headers = new Map<string, string>();
    for (const [name, headerValue] of record.headers ?? []) headers.set(name.toString('utf8'), headerValue.toString('utf8'));
    return { topic: record.topic, keySchema: key.schema, key: key.payload, valueSchema: value.schema, value: value.payload, headers, source: record };
  }

  /**
   * `{"schema":…,"payload":…}` read: the schema from the cache (the topic's last schema when the bytes
   * start with it, else by its text), the payload losslessly.
   */
  #read(bytes: Buffer, lastSchemas: Map<string, ParsedSchema>, topic: string): { schema: ConnectSchema | null; payload: unknown } {
    let parsed = lastSchemas.get(topic);
    let payloadStart: number;
    if (parsed !== undefined && bytes.length > parsed.end + PAYLOAD_OPEN.length && bytes.compare(parsed.bytes, 0, parsed.bytes.length, 0, parsed.end) === 0 && bytes[parsed.end] === 0x2c) {
      payloadStart = parsed.end + PAYLOAD_OPEN.length;
    } else {
      parsed = this.#parseSchema(bytes);
      if (lastSchemas.size >= SCHEMA_CACHE_LIMIT) lastSchemas.clear();
      lastSchemas.set(topic, parsed);
      payloadStart = parsed.end + PAYLOAD_OPEN.length;
    }
    const payloadText = bytes.toString('utf8', payloadStart, bytes.length - 1);
    // Straight to Avro (no transform to see the record), the native JSON.parse is several times
    // faster, long integers kept exact as marked strings (`avro-converter` reads them back).
    if (this.#converter.kind === 'avro' && this.#transforms.length === 0) return { schema: parsed.schema, payload: JSON.parse(markLongIntegers(payloadText)) };
    return { schema: parsed.schema, payload: parseLossless(payloadText, null, parseConnectNumber) };
  }

  /** The schema of a record's bytes, found by its text. */
  #parseSchema(bytes: Buffer): ParsedSchema {
    if (!bytes.subarray(0, SCHEMA_OPEN.length).equals(SCHEMA_OPEN)) throw new Error('a built record has no {"schema":…} envelope');
    const text = bytes.toString('utf8');
    const schemaEnd = jsonValueEnd(text, SCHEMA_OPEN.length);
    if (!text.startsWith(PAYLOAD_OPEN, schemaEnd)) throw new Error('a built record has no "payload" after its schema');
    const schemaText = text.slice(SCHEMA_OPEN.length, schemaEnd);
    let schema = this.#schemas.get(schemaText);
    if (schema === undefined) {
      if (this.#schemas.size >= SCHEMA_CACHE_LIMIT) this.#schemas.clear();
      schema = JSON.parse(schemaText) as ConnectSchema;
      this.#schemas.set(schemaText, schema);
      this.#schemaTexts.set(schema, schemaText);
    }
    const end = Buffer.byteLength(text.slice(0, schemaEnd), 'utf8');
    return { schema, bytes: Buffer.from(bytes.subarray(0, end)), end };
  }

  async #write(record: ConnectRecord): Promise<ChangeRecord> {
    const source = record.source;
    const headers = headersOf(record.headers);
    const base = { topic: record.topic, partition: -1, ...(headers === undefined ? {} : { headers }), ...(source.op === undefined ? {} : { op: source.op }), ...(source.event === undefined ? {} : { event: source.event }) };
    const converter = this.#converter;
    if (converter.kind === 'json') {
      return { ...base, key: this.#json(record.keySchema, record.key, converter.schemasEnable), value: this.#json(record.valueSchema, record.value, converter.schemasEnable) };
    }
    const key = record.key === null || record.keySchema === null ? null : await converter.avro.register(`${record.topic}-key`, record.keySchema);
    const value = record.value === null || record.valueSchema === null ? null : await converter.avro.register(`${record.topic}-value`, record.valueSchema);
    return {
      ...base,
      key: key === null ? null : converter.avro.encode(key, record.key, `${record.topic}-key`),
      value: value === null ? null : converter.avro.encode(value, record.value, `${record.topic}-value`),
    };
  }

  /**
   * JsonConverter's bytes: `{"schema":…,"payload":…}`, or the payload alone. As JsonConverter, only
   * a null payload without a schema is a Kafka null (a tombstone); a null payload with a schema (a
   * delete ExtractNewRecordState left in its tombstone mode) is `{"schema":…,"payload":null}`, or
   * `null` without schemas.
   */
  #json(schema: ConnectSchema | null, payload: unknown, schemasEnable: boolean): Buffer | null {
    if ((payload === null || payload === undefined) && schema === null) return null;
    const payloadText = payload === null || payload === undefined ? 'null' : stringifyLossless(payload)!;
    if (!schemasEnable) return Buffer.from(payloadText, 'utf8');
    const schemaText = schema === null ? 'null' : (this.#schemaTexts.get(schema) ?? JSON.stringify(schema));
    return Buffer.from(`{"schema":${schemaText},"payload":${payloadText}}`, 'utf8');
  }
}

/**
 * JSON numbers of a Connect payload: integers beyond 2^53 as bigint, numbers whose text a number
 * would not give back (`1.00` of a numeric(10,2)) as LosslessNumber (written back as they came), others as numbers.
 */
function parseConnectNumber(text: string): number | bigint | LosslessNumber {
  if (isInteger(text) && !isSafeNumber(text)) return BigInt(text);
  const number = Number(text);
  return String(number) === text ? number : new LosslessNumber(text);
}

/**
 * `json` with each integer of 16 digits or more (outside strings: where 2^53 may be passed) turned into
 * a string of LONG_INTEGER_MARK and its digits, which JSON.parse keeps exact.
 */
function markLongIntegers(json: string): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote.
      for (i++; i < json.length; i++) {
        const s = json.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    let end = i + 1;
    let integer = true;
    for (; end < json.length; end++) {
      const d = json.charCodeAt(end);
      if (d >= 0x30 && d <= 0x39) continue;
      if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) integer = false;
      else break;
    }
    if (integer && end - i >= 16) {
      out += `${json.slice(copied, i)}"${LONG_INTEGER_MARK_ESCAPED}${json.slice(i, end)}"`;
      copied = end;
    }
    i = end - 1;
  }
  return copied === 0 ? json : out + json.slice(copied);
}

function headersOf(headers: ReadonlyMap<string, string>): Map<Buffer, Buffer> | undefined {
  if (headers.size === 0) return undefined;
  return new Map([...headers].map(([name, value]) => [Buffer.from(name, 'utf8'), Buffer.from(value, 'utf8')]));
}

/** The index just past the JSON value (object, array, string or scalar) starting at `start`. */
function jsonValueEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x7d)) return i;
  }
  throw new Error('a built record ends inside its schema');
}
