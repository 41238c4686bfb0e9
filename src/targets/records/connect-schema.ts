/**
 * Kafka Connect schemas of the Kafka target's keys and values, as JsonConverter writes them with
 * `schemas.enable=true` (`{"schema":…,"payload":…}`): Debezium's envelope (`<topic>.Envelope`,
 * version 2) with `before`/`after` structs of the table's columns, Debezium's `source` block and
 * transaction block, and its logical type names where pgcdc's values have the same meaning
 * (ZonedTimestamp, Uuid, Json …), or the schemas of Debezium's value representations when the
 * stream writes them (Decimal, io.debezium.time.*, …). Built once per table description and topic.
 */
import type { JsonShape } from '../../decoding/values/json-shape.js';
import type { ColumnInfo, TableInfo } from '../../events/stream-event.js';

/** Debezium's logical names of string-valued types whose text pgcdc writes as Debezium does. */
const STRING_LOGICAL_NAMES: Readonly<Record<string, string>> = {
  uuid: 'io.debezium.data.Uuid',
  timestamptz: 'io.debezium.time.ZonedTimestamp',
  timetz: 'io.debezium.time.ZonedTime',
  json: 'io.debezium.data.Json',
  jsonb: 'io.debezium.data.Json',
  xml: 'io.debezium.data.Xml',
  ltree: 'io.debezium.data.Ltree',
  tsvector: 'io.debezium.data.Tsvector',
};

/**
 * The schema of a value of `shape`, as the field `field` of a struct (undefined: array items). The
 * members come in JsonConverter's order: type, fields/items/keys+values, optional, name, version,
 * field (the key bytes, and so the partition, depend on it).
 */
function shapeSchema(shape: JsonShape, optional: boolean, field: string | undefined): string {
  const tail = (name?: string, parameters?: string, doc?: string) =>
    `,"optional":${optional}${name === undefined ? '' : `,"name":"${name}","version":1`}${doc === undefined ? '' : `,"doc":${JSON.stringify(doc)}`}${parameters ?? ''}${field === undefined ? '' : `,"field":${JSON.stringify(field)}`}}`;
  switch (shape.kind) {
    case 'boolean':
      return `{"type":"boolean"${tail()}`;
    case 'integer':
      return `{"type":"${shape.bytes === 2 ? 'int16' : shape.bytes === 4 ? 'int32' : 'int64'}"${tail()}`;
    case 'float':
      return `{"type":"${shape.bytes === 4 ? 'float' : 'double'}"${tail()}`;
    case 'number':
      return `{"type":"double"${tail()}`;
    case 'string':
      // An enum as Debezium's Enum, its labels comma-separated.
      if (shape.labels !== undefined) return `{"type":"string"${tail('io.debezium.data.Enum', `,"parameters":{"allowed":${JSON.stringify(shape.labels.join(','))}}`)}`;
      return `{"type":"string"${tail(STRING_LOGICAL_NAMES[shape.type])}`;
    case 'json':
      // Not reachable with schemas: the registry writes such columns as their text (a string).
      return `{"type":"string"${tail('io.debezium.data.Json')}`;
    case 'map':
      // hstore as Debezium's hstore.handling.mode=map: text keys, text or null values.
      return `{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"string","optional":true}${tail()}`;
    case 'array':
      return `{"type":"array","items":${shapeSchema(shape.items, true, undefined)}${tail()}`;
    case 'object':
      return `{"type":"struct","fields":[${shape.fields.map((f) => shapeSchema(f.shape, true, f.name)).join(',')}]${tail()}`;
    case 'connect':
      // One of Debezium's representations (Decimal, io.debezium.time.*, …): its schema as given.
      return `{"type":"${shape.connectType}"${shape.fields === undefined ? '' : `,"fields":${shape.fields}`}${tail(shape.name, shape.parameters === undefined ? undefined : `,"parameters":${JSON.stringify(shape.parameters)}`, shape.doc)}`;
  }
}

function columnSchema(column: ColumnInfo, optional: boolean): string {
  return shapeSchema(column.shape, optional, column.name);
}

/** Debezium's PostgreSQL `source` block schema. */
const SOURCE_SCHEMA =
  '{"type":"struct","fields":[' +
  '{"type":"string","optional":false,"field":"version"},' +
  '{"type":"string","optional":false,"field":"connector"},' +
  '{"type":"string","optional":false,"field":"name"},' +
  '{"type":"int64","optional":false,"field":"ts_ms"},' +
  '{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},' +
  '{"type":"string","optional":false,"field":"db"},' +
  '{"type":"string","optional":true,"field":"sequence"},' +
  '{"type":"int64","optional":true,"field":"ts_us"},' +
  '{"type":"int64","optional":true,"field":"ts_ns"},' +
  '{"type":"string","optional":false,"field":"schema"},' +
  '{"type":"string","optional":false,"field":"table"},' +
  '{"type":"int64","optional":true,"field":"txId"},' +
  '{"type":"int64","optional":true,"field":"lsn"},' +
  '{"type":"int64","optional":true,"field":"xmin"},' +
  '{"type":"string","optional":true,"field":"origin"},' +
  '{"type":"int64","optional":true,"field":"origin_lsn"}' +
  '],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"}';

const TRANSACTION_BLOCK_SCHEMA =
  '{"type":"struct","fields":[' +
  '{"type":"string","optional":false,"field":"id"},' +
  '{"type":"int64","optional":false,"field":"total_order"},' +
  '{"type":"int64","optional":false,"field":"data_collection_order"}' +
  '],"optional":true,"name":"event.block","version":1,"field":"transaction"}';

/** The field Debezium's router adds to keys of tables routed together (`key.enforce.uniqueness`). */
export const ROUTED_KEY_FIELD = '__dbz__physicalTableIdentifier';

/**
 * The key schema of `table` on `topic` (null for a table without key columns); `routed`: the
 * table's topic was chosen by a routing rule, which adds the physical table identifier to keys.
 */
export function keySchemaJson(table: TableInfo, topic: string, routed: boolean): string | null {
  if (table.keyColumns.length === 0) return null;
  const fields = table.keyColumns.map((index) => columnSchema(table.columns[index]!, false));
  if (routed) fields.push(`{"type":"string","optional":false,"field":"${ROUTED_KEY_FIELD}"}`);
  return `{"type":"struct","fields":[${fields.join(',')}],"optional":false,"name":${JSON.stringify(`${topic}.Key`)}}`;
}

/** The envelope schema of change events of `table` on `topic`. */
export function valueSchemaJson(table: TableInfo, topic: string): string {
  const columns = table.columns.filter((column) => column.included).map((column) => columnSchema(column, !column.notNull));
  const row = (field: string) => `{"type":"struct","fields":[${columns.join(',')}],"optional":true,"name":${JSON.stringify(`${topic}.Value`)},"field":"${field}"}`;
  return (
    `{"type":"struct","fields":[${row('before')},${row('after')},${SOURCE_SCHEMA},${TRANSACTION_BLOCK_SCHEMA},` +
    '{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},' +
    '{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}' +
    `],"optional":false,"name":${JSON.stringify(`${topic}.Envelope`)},"version":2}`
  );
}

/** Schemas of the transaction metadata topic's keys and values. */
export const TRANSACTION_KEY_SCHEMA = '{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}';
export const TRANSACTION_VALUE_SCHEMA =
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},' +
  '{"type":"int64","optional":true,"field":"event_count"},{"type":"array","items":{"type":"struct","fields":[' +
  '{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":true,"name":"event.collection","version":1},' +
  '"optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,' +
  '"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}';

/** Schemas of heartbeat records. */
export const HEARTBEAT_KEY_SCHEMA = '{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey","version":1}';
export const HEARTBEAT_VALUE_SCHEMA = '{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat","version":1}';

/** Schemas of logical decoding message records (`<prefix>.message`). */
export const MESSAGE_KEY_SCHEMA = '{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageKey","version":1}';
export const MESSAGE_VALUE_SCHEMA =
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},' +
  SOURCE_SCHEMA +
  ',' +
  TRANSACTION_BLOCK_SCHEMA +
  ',{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"},{"type":"bytes","optional":true,"field":"content"}],"optional":false,"name":"io.debezium.connector.postgresql.Message","version":1,"field":"message"}],' +
  '"optional":false,"name":"io.debezium.connector.postgresql.MessageValue","version":1}';

/** Schemas of schema-change records (`<prefix>`, keyed by database, docs/schema-changes.md). */
export const SCHEMA_CHANGE_KEY_SCHEMA =
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"optional":false,"name":"io.pgcdc.connector.postgresql.SchemaChangeKey","version":1}';
const SCHEMA_COLUMNS = (field: string) =>
  '{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"name"},{"type":"string","optional":false,"field":"type"},' +
  '{"type":"boolean","optional":false,"field":"nullable"},{"type":"string","optional":true,"field":"default"},{"type":"boolean","optional":false,"field":"primaryKey"}],' +
  `"optional":false,"name":"io.pgcdc.connector.postgresql.SchemaColumn","version":1},"optional":true,"field":"${field}"}`;
export const SCHEMA_CHANGE_VALUE_SCHEMA =
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},' +
  SOURCE_SCHEMA +
  ',' +
  TRANSACTION_BLOCK_SCHEMA +
  ',{"type":"string","optional":false,"field":"databaseName"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"operation"},' +
  '{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},' +
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"}],"optional":true,"field":"previous"},' +
  '{"type":"string","optional":false,"field":"commandTag"},{"type":"string","optional":true,"field":"query"},' +
  SCHEMA_COLUMNS('before') +
  ',' +
  SCHEMA_COLUMNS('after') +
  '],"optional":false,"name":"io.pgcdc.connector.postgresql.SchemaChange","version":1,"field":"schemaChange"}],' +
  '"optional":false,"name":"io.pgcdc.connector.postgresql.SchemaChangeValue","version":1}';
