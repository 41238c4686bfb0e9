/**
 * Turns a `pgcdc.ddl` message into the schema-change events of the captured tables it concerns:
 * one per table created, altered, renamed or dropped that passes the stream's table filters, its
 * column lists (filtered columns left out) before and after the command (docs/schema-changes.md).
 */
import type { DdlMessage } from '../ddl/ddl-message.js';
import type { TableDescription } from '../ddl/table-description.js';
import type { Lsn } from '../source/lsn.js';
import type { SchemaChangeEvent, SchemaColumn, TransactionInfo } from '../events/stream-event.js';
import type { ChangeFilter } from './change-filter.js';

/** Command tags that create a table (its first description). */
const CREATING_TAGS: ReadonlySet<string> = new Set(['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO']);

/** The events of `message` (committed in `txn`, at `lsn`) for the tables `filter` captures, in the message's order. */
export function schemaChangeEvents(message: DdlMessage, filter: ChangeFilter, txn: TransactionInfo, lsn: Lsn): SchemaChangeEvent[] {
  if (message.error !== null) return []; // the capture failed on the source (it logged a warning there)
  const previous = new Map((message.previous ?? []).map((table) => [table.oid, table]));
  const at = { commandTag: message.commandTag, query: message.query, lsn, txn };
  const events: SchemaChangeEvent[] = [];
  switch (message.event) {
    case 'ddl_command_end':
      for (const table of message.tables) {
        const before = previous.get(table.oid);
        if (!captured(filter, table) && (before === undefined || !captured(filter, before))) continue;
        const renamed = before !== undefined && (before.schema !== table.schema || before.name !== table.name);
        events.push({
          kind: 'schema',
          operation: before === undefined ? (CREATING_TAGS.has(message.commandTag) ? 'CREATE' : 'ALTER') : renamed ? 'RENAME' : 'ALTER',
          oid: table.oid,
          schema: table.schema,
          table: table.name,
          previous: renamed ? { schema: before.schema, table: before.name } : null,
          before: before === undefined ? null : schemaColumns(before, filter),
          after: schemaColumns(table, filter),
          ...at,
        });
      }
      return events;
    case 'sql_drop':
      for (const dropped of message.dropped) {
        if (dropped.objectType !== 'table' || dropped.schema === null || dropped.name === null) continue;
        const before = previous.get(dropped.oid);
        if (!filter.includesTable(dropped.schema, dropped.name, before?.columns.map((c) => c.name) ?? [])) continue;
        events.push({
          kind: 'schema',
          operation: 'DROP',
          oid: dropped.oid,
          schema: dropped.schema,
          table: dropped.name,
          previous: null,
          before: before === undefined ? null : schemaColumns(before, filter),
          after: null,
          ...at,
        });
      }
      return events;
  }
}

/** Whether the table filters capture `table` (includes may name single columns). */
function captured(filter: ChangeFilter, table: TableDescription): boolean {
  return filter.includesTable(table.schema, table.name, table.columns.map((c) => c.name));
}

/** The columns of `table` that events carry, as schema-change events list them. */
function schemaColumns(table: TableDescription, filter: ChangeFilter): SchemaColumn[] {
  const key = new Set(table.constraints.find((c) => c.type === 'p')?.columns ?? []);
  return table.columns
    .filter((column) => filter.includesColumn(table.schema, table.name, column.name))
    .map((column) => ({ name: column.name, type: column.type, nullable: !column.notNull, default: column.default, primaryKey: key.has(column.name) }));
}
