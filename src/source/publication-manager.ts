/**
 * Creates, updates and drops the stream's publication according to Debezium's
 * `publication.autocreate.mode`: `filtered` (only the captured tables, kept in step with the
 * filters at every start), `all_tables` (FOR ALL TABLES) or `disabled` (must already exist).
 */
import type { SourceConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import type { CatalogConnection } from './catalog-connection.js';
import type { SourceTable } from './captured-tables.js';
import { qualifiedName, quoteIdent } from './sql-quoting.js';

/**
 * Makes sure the publication exists and, in filtered mode, publishes exactly the captured tables
 * (and the signal table, when there is one).
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
  if (mode === 'disabled') {
    if (!exists) {
      throw new PgcdcError('PUBLICATION_MISSING', `publication "${name}" does not exist and publicationAutocreateMode is disabled`, {
        hint: `create it, e.g. CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ..., or set publicationAutocreateMode to filtered`,
      });
    }
    return;
  }
  const options = source.publishViaPartitionRoot ? ' WITH (publish_via_partition_root = true)' : '';
  const tables = publishableTables(captured);
  if (mode === 'all_tables') {
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
  const list = wanted.map(qualifiedName).join(', ');
  if (!exists) {
    await catalog.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list}${options}`);
    logger.info({ publication: name, tables: tables.length }, 'created publication');
    return;
  }
  if (rows[0].puballtables) return;
  const { rows: published } = await catalog.query(`select schemaname as schema, tablename as table from pg_publication_tables where pubname = $1`, [name]);
  const want = new Set(wanted.map((t) => `${t.schema}.${t.table}`));
  const have = new Set(published.map((t: { schema: string; table: string }) => `${t.schema}.${t.table}`));
  const same = want.size === have.size && [...want].every((t) => have.has(t));
  if (!same) {
    await catalog.query(`ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${list}`);
    logger.info({ publication: name, tables: tables.length }, 'updated the publication to match the filters');
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
