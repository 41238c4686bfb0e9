/**
 * Loads data types from the source's catalog (pg_type, pg_namespace, pg_attribute), together with
 * every type they are built from, and keeps them for the renderers.
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { PgField, PgType, PgTypeKind } from './pg-type.js';

/** Runs one parameterised query on the source, e.g. `(text, params) => client.query(text, params)`. */
export type CatalogQuery = (text: string, params: unknown[]) => Promise<{ rows: any[] }>;

/**
 * The wanted types and, transitively, what they are built from (array elements, domain bases,
 * composite fields), skipping the types already known ($2). One round trip per load.
 */
const LOAD_TYPES_SQL = `
WITH RECURSIVE wanted(oid) AS (
  SELECT requested FROM unnest($1::pg_catalog.oid[]) AS requested
  UNION
  SELECT dependency.oid
  FROM wanted
  JOIN pg_catalog.pg_type t ON t.oid = wanted.oid
  CROSS JOIN LATERAL (
    SELECT t.typelem
    WHERE t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc
    UNION ALL
    SELECT t.typbasetype WHERE t.typtype = 'd'
    UNION ALL
    SELECT a.atttypid FROM pg_catalog.pg_attribute a
    WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
  ) AS dependency(oid)
  WHERE dependency.oid <> ALL ($2::pg_catalog.oid[])
)
SELECT
  t.oid::pg_catalog.int8::pg_catalog.text AS oid,
  t.typname::pg_catalog.text AS name,
  n.nspname::pg_catalog.text AS schema,
  t.typtype::pg_catalog.text AS typtype,
  (t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc) AS is_array,
  t.typelem::pg_catalog.int8::pg_catalog.text AS element_oid,
  t.typbasetype::pg_catalog.int8::pg_catalog.text AS base_oid,
  t.typtypmod::pg_catalog.text AS base_typmod,
  t.typdelim::pg_catalog.text AS delimiter,
  (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', a.attname, 'typeOid', a.atttypid::pg_catalog.int8) ORDER BY a.attnum)::pg_catalog.text
    FROM pg_catalog.pg_attribute a
    WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
  ) AS fields,
  (
    SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder)::pg_catalog.text
    FROM pg_catalog.pg_enum e
    WHERE t.typtype = 'e' AND e.enumtypid = t.oid
  ) AS labels
FROM wanted
JOIN pg_catalog.pg_type t ON t.oid = wanted.oid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace`;

const KIND_BY_TYPTYPE: Readonly<Record<string, PgTypeKind>> = {
  b: 'base',
  c: 'composite',
  d: 'domain',
  e: 'enum',
  r: 'range',
  m: 'multirange',
  p: 'pseudo',
};

/**
 * The types of one source database, loaded on demand.
 *
 * @example
 * const catalog = new TypeCatalog((text, params) => client.query(text, params));
 * await catalog.load([relation.columns.map((c) => c.typeOid)].flat());
 * catalog.get(23).name; // 'int4'
 */
export class TypeCatalog {
  readonly #query: CatalogQuery;
  readonly #types = new Map<number, PgType>();

  constructor(query: CatalogQuery) {
    this.#query = query;
  }

  /** Loads `oids` and every type they depend on, in one query; known types cost nothing. */
  async load(oids: readonly number[]): Promise<void> {
    const missing = [...new Set(oids)].filter((oid) => !this.#types.has(oid));
    if (missing.length === 0) return;
    let rows: any[];
    try {
      ({ rows } = await this.#query(LOAD_TYPES_SQL, [missing, [...this.#types.keys()]]));
    } catch (error) {
      // Keep the code of a PgcdcError: a lost connection must stay retryable.
      const code = error instanceof PgcdcError ? error.code : 'QUERY_FAILED';
      const message = error instanceof Error ? error.message : String(error);
      throw new PgcdcError(code, `loading data types ${missing.join(', ')} from pg_type failed: ${message}`, {
        hint: error instanceof PgcdcError && error.hint ? error.hint : 'the connecting role must be able to read pg_catalog',
        cause: error,
      });
    }
    for (const row of rows) {
      const type = typeFromRow(row);
      this.#types.set(type.oid, type);
    }
    const unknown = missing.filter((oid) => !this.#types.has(oid));
    if (unknown.length > 0) {
      throw new PgcdcError('PROTOCOL', `data type OID ${unknown.join(', ')} does not exist on the source`, {
        hint: 'the type was probably dropped while changes using it were still being streamed',
      });
    }
  }

  has(oid: number): boolean {
    return this.#types.has(oid);
  }

  /** The SQL name of a loaded type (`int4`, `"my schema".mood`, `int4[]`), for casts. */
  sqlName(oid: number): string {
    const type = this.get(oid);
    if (type.kind === 'array') return `${this.sqlName(type.elementOid)}[]`;
    const name = `"${type.name.replace(/"/g, '""')}"`;
    return type.schema === 'pg_catalog' ? name : `"${type.schema.replace(/"/g, '""')}".${name}`;
  }

  /** The loaded type; throws when `load` has not been given it (or something built from it). */
  get(oid: number): PgType {
    const type = this.#types.get(oid);
    if (type === undefined) {
      throw new PgcdcError('INTERNAL', `data type OID ${oid} was used before being loaded into the type catalog`);
    }
    return type;
  }
}

function typeFromRow(row: any): PgType {
  const typtype = String(row.typtype);
  const isArray = row.is_array === true || row.is_array === 't';
  const kind: PgTypeKind = isArray ? 'array' : (KIND_BY_TYPTYPE[typtype] ?? 'base');
  const fields: PgField[] = [];
  if (row.fields !== null && row.fields !== undefined) {
    const parsed = (typeof row.fields === 'string' ? JSON.parse(row.fields) : row.fields) as { name: string; typeOid: number | string }[];
    for (const field of parsed) fields.push({ name: String(field.name), typeOid: Number(field.typeOid) });
  }
  const labels = row.labels === null || row.labels === undefined ? undefined : ((typeof row.labels === 'string' ? JSON.parse(row.labels) : row.labels) as unknown[]).map(String);
  return {
    oid: Number(row.oid),
    name: String(row.name),
    schema: String(row.schema),
    kind,
    elementOid: isArray ? Number(row.element_oid) : 0,
    baseOid: kind === 'domain' ? Number(row.base_oid) : 0,
    ...(kind === 'domain' && row.base_typmod !== undefined && Number(row.base_typmod) >= 0 ? { baseTypeModifier: Number(row.base_typmod) } : {}),
    delimiter: String(row.delimiter),
    fields,
    ...(labels === undefined ? {} : { labels }),
  };
}
