/**
 * Compares one table on source and target: finds it on both sides, checks the columns, splits a
 * keyed table into key ranges of about `rangeRows` rows and compares the ranges on the shared
 * connection pairs (a keyless table as a whole), and gives the table's report.
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import { qualifiedName } from '../source/sql-quoting.js';
import { mapConcurrent, type ConnectionPairs, type SidePair } from './connection-pairs.js';
import { balancedStep, rangeBoundaries, splitRange, WHOLE_TABLE, type KeyRange } from './key-ranges.js';
import { compareKeylessTable, compareRange, type ComparedPair, type DetailOptions, type RangeOutcome } from './range-comparison.js';
import { countRows } from './row-checksums.js';
import { describeTable, keyColumns } from './table-shape.js';
import type { TableReport } from './verify-report.js';

/** Progress of a table compared in several ranges, after each range. */
export interface TableProgress {
  readonly table: string;
  readonly rangesDone: number;
  readonly ranges: number;
  /** Source rows of the ranges done, and of the table (counted before the ranges). */
  readonly rowsDone: number;
  readonly rows: number;
}

export interface TableComparisonOptions extends DetailOptions {
  /** Rows per key range. */
  readonly rangeRows: number;
  /** Ranges compared at once (each on its own pair). */
  readonly concurrency: number;
  readonly onProgress?: (progress: TableProgress) => void;
}

/** The table to compare and which of its columns are compared. */
export interface ComparedTable {
  readonly schema: string;
  readonly table: string;
  /** Whether a source column is compared (the stream's column filters); key columns always are. */
  readonly includesColumn: (column: string) => boolean;
  /** The stream's row filter of the table (`rowFilters`): the source side compared is the rows it keeps. */
  readonly rowFilter?: string;
}

type Plan =
  | { readonly kind: 'done'; readonly report: TableReport }
  | { readonly kind: 'ranges'; readonly pair: ComparedPair; readonly ranges: KeyRange[]; readonly rows: number; readonly base: TableReport };

/** Compares `table`; its ranges share `pairs` with whatever else runs. */
export async function compareTable(pairs: ConnectionPairs, table: ComparedTable, options: TableComparisonOptions): Promise<TableReport> {
  const plan = await pairs.use((pair) => planTable(pair, table, options));
  if (plan.kind === 'done') return plan.report;
  let rangesDone = 0;
  let rowsDone = 0;
  const outcomes = await mapConcurrent(plan.ranges, options.concurrency, async (range) => {
    const outcome = await pairs.use((pair) => compareRange(pair, plan.pair, range, options));
    rangesDone++;
    rowsDone += outcome.sourceRows;
    if (plan.ranges.length > 1) options.onProgress?.({ table: plan.base.table, rangesDone, ranges: plan.ranges.length, rowsDone, rows: plan.rows });
    return outcome;
  });
  return withOutcomes(plan.base, outcomes, plan.ranges.length);
}

async function planTable(pair: SidePair, table: ComparedTable, options: TableComparisonOptions): Promise<Plan> {
  const name = `${table.schema}.${table.table}`;
  const relation = qualifiedName(table);
  // What the target holds of a filtered table is the rows the filter keeps (a subquery reads like a table).
  const sourceRelation = table.rowFilter === undefined ? relation : `(select * from ${relation} where (${table.rowFilter})) as filtered`;
  const [source, target] = await Promise.all([describeTable(pair.source, table.schema, table.table), describeTable(pair.target, table.schema, table.table)]);
  if (!source) {
    throw new PgcdcError('QUERY_FAILED', `table ${name} disappeared from the source while verifying`, { hint: 'run pgcdc verify again once DDL on the source is done' });
  }
  const key = source.key;
  const base: TableReport = { table: name, status: 'identical', sourceRows: 0, targetRows: null, key, ranges: null, differingRanges: [], missingColumns: [], notes: [] };
  if (!target) return { kind: 'done', report: { ...base, status: 'missing', sourceRows: await countRows(pair.source, sourceRelation) } };

  const columns = source.columns.map((c) => c.name).filter((c) => table.includesColumn(c) || key?.includes(c));
  const targetColumns = new Set(target.columns.map((c) => c.name));
  const missingColumns = columns.filter((c) => !targetColumns.has(c));
  const notes: string[] = [];
  const extra = target.columns.map((c) => c.name).filter((c) => !source.columns.some((s) => s.name === c));
  if (extra.length > 0) notes.push(`columns only on the target, not compared: ${extra.join(', ')}`);
  if (missingColumns.length > 0) {
    const [sourceRows, targetRows] = await Promise.all([countRows(pair.source, sourceRelation), countRows(pair.target, relation)]);
    return { kind: 'done', report: { ...base, status: 'different', sourceRows, targetRows, missingColumns, notes } };
  }

  if (key === null) {
    notes.push('no primary key: compared the row count and a hash of all rows; ranges are unavailable');
    const compared = { source: { relation: sourceRelation, columns, keys: [] }, target: { relation, columns, keys: [] } };
    return { kind: 'done', report: withOutcomes({ ...base, notes }, [await compareKeylessTable(pair, compared, options)], null) };
  }
  const keys = keyColumns(source, target);
  if (keys.collated.length > 0) {
    notes.push(`${keys.collated.join(', ')} sort differently on the two sides (collation): ranges compare in the C collation, without the key index`);
  }
  if (target.key === null || target.key.join('\0') !== key.join('\0')) {
    notes.push(`the target's primary key is ${target.key === null ? 'missing' : `(${target.key.join(', ')})`}, not (${key.join(', ')}): its range queries may scan the table`);
  }
  const rows = await countRows(pair.source, sourceRelation);
  const boundaries = await rangeBoundaries(pair.source, sourceRelation, keys.source, WHOLE_TABLE, rows, balancedStep(rows, options.rangeRows));
  return {
    kind: 'ranges',
    pair: { source: { relation: sourceRelation, columns, keys: keys.source }, target: { relation, columns, keys: keys.target } },
    ranges: splitRange(WHOLE_TABLE, boundaries),
    rows,
    base: { ...base, notes },
  };
}

/** The report of a table whose rows were compared (`ranges` null: ranges unavailable). */
function withOutcomes(base: TableReport, outcomes: readonly RangeOutcome[], ranges: number | null): TableReport {
  const differingRanges = outcomes.flatMap((o) => (o.difference ? [o.difference] : []));
  return {
    ...base,
    status: differingRanges.length > 0 ? 'different' : 'identical',
    sourceRows: outcomes.reduce((n, o) => n + o.sourceRows, 0),
    targetRows: outcomes.reduce((n, o) => n + o.targetRows, 0),
    ranges,
    differingRanges,
  };
}
