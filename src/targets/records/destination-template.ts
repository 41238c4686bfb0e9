/**
 * Destination templates of the message-broker targets (a NATS subject, a Redis stream key, a
 * RabbitMQ routing key): `{prefix}`, `{schema}` and `{table}` replaced by the topic prefix and the
 * table's schema and name, e.g. `{prefix}.{schema}.{table}` (Debezium Server's destination).
 */
import type { TableDestination } from './change-records.js';

/** The placeholders a template may hold. */
export const TEMPLATE_PLACEHOLDERS = ['prefix', 'schema', 'table'] as const;

/** Debezium Server's destination of a table's records. */
export const DEFAULT_DESTINATION_TEMPLATE = '{prefix}.{schema}.{table}';

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The placeholders of `template` that are not known ones (empty when it is valid). */
export function unknownPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]!).filter((name) => !(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name));
}

/**
 * The destination of each table under `template` with the topic prefix `prefix`; `name` turns a
 * schema or table name into what the destination allows (e.g. a NATS subject token).
 */
export function destinationTemplate(template: string, prefix: string, name: (text: string) => string = (text) => text): TableDestination {
  return (schema, table) => template.replace(PLACEHOLDER, (_, placeholder: string) => (placeholder === 'prefix' ? prefix : name(placeholder === 'schema' ? schema : table)));
}
