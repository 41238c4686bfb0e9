/**
 * Debezium's ByLogicalTableRouter (and its successor ToLogicalTopicRouter): records of the tables
 * whose topic matches `topic.regex` go to `topic.replacement`; their key schema is renamed
 * `<topic>.Key` and, with `key.enforce.uniqueness` (default), gets a string field (`key.field.name`)
 * naming the physical table (the old topic, or its `key.field.regex` rewrite); the envelope and its
 * `before`/`after` schemas are renamed `<topic>.Envelope` / `<topic>.Value`. As Debezium 3's source.
 */
import type { ConnectRecord, ConnectSchema, ConnectTransform } from '../connect-record.js';
import { asField, fieldSchema, isStruct, requireStruct, STRING, type Struct } from './connect-structs.js';
import { isChangeEnvelope } from './extract-new-record-state.js';
import { replacementProblem, replaceWholeMatch } from './java-regex.js';
import type { TransformOptions } from './transform-options.js';

/** A schema with another name, everything else kept (Debezium's copySchemaExcludingName, then name()). */
function renamed(schema: ConnectSchema, name: string, fields = schema.fields): ConnectSchema {
  return {
    type: 'struct',
    ...(fields === undefined ? {} : { fields }),
    optional: schema.optional,
    name,
    ...(schema.version === undefined ? {} : { version: schema.version }),
    ...(schema.doc === undefined ? {} : { doc: schema.doc }),
    ...(schema.parameters === undefined ? {} : { parameters: schema.parameters }),
  };
}

export function logicalTableRouter(defaultKeyField: string, className: string): (options: TransformOptions) => ConnectTransform | undefined {
  return (options) => {
    const topicRegex = options.regex('topic.regex', true, 'a Java regular expression the whole physical topic name must match, e.g. (.*)customers_shard(.*)');
    const topicReplacement = options.required('topic.replacement', 'the logical topic name, with $1 … for the regex\'s groups, e.g. $1customers_all_shards');
    const enforceUniqueness = options.boolean('key.enforce.uniqueness', true);
    const keyFieldName = options.string('key.field.name') ?? defaultKeyField;
    const keyFieldRegex = options.regex('key.field.regex', false, '');
    const keyFieldReplacement = options.string('key.field.replacement');
    const adjustment = options.choice('schema.name.adjustment.mode', ['none', 'avro', 'avro_unicode'] as const, 'none');
    for (const cache of ['logical.table.cache.size', 'logical.destination.cache.size']) {
      const size = options.string(cache);
      if (size !== undefined && !/^\s*\d+\s*$/.test(size)) options.problem(cache, `is ${JSON.stringify(size)}; expected a whole number`);
    }
    options.rejectUnknown(className);
    if (adjustment !== 'none') options.problem('schema.name.adjustment.mode', `is ${adjustment}, which pgcdc does not apply to routed schema names; use none (the default)`);
    if (keyFieldRegex !== undefined && (keyFieldReplacement === undefined || keyFieldReplacement.trim() === '')) {
      options.problem('key.field.replacement', 'must be non-empty if key.field.regex is set.');
      return undefined;
    }
    if (topicRegex === undefined || topicReplacement === undefined) return undefined;
    const problem = replacementProblem(topicRegex, topicReplacement);
    if (problem !== undefined) return void options.problem('topic.replacement', problem);
    const keyProblem = keyFieldRegex && replacementProblem(keyFieldRegex, keyFieldReplacement!);
    if (keyProblem) return void options.problem('key.field.replacement', keyProblem);

    const keySchemas = new WeakMap<ConnectSchema, Map<string, ConnectSchema>>();
    const envelopeSchemas = new WeakMap<ConnectSchema, Map<string, ConnectSchema>>();
    const cached = (cache: WeakMap<ConnectSchema, Map<string, ConnectSchema>>, schema: ConnectSchema, topic: string, make: () => ConnectSchema): ConnectSchema => {
      let byTopic = cache.get(schema);
      if (byTopic === undefined) cache.set(schema, (byTopic = new Map()));
      let made = byTopic.get(topic);
      if (made === undefined) byTopic.set(topic, (made = make()));
      return made;
    };

    return {
      apply(record: ConnectRecord) {
        const oldTopic = record.topic;
        const topic = replaceWholeMatch(topicRegex, oldTopic, topicReplacement);
        if (topic === undefined || topic === '') return record;
        let keySchema: ConnectSchema | null = null;
        let key: Struct | null = null;
        if (record.key !== null && record.key !== undefined) {
          const oldKey = requireStruct(record.key, 'Updating schema');
          const identifier = enforceUniqueness ? (keyFieldRegex === undefined ? oldTopic : (replaceWholeMatch(keyFieldRegex, oldTopic, keyFieldReplacement!) ?? oldTopic)) : undefined;
          if (record.keySchema !== null) {
            const old = record.keySchema;
            keySchema = cached(keySchemas, old, topic, () => renamed(old, `${topic}.Key`, [...(old.fields ?? []), ...(enforceUniqueness ? [asField(STRING, keyFieldName)] : [])]));
          }
          key = { ...oldKey };
          if (identifier !== undefined) key[keyFieldName] = identifier;
        }
        if (record.value === null || record.value === undefined || !isChangeEnvelope(record) || record.valueSchema === null) {
          return { ...record, topic, keySchema, key };
        }
        const oldEnvelope = requireStruct(record.value, 'Updating schema');
        const old = record.valueSchema;
        const valueSchema = cached(envelopeSchemas, old, topic, () => {
          const row = old.fields?.find((field) => field.field === 'before') ?? old.fields?.find((field) => field.field === 'after');
          const rowSchema = row === undefined ? undefined : renamed(fieldSchema(row), `${topic}.Value`);
          const fields = (old.fields ?? []).map((field) => (rowSchema !== undefined && (field.field === 'before' || field.field === 'after') ? asField(rowSchema, field.field) : field));
          return renamed(old, `${topic}.Envelope`, fields);
        });
        const value: Struct = {};
        for (const [name, item] of Object.entries(oldEnvelope)) value[name] = (name === 'before' || name === 'after') && isStruct(item) ? { ...item } : item;
        return { ...record, topic, keySchema, key, valueSchema, value };
      },
    };
  };
}
