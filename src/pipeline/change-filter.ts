/**
 * Include/exclude filters with SGStream's semantics: anchored regular expressions matched against
 * `schema.table` and `schema.table.column`. A filtered-out table produces no events; a
 * filtered-out column is absent from every event.
 */

/**
 * - A table is captured when `includes` is empty, or some include matches `schema.table`, or some
 *   include matches one of its `schema.table.column` names; and no exclude matches `schema.table`.
 * - A column of a captured table is kept when (`includes` is empty, or an include matches
 *   `schema.table` or `schema.table.column`) and no exclude matches `schema.table.column`.
 */
export class ChangeFilter {
  readonly #includes: readonly RegExp[];
  readonly #excludes: readonly RegExp[];

  constructor(includes: readonly string[], excludes: readonly string[]) {
    this.#includes = includes.map(anchoredPattern);
    this.#excludes = excludes.map(anchoredPattern);
  }

  /** True when no pattern is given: everything is captured. */
  get capturesEverything(): boolean {
    return this.#includes.length === 0 && this.#excludes.length === 0;
  }

  /** Whether changes of `schema.table` are captured; `columns` lets includes name single columns. */
  includesTable(schema: string, table: string, columns: readonly string[] = []): boolean {
    const name = `${schema}.${table}`;
    if (this.#excludes.some((re) => re.test(name))) return false;
    if (this.#includes.length === 0) return true;
    if (this.#includes.some((re) => re.test(name))) return true;
    return columns.some((column) => this.#includes.some((re) => re.test(`${name}.${column}`)));
  }

  /** Whether a column of a captured table appears in events. */
  includesColumn(schema: string, table: string, column: string): boolean {
    const tableName = `${schema}.${table}`;
    const name = `${tableName}.${column}`;
    if (this.#excludes.some((re) => re.test(name))) return false;
    if (this.#includes.length === 0) return true;
    return this.#includes.some((re) => re.test(tableName) || re.test(name));
  }
}

/** A regular expression that must match the whole text, as Debezium's include/exclude lists do. */
export function anchoredPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}
