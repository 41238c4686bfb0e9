/**
 * Debezium's ExtractNewRecordState ("unwrap"): a change event's envelope replaced by the row after
 * the change (its `after` struct, with the schema `<topic>.Value`), deletes and tombstones handled
 * by `delete.tombstone.handling.mode` (or the older `delete.handling.mode` + `drop.tombstones`),
 * envelope fields copied into the row (`add.fields`) or into headers (`add.headers`), and the topic
 * taken from a column (`route.by.field`). Records that are not change events pass unchanged;
 * truncates are dropped. As Debezium 3's source code does it.
 */
import type { ConnectField, ConnectRecord, ConnectSchema, ConnectTransform } from '../connect-record.js';
import { asField, ConnectDataError, fieldSchema, fieldValue, isStruct, OPTIONAL_STRING, optionalCopy, requireStruct, schemaField, structLike, type Struct } from './connect-structs.js';
import type { TransformOptions } from './transform-options.js';

const DELETE_TOMBSTONE_MODES = ['drop', 'tombstone', 'rewrite', 'rewrite-with-tombstone', 'delete-to-tombstone'] as const;
type DeleteTombstoneMode = (typeof DELETE_TOMBSTONE_MODES)[number];
const DELETED_FIELD = '__deleted';

/** Fields of the envelope itself; other unqualified names are looked up in `source`. */
const ENVELOPE_FIELDS = new Set(['op', 'ts_ms', 'ts_us', 'ts_ns']);
const TRANSACTION_FIELDS = new Set(['id', 'total_order', 'data_collection_order']);

/** One entry of `add.fields`/`add.headers`: `[struct.]field[:newName]`. */
interface FieldReference {
  /** The struct holding the field (source, transaction), or undefined for the envelope's own. */
  readonly struct: string | undefined;
  readonly field: string;
  /** The added field's or header's name. */
  readonly newField: string;
}

function fieldReferences(options: TransformOptions, name: string, prefix: string): FieldReference[] {
  const references: FieldReference[] = [];
  for (const entry of options.list(name)) {
    const parts = entry.split(':');
    const splits = parts[0]!.split('.');
    if (parts.length > 2 || parts[0] === '' || splits.length > 2) {
      options.problem(name, `has ${JSON.stringify(entry)}; write each entry as field, struct.field or field:newName, e.g. op,source.ts_ms,table:tableName`);
      continue;
    }
    const field = splits.length === 1 ? splits[0]! : splits[1]!;
    const struct = splits.length === 2 ? splits[0] : ENVELOPE_FIELDS.has(field) ? undefined : TRANSACTION_FIELDS.has(field) ? 'transaction' : 'source';
    const newField = prefix + (parts.length === 2 ? parts[1]! : splits.length === 1 ? field : `${struct}_${field}`);
    references.push({ struct, field, newField });
  }
  return references;
}

/** The field a reference names in the envelope's schema (looked up in the envelope itself after its struct). */
function referencedField(reference: FieldReference, envelope: ConnectSchema): ConnectField | undefined {
  const parent = reference.struct === undefined ? envelope : schemaField(envelope, reference.struct);
  if (parent === undefined) throw new ConnectDataError(`${reference.struct} is not a valid field name`);
  return schemaField(parent, reference.field) ?? schemaField(envelope, reference.field);
}

function referencedValue(reference: FieldReference, envelope: Struct): unknown {
  const parent = reference.struct === undefined ? envelope : envelope[reference.struct];
  if (!isStruct(parent)) return null;
  return (reference.field in parent ? parent[reference.field] : envelope[reference.field]) ?? null;
}

/** A header value as Connect's SimpleHeaderConverter writes it; undefined for null (a header without value). */
function headerText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Whether `record` is a change event (SmtManager.isValidEnvelope: a value schema named `….Envelope`). */
export function isChangeEnvelope(record: ConnectRecord): boolean {
  if (record.valueSchema !== null) return record.valueSchema.name?.endsWith('.Envelope') === true;
  // Schemaless (JsonConverter without schemas): an envelope has op, source, before and after.
  return isStruct(record.value) && 'op' in record.value && 'source' in record.value && 'before' in record.value && 'after' in record.value;
}

export function extractNewRecordState(options: TransformOptions): ConnectTransform | undefined {
  const legacyDelete = options.choice('delete.handling.mode', ['drop', 'rewrite', 'none'] as const, 'drop');
  const legacyTombstones = options.boolean('drop.tombstones', true);
  const legacy = options.string('delete.handling.mode') !== undefined || options.string('drop.tombstones') !== undefined;
  const modeText = options.string('delete.tombstone.handling.mode');
  if (legacy && modeText !== undefined) {
    options.problem('delete.tombstone.handling.mode', 'is set together with delete.handling.mode or drop.tombstones, which it replaces: keep only delete.tombstone.handling.mode');
  }
  // The older options as Debezium 2's LegacyDeleteHandlingStrategy applied them: deletes dropped,
  // rewritten, or left with a null value (none), and tombstones kept unless drop.tombstones.
  const legacyMode: DeleteTombstoneMode = legacyDelete === 'none' ? 'tombstone' : legacyDelete;
  const mode = legacy ? legacyMode : options.choice('delete.tombstone.handling.mode', DELETE_TOMBSTONE_MODES, 'tombstone');
  const keepTombstones = legacy ? !legacyTombstones : mode === 'rewrite-with-tombstone';
  const addFields = fieldReferences(options, 'add.fields', options.string('add.fields.prefix') ?? '__');
  const addHeaders = fieldReferences(options, 'add.headers', options.string('add.headers.prefix') ?? '__');
  const routeByField = options.string('route.by.field')?.trim() || undefined;
  const withDefault = options.boolean('replace.null.with.default', true);
  options.rejectUnknown('ExtractNewRecordState');
  const rewrite = mode === 'rewrite' || mode === 'rewrite-with-tombstone';
  const schemas = new WeakMap<ConnectSchema, ConnectSchema>();

  /** The row struct with `__deleted` (rewrite) and the add.fields (InsertField, then Debezium's addFields). */
  const unwrapped = (record: ConnectRecord, row: Struct, rowSchema: ConnectSchema | null, deleted: string): ConnectRecord => {
    const envelope = record.value as Struct;
    const values: Struct = {};
    if (rowSchema === null) {
      Object.assign(values, row);
      if (rewrite) values[DELETED_FIELD] = deleted;
      for (const reference of addFields) values[reference.newField] = referencedValue(reference, envelope);
      return { ...record, valueSchema: null, value: values };
    }
    let schema = schemas.get(rowSchema);
    if (schema === undefined) {
      let fields: ConnectField[] = [...(rowSchema.fields ?? [])];
      if (rewrite) fields.push(asField(OPTIONAL_STRING, DELETED_FIELD));
      for (const reference of addFields) {
        const field = referencedField(reference, record.valueSchema!);
        if (field !== undefined) fields = [...fields, asField(optionalCopy(fieldSchema(field)), reference.newField)];
      }
      schema = structLike(rowSchema, fields);
      schemas.set(rowSchema, schema);
    }
    for (const field of rowSchema.fields ?? []) values[field.field] = fieldValue(row, field.field, field, withDefault);
    if (rewrite) values[DELETED_FIELD] = deleted;
    for (const reference of addFields) if (schema.fields!.some((field) => field.field === reference.newField)) values[reference.newField] = referencedValue(reference, envelope);
    return { ...record, valueSchema: schema, value: values };
  };

  const routed = (record: ConnectRecord, row: unknown): ConnectRecord => {
    if (routeByField === undefined) return record;
    const struct = requireStruct(row, 'Read record to set topic routing');
    const topic = struct[routeByField];
    if (!(routeByField in struct)) throw new ConnectDataError(`${routeByField} is not a valid field name`);
    if (topic !== null && typeof topic !== 'string') throw new ConnectDataError(`Field '${routeByField}' is not of type STRING`);
    return topic === null || topic.trim() === '' ? record : { ...record, topic };
  };

  return {
    apply(record) {
      const tombstone = record.value === null || record.value === undefined;
      const envelope = isChangeEnvelope(record);
      if ((envelope || tombstone) && addHeaders.length > 0) {
        for (const reference of addHeaders) {
          if (tombstone) {
            // A tombstone gets the delete's operation only.
            if (reference.field === 'op') record.headers.set(reference.newField, 'd');
            continue;
          }
          if (record.valueSchema !== null && referencedField(reference, record.valueSchema) === undefined) continue;
          const text = headerText(referencedValue(reference, record.value as Struct));
          if (text !== undefined) record.headers.set(reference.newField, text);
        }
      }
      if (tombstone) return keepTombstones ? record : null;
      if (!envelope) return record;
      const value = record.value as Struct;
      const after = value.after ?? null;
      const before = value.before ?? null;
      const rowSchemaOf = (name: string): ConnectSchema | null => {
        const field = schemaField(record.valueSchema, name);
        return field === undefined ? null : fieldSchema(field);
      };
      if (after === null && before === null) return null; // a truncate
      if (after !== null) {
        const unwrappedRecord = unwrapped(record, requireStruct(after, 'source field insertion'), rowSchemaOf('after'), 'false');
        return routed(unwrappedRecord, after);
      }
      // A delete.
      switch (mode) {
        case 'drop':
          return null;
        case 'tombstone':
          // The row after a delete: no value, the row's schema (JsonConverter writes a null payload).
          return routed({ ...record, valueSchema: rowSchemaOf('after'), value: null }, before);
        case 'delete-to-tombstone':
          return routed({ ...record, valueSchema: null, value: null }, before);
        case 'rewrite':
        case 'rewrite-with-tombstone':
          return routed(unwrapped(record, requireStruct(before, 'source field insertion'), rowSchemaOf('before'), 'true'), before);
      }
    },
  };
}
