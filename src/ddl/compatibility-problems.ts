/**
 * Compares the source's descriptions with an existing target's and lists, one line each, the
 * differences that would break applying the source's changes to the target.
 */
import type { TableDescription } from './table-description.js';

/** The columns the source identifies rows by, and how to name that key in a message. */
interface SourceKey {
  readonly columns: readonly string[];
  readonly what: string;
}

/**
 * One line per incompatibility, e.g.
 * `target table public.orders: column total has type integer, the source has numeric(12,2)`:
 * a missing table or column, a different column type, NOT NULL on the target only, a generated
 * column on the target only, a NOT NULL column without default the source cannot fill, and no
 * primary key or unique constraint on the columns of the source's key.
 */
export function compatibilityProblems(source: readonly TableDescription[], target: readonly TableDescription[]): string[] {
  const targets = new Map(target.map((t) => [`${t.schema}.${t.name}`, t]));
  const problems: string[] = [];
  for (const table of source) {
    const name = `${table.schema}.${table.name}`;
    const other = targets.get(name);
    if (!other) {
      problems.push(`target table ${name} does not exist`);
      continue;
    }
    problems.push(...tableProblems(table, other).map((problem) => `target table ${name}: ${problem}`));
  }
  return problems;
}

function tableProblems(source: TableDescription, target: TableDescription): string[] {
  const problems: string[] = [];
  const targetColumns = new Map(target.columns.map((c) => [c.name, c]));
  const sourceNames = new Set(source.columns.map((c) => c.name));
  for (const column of source.columns) {
    // Generated columns are computed on each side; their values are not applied.
    if (column.generated) continue;
    const other = targetColumns.get(column.name);
    if (!other) {
      problems.push(`column ${column.name} does not exist, the source has ${column.type}`);
      continue;
    }
    if (other.type !== column.type) problems.push(`column ${column.name} has type ${other.type}, the source has ${column.type}`);
    if (other.notNull && !column.notNull) problems.push(`column ${column.name} is NOT NULL, the source allows null`);
    if (other.generated) problems.push(`column ${column.name} is generated on the target, the source writes it`);
  }
  for (const column of target.columns) {
    if (sourceNames.has(column.name) || !column.notNull) continue;
    if (column.default === null && column.identity === null && column.generated === null) {
      problems.push(`column ${column.name} is NOT NULL without a default and does not exist on the source`);
    }
  }
  const key = sourceKey(source);
  if (key && !hasKeyOn(target, key.columns)) {
    problems.push(`no primary key or unique index on (${key.columns.join(', ')}), the source has ${key.what}`);
  }
  return problems;
}

/** The primary key, else the replica identity index; none with REPLICA IDENTITY FULL or NOTHING. */
function sourceKey(table: TableDescription): SourceKey | undefined {
  const primary = table.constraints.find((c) => c.type === 'p');
  if (primary) return { columns: primary.columns, what: `primary key ${primary.name}` };
  if (table.replicaIdentity !== 'i' || table.replicaIdentityIndex === null) return undefined;
  const name = table.replicaIdentityIndex;
  const constraint = table.constraints.find((c) => c.name === name);
  const index = table.indexes.find((i) => i.name === name);
  const columns = constraint?.columns ?? index?.columns.filter((c): c is string => c !== null) ?? [];
  return columns.length > 0 ? { columns, what: `replica identity index ${name}` } : undefined;
}

/**
 * A primary key, a unique constraint, or a unique index without predicate or expression, on
 * exactly these columns (in any order), every column NOT NULL but for a primary key's.
 */
function hasKeyOn(table: TableDescription, columns: readonly string[]): boolean {
  const wanted = [...columns].sort().join('\u0000');
  const same = (candidate: readonly (string | null)[]) => [...candidate].sort().join('\u0000') === wanted && !candidate.includes(null);
  const notNull = (names: readonly (string | null)[]) => names.every((n) => table.columns.find((c) => c.name === n)?.notNull);
  if (table.constraints.some((c) => c.type === 'p' && same(c.columns))) return true;
  if (table.constraints.some((c) => c.type === 'u' && same(c.columns) && notNull(c.columns))) return true;
  return table.indexes.some((i) => i.unique && !i.partial && same(i.columns) && notNull(i.columns));
}
