/**
 * The statements that build described tables on an empty target, in dependency order, and the
 * index and constraint statements held back (`deferIndexes`) to run after the initial load.
 */
import { quoteIdent } from '../source/sql-quoting.js';
import type { ConstraintDescription, TableDescription, TypeDescription } from './table-description.js';
import {
  addConstraintStatement,
  createIndexStatement,
  createSequenceStatement,
  createTableStatement,
  replicaIdentityStatement,
  sequenceOwnerStatement,
  tableName,
} from './table-statements.js';
import { createTypeStatement, typeKey } from './type-statements.js';

export interface CreateOptions {
  /**
   * Leave primary keys, unique, check and exclusion constraints, foreign keys, indexes and the
   * replica identity to `deferredStatements`, run after the initial load.
   */
  readonly deferIndexes?: boolean;
  /** `typeKey`s of types the target already has (see `existingTypes`): not created again. */
  readonly existingTypes?: ReadonlySet<string>;
}

/**
 * CREATE SCHEMA IF NOT EXISTS, the user-defined types (every type after those it uses), serial
 * sequences, CREATE TABLE (partitioned parents before their partitions) with columns, NOT NULL,
 * defaults, identity and generated columns, sequence ownership; then, unless `deferIndexes`,
 * what `deferredStatements` would return but for the constraints already inside CREATE TABLE.
 */
export function createStatements(descriptions: readonly TableDescription[], options: CreateOptions = {}): string[] {
  const tables = parentsFirst(descriptions);
  const types = usedTypes(tables).filter((t) => !options.existingTypes?.has(typeKey(t)));
  const serials = tables.flatMap((table) => table.sequences.filter((s) => !s.identity).map((sequence) => ({ table, sequence })));
  const schemas = new Set([...types.map((t) => t.schema), ...serials.map((s) => s.sequence.schema), ...tables.map((t) => t.schema)]);
  const inline = options.deferIndexes ? () => false : (c: ConstraintDescription) => c.type !== 'f';
  const statements = [
    ...[...schemas].map((schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`),
    ...types.map(createTypeStatement),
    ...serials.map(({ sequence }) => createSequenceStatement(sequence)),
    ...tables.map((table) => createTableStatement(table, inline)),
    ...serials.map(({ table, sequence }) => sequenceOwnerStatement(table, sequence)),
  ];
  if (!options.deferIndexes) {
    statements.push(...afterLoadStatements(tables, (c) => c.type === 'f' || !c.validated));
  }
  return statements;
}

/**
 * What `createStatements(…, { deferIndexes: true })` held back, in the order to run it: primary keys
 * and unique constraints, other indexes, check and exclusion constraints, foreign keys last, then
 * replica identities (which may name an index).
 */
export function deferredStatements(descriptions: readonly TableDescription[]): string[] {
  return afterLoadStatements(parentsFirst(descriptions), () => true);
}

function afterLoadStatements(tables: readonly TableDescription[], wanted: (constraint: ConstraintDescription) => boolean): string[] {
  const constraints = (types: string) =>
    tables.flatMap((table) =>
      table.constraints.filter((c) => !c.inherited && types.includes(c.type) && wanted(c)).map((c) => addConstraintStatement(table, c)),
    );
  return [
    ...constraints('pu'),
    ...tables.flatMap((table) => table.indexes.map((index) => createIndexStatement(table, index))),
    ...constraints('cx'),
    ...constraints('f'),
    ...tables.map(replicaIdentityStatement).filter((s): s is string => s !== null),
  ];
}

/** The types the tables use, each once, every type after those it uses. */
export function usedTypes(tables: readonly TableDescription[]): TypeDescription[] {
  const seen = new Map<string, TypeDescription>();
  // Each table's list is closed under "uses" and ordered, so first occurrences keep the order valid.
  for (const table of tables) for (const type of table.types) if (!seen.has(typeKey(type))) seen.set(typeKey(type), type);
  return [...seen.values()];
}

/** Tables ordered so that a partitioned parent comes before its partitions (stable otherwise). */
function parentsFirst(tables: readonly TableDescription[]): TableDescription[] {
  const byName = new Map(tables.map((t) => [tableName(t), t]));
  const depth = (table: TableDescription, seen = 0): number => {
    const parent = table.partitionOf ? byName.get(tableName(table.partitionOf)) : undefined;
    return parent && seen < tables.length ? depth(parent, seen + 1) + 1 : 0;
  };
  return tables
    .map((table, i) => ({ table, i, depth: depth(table) }))
    .sort((a, b) => a.depth - b.depth || a.i - b.i)
    .map((t) => t.table);
}
