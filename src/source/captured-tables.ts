/**
 * Lists the source's user tables with what matters for capturing them: replica identity, primary
 * key, SELECT privilege, and whether the include/exclude filters select them.
 */
import type { ChangeFilter } from '../pipeline/change-filter.js';
import type { CatalogConnection } from './catalog-connection.js';

export interface SourceTable {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  /** `r` table (or partition), `p` partitioned table. */
  readonly kind: 'r' | 'p';
  readonly isPartition: boolean;
  /** The partitioned table this partition belongs to, or 0. */
  readonly parentOid: number;
  /** `d` default, `n` nothing, `f` full, `i` index. */
  readonly replicaIdentity: string;
  readonly hasPrimaryKey: boolean;
  readonly hasReplicaIdentityIndex: boolean;
  /** REPLICA IDENTITY USING INDEX names another index than the primary key. */
  readonly identityIndexIsNotPrimaryKey: boolean;
  readonly canSelect: boolean;
  readonly columns: readonly string[];
}

const TABLES_SQL = `
  select c.oid::int as oid, n.nspname as schema, c.relname as table, c.relkind as kind, c.relispartition as is_partition,
         coalesce((select i.inhparent::int from pg_inherits i where i.inhrelid = c.oid limit 1), 0) as parent_oid,
         c.relreplident as replica_identity,
         exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary) as has_primary_key,
         exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisreplident) as has_replica_identity_index,
         exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisreplident and not i.indisprimary)
           and exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary) as identity_index_is_not_primary_key,
         has_table_privilege(c.oid, 'SELECT') as can_select,
         coalesce((select array_agg(a.attname::text order by a.attnum) from pg_attribute a
                    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '{}') as columns
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p')
     and n.nspname not in ('pg_catalog', 'information_schema')
     and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
     and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
     and not (n.nspname = 'pgcdc' and c.relname in ('stream_state', 'ddl_table_state'))
   order by n.nspname, c.relname`;

/** Every user table (extension-owned tables excluded). */
export async function listSourceTables(catalog: CatalogConnection): Promise<SourceTable[]> {
  const { rows } = await catalog.query(TABLES_SQL);
  return rows.map((row) => ({
    oid: row.oid,
    schema: row.schema,
    table: row.table,
    kind: row.kind,
    isPartition: row.is_partition,
    parentOid: row.parent_oid,
    replicaIdentity: row.replica_identity,
    hasPrimaryKey: row.has_primary_key,
    hasReplicaIdentityIndex: row.has_replica_identity_index,
    identityIndexIsNotPrimaryKey: row.replica_identity === 'i' && row.identity_index_is_not_primary_key,
    canSelect: row.can_select,
    columns: row.columns,
  }));
}

/** The tables the filters select. */
export function selectCapturedTables(tables: readonly SourceTable[], filter: ChangeFilter): SourceTable[] {
  return tables.filter((t) => filter.includesTable(t.schema, t.table, t.columns));
}

/**
 * True when updates and deletes of the table cannot be published: PostgreSQL then rejects them on
 * the source once the table is in a publication.
 */
export function lacksReplicaIdentity(table: SourceTable): boolean {
  if (table.kind === 'p') return false;
  if (table.replicaIdentity === 'n') return true;
  if (table.replicaIdentity === 'd') return !table.hasPrimaryKey;
  if (table.replicaIdentity === 'i') return !table.hasReplicaIdentityIndex;
  return false;
}
