/**
 * SQL for user-defined types from their descriptions: CREATE TYPE / CREATE DOMAIN, the ALTERs that
 * turn one description of a type into the next (rename, enum labels, composite attributes, domain
 * default, NOT NULL and checks), and DROP.
 */
import { qualifiedName, quoteIdent, quoteLiteral } from '../source/sql-quoting.js';
import type { CompositeType, DomainType, EnumType, TypeDescription } from './table-description.js';

/** `"schema"."name"`: how statements name a type, and the key types are compared by. */
export function typeKey(type: { readonly schema: string; readonly name: string }): string {
  return qualifiedName({ schema: type.schema, table: type.name });
}

/** The statement that creates `type` (not idempotent: PostgreSQL has no CREATE TYPE IF NOT EXISTS). */
export function createTypeStatement(type: TypeDescription): string {
  const name = typeKey(type);
  switch (type.kind) {
    case 'enum':
      return `CREATE TYPE ${name} AS ENUM (${type.labels.map(quoteLiteral).join(', ')})`;
    case 'composite':
      return `CREATE TYPE ${name} AS (${type.attributes.map((a) => `${quoteIdent(a.name)} ${a.type}${collate(a.collation)}`).join(', ')})`;
    case 'domain': {
      const parts = [`CREATE DOMAIN ${name} AS ${type.baseType}${collate(type.collation)}`];
      if (type.default !== null) parts.push(`DEFAULT ${type.default}`);
      if (type.notNull) parts.push('NOT NULL');
      for (const check of type.checks) parts.push(`CONSTRAINT ${quoteIdent(check.name)} ${check.definition}`);
      return parts.join(' ');
    }
    case 'range': {
      const options = [`SUBTYPE = ${type.subtype}`];
      if (type.collation !== null) options.push(`COLLATION = ${type.collation}`);
      if (type.subtypeDiff !== null) options.push(`SUBTYPE_DIFF = ${type.subtypeDiff}`);
      if (type.multirangeName !== null) options.push(`MULTIRANGE_TYPE_NAME = ${type.multirangeName}`);
      return `CREATE TYPE ${name} AS RANGE (${options.join(', ')})`;
    }
  }
}

/** `DROP TYPE|DOMAIN IF EXISTS`. */
export function dropTypeStatement(type: { readonly kind: TypeDescription['kind']; readonly schema: string; readonly name: string }): string {
  return `DROP ${type.kind === 'domain' ? 'DOMAIN' : 'TYPE'} IF EXISTS ${typeKey(type)}`;
}

/** The statements that turn type `previous` into `next` (the same type, by oid, described later). */
export function typeChangeStatements(previous: TypeDescription, next: TypeDescription): string[] {
  const statements: string[] = [];
  const keyword = next.kind === 'domain' ? 'DOMAIN' : 'TYPE';
  let current = previous;
  if (previous.schema !== next.schema) {
    statements.push(`ALTER ${keyword} ${typeKey(current)} SET SCHEMA ${quoteIdent(next.schema)}`);
    current = { ...current, schema: next.schema };
  }
  if (previous.name !== next.name) {
    statements.push(`ALTER ${keyword} ${typeKey(current)} RENAME TO ${quoteIdent(next.name)}`);
  }
  if (previous.kind === 'enum' && next.kind === 'enum') statements.push(...enumChanges(previous, next));
  if (previous.kind === 'composite' && next.kind === 'composite') statements.push(...compositeChanges(previous, next));
  if (previous.kind === 'domain' && next.kind === 'domain') statements.push(...domainChanges(previous, next));
  return statements;
}

/**
 * Renamed labels (same count, different label at a position) or new labels, each placed after the
 * label before it (BEFORE the next one for a new first label), so the order stays the source's.
 */
function enumChanges(previous: EnumType, next: EnumType): string[] {
  const name = typeKey(next);
  const known = new Set(previous.labels);
  if (previous.labels.length === next.labels.length) {
    return next.labels.flatMap((label, i) =>
      label === previous.labels[i] ? [] : [`ALTER TYPE ${name} RENAME VALUE ${quoteLiteral(previous.labels[i]!)} TO ${quoteLiteral(label)}`],
    );
  }
  return next.labels.flatMap((label, i) => {
    if (known.has(label)) return [];
    const place =
      i > 0 ? ` AFTER ${quoteLiteral(next.labels[i - 1]!)}` : next.labels.length > 1 ? ` BEFORE ${quoteLiteral(next.labels[1]!)}` : '';
    return [`ALTER TYPE ${name} ADD VALUE IF NOT EXISTS ${quoteLiteral(label)}${place}`];
  });
}

/** Attributes matched by attnum: renamed, dropped, added, retyped. */
function compositeChanges(previous: CompositeType, next: CompositeType): string[] {
  const name = typeKey(next);
  const before = new Map(previous.attributes.map((a) => [a.attnum, a]));
  const after = new Map(next.attributes.map((a) => [a.attnum, a]));
  const statements: string[] = [];
  for (const old of previous.attributes) {
    const now = after.get(old.attnum);
    if (!now) statements.push(`ALTER TYPE ${name} DROP ATTRIBUTE IF EXISTS ${quoteIdent(old.name)}`);
    else if (now.name !== old.name) statements.push(`ALTER TYPE ${name} RENAME ATTRIBUTE ${quoteIdent(old.name)} TO ${quoteIdent(now.name)}`);
  }
  for (const now of next.attributes) {
    const old = before.get(now.attnum);
    if (!old) statements.push(`ALTER TYPE ${name} ADD ATTRIBUTE ${quoteIdent(now.name)} ${now.type}${collate(now.collation)}`);
    else if (old.typeOid !== now.typeOid || old.typmod !== now.typmod || old.collation !== now.collation) {
      statements.push(`ALTER TYPE ${name} ALTER ATTRIBUTE ${quoteIdent(now.name)} TYPE ${now.type}${collate(now.collation)}`);
    }
  }
  return statements;
}

/** Default, NOT NULL and CHECK constraints (by name). */
function domainChanges(previous: DomainType, next: DomainType): string[] {
  const name = typeKey(next);
  const statements: string[] = [];
  if (previous.default !== next.default) {
    statements.push(next.default === null ? `ALTER DOMAIN ${name} DROP DEFAULT` : `ALTER DOMAIN ${name} SET DEFAULT ${next.default}`);
  }
  if (previous.notNull !== next.notNull) statements.push(`ALTER DOMAIN ${name} ${next.notNull ? 'SET' : 'DROP'} NOT NULL`);
  const wanted = new Map(next.checks.map((c) => [c.name, c.definition]));
  const had = new Map(previous.checks.map((c) => [c.name, c.definition]));
  for (const [check, definition] of had) {
    if (wanted.get(check) !== definition) statements.push(`ALTER DOMAIN ${name} DROP CONSTRAINT IF EXISTS ${quoteIdent(check)}`);
  }
  for (const [check, definition] of wanted) {
    if (had.get(check) !== definition) statements.push(`ALTER DOMAIN ${name} ADD CONSTRAINT ${quoteIdent(check)} ${definition}`);
  }
  return statements;
}

function collate(collation: string | null): string {
  return collation === null ? '' : ` COLLATE ${collation}`;
}
