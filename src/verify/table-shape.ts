/**
 * How a table looks on one side, for comparing it: its columns in order with their types and
 * collations, and its primary key columns; and the key columns both sides can range over alike.
 */
import type { VerifySide } from './connection-pairs.js';

export interface ColumnShape {
  readonly name: string;
  /** `format_type` of the column, e.g. `integer`, `character varying(20)`. */
  readonly type: string;
  /** The ordering its values sort by (`C`, `c:en_US.UTF-8`, `i:und`, …), or '' when not collatable. */
  readonly collation: string;
}

export interface TableShape {
  readonly columns: readonly ColumnShape[];
  /** Primary key columns in key order, or null without a primary key. */
  readonly key: readonly string[] | null;
}

/** A key column as a query on one side uses it. */
export interface KeyColumn {
  readonly name: string;
  /** This side's type, the cast of bound values. */
  readonly type: string;
  /** Compare in the C collation (the sides' collations differ; the key index cannot be used). */
  readonly collateC: boolean;
}

const RELATION_SQL = `
  select c.oid::int as oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')`;

// Collations are described through to_jsonb so one query fits PostgreSQL 14 to 18 (the locale
// columns were renamed: daticulocale/colliculocale in 15 and 16, datlocale/colllocale from 17).
const COLUMNS_SQL = `
  with db as (select to_jsonb(d) as j from pg_database d where d.datname = current_database())
  select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type,
         case when a.attcollation = 0 then ''
              when a.attcollation = 100 then
                (select coalesce(j->>'datlocprovider', 'c') || ':' ||
                        case when coalesce(j->>'datlocprovider', 'c') = 'c' then j->>'datcollate'
                             else coalesce(j->>'datlocale', j->>'daticulocale', '') end from db)
              else coalesce(to_jsonb(co)->>'collprovider', 'c') || ':' ||
                   case when coalesce(to_jsonb(co)->>'collprovider', 'c') = 'c' then co.collcollate
                        else coalesce(to_jsonb(co)->>'colllocale', to_jsonb(co)->>'colliculocale', '') end
         end as collation,
         (select k.ord::int from pg_index i, unnest(i.indkey) with ordinality k(attnum, ord)
           where i.indrelid = a.attrelid and i.indisprimary and k.attnum = a.attnum and k.ord <= i.indnkeyatts) as key_position
    from pg_attribute a left join pg_collation co on co.oid = a.attcollation
   where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
   order by a.attnum`;

/** The table `schema.table` on `side`, or undefined when it has no such table. */
export async function describeTable(side: VerifySide, schema: string, table: string): Promise<TableShape | undefined> {
  const relation = await side.query<{ oid: number }>(RELATION_SQL, [schema, table]);
  if (relation.length === 0) return undefined;
  const rows = await side.query<{ name: string; type: string; collation: string | null; key_position: number | null }>(COLUMNS_SQL, [relation[0]!.oid]);
  const keyed = rows.filter((r) => r.key_position !== null).sort((a, b) => a.key_position! - b.key_position!);
  return {
    columns: rows.map((r) => ({ name: r.name, type: r.type, collation: normalizeCollation(r.collation ?? '') })),
    key: keyed.length === 0 ? null : keyed.map((r) => r.name),
  };
}

/** Byte order and code point order (UTF-8) are one ordering, whatever the provider calls it. */
function normalizeCollation(collation: string): string {
  return /^[a-z]?:?(C|POSIX|C\.UTF-?8)$/i.test(collation) ? 'C' : collation;
}

/**
 * The source's key columns as each side queries them: its own type for casts, and the C
 * collation for text-like columns whose orderings differ (then ranges hold the same rows on both
 * sides, at the cost of not using the key index).
 */
export function keyColumns(source: TableShape, target: TableShape): { source: KeyColumn[]; target: KeyColumn[]; collated: string[] } {
  const names = source.key ?? [];
  const find = (shape: TableShape, name: string) => shape.columns.find((c) => c.name === name)!;
  const collated = names.filter((name) => find(source, name).collation !== find(target, name).collation);
  const side = (shape: TableShape) => names.map((name) => ({ name, type: find(shape, name).type, collateC: collated.includes(name) }));
  return { source: side(source), target: side(target), collated };
}
