/**
 * Kafka Connect's own transforms (org.apache.kafka.connect.transforms): RegexRouter (the topic
 * rewritten when the whole name matches `regex`), ReplaceField$Key/$Value (`exclude`, `include`,
 * `renames`, the older `blacklist`/`whitelist`), InsertField$Key/$Value (`topic.field`,
 * `partition.field`, `offset.field`, `timestamp.field`, `static.field`+`static.value`, `!` for a
 * required field), Filter (drops every record its predicate selects). Behaviour and schemas as
 * Kafka's source writes them.
 */
import type { ConnectField, ConnectRecord, ConnectSchema, ConnectTransform } from '../connect-record.js';
import { asField, fieldValue, OPTIONAL_STRING, requireStruct, schemaField, STRING, structLike, type Struct } from './connect-structs.js';
import { replacementProblem, replaceWholeMatch } from './java-regex.js';
import type { TransformOptions } from './transform-options.js';

const PACKAGE = 'org.apache.kafka.connect.transforms.';

type Side = 'Key' | 'Value';

/** The key or the value of a record, with its schema, and a record with it replaced. */
const SIDES = {
  Key: {
    schema: (record: ConnectRecord) => record.keySchema,
    value: (record: ConnectRecord) => record.key,
    with: (record: ConnectRecord, schema: ConnectSchema | null, value: unknown): ConnectRecord => ({ ...record, keySchema: schema, key: value }),
  },
  Value: {
    schema: (record: ConnectRecord) => record.valueSchema,
    value: (record: ConnectRecord) => record.value,
    with: (record: ConnectRecord, schema: ConnectSchema | null, value: unknown): ConnectRecord => ({ ...record, valueSchema: schema, value }),
  },
} as const;

function regexRouter(options: TransformOptions): ConnectTransform | undefined {
  const regex = options.regex('regex', true, 'a Java regular expression the whole topic name must match, e.g. dbz\\.public\\.(.*)');
  const replacement = options.required('replacement', 'the new topic name, with $1 … for the regex\'s groups, e.g. tables.$1');
  options.rejectUnknown('RegexRouter');
  if (regex === undefined || replacement === undefined) return undefined;
  const problem = replacementProblem(regex, replacement);
  if (problem !== undefined) return void options.problem('replacement', problem);
  return {
    apply(record) {
      const topic = replaceWholeMatch(regex, record.topic, replacement);
      return topic === undefined ? record : { ...record, topic };
    },
  };
}

function replaceField(side: Side, options: TransformOptions): ConnectTransform | undefined {
  // Kafka 2.x–3.x read `blacklist`/`whitelist` when `exclude`/`include` were not set.
  const exclude = new Set(options.string('exclude') !== undefined ? options.list('exclude') : options.list('blacklist'));
  const include = new Set(options.string('include') !== undefined ? options.list('include') : options.list('whitelist'));
  const renames = new Map<string, string>();
  for (const mapping of options.list('renames')) {
    const parts = mapping.split(':');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      options.problem('renames', `has ${JSON.stringify(mapping)}, an invalid rename mapping: write old:new pairs separated by commas, e.g. foo:bar,abc:xyz`);
      continue;
    }
    renames.set(parts[0]!, parts[1]!);
  }
  const withDefault = options.boolean('replace.null.with.default', true);
  options.rejectUnknown(`ReplaceField$${side}`);
  const reverse = new Map([...renames].map(([from, to]) => [to, from]));
  const kept = (name: string) => !exclude.has(name) && (include.size === 0 || include.has(name));
  const renamed = (name: string) => renames.get(name) ?? name;
  const schemas = new WeakMap<ConnectSchema, ConnectSchema>();
  const { schema: schemaOf, value: valueOf, with: withSide } = SIDES[side];
  return {
    apply(record) {
      const value = valueOf(record);
      if (value === null || value === undefined) return record;
      const struct = requireStruct(value, 'field replacement');
      const schema = schemaOf(record);
      if (schema === null) {
        const updated: Struct = {};
        for (const [name, item] of Object.entries(struct)) if (kept(name)) updated[renamed(name)] = item;
        return withSide(record, null, updated);
      }
      let updatedSchema = schemas.get(schema);
      if (updatedSchema === undefined) {
        const fields = (schema.fields ?? []).filter((field) => kept(field.field)).map((field) => ({ ...field, field: renamed(field.field) }));
        updatedSchema = structLike(schema, fields);
        schemas.set(schema, updatedSchema);
      }
      const updated: Struct = {};
      for (const field of updatedSchema.fields!) {
        const from = reverse.get(field.field) ?? field.field;
        updated[field.field] = fieldValue(struct, from, schemaField(schema, from), withDefault);
      }
      return withSide(record, updatedSchema, updated);
    },
  };
}

/** InsertField's `name`, `name!` (required) or `name?` (optional, the default). */
interface Insertion {
  readonly name: string;
  readonly optional: boolean;
}

function insertion(spec: string | undefined): Insertion | undefined {
  if (spec === undefined) return undefined;
  if (spec.endsWith('?')) return { name: spec.slice(0, -1), optional: true };
  if (spec.endsWith('!')) return { name: spec.slice(0, -1), optional: false };
  return { name: spec, optional: true };
}

const TIMESTAMP: ConnectSchema = { type: 'int64', optional: false, name: 'org.apache.kafka.connect.data.Timestamp', version: 1 };

function insertField(side: Side, options: TransformOptions): ConnectTransform | undefined {
  const topicField = insertion(options.string('topic.field'));
  const partitionField = insertion(options.string('partition.field'));
  const offsetField = insertion(options.string('offset.field'));
  const timestampField = insertion(options.string('timestamp.field'));
  const staticField = insertion(options.string('static.field'));
  const staticValue = options.string('static.value');
  const withDefault = options.boolean('replace.null.with.default', true);
  options.rejectUnknown(`InsertField$${side}`);
  if (!topicField && !partitionField && !offsetField && !timestampField && !staticField) {
    return void options.problem('topic.field', 'and the other field options are all unset (No field insertion configured): set topic.field, static.field with static.value, partition.field or timestamp.field');
  }
  if (staticField !== undefined && staticValue === undefined) return void options.problem('static.value', `is missing (No value specified for static field: ${staticField.name}): set the value to write in ${staticField.name}`);
  // A source connector's records have no offset (Kafka: "Only SinkRecord supported for [field insertion]").
  if (offsetField !== undefined) return void options.problem('offset.field', 'applies only to sink connectors: a source record has no Kafka offset yet; remove it');
  // Neither does a source record carry a partition or a timestamp: a required field would fail every record.
  for (const [option, field] of [['partition.field', partitionField], ['timestamp.field', timestampField]] as const) {
    if (field !== undefined && !field.optional) return void options.problem(option, `is ${field.name}!, but Debezium's source records carry no ${option.split('.')[0]}, so the required field would fail every record; drop the !`);
  }
  const added: ConnectField[] = [];
  if (topicField) added.push(asField(topicField.optional ? OPTIONAL_STRING : STRING, topicField.name));
  if (partitionField) added.push(asField({ type: 'int32', optional: true }, partitionField.name));
  if (timestampField) added.push(asField({ ...TIMESTAMP, optional: true }, timestampField.name));
  if (staticField) added.push(asField(staticField.optional ? OPTIONAL_STRING : STRING, staticField.name));
  const schemas = new WeakMap<ConnectSchema, ConnectSchema>();
  const { schema: schemaOf, value: valueOf, with: withSide } = SIDES[side];
  return {
    apply(record) {
      const value = valueOf(record);
      if (value === null || value === undefined) return record;
      const struct = requireStruct(value, 'field insertion');
      const schema = schemaOf(record);
      // Partition and timestamp: a source record has neither, so they are left out (schemaless) or null.
      if (schema === null) {
        const updated: Struct = { ...struct };
        if (topicField) updated[topicField.name] = record.topic;
        if (staticField) updated[staticField.name] = staticValue;
        return withSide(record, null, updated);
      }
      let updatedSchema = schemas.get(schema);
      if (updatedSchema === undefined) {
        const fields = [...(schema.fields ?? []).filter((field) => !added.some((a) => a.field === field.field)), ...added];
        updatedSchema = structLike(schema, fields);
        schemas.set(schema, updatedSchema);
      }
      const updated: Struct = {};
      for (const field of schema.fields ?? []) updated[field.field] = fieldValue(struct, field.field, field, withDefault);
      if (partitionField) updated[partitionField.name] = null;
      if (timestampField) updated[timestampField.name] = null;
      if (topicField) updated[topicField.name] = record.topic;
      if (staticField) updated[staticField.name] = staticValue;
      const ordered: Struct = {};
      for (const field of updatedSchema.fields!) ordered[field.field] = updated[field.field] ?? null;
      return withSide(record, updatedSchema, ordered);
    },
  };
}

function filter(options: TransformOptions): ConnectTransform {
  options.rejectUnknown('Filter');
  return { apply: () => null };
}

/** Kafka's transforms by their full class name; each reads its options (problems go to `options`). */
export const KAFKA_TRANSFORMS: Readonly<Record<string, (options: TransformOptions) => ConnectTransform | undefined>> = {
  [`${PACKAGE}RegexRouter`]: regexRouter,
  [`${PACKAGE}ReplaceField$Key`]: (options) => replaceField('Key', options),
  [`${PACKAGE}ReplaceField$Value`]: (options) => replaceField('Value', options),
  [`${PACKAGE}InsertField$Key`]: (options) => insertField('Key', options),
  [`${PACKAGE}InsertField$Value`]: (options) => insertField('Value', options),
  [`${PACKAGE}Filter`]: filter,
};
