/**
 * What `pgcdc verify` found, per table, and its rendering as text for people (the JSON report is
 * the same object, printed as it is).
 */
import { counted, inflect } from '../text/counts.js';

/** `identical`: same rows; `different`: rows or columns differ; `missing`: no such table on the target. */
export type TableStatus = 'identical' | 'different' | 'missing';

/**
 * One row's identity as text, by column: the primary key columns, or every compared column of a
 * table without a primary key.
 */
export type RowKey = Readonly<Record<string, string | null>>;

/** A key range whose rows differ. Bounds are primary key values: `lower < key ≤ upper`; null is open. */
export interface RangeDifference {
  readonly lower: RowKey | null;
  readonly upper: RowKey | null;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Rows of the source the target lacks. */
  readonly missingOnTarget: readonly RowKey[];
  /** Rows of the target the source lacks. */
  readonly extraOnTarget: readonly RowKey[];
  /** Rows on both sides whose values differ (never for tables without a primary key). */
  readonly changed: readonly RowKey[];
  /** True when the three lists name every differing row; false when too many rows differ to list them. */
  readonly keysComplete: boolean;
}

export interface TableReport {
  /** `schema.table`. */
  readonly table: string;
  readonly status: TableStatus;
  readonly sourceRows: number;
  /** Null when the table is missing on the target. */
  readonly targetRows: number | null;
  /** Primary key columns, or null for a table without a primary key. */
  readonly key: readonly string[] | null;
  /** Key ranges compared, or null when ranges are unavailable (no primary key, or the table or a column is missing). */
  readonly ranges: number | null;
  readonly differingRanges: readonly RangeDifference[];
  /** Source columns the target table lacks (a difference). */
  readonly missingColumns: readonly string[];
  /** Remarks that do not make the table differ (extra target columns, slow comparisons, …). */
  readonly notes: readonly string[];
}

export interface VerifyReport {
  readonly stream: string;
  /** True when every table is identical. */
  readonly identical: boolean;
  readonly tables: readonly TableReport[];
  readonly summary: { readonly tables: number; readonly identical: number; readonly different: number; readonly missing: number };
}

/** The report of `tables`, in their order. */
export function buildVerifyReport(stream: string, tables: readonly TableReport[]): VerifyReport {
  const count = (status: TableStatus) => tables.filter((t) => t.status === status).length;
  const summary = { tables: tables.length, identical: count('identical'), different: count('different'), missing: count('missing') };
  return { stream, identical: summary.identical === tables.length, tables, summary };
}

/**
 * The report as text: one line per table, then for each differing range its bounds, both counts
 * and the differing keys; a summary line last.
 */
export function renderVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  for (const table of report.tables) lines.push(...renderTable(table));
  const { summary } = report;
  lines.push(
    `${report.identical ? 'identical' : 'DIFFERENT'}: ${counted(summary.tables, 'table')}: ${summary.identical} identical, ${summary.different} different, ${summary.missing} missing on the target`,
  );
  return `${lines.join('\n')}\n`;
}

function renderTable(table: TableReport): string[] {
  const name = table.table;
  if (table.status === 'missing') return [`${name}: MISSING on the target (source ${counted(table.sourceRows, 'row')})`];
  const shape = table.ranges === null ? 'ranges unavailable' : counted(table.ranges, 'range');
  const keyless = table.key === null ? 'no primary key, ' : '';
  const lines =
    table.status === 'identical'
      ? [`${name}: identical (${counted(table.sourceRows, 'row')}, ${keyless}${shape})`]
      : [
          `${name}: DIFFERENT (source ${counted(table.sourceRows, 'row')}, target ${counted(table.targetRows ?? 0, 'row')}; ${keyless}${
            table.ranges === null ? shape : `${table.differingRanges.length} of ${counted(table.ranges, 'range')} ${inflect(table.differingRanges.length, 'differs', 'differ')}`
          })`,
        ];
  if (table.missingColumns.length > 0) lines.push(`  columns missing on the target: ${table.missingColumns.join(', ')}`);
  for (const note of table.notes) lines.push(`  note: ${note}`);
  for (const range of table.differingRanges) {
    lines.push(`  ${describeRange(range, table.key)}: source ${counted(range.sourceRows, 'row')}, target ${counted(range.targetRows, 'row')}`);
    if (range.missingOnTarget.length > 0) lines.push(`    missing on the target: ${range.missingOnTarget.map(formatKey).join('; ')}`);
    if (range.extraOnTarget.length > 0) lines.push(`    extra on the target: ${range.extraOnTarget.map(formatKey).join('; ')}`);
    if (range.changed.length > 0) lines.push(`    changed: ${range.changed.map(formatKey).join('; ')}`);
    if (!range.keysComplete) lines.push('    (not every differing row is listed)');
  }
  return lines;
}

/** `range 10 < id ≤ 20`, `range (a, b) ≤ (1, x)`, `all rows`. */
export function describeRange(range: Pick<RangeDifference, 'lower' | 'upper'>, key: readonly string[] | null): string {
  if (key === null || (range.lower === null && range.upper === null)) return 'all rows';
  const column = key.length === 1 ? key[0]! : `(${key.join(', ')})`;
  const value = (bound: RowKey) => {
    const values = key.map((c) => formatValue(bound[c] ?? null));
    return values.length === 1 ? values[0]! : `(${values.join(', ')})`;
  };
  if (range.lower === null) return `range ${column} ≤ ${value(range.upper!)}`;
  if (range.upper === null) return `range ${column} > ${value(range.lower)}`;
  return `range ${value(range.lower)} < ${column} ≤ ${value(range.upper)}`;
}

/** `id=5`, `a=1, b="two words"`. */
export function formatKey(key: RowKey): string {
  return Object.entries(key)
    .map(([column, value]) => `${column}=${formatValue(value)}`)
    .join(', ');
}

function formatValue(value: string | null): string {
  if (value === null) return 'NULL';
  return /^[\w.:+@/-]+$/u.test(value) ? value : JSON.stringify(value);
}

