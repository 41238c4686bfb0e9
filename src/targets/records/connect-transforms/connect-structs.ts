/**
 * Connect's Schema and Struct operations the transforms share, on ConnectRecord's plain forms:
 * a field's schema, SchemaUtil.copySchemaBasics, a struct schema rebuilt with other fields, the
 * value of a struct's field (with or without its default), and Connect's DataException texts.
 */
import type { ConnectField, ConnectSchema } from '../connect-record.js';

/** A struct value: its fields by name, in schema order. */
export type Struct = Record<string, unknown>;

/** Connect's DataException. */
export class ConnectDataError extends Error {
  override readonly name = 'DataException';
}

export function isStruct(value: unknown): value is Struct {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** Requirements.requireStruct / requireMap: the value as a struct, or Connect's DataException. */
export function requireStruct(value: unknown, purpose: string): Struct {
  if (isStruct(value)) return value;
  const javaType = typeof value === 'string' ? 'java.lang.String' : typeof value === 'boolean' ? 'java.lang.Boolean' : typeof value === 'number' || typeof value === 'bigint' ? 'java.lang.Long' : 'java.util.List';
  throw new ConnectDataError(`Only Struct objects supported for [${purpose}], found: ${javaType}`);
}

export function schemaField(schema: ConnectSchema | null | undefined, name: string): ConnectField | undefined {
  return schema?.fields?.find((field) => field.field === name);
}

/** A field's schema on its own (without its field name). */
export function fieldSchema(field: ConnectField): ConnectSchema {
  const { field: _name, ...schema } = field;
  return schema;
}

/** `schema` as the field `name` of a struct. */
export function asField(schema: ConnectSchema, name: string): ConnectField {
  return { ...schema, field: name };
}

/**
 * A struct schema with `fields`, keeping `schema`'s name, version, doc and parameters
 * (SchemaUtil.copySchemaBasics onto SchemaBuilder.struct(): required, no default).
 */
export function structLike(schema: ConnectSchema, fields: readonly ConnectField[], optional = false): ConnectSchema {
  return {
    type: 'struct',
    fields,
    optional,
    ...(schema.name === undefined ? {} : { name: schema.name }),
    ...(schema.version === undefined ? {} : { version: schema.version }),
    ...(schema.doc === undefined ? {} : { doc: schema.doc }),
    ...(schema.parameters === undefined ? {} : { parameters: schema.parameters }),
  };
}

/** SchemaUtil.copySchemaBasics(schema).optional(): type, name, version, doc, parameters; optional, no default. */
export function optionalCopy(schema: ConnectSchema): ConnectSchema {
  return {
    type: schema.type,
    ...(schema.type === 'array' && schema.items !== undefined ? { items: schema.items } : {}),
    optional: true,
    ...(schema.name === undefined ? {} : { name: schema.name }),
    ...(schema.version === undefined ? {} : { version: schema.version }),
    ...(schema.doc === undefined ? {} : { doc: schema.doc }),
    ...(schema.parameters === undefined ? {} : { parameters: schema.parameters }),
  };
}

/** Struct.get (the field's default for a null value) or Struct.getWithoutDefault. */
export function fieldValue(struct: Struct, name: string, field: ConnectField | undefined, withDefault: boolean): unknown {
  const value = struct[name] ?? null;
  return value === null && withDefault && field?.default !== undefined ? field.default : value;
}

export const OPTIONAL_STRING: ConnectSchema = { type: 'string', optional: true };
export const STRING: ConnectSchema = { type: 'string', optional: false };
