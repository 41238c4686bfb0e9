/**
 * Avro schemas of Kafka Connect schemas, derived as Confluent's AvroConverter (AvroData, default
 * settings) derives them, so a registry holds the same schema text for pgcdc as for Debezium:
 * struct → record named by the Connect name split at its last dot (namespace + name; unnamed:
 * `io.confluent.connect.avro.ConnectDefault`, then `ConnectDefault2` …), int8/int16 → int with
 * `connect.type`, int64 → long, float32/float64 → float/double, optional → union `["null", T]`
 * with default null (a schema with a default: `[T, "null"]` and that default), the Connect metadata
 * as `connect.doc`, `connect.version`, `connect.parameters`, `connect.default`, `connect.name`, the
 * logical types Decimal (bytes, scale, precision), Date, Time and Timestamp; a record met again (the
 * envelope's `before` and `after`) is referred to by name. Members are written in the order Avro's
 * Java `Schema.toString()` writes them.
 */
import type { ConnectSchema } from './connect-record.js';

const DEFAULT_NAMESPACE = 'io.confluent.connect.avro';
const DEFAULT_NAME = 'ConnectDefault';
/** Confluent's default precision of a Decimal without `connect.decimal.precision`. */
const DEFAULT_DECIMAL_PRECISION = 64;
const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
const LOGICAL_TYPES: Readonly<Record<string, string>> = {
  [DECIMAL]: 'decimal',
  'org.apache.kafka.connect.data.Time': 'time-millis',
  'org.apache.kafka.connect.data.Timestamp': 'timestamp-millis',
  'org.apache.kafka.connect.data.Date': 'date',
};

/** An Avro schema as JSON (a type name, a union array or an object), members in Avro's order. */
export type AvroSchemaJson = string | AvroSchemaJson[] | { [member: string]: unknown };

/** The Avro schema of `schema` (a record key or value), as AvroData writes it. */
export function avroSchemaOf(schema: ConnectSchema): AvroSchemaJson {
  return new AvroSchemaDeriver().derive(schema, null, false);
}

class AvroSchemaDeriver {
  /** Full names of the records written so far: written again, a record is its name. */
  readonly #records = new Map<string, ConnectSchema>();
  #unnamed = 0;

  /** `space`: the namespace of the enclosing record (names in it are written relative to it). */
  derive(schema: ConnectSchema, space: string | null, ignoreOptional: boolean): AvroSchemaJson {
    const base = this.#base(schema, space);
    addMetadata(base, schema);
    const plain = simplify(base);
    if (ignoreOptional || !schema.optional) return plain;
    return schema.default !== undefined && schema.default !== null ? [plain, 'null'] : ['null', plain];
  }

  #base(schema: ConnectSchema, space: string | null): { [member: string]: unknown } | string {
    switch (schema.type) {
      case 'int8':
      case 'int16':
        return { type: 'int', 'connect.type': schema.type };
      case 'int32':
        return { type: 'int' };
      case 'int64':
        return { type: 'long' };
      case 'float':
      case 'float32':
        return { type: 'float' };
      case 'double':
      case 'float64':
        return { type: 'double' };
      case 'boolean':
        return { type: 'boolean' };
      case 'string':
        return { type: 'string' };
      case 'bytes': {
        if (schema.name?.toLowerCase() !== DECIMAL.toLowerCase()) return { type: 'bytes' };
        const precision = schema.parameters?.['connect.decimal.precision'];
        return { type: 'bytes', scale: Number(schema.parameters?.scale ?? 0), precision: precision === undefined ? DEFAULT_DECIMAL_PRECISION : Number(precision) };
      }
      case 'array':
        return { type: 'array', items: this.derive(required(schema.items, 'items'), space, false) };
      case 'map': {
        const keys = required(schema.keys, 'keys');
        const values = this.derive(required(schema.values, 'values'), space, false);
        if (keys.type === 'string' && !keys.optional) return { type: 'map', values };
        // Avro maps have string keys only: AvroData writes other maps as arrays of key/value records.
        const entry = this.#record({ type: 'struct', optional: false, fields: [{ ...keys, field: 'key' }, { ...required(schema.values, 'values'), field: 'value' }] }, space, 'MapEntry');
        return { type: 'array', items: entry };
      }
      case 'struct':
        return this.#record(schema, space);
    }
  }

  #record(schema: ConnectSchema, space: string | null, unnamedName?: string): { [member: string]: unknown } | string {
    let namespace: string | null;
    let name: string;
    if (schema.name !== undefined) {
      const dot = schema.name.lastIndexOf('.');
      namespace = dot < 0 ? null : schema.name.slice(0, dot);
      name = dot < 0 ? schema.name : schema.name.slice(dot + 1);
    } else {
      namespace = DEFAULT_NAMESPACE;
      name = unnamedName ?? (this.#unnamed++ === 0 ? DEFAULT_NAME : `${DEFAULT_NAME}${this.#unnamed}`);
    }
    const fullName = namespace === null ? name : `${namespace}.${name}`;
    if (this.#records.has(fullName)) return { type: namespace === space ? name : fullName, reference: true };
    this.#records.set(fullName, schema);
    const record: { [member: string]: unknown } = { type: 'record', name };
    if (namespace !== space) record.namespace = namespace ?? '';
    const doc = schema.parameters?.['connect.record.doc'];
    if (doc !== undefined) record.doc = doc;
    record.fields = (schema.fields ?? []).map((field) => {
      const avroField: { [member: string]: unknown } = { name: field.field, type: this.derive(field, namespace, false) };
      if (field.doc !== undefined) avroField.doc = field.doc;
      // Avro writes a bytes default as a string of code points 0-255 (JsonConverter: base64).
      if (field.default !== undefined && field.default !== null) avroField.default = field.type === 'bytes' && typeof field.default === 'string' ? Buffer.from(field.default, 'base64').toString('latin1') : field.default;
      else if (field.optional) avroField.default = null;
      return avroField;
    });
    return record;
  }
}

/** Adds Connect's metadata and the logical type to a schema object (not to a record referred to by name). */
function addMetadata(base: { [member: string]: unknown } | string, schema: ConnectSchema): void {
  if (typeof base === 'string' || base.reference === true) return;
  if (schema.doc !== undefined) base['connect.doc'] = schema.doc;
  if (schema.version !== undefined) base['connect.version'] = schema.version;
  if (schema.parameters !== undefined) base['connect.parameters'] = schema.parameters;
  if (schema.default !== undefined && schema.default !== null) base['connect.default'] = schema.default;
  if (schema.name !== undefined) {
    base['connect.name'] = schema.name;
    const logical = Object.entries(LOGICAL_TYPES).find(([connectName]) => connectName.toLowerCase() === schema.name!.toLowerCase());
    if (logical !== undefined) base.logicalType = logical[1];
  }
}

/** `{"type":"int"}` → `"int"` (a primitive without properties is written as its name), a reference → its name. */
function simplify(base: { [member: string]: unknown } | string): AvroSchemaJson {
  if (typeof base === 'string') return base;
  if (base.reference === true) return base.type as string;
  if (Object.keys(base).length === 1 && typeof base.type === 'string') return base.type;
  return base;
}

function required(schema: ConnectSchema | undefined, member: string): ConnectSchema {
  if (schema === undefined) throw new Error(`a Connect schema has no ${member}`);
  return schema;
}
