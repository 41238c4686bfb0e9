/**
 * Turns a value's JSON text (pgcdc's representation, PostgreSQL's `to_jsonb`, with Debezium's
 * numbers for dates and times and base64 for bytes accepted too) into the PostgreSQL input text of
 * a column's type: what the Postgres target writes as a SQL literal, as it writes what pgoutput
 * sends. Strings lose their quotes, numbers and booleans stay as written (exact), json and jsonb
 * keep the JSON text, arrays become array literals, objects record literals (composites) or hstore
 * text.
 */
import { decimalText, twosComplement } from '../../kafka-source/connect-value-decoder.js';
import type { PgType } from '../../decoding/values/pg-type.js';
import type { TypeCatalog } from '../../decoding/values/type-catalog.js';
import { dateTextOfEpochDays, epochUnitOf, timestampTextOfEpoch, timeTextOfEpoch, type EpochUnit } from './epoch-temporal-text.js';
import { InvalidJsonText, jsonStringValue, readJsonValue, type JsonNode } from './json-value-reader.js';

/** How the JSON values of a type become its input text. */
export type InputType =
  /** Input text is the value's text: strings unquoted, numbers and booleans as written. */
  | { readonly kind: 'text'; readonly name: string }
  | { readonly kind: 'json'; readonly name: string }
  /** `\x…` as is; any other string is base64 (Debezium's bytes). */
  | { readonly kind: 'bytea'; readonly name: string }
  /** A number is days since 1970-01-01. */
  | { readonly kind: 'date'; readonly name: string }
  /** A number is time since midnight in `unit`. */
  | { readonly kind: 'time'; readonly name: string; readonly unit: EpochUnit }
  /** A number is time since 1970-01-01 00:00 (UTC for timestamptz) in `unit`. */
  | { readonly kind: 'timestamp'; readonly name: string; readonly unit: EpochUnit; readonly withZone: boolean }
  /** A number is microseconds (Debezium's MicroDuration). */
  | { readonly kind: 'interval'; readonly name: string }
  | { readonly kind: 'array'; readonly name: string; readonly element: InputType; readonly delimiter: string }
  | { readonly kind: 'composite'; readonly name: string; readonly fields: readonly { readonly name: string; readonly type: InputType }[] }
  | { readonly kind: 'hstore'; readonly name: string }
  /**
   * Debezium's numeric values read back: a VariableScaleDecimal `{"scale":…,"value":<base64>}`,
   * and for a declared scale, Decimal's base64 unscaled bytes (a string that is no number).
   */
  | { readonly kind: 'numeric'; readonly name: string; readonly scale: number | undefined };

/** A JSON value that cannot be input to its type. */
export class UnconvertibleValue extends Error {}

const OID = { json: 114, jsonb: 3802, numeric: 1700, bytea: 17, date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, interval: 1186 } as const;

/** How values of `typeOid` (loaded in `catalog`) with this type modifier are input. */
export function inputTypeOf(catalog: TypeCatalog, typeOid: number, typeModifier: number): InputType {
  const type = catalog.get(typeOid);
  const name = type.name;
  switch (type.kind) {
    case 'domain':
      return inputTypeOf(catalog, type.baseOid, -1);
    case 'array': {
      const element = catalog.get(type.elementOid);
      return { kind: 'array', name: `${element.name}[]`, element: inputTypeOf(catalog, element.oid, typeModifier), delimiter: element.delimiter };
    }
    case 'composite':
      return { kind: 'composite', name, fields: type.fields.map((field) => ({ name: field.name, type: inputTypeOf(catalog, field.typeOid, -1) })) };
    case 'base':
      return baseInputType(type, typeModifier);
    default:
      return { kind: 'text', name };
  }
}

function baseInputType(type: PgType, typeModifier: number): InputType {
  const name = type.name;
  switch (type.oid) {
    case OID.json:
    case OID.jsonb:
      return { kind: 'json', name };
    case OID.bytea:
      return { kind: 'bytea', name };
    case OID.numeric:
      return { kind: 'numeric', name, scale: typeModifier >= 4 ? (typeModifier - 4) & 0xffff : undefined };
    case OID.date:
      return { kind: 'date', name };
    case OID.time:
      return { kind: 'time', name, unit: epochUnitOf(typeModifier) };
    case OID.timestamp:
    case OID.timestamptz:
      return { kind: 'timestamp', name, unit: epochUnitOf(typeModifier), withZone: type.oid === OID.timestamptz };
    case OID.interval:
      return { kind: 'interval', name };
    default:
      return name === 'hstore' ? { kind: 'hstore', name } : { kind: 'text', name };
  }
}

/**
 * The PostgreSQL input text of the JSON value `json` for `type`, or null for a JSON null (SQL NULL;
 * for json and jsonb too: to_jsonb writes both a SQL NULL and a JSON null as null).
 *
 * @throws UnconvertibleValue when the text is not JSON, or does not fit the type (an object for an
 *   array, a composite's object with a field the type lacks, a date that is not an integer…)
 */
export function postgresInputText(json: string, type: InputType): string | null {
  if (json === 'null') return null;
  switch (type.kind) {
    case 'json':
      return json;
    case 'hstore':
      if (json.charCodeAt(0) === 0x22) return hstoreOfString(jsonStringValue(json), type);
      return nodeText(json, parse(json), type);
    case 'array':
    case 'composite':
      if (json.charCodeAt(0) === 0x22) return jsonStringValue(json);
      return nodeText(json, parse(json), type);
    case 'numeric':
      if (json.charCodeAt(0) === 0x7b) return variableScaleDecimal(json, parse(json), type);
      return json.charCodeAt(0) === 0x22 ? numericOfString(jsonStringValue(json), type) : json;
    default:
      return json.charCodeAt(0) === 0x22 ? scalarString(jsonStringValue(json), type) : scalarLiteral(json, type);
  }
}

/**
 * An hstore given as a string: Debezium's `hstore.handling.mode=json` writes the map as a JSON
 * object's text; anything else is hstore's own text (which never parses as a JSON object).
 */
function hstoreOfString(text: string, type: InputType): string | null {
  if (text.charCodeAt(0) !== 0x7b) return text;
  let node: JsonNode;
  try {
    node = readJsonValue(text);
  } catch {
    return text;
  }
  return node.kind === 'object' ? nodeText(text, node, type) : text;
}

const NUMERIC_TEXT = /^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$|^\s*(?:NaN|[+-]?Infinity|[+-]?inf)\s*$/i;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A numeric given as a string: a number's text, or Decimal's base64 unscaled bytes when the column declares its scale. */
function numericOfString(text: string, type: Extract<InputType, { kind: 'numeric' }>): string {
  if (NUMERIC_TEXT.test(text) || type.scale === undefined || !BASE64.test(text)) return text;
  return decimalText(twosComplement(Buffer.from(text, 'base64')), type.scale);
}

/** Debezium's VariableScaleDecimal `{"scale":…,"value":"<base64>"}` as numeric text. */
function variableScaleDecimal(json: string, node: JsonNode, type: InputType): string {
  if (node.kind !== 'object') throw new UnconvertibleValue(`${quoteForMessage(json)} is no value of ${type.name}`);
  const scale = node.values[node.keys.indexOf('scale')];
  const value = node.values[node.keys.indexOf('value')];
  if (scale?.kind !== 'literal' || value?.kind !== 'string' || !BASE64.test(value.value)) {
    throw new UnconvertibleValue(`${quoteForMessage(json)} is no value of ${type.name} (an object must be Debezium's VariableScaleDecimal {"scale":…,"value":"<base64>"})`);
  }
  return decimalText(twosComplement(Buffer.from(value.value, 'base64')), Number(json.slice(scale.start, scale.end)));
}

function parse(json: string): JsonNode {
  try {
    return readJsonValue(json);
  } catch (error) {
    if (error instanceof InvalidJsonText) throw new UnconvertibleValue(`not JSON: ${error.message}`);
    throw error;
  }
}

/** A JSON string's contents as the input of a scalar type. */
function scalarString(value: string, type: InputType): string {
  if (type.kind === 'bytea' && !value.startsWith('\\x')) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw new UnconvertibleValue(`${quoteForMessage(value)} is neither \\x hex nor base64 bytes`);
    return `\\x${Buffer.from(value, 'base64').toString('hex')}`;
  }
  return value;
}

/** A number, `true` or `false` (or an object or array given to a scalar type) as the input of a scalar type. */
function scalarLiteral(text: string, type: InputType): string {
  switch (type.kind) {
    case 'date':
      return dateTextOfEpochDays(integer(text, type));
    case 'time':
      return timeTextOfEpoch(integer(text, type), type.unit);
    case 'timestamp': {
      const local = timestampTextOfEpoch(integer(text, type), type.unit);
      return type.withZone ? `${local} +00` : local;
    }
    case 'interval':
      return `${integer(text, type)} microseconds`;
    default:
      return text;
  }
}

function integer(text: string, type: InputType): bigint {
  if (!/^-?[0-9]+$/.test(text)) throw new UnconvertibleValue(`${quoteForMessage(text)} is not a number of ${type.kind === 'date' ? 'days' : 'time units'} for ${type.name}`);
  return BigInt(text);
}

/** The input text of a JSON value inside `json` (an element, a field), or null for SQL NULL. */
function nodeText(json: string, node: JsonNode, type: InputType): string | null {
  switch (node.kind) {
    case 'null':
      return null;
    case 'string':
      return type.kind === 'json' ? json.slice(node.start, node.end) : scalarString(node.value, type);
    case 'literal':
      return type.kind === 'json' ? json.slice(node.start, node.end) : scalarLiteral(json.slice(node.start, node.end), type);
    case 'array':
      if (type.kind === 'array') return arrayLiteral(json, node.items, type.element, type.delimiter);
      if (type.kind === 'json' || type.kind === 'text') return json.slice(node.start, node.end);
      throw new UnconvertibleValue(`an array is no value of ${type.name}`);
    case 'object':
      if (type.kind === 'composite') return recordLiteral(json, node.keys, node.values, type);
      if (type.kind === 'hstore') return hstoreText(json, node.keys, node.values);
      if (type.kind === 'json' || type.kind === 'text') return json.slice(node.start, node.end);
      throw new UnconvertibleValue(`an object is no value of ${type.name}`);
  }
}

/** `{"a","b",NULL}`, nested for multidimensional arrays; every element quoted (any type accepts that). */
function arrayLiteral(json: string, items: readonly JsonNode[], element: InputType, delimiter: string): string {
  let out = '{';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += delimiter;
    const item = items[i]!;
    // A JSON array inside an array is a sub-array, except for elements that are JSON documents themselves.
    if (item.kind === 'array' && element.kind !== 'json') out += arrayLiteral(json, item.items, element, delimiter);
    else {
      const text = nodeText(json, item, element);
      out += text === null ? 'NULL' : quoted(text);
    }
  }
  return `${out}}`;
}

/** `("1","x",)`: fields in the type's attribute order, a missing or null field empty (NULL). */
function recordLiteral(json: string, keys: readonly string[], values: readonly JsonNode[], type: Extract<InputType, { kind: 'composite' }>): string {
  for (const key of keys) {
    if (!type.fields.some((field) => field.name === key)) throw new UnconvertibleValue(`type ${type.name} has no attribute ${JSON.stringify(key)}`);
  }
  let out = '(';
  type.fields.forEach((field, i) => {
    if (i > 0) out += ',';
    const at = keys.indexOf(field.name);
    const text = at < 0 ? null : nodeText(json, values[at]!, field.type);
    if (text !== null) out += quoted(text);
  });
  return `${out})`;
}

/** `"k"=>"v", "n"=>NULL`. */
function hstoreText(json: string, keys: readonly string[], values: readonly JsonNode[]): string {
  return keys
    .map((key, i) => {
      const value = values[i]!;
      if (value.kind !== 'string' && value.kind !== 'null') throw new UnconvertibleValue(`hstore value of key ${JSON.stringify(key)} is not a string or null`);
      return `${quoted(key)}=>${value.kind === 'null' ? 'NULL' : quoted(value.value)}`;
    })
    .join(', ');
}

/** A double-quoted element of an array, record or hstore literal (backslash escapes). */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

function quoteForMessage(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
