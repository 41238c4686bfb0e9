/**
 * The ALTER statements that turn a table described before a DDL command into the same table (same
 * oid) described after it: move and rename, columns matched by attnum (drop, rename, add, type,
 * default, NOT NULL, identity, generation), constraints, indexes and sequences matched by oid then
 * name, replica identity, logged state, partition attachment. Idempotent where PostgreSQL allows.
 */
import { qualifiedName, quoteIdent } from '../source/sql-quoting.js';
import type { ColumnDescription, ConstraintDescription, SequenceDescription, TableDescription } from './table-description.js';
import {
  addConstraintStatement,
  columnDefinition,
  createIndexStatement,
  createSequenceStatement,
  dropIndexStatement,
  identityClause,
  sequenceOwnerStatement,
  tableName,
} from './table-statements.js';

interface Named {
  readonly oid: number;
  readonly name: string;
}

/** Items of two lists paired by oid, else by name; the rest are removed or added. */
function pair<T extends Named>(before: readonly T[], after: readonly T[]) {
  const byOid = new Map(after.map((item) => [item.oid, item]));
  const byName = new Map(after.map((item) => [item.name, item]));
  const paired: { before: T; after: T; sameOid: boolean }[] = [];
  const removed: T[] = [];
  const taken = new Set<T>();
  for (const item of before) {
    const match = byOid.get(item.oid) ?? byName.get(item.name);
    if (match && !taken.has(match)) {
      taken.add(match);
      paired.push({ before: item, after: match, sameOid: match.oid === item.oid });
    } else {
      removed.push(item);
    }
  }
  return { paired, removed, added: after.filter((item) => !taken.has(item)) };
}

/** The statements that turn `previous` into `next`. */
export function tableChangeStatements(previous: TableDescription, next: TableDescription): string[] {
  const statements: string[] = [];
  if (previous.schema !== next.schema) {
    statements.push(`ALTER TABLE IF EXISTS ${tableName(previous)} SET SCHEMA ${quoteIdent(next.schema)}`);
  }
  if (previous.name !== next.name) {
    statements.push(`ALTER TABLE IF EXISTS ${qualifiedName({ schema: next.schema, table: previous.name })} RENAME TO ${quoteIdent(next.name)}`);
  }
  const table = tableName(next);
  const alter = (clause: string) => statements.push(`ALTER TABLE ${table} ${clause}`);

  const sequences = pair(previous.sequences, next.sequences);
  for (const { before, after } of sequences.paired) {
    if (before.name !== after.name) {
      statements.push(`ALTER SEQUENCE IF EXISTS ${qualifiedName({ schema: after.schema, table: before.name })} RENAME TO ${quoteIdent(after.name)}`);
    }
  }

  const constraints = pair(previous.constraints.filter(local), next.constraints.filter(local));
  const indexes = pair(previous.indexes, next.indexes);
  const redoneConstraints = constraints.paired.filter((p) => !p.sameOid && p.before.definition !== p.after.definition);
  const redoneIndexes = indexes.paired.filter((p) => !p.sameOid && p.before.definition !== p.after.definition);
  for (const c of [...constraints.removed, ...redoneConstraints.map((p) => p.before)]) alter(`DROP CONSTRAINT IF EXISTS ${quoteIdent(c.name)}`);
  for (const { before, after } of constraints.paired) {
    if (before.name !== after.name) alter(`RENAME CONSTRAINT ${quoteIdent(before.name)} TO ${quoteIdent(after.name)}`);
  }
  for (const i of [...indexes.removed, ...redoneIndexes.map((p) => p.before)]) statements.push(dropIndexStatement(next, i));
  for (const { before, after } of indexes.paired) {
    if (before.name !== after.name) {
      statements.push(`ALTER INDEX IF EXISTS ${qualifiedName({ schema: next.schema, table: before.name })} RENAME TO ${quoteIdent(after.name)}`);
    }
  }

  const after = new Map(next.columns.map((c) => [c.attnum, c]));
  const before = new Map(previous.columns.map((c) => [c.attnum, c]));
  const own = previous.columns.filter((c) => !c.inherited || after.get(c.attnum)?.inherited === false); // others follow the parent
  for (const column of own) if (!after.has(column.attnum)) alter(`DROP COLUMN IF EXISTS ${quoteIdent(column.name)}`);
  for (const column of own) {
    const now = after.get(column.attnum);
    if (now && now.name !== column.name) alter(`RENAME COLUMN ${quoteIdent(column.name)} TO ${quoteIdent(now.name)}`);
  }
  const newSerials = sequences.added.filter((s) => !s.identity);
  statements.push(...newSerials.map(createSequenceStatement));
  for (const column of next.columns) {
    const old = before.get(column.attnum);
    if (!old) {
      if (!column.inherited) alter(`ADD COLUMN IF NOT EXISTS ${columnDefinition(next, column)}`);
    } else {
      statements.push(...columnChanges(next, old, column).map((clause) => `ALTER TABLE ${table} ${clause}`));
    }
  }
  statements.push(...newSerials.map((s: SequenceDescription) => sequenceOwnerStatement(next, s)));

  for (const { before: old, after: now } of constraints.paired) {
    if (!old.validated && now.validated) alter(`VALIDATE CONSTRAINT ${quoteIdent(now.name)}`);
  }
  for (const c of [...constraints.added, ...redoneConstraints.map((p) => p.after)]) statements.push(addConstraintStatement(next, c));
  for (const i of [...indexes.added, ...redoneIndexes.map((p) => p.after)]) statements.push(createIndexStatement(next, i));

  if (previous.replicaIdentity !== next.replicaIdentity || previous.replicaIdentityIndex !== next.replicaIdentityIndex) {
    alter(replicaIdentityClause(next));
  }
  if (previous.unlogged !== next.unlogged) alter(next.unlogged ? 'SET UNLOGGED' : 'SET LOGGED');
  statements.push(...partitionChanges(previous, next));
  return statements;
}

/** Constraints the table itself holds (inherited ones follow their parent's). */
function local(constraint: ConstraintDescription): boolean {
  return !constraint.inherited;
}

/** ALTER TABLE clauses for one column present before and after (same attnum). */
function columnChanges(table: TableDescription, old: ColumnDescription, now: ColumnDescription): string[] {
  const column = `ALTER COLUMN ${quoteIdent(now.name)}`;
  const clauses: string[] = [];
  const retyped = old.typeOid !== now.typeOid || old.typmod !== now.typmod || old.collation !== now.collation;
  const defaultChanged = old.default !== now.default;
  if (now.inherited) {
    if (defaultChanged) clauses.push(now.default === null ? `${column} DROP DEFAULT` : `${column} SET DEFAULT ${now.default}`);
    return clauses;
  }
  // A default is dropped before a type change (it may not cast) and put back after it.
  if (old.default !== null && (retyped || (defaultChanged && now.default === null))) clauses.push(`${column} DROP DEFAULT`);
  if (old.generated && !now.generated) clauses.push(`${column} DROP EXPRESSION IF EXISTS`);
  if (old.identity && !now.identity) clauses.push(`${column} DROP IDENTITY IF EXISTS`);
  if (retyped) {
    const collation = now.collation === null ? '' : ` COLLATE ${now.collation}`;
    const using = now.generated ? '' : ` USING ${quoteIdent(now.name)}::${now.type}`;
    clauses.push(`${column} TYPE ${now.type}${collation}${using}`);
  }
  if (old.generated && now.generated && old.generated.expression !== now.generated.expression) {
    clauses.push(`${column} SET EXPRESSION AS (${now.generated.expression})`);
  }
  if (!old.identity && now.identity) clauses.push(`${column} ADD ${identityClause(table, now)}`);
  else if (old.identity && now.identity && old.identity !== now.identity) {
    clauses.push(`${column} SET GENERATED ${now.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'}`);
  }
  if (now.default !== null && (defaultChanged || retyped)) clauses.push(`${column} SET DEFAULT ${now.default}`);
  if (old.notNull !== now.notNull) clauses.push(`${column} ${now.notNull ? 'SET' : 'DROP'} NOT NULL`);
  return clauses;
}

function replicaIdentityClause(table: TableDescription): string {
  switch (table.replicaIdentity) {
    case 'f':
      return 'REPLICA IDENTITY FULL';
    case 'n':
      return 'REPLICA IDENTITY NOTHING';
    case 'i':
      return table.replicaIdentityIndex === null ? 'REPLICA IDENTITY DEFAULT' : `REPLICA IDENTITY USING INDEX ${quoteIdent(table.replicaIdentityIndex)}`;
    case 'd':
      return 'REPLICA IDENTITY DEFAULT';
  }
}

/** DETACH from the old parent, ATTACH to the new one. */
function partitionChanges(previous: TableDescription, next: TableDescription): string[] {
  const was = previous.partitionOf;
  const is = next.partitionOf;
  if (was?.schema === is?.schema && was?.name === is?.name && was?.bound === is?.bound) return [];
  const statements: string[] = [];
  if (was) statements.push(`ALTER TABLE IF EXISTS ${tableName(was)} DETACH PARTITION ${tableName(next)}`);
  if (is) statements.push(`ALTER TABLE ${tableName(is)} ATTACH PARTITION ${tableName(next)} ${is.bound}`);
  return statements;
}
