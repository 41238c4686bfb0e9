/**
 * The `schemaChange` object of a schema-change event as every target writes it
 * (docs/schema-changes.md): operation, table, previous name, command tag, statement text, and the
 * column lists before and after the command.
 */
import type { SchemaChangeEvent } from './stream-event.js';

/** The JSON text of `event`'s `schemaChange` object (schema changes are rare: plain JSON.stringify). */
export function schemaChangeJson(event: SchemaChangeEvent): string {
  return JSON.stringify({
    operation: event.operation,
    schema: event.schema,
    table: event.table,
    previous: event.previous,
    commandTag: event.commandTag,
    query: event.query,
    before: event.before,
    after: event.after,
  });
}
