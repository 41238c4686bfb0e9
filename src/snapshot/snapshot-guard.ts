/**
 * Makes sure a table is copied as it was at the snapshot, in one of two ways. A table copy that
 * can take its locks before the snapshot exists (table synchronisation: `lockTablesNowait`) holds
 * them from before the snapshot's position to the end of the copy, so nothing can change the
 * tables in between. A copy whose snapshot already exists (a new slot's initial snapshot:
 * `SnapshotGuard`) checks each table instead. Before each chunk, the transaction that
 * imported the exported snapshot locks the table (ACCESS SHARE, NOWAIT, inside a savepoint rolled
 * back after the chunk: DDL waits at most one chunk, never the whole snapshot) and compares the
 * table's shape (name, storage file, columns and their types) as the snapshot sees it with the
 * catalog now. A table that differs cannot be copied at this snapshot: an added, dropped, renamed
 * or retyped column changes what its rows hold, and a TRUNCATE or a table rewrite (a column type
 * change) makes it look empty to an older snapshot (PostgreSQL's MVCC caveat for those commands),
 * so that the changes streamed between the snapshot and the TRUNCATE would find no rows. (A VACUUM
 * FULL or CLUSTER counts as a change too: harmless, one more try.) A lock that is not free at once
 * (a DDL holds it or waits for it) counts as a change: waiting could block the application's
 * writes queued behind that DDL for as long as the chunk takes.
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import type { WireConnection } from '../source/wire/wire-connection.js';

/** Whether a table can be read at the snapshot right now. */
export type TableAtSnapshot = 'unchanged' | 'changed' | 'gone';

/** SQLSTATE of a lock NOWAIT could not take. */
const LOCK_NOT_AVAILABLE = '55P03';

const SHAPE_SQL = `
  select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name,
         n.nspname || '.' || c.relname || ' ' || c.relfilenode::text || ' ' ||
           coalesce(string_agg(a.attname || ':' || a.atttypid::text || ':' || a.atttypmod::text, ',' order by a.attnum), '') as shape
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
   where c.oid = $1::oid
   group by n.nspname, c.relname, c.relfilenode`;

/**
 * Locks the tables (ACCESS SHARE, NOWAIT) in each of `connections`' transactions, which have not
 * imported a snapshot yet (LOCK takes none), until they end. Stops at the first table whose lock
 * is not free (a DDL or TRUNCATE holds it or waits for it) or that is gone, and names it: the
 * transactions must then begin again (a failed statement gives them a snapshot of their own, and
 * they could no longer import one).
 */
export async function lockTablesNowait(connections: readonly WireConnection[], catalog: CatalogConnection, oids: readonly number[]): Promise<{ readonly oid: number; readonly reason: 'busy' | 'gone' } | undefined> {
  for (const oid of oids) {
    const table = await current(catalog, oid);
    if (!table) return { oid, reason: 'gone' };
    for (const connection of connections) {
      const outcome = await lockNowait(connection, table.name);
      if (outcome !== 'locked') return { oid, reason: outcome };
    }
  }
  return undefined;
}

/** Whether a lock request on one of the tables waits (for locks this process holds, say). */
export async function lockRequestsWaiting(catalog: CatalogConnection, oids: readonly number[]): Promise<boolean> {
  const { rows } = await catalog.query<{ waiting: boolean }>(
    `select exists (select from pg_locks where locktype = 'relation' and not granted and relation = any($1::oid[])
                       and database = (select oid from pg_database where datname = current_database())) as waiting`,
    [oids],
  );
  return rows[0]!.waiting;
}

export class SnapshotGuard {
  readonly #catalog: CatalogConnection;
  /** Each table's shape as the snapshot sees it (the same from every connection in it). */
  readonly #atSnapshot = new Map<number, string | undefined>();

  /** `catalog` reads the source's catalog as it is now. */
  constructor(catalog: CatalogConnection) {
    this.#catalog = catalog;
  }

  /**
   * Locks the table inside `worker`'s snapshot transaction, which must be in a savepoint the caller
   * rolls back afterwards (the lock goes with it), and tells whether it is as the snapshot sees it.
   */
  async lock(worker: WireConnection, oid: number): Promise<TableAtSnapshot> {
    const before = await current(this.#catalog, oid);
    if (!before) return 'gone';
    const locked = await lockNowait(worker, before.name);
    if (locked !== 'locked') return locked === 'busy' ? 'changed' : 'gone';
    // Locked: nothing can change it any more. What the snapshot sees against what is there now.
    const now = await current(this.#catalog, oid);
    if (!now) return 'gone';
    if (!this.#atSnapshot.has(oid)) {
      const [result] = await worker.query(SHAPE_SQL.replace('$1', String(oid)));
      this.#atSnapshot.set(oid, result?.rows[0]?.[1] ?? undefined);
    }
    return this.#atSnapshot.get(oid) === now.shape ? 'unchanged' : 'changed';
  }
}

/** A table's name (quoted) and shape as the catalog has them now; undefined when it is gone. */
async function current(catalog: CatalogConnection, oid: number): Promise<{ name: string; shape: string } | undefined> {
  const { rows } = await catalog.query<{ name: string; shape: string }>(SHAPE_SQL, [oid]);
  return rows[0];
}

/** LOCK … IN ACCESS SHARE MODE NOWAIT; after a failure the transaction (or savepoint) must be rolled back. */
async function lockNowait(connection: WireConnection, name: string): Promise<'locked' | 'busy' | 'gone'> {
  try {
    await connection.query(`LOCK TABLE ${name} IN ACCESS SHARE MODE NOWAIT`);
    return 'locked';
  } catch (error) {
    if (!(error instanceof PgcdcError) || error.code !== 'QUERY_FAILED' || connection.closed) throw error;
    return (error.cause as { code?: string } | undefined)?.code === LOCK_NOT_AVAILABLE ? 'busy' : 'gone';
  }
}
