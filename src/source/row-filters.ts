/**
 * The stream's row filters (`rowFilters`: exact `schema.table` → SQL boolean expression) as the
 * rest of pgcdc reads them: the filter of one table, and the condition a snapshot's SELECT adds
 * so that it copies only the rows the publication lets through.
 */
import type { SourceConfig } from '../config/stream-config.js';

/** One table's filter. */
export interface RowFilter {
  readonly schema: string;
  readonly table: string;
  /** The expression as the spec gives it. */
  readonly expression: string;
}

/** The filters of `source`, one per table (keys are `schema.table`, checked by the schema). */
export function rowFilterList(source: Pick<SourceConfig, 'rowFilters'>): RowFilter[] {
  return Object.entries(source.rowFilters ?? {}).map(([name, expression]) => {
    const dot = name.indexOf('.');
    return { schema: name.slice(0, dot), table: name.slice(dot + 1), expression };
  });
}

/** The filter of `schema.table`, or undefined when the stream captures all its rows. */
export function rowFilterOf(rowFilters: Readonly<Record<string, string>> | undefined, schema: string, table: string): string | undefined {
  return rowFilters?.[`${schema}.${table}`];
}

/**
 * The condition a snapshot of a table reads its rows with: the table's row filter, AND-ed with the
 * condition of the snapshot itself (execute-snapshot `additional-conditions`), or undefined.
 */
export function snapshotCondition(rowFilter: string | undefined, condition: string | undefined): string | undefined {
  if (rowFilter === undefined) return condition;
  return condition ? `(${rowFilter}) AND (${condition})` : rowFilter;
}
