/**
 * Creates, updates and drops the stream's publication according to Debezium's
 * `publication.autocreate.mode`: `filtered` (only the captured tables, each with its row filter,
 * kept in step with the spec at every start), `all_tables` (FOR ALL TABLES) or `disabled` (must
 * already exist; it is the user's, so its row filters must already be the spec's).
 */
import type { SourceConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { CatalogConnection } from './catalog-connection.js';
import type { SourceTable } from './captured-tables.js';
import { identityRefusal, tryRowFilters, type TriedRowFilter } from './row-filter-trial.js';
import { rowFilterList, type RowFilter } from './row-filters.js';
import { qualifiedName, quoteIdent } from './sql-quoting.js';

/** The first PostgreSQL with publication row filters. */
const ROW_FILTERS_SINCE = 150000;

/** A table the publication lists, with its row filter as `pg_publication_tables.rowfilter` shows it. */
interface PublishedTable {
  readonly schema: string;
  readonly table: string;
  readonly rowfilter: string | null;
}

/**
 * The captured tables the publication does not publish yet (neither the table nor a partitioned
 * table it belongs to): none when the publication is missing or FOR ALL TABLES. Read before
 * `ensurePublication` adds them, it names the tables whose changes the slot has not carried so far.
 */
export async function unpublishedTables(catalog: CatalogConnection, publicationName: string, captured: readonly SourceTable[]): Promise<SourceTable[]> {
  const { rows } = await catalog.query(`select puballtables from pg_publication where pubname = $1`, [publicationName]);
  if (rows.length === 0 || rows[0].puballtables) return [];
  const published = await catalog.query<{ oid: number }>(
    `select t.oid::int as oid from unnest($2::oid[]) as t(oid)
     where exists (
       select 1 from pg_publication_tables pt
       join pg_namespace n on n.nspname = pt.schemaname
       join pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename
       where pt.pubname = $1 and (c.oid = t.oid or c.oid in (select relid from pg_partition_ancestors(t.oid))))`,
    [publicationName, captured.map((t) => t.oid)],
  );
  const listed = new Set(published.rows.map((r) => r.oid));
  return captured.filter((t) => !listed.has(t.oid));
}

/**
 * Makes sure the publication exists and, in filtered mode, publishes exactly the captured tables
 * (and the signal table, when there is one), each with the spec's row filter.
 */
export async function ensurePublication(
  catalog: CatalogConnection,
  source: SourceConfig,
  captured: readonly SourceTable[],
  logger: Logger,
  signalTable?: { readonly schema: string; readonly table: string },
): Promise<void> {
  const name = source.publicationName;
  const { rows } = await catalog.query(`select puballtables from pg_publication where pubname = $1`, [name]);
  const exists = rows.length > 0;
  const mode = source.publicationAutocreateMode;
  const rowFilters = await checkedRowFilters(catalog, source, captured, logger);
  const serverHasRowFilters = rowFilters !== undefined;
  if (mode === 'disabled') {
    if (!exists) {
      throw new PgcdcError('PUBLICATION_MISSING', `publication "${name}" does not exist and publicationAutocreateMode is disabled`, {
        hint: `create it, e.g. CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ...${rowFilters?.[0] ? ` (with ${qualifiedName(rowFilters[0])} WHERE (${rowFilters[0].expression}) for rowFilters)` : ''}, or set publicationAutocreateMode to filtered`,
      });
    }
    if (serverHasRowFilters) await assertUserPublicationFilters(catalog, name, rows[0].puballtables as boolean, captured, rowFilters);
    return;
  }
  const options = source.publishViaPartitionRoot ? ' WITH (publish_via_partition_root = true)' : '';
  const tables = publishableTables(captured);
  if (mode === 'all_tables') {
    if (rowFilters && rowFilters.length > 0) throw allTablesRefusal(name);
    if (!exists) {
      await catalog.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR ALL TABLES${options}`);
      logger.info({ publication: name }, 'created publication for all tables');
    }
    return;
  }
  if (tables.length === 0) {
    throw new PgcdcError('NO_TABLES', 'no table matches the include/exclude filters', {
      hint: 'check includes/excludes: they are regular expressions over schema.table (escape the dot: public\\.orders)',
    });
  }
  const wanted: { schema: string; table: string }[] = [...tables];
  if (signalTable && !wanted.some((t) => t.schema === signalTable.schema && t.table === signalTable.table)) wanted.push(signalTable);
  const filterOf = (t: { schema: string; table: string }) => rowFilters?.find((f) => f.schema === t.schema && f.table === t.table);
  const list = wanted
    .map((t) => {
      const filter = filterOf(t);
      return filter ? `${qualifiedName(t)} WHERE (${filter.expression})` : qualifiedName(t);
    })
    .join(', ');
  if (!exists) {
    for (const filter of rowFilters ?? []) if (filter.outsideIdentity.length > 0) throw identityRefusal(filter);
    await catalog.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list}${options}`);
    logger.info({ publication: name, tables: tables.length, ...(rowFilters?.length ? { rowFilters: rowFilters.length } : {}) }, 'created publication');
    return;
  }
  if (rows[0].puballtables) {
    if (rowFilters && rowFilters.length > 0) throw allTablesRefusal(name);
    return;
  }
  const published = await publishedTables(catalog, name, serverHasRowFilters);
  const want = new Map(wanted.map((t) => [`${t.schema}.${t.table}`, filterOf(t)?.canonical ?? null]));
  const have = new Map(published.map((t) => [`${t.schema}.${t.table}`, t.rowfilter]));
  const same = want.size === have.size && [...want].every(([table, filter]) => have.has(table) && have.get(table) === filter);
  if (!same) {
    // Only a filter the publication does not hold yet can newly break the application's UPDATEs.
    for (const filter of rowFilters ?? []) if (filter.outsideIdentity.length > 0 && have.get(`${filter.schema}.${filter.table}`) !== filter.canonical) throw identityRefusal(filter);
    await catalog.query(`ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${list}`);
    logger.info({ publication: name, tables: tables.length, ...(rowFilters?.length ? { rowFilters: rowFilters.length } : {}) }, 'updated the publication to match the filters');
  }
}

/** Drops the publication unless it is user-managed (`disabled` mode). */
export async function dropPublication(catalog: CatalogConnection, source: SourceConfig): Promise<boolean> {
  if (source.publicationAutocreateMode === 'disabled') return false;
  const { rowCount } = await catalog.query(`select 1 from pg_publication where pubname = $1`, [source.publicationName]);
  if (!rowCount) return false;
  await catalog.query(`DROP PUBLICATION ${quoteIdent(source.publicationName)}`);
  return true;
}

/** Partitions whose partitioned parent is published come with it; list the rest. */
function publishableTables(captured: readonly SourceTable[]): SourceTable[] {
  const capturedOids = new Set(captured.map((t) => t.oid));
  return captured.filter((t) => !t.isPartition || !capturedOids.has(t.parentOid));
}

/**
 * The spec's row filters of the captured tables as the server stores them, or undefined on a
 * server without row filters (PostgreSQL 14) when the spec has none. Refuses filters on a server
 * without them, on existing tables the stream does not capture, on partitioned tables and
 * partitions, and those the server rejects; a filter of a table that does not exist (yet) is
 * logged and applies once table discovery finds the table.
 */
async function checkedRowFilters(catalog: CatalogConnection, source: SourceConfig, captured: readonly SourceTable[], logger: Logger): Promise<TriedRowFilter[] | undefined> {
  const filters: RowFilter[] = [];
  const version = await catalog.serverVersionNum();
  const given = rowFilterList(source);
  if (version < ROW_FILTERS_SINCE) {
    if (given.length === 0) return undefined;
    throw new PgcdcError('SERVER_UNSUPPORTED', `rowFilters need PostgreSQL 15 or later (publication row filters); the source runs PostgreSQL ${Math.floor(version / 10000)}`, {
      hint: 'upgrade the source to PostgreSQL 15+, or remove rowFilters',
    });
  }
  for (const filter of given) {
    const table = captured.find((t) => t.schema === filter.schema && t.table === filter.table);
    if (!table) {
      const { rowCount } = await catalog.query(`select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2`, [filter.schema, filter.table]);
      if (!rowCount) {
        logger.warn({ table: `${filter.schema}.${filter.table}` }, 'rowFilters names a table that does not exist (yet): its filter applies once it is created and captured; check the name (exact schema.table) if it should exist');
        continue;
      }
      throw new PgcdcError('CONFIG_INVALID', `rowFilters names ${filter.schema}.${filter.table}, which the stream does not capture (left out by includes/excludes, or not a table)`, {
        hint: 'remove its filter, or capture the table',
      });
    }
    if (table.kind === 'p' || table.isPartition) {
      throw new PgcdcError('CONFIG_INVALID', `rowFilters names ${filter.schema}.${filter.table}, a ${table.kind === 'p' ? 'partitioned table' : 'partition'}: row filters on partitioned tables are not supported`, {
        hint: 'remove its filter, or filter the rows where they are consumed',
      });
    }
    filters.push(filter);
  }
  const cache = triedFilters.get(source) ?? new Map<string, TriedRowFilter>();
  triedFilters.set(source, cache);
  const keyOf = (filter: RowFilter) => `${captured.find((t) => t.schema === filter.schema && t.table === filter.table)!.oid}\0${filter.expression}`;
  const untried = filters.filter((filter) => !cache.has(keyOf(filter)));
  const tried = await tryRowFilters(source.connection, untried).catch((error: unknown) => {
    // A user's publication is only compared: a role that may not create publications compares the text as written.
    if (!(error instanceof PgcdcError && error.code === 'PERMISSION_DENIED' && source.publicationAutocreateMode === 'disabled')) throw error;
    logger.info({ reason: error.message }, 'rowFilters cannot be tried on the server: they are compared with the publication\'s as written');
    return untried.map((filter): TriedRowFilter => ({ ...filter, canonical: filter.expression, outsideIdentity: [], identity: 'unknown' }));
  });
  for (const filter of tried) if (filter.outsideIdentity.length === 0 && filter.identity !== 'unknown') cache.set(keyOf(filter), filter);
  return filters.map((filter) => cache.get(keyOf(filter)) ?? tried.find((t) => t.schema === filter.schema && t.table === filter.table)!);
}

/**
 * What `run` would stop with for the stream's row filters (PostgreSQL too old, a table not
 * captured, an expression the server rejects, columns outside the replica identity), or undefined:
 * `pgcdc validate`'s check. Nothing on the server is changed (each filter is tried in a
 * rolled-back transaction).
 */
export async function rowFiltersProblem(catalog: CatalogConnection, source: SourceConfig, captured: readonly SourceTable[]): Promise<PgcdcError | undefined> {
  try {
    const unsafe = (await checkedRowFilters(catalog, source, captured, silentLogger()))?.find((filter) => filter.outsideIdentity.length > 0);
    return unsafe === undefined ? undefined : identityRefusal(unsafe);
  } catch (error) {
    if (error instanceof PgcdcError) return error;
    throw error;
  }
}

/**
 * Filters the server accepted and the replica identity covers, per stream and table OID: table
 * discovery calls ensurePublication every few seconds, and each try opens a connection.
 */
const triedFilters = new WeakMap<SourceConfig, Map<string, TriedRowFilter>>();

/** The tables the publication lists, with their row filters (none before PostgreSQL 15). */
async function publishedTables(catalog: CatalogConnection, publication: string, serverHasRowFilters: boolean): Promise<PublishedTable[]> {
  const { rows } = await catalog.query<PublishedTable>(
    `select schemaname as schema, tablename as table, ${serverHasRowFilters ? 'rowfilter' : 'null::text as rowfilter'} from pg_publication_tables where pubname = $1`,
    [publication],
  );
  return rows;
}

/**
 * A publication pgcdc does not manage must already filter each captured table it publishes as the
 * spec says, or snapshots (which apply the spec's filters) and the stream would disagree.
 */
async function assertUserPublicationFilters(
  catalog: CatalogConnection,
  publication: string,
  allTables: boolean,
  captured: readonly SourceTable[],
  filters: readonly TriedRowFilter[],
): Promise<void> {
  if (allTables) {
    if (filters.length > 0) throw allTablesRefusal(publication);
    return;
  }
  const published = await publishedTables(catalog, publication, true);
  for (const table of captured) {
    const have = published.find((t) => t.schema === table.schema && t.table === table.table);
    const filter = filters.find((f) => f.schema === table.schema && f.table === table.table);
    if (have === undefined) {
      if (!filter) continue;
      throw userPublicationMismatch(publication, filter, `does not publish ${table.schema}.${table.table}`, `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${qualifiedName(filter)} WHERE (${filter.expression})`);
    }
    if (sameFilter(have.rowfilter, filter)) continue;
    const name = `${table.schema}.${table.table}`;
    const what = have.rowfilter === null ? `publishes every row of ${name}` : `filters ${name} with ${have.rowfilter}`;
    const readd = `ALTER PUBLICATION ${quoteIdent(publication)} DROP TABLE ${qualifiedName(table)}; ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${qualifiedName(table)}`;
    throw userPublicationMismatch(publication, filter ?? { schema: table.schema, table: table.table, expression: '' }, what, filter ? `${readd} WHERE (${filter.expression})` : readd);
  }
}

/** Whether a publication's filter (as `pg_publication_tables.rowfilter` shows it) is the spec's. */
function sameFilter(published: string | null, filter: TriedRowFilter | undefined): boolean {
  if (published === null || filter === undefined) return published === null && filter === undefined;
  return published === filter.canonical || published === `(${filter.expression})`;
}

function userPublicationMismatch(publication: string, filter: RowFilter, what: string, fix: string): PgcdcError {
  const wanted = filter.expression ? `rowFilters gives ${filter.expression}` : 'rowFilters gives it no filter';
  return new PgcdcError('CONFIG_INVALID', `publication "${publication}" (publicationAutocreateMode disabled: managed by you) ${what}, but ${wanted}`, {
    hint: `run ${fix} (in one transaction), or change rowFilters to match the publication (its filter as pg_publication_tables.rowfilter shows it matches)`,
  });
}

function allTablesRefusal(publication: string): PgcdcError {
  return new PgcdcError('CONFIG_INVALID', `publication "${publication}" is FOR ALL TABLES, which cannot carry the row filters rowFilters gives`, {
    hint: `drop it (DROP PUBLICATION ${quoteIdent(publication)}) and set publicationAutocreateMode to filtered, so pgcdc publishes the captured tables each with its filter`,
  });
}
