/**
 * `verifyStream`: compares every table the stream captures on its source and its PostgreSQL
 * target, a few tables at a time on a few connection pairs, and returns the report.
 */
import type { PostgresTargetConfig, SourceConfig, StreamConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { ChangeFilter } from '../pipeline/change-filter.js';
import { signalTableName } from '../snapshot/signals.js';
import { listSourceTables, selectCapturedTables, type SourceTable } from '../source/captured-tables.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import { rowFilterOf } from '../source/row-filters.js';
import { ConnectionPairs, mapConcurrent } from './connection-pairs.js';
import { compareTable, type TableProgress } from './table-comparison.js';
import { buildVerifyReport, type VerifyReport } from './verify-report.js';

export interface VerifyOptions {
  /** Connection pairs (one source and one target connection each) used at once; default 2. */
  readonly parallel?: number;
  /** Rows per key range; default 100,000. */
  readonly rangeRows?: number;
  /** Differing ranges (or sub-ranges) of at most this many rows have their keys listed; default 1,000. */
  readonly detailRows?: number;
  /** At most this many differing keys are listed per range; default 100. */
  readonly maxKeys?: number;
  /** Called after each range of a table compared in several ranges. */
  readonly onProgress?: (progress: TableProgress) => void;
}

export const VERIFY_DEFAULTS = { parallel: 2, rangeRows: 100_000, detailRows: 1_000, maxKeys: 100 } as const;

/** The schema of pgcdc's own objects, never compared. */
const PGCDC_SCHEMA = 'pgcdc';

/** The stream's PostgreSQL target; a CONFIG_INVALID error for any other target type. */
export function postgresTarget(config: StreamConfig): PostgresTargetConfig {
  if (config.target.type === 'Postgres') return config.target;
  throw new PgcdcError('CONFIG_INVALID', `verify needs spec.target.type Postgres (or SGCluster); stream "${config.name}" writes to ${config.target.type}`, {
    hint: 'verify compares the source with a PostgreSQL target: use a spec whose target is a PostgreSQL database',
  });
}

/**
 * The tables `run` captures, as the target holds them: the filters' tables without the signal
 * table and pgcdc's schema; leaf tables, or the partition roots when changes are published via
 * the root.
 */
export async function verifiedTables(catalog: CatalogConnection, source: SourceConfig): Promise<SourceTable[]> {
  const signal = signalTableName(source);
  const captured = selectCapturedTables(await listSourceTables(catalog), new ChangeFilter(source.includes, source.excludes));
  return captured.filter(
    (t) =>
      t.schema !== PGCDC_SCHEMA &&
      !(t.schema === signal.schema && t.table === signal.table) &&
      (source.publishViaPartitionRoot ? !t.isPartition : t.kind === 'r'),
  );
}

/** Compares the stream's tables on source and target. */
export async function verifyStream(config: StreamConfig, options: VerifyOptions = {}): Promise<VerifyReport> {
  const target = postgresTarget(config);
  const parallel = whole(options.parallel, VERIFY_DEFAULTS.parallel);
  const comparison = {
    rangeRows: whole(options.rangeRows, VERIFY_DEFAULTS.rangeRows),
    detailRows: whole(options.detailRows, VERIFY_DEFAULTS.detailRows),
    maxKeys: whole(options.maxKeys, VERIFY_DEFAULTS.maxKeys),
    concurrency: parallel,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const pairs = new ConnectionPairs(config.source.connection, target.connection, parallel);
  try {
    const tables = await pairs.use((pair) => verifiedTables(pair.source.connection, config.source));
    if (tables.length === 0) {
      throw new PgcdcError('NO_TABLES', `no table of the source matches the include/exclude filters of stream "${config.name}": nothing to verify`, {
        hint: 'check spec.source.postgres includes/excludes against the source tables',
      });
    }
    const filter = new ChangeFilter(config.source.includes, config.source.excludes);
    const reports = await mapConcurrent(tables, parallel, (t) => {
      const rowFilter = rowFilterOf(config.source.rowFilters, t.schema, t.table);
      const compared = { schema: t.schema, table: t.table, includesColumn: (column: string) => filter.includesColumn(t.schema, t.table, column) };
      return compareTable(pairs, rowFilter === undefined ? compared : { ...compared, rowFilter }, comparison);
    });
    return buildVerifyReport(config.name, reports);
  } finally {
    await pairs.close();
  }
}

function whole(value: number | undefined, fallback: number): number {
  return value === undefined || !Number.isFinite(value) ? fallback : Math.max(1, Math.floor(value));
}
