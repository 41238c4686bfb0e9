/**
 * Debezium's `message.key.columns` (`messageKeyColumns`): per table, the columns that make the
 * event key instead of the primary key or replica identity.
 */

/** The key columns of the tables whose `schema.table` matches `table` (anchored, case-insensitive). */
export interface MessageKeyRule {
  readonly table: string;
  readonly columns: readonly string[];
}

/**
 * The rules of one entry, checked by the schema: `<table regex>:<column>,<column>`, several
 * separated by `;`.
 *
 * @example
 * parseMessageKeyColumns('public\\.orders:customer_id,no'); // [{ table: 'public\\.orders', columns: ['customer_id', 'no'] }]
 */
export function parseMessageKeyColumns(entry: string): MessageKeyRule[] {
  return entry
    .split(';')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const colon = part.lastIndexOf(':');
      return { table: part.slice(0, colon).trim(), columns: part.slice(colon + 1).split(',').map((column) => column.trim()) };
    });
}

/** The key columns `rules` give `schema.table` (the first matching rule), or undefined. */
export function messageKeyColumnsOf(rules: readonly MessageKeyRule[], schema: string, table: string): readonly string[] | undefined {
  const name = `${schema}.${table}`;
  return rules.find((rule) => new RegExp(`^(?:${rule.table})$`, 'i').test(name))?.columns;
}
