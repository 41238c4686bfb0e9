/**
 * Reads table descriptions from a database: the source's tables by oid, a target's tables by
 * schema and name, and which of the described user-defined types a target already has.
 */
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { DESCRIBE_TABLE_SQL } from './describe-table-sql.js';
import { tableDescriptionSchema, type TableDescription, type TypeDescription } from './table-description.js';
import { typeKey } from './type-statements.js';

/** A table by schema and name. */
export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/**
 * Describes the ordinary and partitioned tables with these oids (others are left out), in the
 * order given. `query` must run on one session (a client, not a pool): the descriptions are read
 * with `search_path = pg_catalog, pg_temp`, restored afterwards, so every name is schema-qualified.
 */
export async function describeTables(query: CatalogQuery, oids: readonly number[]): Promise<TableDescription[]> {
  return withQualifiedNames(query, async () => {
    const descriptions: TableDescription[] = [];
    for (const oid of oids) {
      const { rows } = await query(DESCRIBE_TABLE_SQL, [oid]);
      const value: unknown = rows[0]?.description;
      if (value !== null && value !== undefined) descriptions.push(parseTableDescription(value));
    }
    return descriptions;
  });
}

/** Describes the target's tables with these names; tables it does not have are absent. */
export async function targetDescriptions(query: CatalogQuery, names: readonly TableName[]): Promise<TableDescription[]> {
  if (names.length === 0) return [];
  const { rows } = await query(
    `SELECT w.ord, c.oid::pg_catalog.int8 AS oid
     FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) WITH ORDINALITY AS w(schema, name, ord)
     JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
     JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name AND c.relkind IN ('r', 'p')
     ORDER BY w.ord`,
    [names.map((n) => n.schema), names.map((n) => n.table)],
  );
  return describeTables(
    query,
    rows.map((row: { oid: string | number }) => Number(row.oid)),
  );
}

/**
 * The types among those the descriptions use that already exist on a target, as `typeKey`s, so that
 * `createStatements` can skip them.
 */
export async function existingTypes(query: CatalogQuery, descriptions: readonly TableDescription[]): Promise<Set<string>> {
  const types = new Map<string, TypeDescription>();
  for (const table of descriptions) for (const type of table.types) types.set(typeKey(type), type);
  if (types.size === 0) return new Set();
  const list = [...types.values()];
  const { rows } = await query(
    `SELECT w.schema, w.name
     FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) AS w(schema, name)
     WHERE EXISTS (
       SELECT FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       WHERE n.nspname = w.schema AND t.typname = w.name)`,
    [list.map((t) => t.schema), list.map((t) => t.name)],
  );
  return new Set(rows.map((row: { schema: string; name: string }) => typeKey(row)));
}

/** Validates one description read from `describe_table` (jsonb, or its text). */
export function parseTableDescription(value: unknown): TableDescription {
  const json: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  const parsed = tableDescriptionSchema.safeParse(json);
  if (!parsed.success) {
    throw new PgcdcError('PROTOCOL', `unexpected table description: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      hint: 'the source and pgcdc versions may not match; re-run pgcdc init to reinstall pgcdc.describe_table',
    });
  }
  return parsed.data;
}

/** Runs `fn` with `search_path = pg_catalog, pg_temp` on the session, then restores it. */
async function withQualifiedNames<T>(query: CatalogQuery, fn: () => Promise<T>): Promise<T> {
  const { rows } = await query(
    `SELECT pg_catalog.current_setting('search_path') AS previous,
            pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false) AS current`,
    [],
  );
  try {
    return await fn();
  } finally {
    await query(`SELECT pg_catalog.set_config('search_path', $1, false)`, [rows[0].previous]).catch(() => undefined);
  }
}
