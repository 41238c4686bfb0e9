/**
 * Avro keys and values in Confluent's wire format (magic byte 0, the writer schema's registry id
 * as 4 big-endian bytes, the Avro binary datum), as Confluent's AvroConverter and pgcdc's Avro
 * converter write them: the writer schema is fetched once per id from the registry
 * (`GET {url}/schemas/ids/{id}`, Node's fetch, optional basic auth), the datum decoded with avsc
 * (longs as bigint, optional unions unwrapped), and each value rendered as pgcdc's JSON text from
 * the schema's Connect metadata (`connect.name`, `connect.parameters`): the logical types of
 * `connect-value-decoder`, float32 with its shortest digits, bytes as `\x` hex.
 */
import avro from 'avsc';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { byteaJson, decimalText, logicalKind, temporalJson, twosComplement } from './connect-value-decoder.js';

/** Avro's long as a JavaScript bigint: int64 beyond 2^53 stays exact. */
const LongAsBigInt = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => buffer.readBigInt64LE(),
  toBuffer: (value: bigint) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(value);
    return buffer;
  },
  fromJSON: (value: unknown) => BigInt(value as number),
  toJSON: (value: bigint) => Number(value),
  isValid: (value: unknown) => typeof value === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** Renders one decoded Avro value as pgcdc's JSON text. */
export type AvroValueRenderer = (value: unknown) => string;

/** A writer schema: the avsc type reading its data, its JSON, and its named types by full name. */
export interface WriterSchema {
  readonly id: number;
  readonly type: avro.Type;
  readonly json: AvroSchema;
  readonly named: ReadonlyMap<string, AvroSchema>;
}

type AvroSchema = string | AvroSchema[] | { readonly [member: string]: unknown };

export interface SchemaRegistryAccess {
  readonly url: string;
  readonly basicAuth?: { readonly user: string; readonly password: string };
}

/** Whether `bytes` is in Confluent's wire format (magic byte 0 and room for a schema id). */
export function isConfluentFramed(bytes: Buffer | null): boolean {
  return bytes !== null && bytes.length >= 5 && bytes[0] === 0;
}

export class AvroRecordDecoder {
  readonly #base: string;
  readonly #authorization: string | undefined;
  readonly #schemas = new Map<number, WriterSchema>();
  readonly #fetching = new Map<number, Promise<WriterSchema>>();

  constructor(registry: SchemaRegistryAccess) {
    this.#base = registry.url.replace(/\/+$/, '');
    this.#authorization = registry.basicAuth ? `Basic ${Buffer.from(`${registry.basicAuth.user}:${registry.basicAuth.password}`).toString('base64')}` : undefined;
  }

  /** The schema of a framed datum when already fetched. */
  cachedSchema(bytes: Buffer): WriterSchema | undefined {
    return this.#schemas.get(bytes.readUInt32BE(1));
  }

  /** The schema of a framed datum, fetched from the registry the first time its id is met. */
  schemaOf(bytes: Buffer): Promise<WriterSchema> {
    const id = bytes.readUInt32BE(1);
    let fetching = this.#fetching.get(id);
    if (fetching === undefined) {
      fetching = this.#fetch(id).then((schema) => {
        this.#schemas.set(id, schema);
        return schema;
      });
      fetching.catch(() => this.#fetching.delete(id));
      this.#fetching.set(id, fetching);
    }
    return fetching;
  }

  async #fetch(id: number): Promise<WriterSchema> {
    const url = `${this.#base}/schemas/ids/${id}`;
    let response: Response;
    try {
      response = await fetch(url, { headers: this.#authorization ? { authorization: this.#authorization } : {} });
    } catch (error) {
      throw new PgcdcError('KAFKA_SOURCE_UNREACHABLE', `the schema registry at ${this.#base} did not answer for schema id ${id}: ${(error as Error).message}`, { hint: 'check the schema registry URL and that the registry is running' });
    }
    const body = await response.text();
    if (response.status >= 500) throw new PgcdcError('KAFKA_SOURCE_UNREACHABLE', `the schema registry at ${this.#base} failed for schema id ${id} (HTTP ${response.status})`, { hint: "check the schema registry's health" });
    if (!response.ok) {
      throw new PgcdcError('KAFKA_SOURCE_FAILED', `the schema registry at ${this.#base} has no schema id ${id} for us (HTTP ${response.status}): ${body.slice(0, 200)}`, {
        hint: 'check that the registry is the one the topic was written with, its URL (Apicurio: …/apis/ccompat/v7) and the basic auth credentials',
      });
    }
    const text = (JSON.parse(body) as { schema?: unknown }).schema;
    if (typeof text !== 'string') throw new PgcdcError('KAFKA_SOURCE_FAILED', `the schema registry at ${this.#base} answered schema id ${id} without a schema`, { hint: "check that the URL is the registry's Confluent-compatible API" });
    const json = JSON.parse(text) as AvroSchema;
    const named = new Map<string, AvroSchema>();
    collectNamedTypes(json, '', named);
    return { id, json, named, type: avro.Type.forSchema(json as avro.Schema, { registry: { long: LongAsBigInt }, wrapUnions: false }) };
  }
}

/** The datum of a framed record. */
export function decodeDatum(schema: WriterSchema, bytes: Buffer): unknown {
  return schema.type.fromBuffer(bytes.subarray(5));
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

/** Every record, enum and fixed type of `schema`, by full name. */
function collectNamedTypes(schema: AvroSchema, namespace: string, named: Map<string, AvroSchema>): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) collectNamedTypes(branch, namespace, named);
    return;
  }
  if (typeof schema !== 'object') return;
  const type = schema.type;
  if (type === 'record' || type === 'enum' || type === 'fixed') {
    const name = fullName(schema.name as string, typeof schema.namespace === 'string' ? schema.namespace : namespace);
    named.set(name, schema);
    const inner = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
    if (type === 'record') for (const field of schema.fields as { type: AvroSchema }[]) collectNamedTypes(field.type, inner, named);
    return;
  }
  if (type === 'array') collectNamedTypes(schema.items as AvroSchema, namespace, named);
  else if (type === 'map') collectNamedTypes(schema.values as AvroSchema, namespace, named);
  else if (typeof type === 'object') collectNamedTypes(type as AvroSchema, namespace, named);
}

/** `schema` itself, a name resolved to its type, or the non-null branch of an optional union. */
function resolveSchema(writer: WriterSchema, schema: AvroSchema): AvroSchema {
  if (typeof schema === 'string') return writer.named.get(schema) ?? [...writer.named.entries()].find(([name]) => name.endsWith(`.${schema}`))?.[1] ?? schema;
  if (Array.isArray(schema)) {
    const branches = schema.filter((branch) => branch !== 'null');
    return branches.length === 1 ? resolveSchema(writer, branches[0]!) : schema;
  }
  if (typeof schema.type === 'object' || (typeof schema.type === 'string' && writer.named.has(schema.type))) return resolveSchema(writer, schema.type as AvroSchema);
  return schema;
}

/** The fields of a record schema (after resolution), or undefined for another type. */
export function recordFields(writer: WriterSchema, schema: AvroSchema): readonly { readonly name: string; readonly type: AvroSchema }[] | undefined {
  const resolved = resolveSchema(writer, schema);
  return typeof resolved === 'object' && !Array.isArray(resolved) && resolved.type === 'record' ? (resolved.fields as { name: string; type: AvroSchema }[]) : undefined;
}

/** The shortest decimal text that reads back as the same float32. */
function float32Text(value: number): string {
  for (let digits = 1; digits < 10; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return numberText(Number(text));
  }
  return numberText(value);
}

/**
 * A double as to_jsonb writes a float: its shortest digits as a jsonb number (numeric text, no
 * exponent: 1e+21 is 1000000000000000000000), NaN and infinities as strings.
 */
function numberText(value: number): string {
  if (Number.isNaN(value)) return '"NaN"';
  if (value === Infinity) return '"Infinity"';
  if (value === -Infinity) return '"-Infinity"';
  return plainDecimal(String(value));
}

/** `1.5e-7` → `0.00000015`, `1e+21` → `1000000000000000000000`; text without exponent as it is. */
function plainDecimal(text: string): string {
  const e = text.indexOf('e');
  if (e < 0) return text;
  const negative = text.startsWith('-');
  const mantissa = text.slice(negative ? 1 : 0, e);
  const exponent = Number(text.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  let plain: string;
  if (point <= 0) plain = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) plain = digits + '0'.repeat(point - digits.length);
  else plain = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${plain}` : plain;
}

/** The renderer of values of `schema` (a field's type) as pgcdc's JSON text. */
export function avroValueRenderer(writer: WriterSchema, schema: AvroSchema): AvroValueRenderer {
  const resolved = resolveSchema(writer, schema);
  if (Array.isArray(resolved)) return (value) => (value === null ? 'null' : JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  const type = typeof resolved === 'string' ? resolved : (resolved.type as string);
  const name = typeof resolved === 'object' ? (resolved['connect.name'] as string | undefined) : undefined;
  const parameters = typeof resolved === 'object' ? (resolved['connect.parameters'] as Record<string, string> | undefined) : undefined;
  const orNull = (render: AvroValueRenderer): AvroValueRenderer => (value) => (value === null || value === undefined ? 'null' : render(value));
  switch (type) {
    case 'null':
      return () => 'null';
    case 'boolean':
      return orNull((value) => (value ? 'true' : 'false'));
    case 'int':
    case 'long': {
      const kind = logicalKind(type === 'int' ? 'int32' : 'int64', name);
      return orNull((value) => (kind === undefined ? String(value) : (temporalJson(kind, BigInt(value as number | bigint)) ?? String(value))));
    }
    case 'float':
      return orNull((value) => float32Text(value as number));
    case 'double':
      return orNull((value) => numberText(value as number));
    case 'string':
    case 'enum':
      return name === 'io.debezium.data.Json' ? orNull((value) => value as string) : orNull((value) => JSON.stringify(value));
    case 'bytes':
    case 'fixed': {
      if (logicalKind('bytes', name) === 'decimal') {
        const scale = Number(parameters?.scale ?? (typeof resolved === 'object' ? resolved.scale : 0) ?? 0);
        return orNull((value) => decimalText(twosComplement(value as Buffer), scale));
      }
      return orNull((value) => byteaJson(value as Buffer));
    }
    case 'array': {
      const item = avroValueRenderer(writer, (resolved as { items: AvroSchema }).items);
      return orNull((value) => `[${(value as unknown[]).map(item).join(',')}]`);
    }
    case 'map': {
      const member = avroValueRenderer(writer, (resolved as { values: AvroSchema }).values);
      return orNull((value) => `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}:${member(v)}`).join(',')}}`);
    }
    case 'record': {
      if (name === 'io.debezium.data.VariableScaleDecimal') return orNull((value) => decimalText(twosComplement((value as { value: Buffer }).value), (value as { scale: number }).scale));
      const fields = (resolved as { fields: { name: string; type: AvroSchema }[] }).fields.map((field) => ({ name: field.name, json: JSON.stringify(field.name), render: avroValueRenderer(writer, field.type) }));
      return orNull((value) => `{${fields.map((field) => `${field.json}:${field.render((value as Record<string, unknown>)[field.name])}`).join(',')}}`);
    }
    default:
      return orNull((value) => JSON.stringify(value));
  }
}
