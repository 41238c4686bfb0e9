/**
 * Turns one `pgcdc.ddl` message into the statements that bring the target in line, derived from
 * the descriptions (never from the source's SQL text) and the target's previous state (the
 * source's descriptions as last applied, by source oid: see `ReplicatedSchema`).
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import { qualifiedName, quoteIdent } from '../source/sql-quoting.js';
import type { DdlMessage, DroppedObject } from './ddl-message.js';
import type { ReplayState } from './replicated-schema.js';
import type { TypeDescription } from './table-description.js';
import { tableChangeStatements } from './table-changes.js';
import { newTableStatements } from './table-statements.js';
import { createTypeStatement, dropTypeStatement, typeChangeStatements, typeKey } from './type-statements.js';

/**
 * The statements for `message`, in order. A message whose trigger failed (`error`) throws: the
 * change was not captured and must be applied to the target by hand.
 */
export function replayStatements(message: DdlMessage, state: ReplayState): string[] {
  if (message.error !== null) {
    throw new PgcdcError('PROTOCOL', `the source could not capture ${message.commandTag} for replication: ${message.error}`, {
      hint: `apply the change to the target by hand (statement: ${message.query ?? 'unknown'}), then resume`,
    });
  }
  return message.event === 'sql_drop' ? dropStatements(message.dropped, state) : commandStatements(message, state);
}

/** Schemas, then types, then tables, each created or altered. */
function commandStatements(message: DdlMessage, state: ReplayState): string[] {
  const statements: string[] = [];
  for (const schema of message.schemas) {
    const old = state.schema(schema.oid);
    statements.push(
      old !== undefined && old !== schema.name
        ? `ALTER SCHEMA ${quoteIdent(old)} RENAME TO ${quoteIdent(schema.name)}`
        : `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema.name)}`,
    );
  }
  const done = new Set<number>();
  const ensure = (type: TypeDescription, alterKnown: boolean) => {
    if (done.has(type.oid)) return;
    done.add(type.oid);
    const old = state.type(type.oid);
    if (!old) statements.push(createTypeStatement(type));
    else if (alterKnown) statements.push(...typeChangeStatements(old, type));
  };
  for (const type of message.types) ensure(type, true);
  for (const table of message.tables) for (const type of table.types) ensure(type, false);
  for (const table of message.tables) {
    const old = state.table(table.oid);
    statements.push(...(old ? tableChangeStatements(old, table) : newTableStatements(table)));
  }
  return statements;
}

/**
 * Constraints and columns of tables that stay, indexes named by DROP INDEX, tables, types, then
 * schemas (without CASCADE: what the source dropped with it is dropped first).
 */
function dropStatements(dropped: readonly DroppedObject[], state: ReplayState): string[] {
  const wanted = (kind: string) => dropped.filter((d) => d.objectType === kind);
  const tables = wanted('table');
  const droppedTables = new Set(tables.map((t) => qualifiedName(tableRef(t))));
  const droppedOids = new Set(tables.map((t) => t.oid));
  const statements: string[] = [];
  for (const constraint of wanted('table constraint')) {
    const [schema, table, name] = constraint.addressNames;
    if (schema === undefined || table === undefined || name === undefined) continue;
    const target = qualifiedName({ schema, table });
    if (!droppedTables.has(target)) statements.push(`ALTER TABLE IF EXISTS ${target} DROP CONSTRAINT IF EXISTS ${quoteIdent(name)}`);
  }
  for (const column of wanted('table column')) {
    const [schema, table, name] = column.addressNames;
    if (schema === undefined || table === undefined || name === undefined || droppedOids.has(column.oid)) continue;
    statements.push(`ALTER TABLE IF EXISTS ${qualifiedName({ schema, table })} DROP COLUMN IF EXISTS ${quoteIdent(name)}`);
  }
  for (const index of wanted('index')) {
    const [schema, name] = index.addressNames;
    if (index.original && schema !== undefined && name !== undefined) {
      statements.push(`DROP INDEX IF EXISTS ${qualifiedName({ schema, table: name })}`);
    }
  }
  for (const table of tables) statements.push(`DROP TABLE IF EXISTS ${qualifiedName(tableRef(table))}`);
  for (const type of wanted('type')) {
    const known = state.type(type.oid);
    if (known) statements.push(dropTypeStatement(known));
    else if (type.original && type.schema !== null && type.name !== null) {
      statements.push(`DROP TYPE IF EXISTS ${typeKey({ schema: type.schema, name: type.name })}`);
    }
  }
  for (const schema of wanted('schema')) {
    const name = schema.name ?? schema.addressNames[0];
    if (name !== undefined) statements.push(`DROP SCHEMA IF EXISTS ${quoteIdent(name)}`);
  }
  return statements;
}

function tableRef(table: DroppedObject): { schema: string; table: string } {
  const [schema, name] = table.addressNames;
  return { schema: schema ?? table.schema ?? '', table: name ?? table.name ?? '' };
}
