/**
 * What pgcdc knows about a PostgreSQL data type: the few catalog facts value rendering needs, plus
 * the OIDs of the built-in types that have a rendering rule of their own.
 */

/** The shape of a type, from pg_type.typtype (and, for arrays, pg_type.typsubscript). */
export type PgTypeKind = 'base' | 'array' | 'composite' | 'domain' | 'enum' | 'range' | 'multirange' | 'pseudo';

/** A field of a composite type. */
export interface PgField {
  readonly name: string;
  readonly typeOid: number;
}

/** One row of pg_type, reduced to what rendering needs. */
export interface PgType {
  readonly oid: number;
  /** pg_type.typname, unquoted. */
  readonly name: string;
  /** pg_namespace.nspname of the type, unquoted. */
  readonly schema: string;
  /**
   * `array` for every type whose values are PostgreSQL arrays (typsubscript is
   * array_subscript_handler), which includes int2vector and oidvector.
   */
  readonly kind: PgTypeKind;
  /** The element type of an array, else 0. */
  readonly elementOid: number;
  /** The base type of a domain, else 0. */
  readonly baseOid: number;
  /** A domain's type modifier over its base type (`numeric(8,3)`: its typmod), -1 or absent without one. */
  readonly baseTypeModifier?: number;
  /** pg_type.typdelim. An array literal separates elements with its element type's delimiter. */
  readonly delimiter: string;
  /** Fields of a composite: its non-dropped attributes in attnum order; empty for other kinds. */
  readonly fields: readonly PgField[];
  /** Labels of an enum in their sort order (as loaded); absent for other kinds. */
  readonly labels?: readonly string[];
}

/** OIDs of built-in types (fixed in every PostgreSQL release, see pg_type.dat). */
export const TYPE_OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int2vector: 22,
  int4: 23,
  oidvector: 30,
  json: 114,
  float4: 700,
  float8: 701,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
} as const;
