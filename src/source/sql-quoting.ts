/**
 * Quoting of SQL identifiers and literals for statements pgcdc builds (replication commands do not
 * accept bind parameters).
 */

/** `name` as a double-quoted identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `value` as a single-quoted literal (standard_conforming_strings is on since PostgreSQL 9.1). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `"schema"."table"`. */
export function qualifiedName(table: { readonly schema: string; readonly table: string }): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}
