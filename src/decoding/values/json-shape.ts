/**
 * The JSON shape of the values `valueRenderer` writes for a type: what a schema of the events
 * (Kafka Connect's, for the Kafka target's `schemas.enable`) needs to describe a column. It follows
 * the renderers' choices: domains as their base type, arrays as JSON arrays of their elements,
 * composites and hstore as objects, numbers exact, and every other type as a string of its text
 * output (an enum's with its labels).
 */
import { TYPE_OID, type PgType } from './pg-type.js';
import type { TypeCatalog } from './type-catalog.js';

export type JsonShape =
  | { readonly kind: 'boolean' }
  | { readonly kind: 'integer'; readonly bytes: 2 | 4 | 8 }
  | { readonly kind: 'float'; readonly bytes: 4 | 8 }
  /** numeric: an exact JSON number (or "NaN"/"Infinity" strings). */
  | { readonly kind: 'number' }
  /** A string; `type` is the base type's name (`uuid`, `timestamptz`, an enum's name …), `labels` an enum's. */
  | { readonly kind: 'string'; readonly type: string; readonly labels?: readonly string[] }
  /** hstore: an object of string keys and string-or-null values. */
  | { readonly kind: 'map'; readonly type: string }
  /** json and jsonb: any JSON value. */
  | { readonly kind: 'json'; readonly type: string }
  | { readonly kind: 'array'; readonly items: JsonShape }
  | { readonly kind: 'object'; readonly type: string; readonly fields: readonly { readonly name: string; readonly shape: JsonShape }[] }
  /**
   * A value in one of Debezium's representations (debezium-representations.ts): its Kafka Connect
   * type, logical name, parameters, and a struct's fields and doc as Connect's JSON schema text.
   */
  | {
      readonly kind: 'connect';
      readonly connectType: string;
      readonly name?: string;
      readonly parameters?: Readonly<Record<string, string>>;
      readonly fields?: string;
      readonly doc?: string;
      /** Debezium's value of a NOT NULL field it has no value for (a key-only old row), as JSON. */
      readonly fallback: string;
    };

const BASE_SHAPES: ReadonlyMap<number, JsonShape> = new Map<number, JsonShape>([
  [TYPE_OID.bool, { kind: 'boolean' }],
  [TYPE_OID.int2, { kind: 'integer', bytes: 2 }],
  [TYPE_OID.int4, { kind: 'integer', bytes: 4 }],
  [TYPE_OID.int8, { kind: 'integer', bytes: 8 }],
  [TYPE_OID.float4, { kind: 'float', bytes: 4 }],
  [TYPE_OID.float8, { kind: 'float', bytes: 8 }],
  [TYPE_OID.numeric, { kind: 'number' }],
  [TYPE_OID.json, { kind: 'json', type: 'json' }],
  [TYPE_OID.jsonb, { kind: 'json', type: 'jsonb' }],
]);

/** The shape of values of `typeOid`, a type loaded in `catalog` (with what it is built from). */
export function jsonShape(catalog: TypeCatalog, typeOid: number): JsonShape {
  return shapeOf(catalog, catalog.get(typeOid));
}

function shapeOf(catalog: TypeCatalog, type: PgType): JsonShape {
  switch (type.kind) {
    case 'domain':
      return jsonShape(catalog, type.baseOid);
    case 'array':
      return { kind: 'array', items: jsonShape(catalog, type.elementOid) };
    case 'composite':
      return { kind: 'object', type: type.name, fields: type.fields.map((field) => ({ name: field.name, shape: jsonShape(catalog, field.typeOid) })) };
    case 'base':
      return BASE_SHAPES.get(type.oid) ?? (type.name === 'hstore' ? { kind: 'map', type: 'hstore' } : { kind: 'string', type: type.name });
    case 'enum':
      return { kind: 'string', type: type.name, ...(type.labels === undefined ? {} : { labels: type.labels }) };
    default:
      return { kind: 'string', type: type.name };
  }
}

/** Whether values of this shape hold JSON documents or objects anywhere (not only scalars). */
export function isStructured(shape: JsonShape): boolean {
  return shape.kind === 'json' || shape.kind === 'object' || (shape.kind === 'array' && isStructured(shape.items));
}
