/**
 * Connect transforms (SMTs) on hand-built Debezium records, each case taken from the transform's
 * own tests and documentation (Kafka's RegexRouterTest, ReplaceFieldTest, InsertFieldTest,
 * TopicNameMatchesTest; Debezium's ExtractNewRecordStateTest, ByLogicalTableRouterTest and the
 * "New record state extraction" / "Topic routing" pages), and the configuration problems.
 */
import { describe, expect, it } from 'vitest';
import { connectorStreamDocument } from '../../src/config/connector-config.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { ConnectField, ConnectRecord, ConnectSchema } from '../../src/targets/records/connect-record.js';
import { applyConnectTransforms, connectTransformChain } from '../../src/targets/records/connect-transforms.js';

const UNWRAP = 'io.debezium.transforms.ExtractNewRecordState';
const ROUTER = 'io.debezium.transforms.ByLogicalTableRouter';
const KAFKA = 'org.apache.kafka.connect.transforms.';

const field = (name: string, schema: ConnectSchema): ConnectField => ({ ...schema, field: name });
const INT32: ConnectSchema = { type: 'int32', optional: false };
const STRING: ConnectSchema = { type: 'string', optional: false };
const OPTIONAL_STRING: ConnectSchema = { type: 'string', optional: true };
const INT64: ConnectSchema = { type: 'int64', optional: false };
const OPTIONAL_INT64: ConnectSchema = { type: 'int64', optional: true };

/** Debezium's schemas of table public.customers (id int primary key, name text) on topic `topic`. */
function customerSchemas(topic: string): { key: ConnectSchema; value: ConnectSchema; row: ConnectSchema } {
  const row: ConnectSchema = { type: 'struct', fields: [field('id', INT32), field('name', OPTIONAL_STRING)], optional: true, name: `${topic}.Value` };
  const source: ConnectSchema = {
    type: 'struct',
    fields: [
      field('version', STRING),
      field('connector', STRING),
      field('name', STRING),
      field('ts_ms', INT64),
      field('snapshot', { type: 'string', optional: true, name: 'io.debezium.data.Enum', version: 1, parameters: { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' }, default: 'false' }),
      field('db', STRING),
      field('schema', STRING),
      field('table', STRING),
      field('txId', OPTIONAL_INT64),
      field('lsn', OPTIONAL_INT64),
    ],
    optional: false,
    name: 'io.debezium.connector.postgresql.Source',
    version: 1,
  };
  const transaction: ConnectSchema = {
    type: 'struct',
    fields: [field('id', STRING), field('total_order', INT64), field('data_collection_order', INT64)],
    optional: true,
    name: 'event.block',
    version: 1,
  };
  return {
    key: { type: 'struct', fields: [field('id', INT32)], optional: false, name: `${topic}.Key` },
    row,
    value: {
      type: 'struct',
      fields: [field('before', row), field('after', row), field('source', source), field('transaction', transaction), field('op', STRING), field('ts_ms', OPTIONAL_INT64)],
      optional: false,
      name: `${topic}.Envelope`,
      version: 2,
    },
  };
}

/** A change event of public.customers as Debezium writes it on `topic` (default dbz.public.customers). */
function changeRecord(op: 'c' | 'u' | 'd' | 'r' | 't', before: { id: number; name: string | null } | null, after: { id: number; name: string | null } | null, topic = 'dbz.public.customers'): ConnectRecord {
  const schemas = customerSchemas(topic);
  const id = (after ?? before)?.id;
  return {
    topic,
    keySchema: id === undefined ? null : schemas.key,
    key: id === undefined ? null : { id },
    valueSchema: schemas.value,
    value: {
      before,
      after,
      source: { version: '3.6.1.Final', connector: 'postgresql', name: 'dbz', ts_ms: 1700000000000, snapshot: 'false', db: 'shop', schema: 'public', table: 'customers', txId: 571, lsn: 1234 },
      transaction: { id: '571:1234', total_order: 42, data_collection_order: 1 },
      op,
      ts_ms: 1700000000123,
    },
    headers: new Map(),
    source: { topic, key: null, value: null, partition: -1 },
  };
}

function tombstoneOf(record: ConnectRecord): ConnectRecord {
  return { ...record, valueSchema: null, value: null, headers: new Map() };
}

/** A record that is not a change event: a heartbeat. */
function heartbeat(): ConnectRecord {
  return {
    topic: '__debezium-heartbeat.dbz',
    keySchema: { type: 'struct', fields: [field('serverName', STRING)], optional: false, name: 'io.debezium.connector.common.ServerNameKey', version: 1 },
    key: { serverName: 'dbz' },
    valueSchema: { type: 'struct', fields: [field('ts_ms', INT64)], optional: false, name: 'io.debezium.connector.common.Heartbeat', version: 1 },
    value: { ts_ms: 1700000000000 },
    headers: new Map(),
    source: { topic: '__debezium-heartbeat.dbz', key: null, value: null, partition: -1 },
  };
}

/** The chain of `properties`; fails the test with its problems when there are some. */
function chain(properties: Record<string, string>) {
  const result = connectTransformChain(properties);
  if ('problems' in result) throw new Error(result.problems.join('\n'));
  return (record: ConnectRecord) => applyConnectTransforms(result.transforms, record);
}

function problemsOf(properties: Record<string, string>): string[] {
  const result = connectTransformChain(properties);
  return 'problems' in result ? result.problems : [];
}

const one = (type: string, options: Record<string, string> = {}): Record<string, string> => ({
  transforms: 'x',
  'transforms.x.type': type,
  ...Object.fromEntries(Object.entries(options).map(([key, value]) => [`transforms.x.${key}`, value])),
});

describe('transform chain configuration', () => {
  it('no transforms: an empty chain', () => {
    expect(connectTransformChain({})).toEqual({ transforms: [] });
  });

  it('a transform pgcdc does not support: one problem naming the class and listing the supported ones', () => {
    const problems = problemsOf(one('io.debezium.transforms.outbox.EventRouter'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^transforms\.x\.type is io\.debezium\.transforms\.outbox\.EventRouter, a transform pgcdc does not support; supported: io\.debezium\.transforms\.ExtractNewRecordState, /);
    expect(problems[0]).toContain('org.apache.kafka.connect.transforms.RegexRouter');
  });

  it('a missing type, a bad option value, an unknown option: one problem each, naming the property', () => {
    expect(problemsOf({ transforms: 'x' })).toEqual([expect.stringMatching(/^transforms\.x\.type is missing: set it to the transform's class, one of /)]);
    expect(problemsOf(one(UNWRAP, { 'delete.tombstone.handling.mode': 'keep' }))).toEqual([
      'transforms.x.delete.tombstone.handling.mode is "keep"; expected one of drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone',
    ]);
    expect(problemsOf(one(UNWRAP, { 'add.feilds': 'op' }))).toEqual([expect.stringMatching(/^transforms\.x\.add\.feilds is not an option of ExtractNewRecordState pgcdc knows; did you mean transforms\.x\.add\.fields\?/)]);
    expect(problemsOf(one(`${KAFKA}RegexRouter`, { regex: '(.*', replacement: 'a' }))).toEqual([expect.stringMatching(/^transforms\.x\.regex is "\(\.\*", which is not a valid regular expression: /)]);
    expect(problemsOf(one(`${KAFKA}RegexRouter`, { regex: '(.*)', replacement: '$2' }))).toEqual(['transforms.x.replacement refers to group 2, but the regex has 1 group']);
    expect(problemsOf(one(`${KAFKA}RegexRouter`, { regex: '.*' }))).toEqual([expect.stringMatching(/^transforms\.x\.replacement is missing: /)]);
    expect(problemsOf(one(`${KAFKA}ReplaceField$Value`, { renames: 'a:b,c' }))).toEqual([expect.stringMatching(/^transforms\.x\.renames has "c", an invalid rename mapping/)]);
    expect(problemsOf(one(`${KAFKA}InsertField$Value`, { 'static.field': 'origin' }))).toEqual([expect.stringMatching(/^transforms\.x\.static\.value is missing \(No value specified for static field: origin\)/)]);
    expect(problemsOf(one(`${KAFKA}InsertField$Value`, { 'offset.field': 'offset' }))).toEqual([expect.stringMatching(/^transforms\.x\.offset\.field applies only to sink connectors/)]);
    expect(problemsOf(one(`${KAFKA}InsertField$Value`))).toEqual([expect.stringMatching(/No field insertion configured/)]);
    expect(problemsOf(one(ROUTER, { 'topic.regex': '(.*)', 'topic.replacement': 'all', 'key.field.regex': '(.*)' }))).toEqual([
      'transforms.x.key.field.replacement must be non-empty if key.field.regex is set.',
    ]);
  });

  it('predicates: an unlisted one, a negate without predicate, a predicate of unknown type, properties of unlisted names', () => {
    expect(problemsOf({ ...one(`${KAFKA}Filter`), 'transforms.x.predicate': 'p' })).toEqual([expect.stringMatching(/^transforms\.x\.predicate is p, which predicates does not list/)]);
    expect(problemsOf({ ...one(`${KAFKA}Filter`), 'transforms.x.negate': 'true' })).toEqual([expect.stringMatching(/^transforms\.x\.negate is set, but transforms\.x\.predicate is not/)]);
    expect(problemsOf({ ...one(`${KAFKA}Filter`), predicates: 'p', 'predicates.p.type': 'com.example.Mine', 'transforms.x.predicate': 'p' })).toEqual([
      expect.stringMatching(/^predicates\.p\.type is com\.example\.Mine, a predicate pgcdc does not support; supported: org\.apache\.kafka\.connect\.transforms\.predicates\.TopicNameMatches, /),
    ]);
    expect(problemsOf({ ...one(`${KAFKA}Filter`), 'transforms.y.type': UNWRAP })).toEqual([expect.stringMatching(/^transforms\.y\.type belongs to a transform named y, which transforms does not list/)]);
    expect(problemsOf({ ...one(`${KAFKA}Filter`), predicates: 'p', 'predicates.p.type': 'TopicNameMatches' })).toEqual([expect.stringMatching(/^predicates\.p\.pattern is missing/)]);
  });

  it("Connect's aliases: a transform's and a predicate's simple class name", () => {
    const apply = chain({ transforms: 'route', 'transforms.route.type': 'RegexRouter', 'transforms.route.regex': 'dbz\\.(.*)', 'transforms.route.replacement': 'x.$1' });
    expect(apply(changeRecord('c', null, { id: 1, name: 'a' }))!.topic).toBe('x.public.customers');
  });
});

describe('RegexRouter (RegexRouterTest)', () => {
  const route = (regex: string, replacement: string, topic: string) => chain(one(`${KAFKA}RegexRouter`, { regex, replacement }))({ ...heartbeat(), topic })!.topic;
  it('replaces the topic when the whole name matches, with $n groups', () => {
    expect(route('foo', 'bar', 'foo')).toBe('bar'); // staticReplacement
    expect(route('foo', 'bar', 'orig')).toBe('orig'); // doesntMatch
    expect(route('(.*)', '$1', 'orig')).toBe('orig'); // identity
    expect(route('(.*)', 'prefix-$1', 'orig')).toBe('prefix-orig'); // addPrefix
    expect(route('(.*)', '$1-suffix', 'orig')).toBe('orig-suffix'); // addSuffix
    expect(route('(.*)-(\\d\\d\\d\\d\\d\\d\\d\\d)', '$1', 'index-20160117')).toBe('index'); // slice
    // Matcher.matches: a match of part of the name does not count.
    expect(route('public', 'x', 'dbz.public.customers')).toBe('dbz.public.customers');
    // Java's replacement syntax: ${name}, \$ for a dollar.
    expect(route('dbz\\.(?<schema>[^.]+)\\.(?<table>.*)', '${table}_\\$_${schema}', 'dbz.public.customers')).toBe('customers_$_public');
  });
});

describe('ReplaceField (ReplaceFieldTest)', () => {
  const SCHEMA: ConnectSchema = { type: 'struct', fields: [field('dont', STRING), field('abc', INT32), field('foo', { type: 'boolean', optional: false }), field('etc', STRING)], optional: false, name: 'x' };
  const record = (schema: ConnectSchema | null, value: unknown): ConnectRecord => ({ ...heartbeat(), valueSchema: schema, value });

  it('tombstones pass unchanged', () => {
    const out = chain(one(`${KAFKA}ReplaceField$Value`, { include: 'abc,foo', renames: 'abc:xyz,foo:bar' }))(record(SCHEMA, null))!;
    expect(out.value).toBeNull();
    expect(out.valueSchema).toBe(SCHEMA);
  });

  it('schemaless: exclude and renames', () => {
    const out = chain(one(`${KAFKA}ReplaceField$Value`, { exclude: 'dont', renames: 'abc:xyz,foo:bar' }))(record(null, { dont: 'whatever', abc: 42, foo: true, etc: 'etc' }))!;
    expect(out.value).toEqual({ xyz: 42, bar: true, etc: 'etc' });
  });

  it('with schema: include and renames, the schema rebuilt (required struct, same name)', () => {
    const out = chain(one(`${KAFKA}ReplaceField$Value`, { include: 'abc,foo', renames: 'abc:xyz,foo:bar' }))(record(SCHEMA, { dont: 'whatever', abc: 42, foo: true, etc: 'etc' }))!;
    expect(out.value).toEqual({ xyz: 42, bar: true });
    expect(out.valueSchema).toEqual({ type: 'struct', fields: [field('xyz', INT32), field('bar', { type: 'boolean', optional: false })], optional: false, name: 'x' });
  });

  it('replace.null.with.default: a null field gets its default unless false', () => {
    const schema: ConnectSchema = { type: 'struct', fields: [field('abc', { type: 'int32', optional: true, default: 42 })], optional: false };
    const props = (replace: string) => one(`${KAFKA}ReplaceField$Value`, { include: 'abc', renames: 'abc:optional_with_default', 'replace.null.with.default': replace });
    expect(chain(props('true'))(record(schema, { abc: null }))!.value).toEqual({ optional_with_default: 42 });
    expect(chain(props('false'))(record(schema, { abc: null }))!.value).toEqual({ optional_with_default: null });
  });

  it('$Key, and the older blacklist option', () => {
    const keyed = { ...changeRecord('c', null, { id: 1, name: 'a' }), keySchema: { type: 'struct', fields: [field('id', INT32), field('tenant', STRING)], optional: false, name: 'k' } as ConnectSchema, key: { id: 1, tenant: 't' } };
    const out = chain(one(`${KAFKA}ReplaceField$Key`, { blacklist: 'tenant' }))(keyed)!;
    expect(out.key).toEqual({ id: 1 });
    expect(out.keySchema).toEqual({ type: 'struct', fields: [field('id', INT32)], optional: false, name: 'k' });
    expect(out.value).toBe(keyed.value);
  });
});

describe('InsertField (InsertFieldTest)', () => {
  it('with schema: topic (required with !), static, partition and timestamp fields (null on a source record)', () => {
    const props = one(`${KAFKA}InsertField$Value`, { 'topic.field': 'topic_field!', 'partition.field': 'partition_field', 'timestamp.field': 'timestamp_field?', 'static.field': 'instance_id', 'static.value': 'my-instance-id' });
    const schema: ConnectSchema = { type: 'struct', fields: [field('magic', INT64)], optional: false, name: 'name', version: 1, doc: 'doc' };
    const out = chain(props)({ ...heartbeat(), topic: 'test', valueSchema: schema, value: { magic: 42 } })!;
    expect(out.valueSchema).toEqual({
      type: 'struct',
      fields: [
        field('magic', INT64),
        field('topic_field', STRING),
        field('partition_field', { type: 'int32', optional: true }),
        field('timestamp_field', { type: 'int64', optional: true, name: 'org.apache.kafka.connect.data.Timestamp', version: 1 }),
        field('instance_id', OPTIONAL_STRING),
      ],
      optional: false,
      name: 'name',
      version: 1,
      doc: 'doc',
    });
    expect(out.value).toEqual({ magic: 42, topic_field: 'test', partition_field: null, timestamp_field: null, instance_id: 'my-instance-id' });
  });

  it('schemaless, tombstones unchanged, and $Key', () => {
    const props = one(`${KAFKA}InsertField$Value`, { 'topic.field': 'topic_field!', 'static.field': 'instance_id', 'static.value': 'my-instance-id' });
    expect(chain(props)({ ...heartbeat(), topic: 'test', valueSchema: null, value: { magic: 42 } })!.value).toEqual({ magic: 42, topic_field: 'test', instance_id: 'my-instance-id' });
    const tombstone = tombstoneOf(changeRecord('d', { id: 1, name: 'a' }, null));
    expect(chain(props)(tombstone)).toEqual(tombstone);
    const keyed = chain(one(`${KAFKA}InsertField$Key`, { 'topic.field': 't' }))(changeRecord('c', null, { id: 1, name: 'a' }))!;
    expect(keyed.key).toEqual({ id: 1, t: 'dbz.public.customers' });
  });
});

describe('Filter with predicates', () => {
  const records = [changeRecord('c', null, { id: 1, name: 'a' }), changeRecord('c', null, { id: 2, name: 'b' }, 'dbz.public.orders'), heartbeat(), tombstoneOf(changeRecord('d', { id: 1, name: 'a' }, null))];
  const topicsAfter = (properties: Record<string, string>) => records.map(chain(properties)).filter((record) => record !== null).map((record) => record.topic);

  it('TopicNameMatches drops the matching topics; negate keeps only them', () => {
    const props = { ...one(`${KAFKA}Filter`), 'transforms.x.predicate': 'isOrders', predicates: 'isOrders', 'predicates.isOrders.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches', 'predicates.isOrders.pattern': 'dbz\\.public\\.ord.*' };
    expect(topicsAfter(props)).toEqual(['dbz.public.customers', '__debezium-heartbeat.dbz', 'dbz.public.customers']);
    expect(topicsAfter({ ...props, 'transforms.x.negate': 'true' })).toEqual(['dbz.public.orders']);
  });

  it('RecordIsTombstone and HasHeaderKey; Filter without predicate drops everything', () => {
    expect(topicsAfter({ ...one(`${KAFKA}Filter`), 'transforms.x.predicate': 't', predicates: 't', 'predicates.t.type': 'RecordIsTombstone' })).toHaveLength(3);
    const withHeader = { ...heartbeat(), headers: new Map([['skip', '1']]) };
    const apply = chain({ ...one(`${KAFKA}Filter`), 'transforms.x.predicate': 'h', predicates: 'h', 'predicates.h.type': 'HasHeaderKey', 'predicates.h.name': 'skip' });
    expect(apply(withHeader)).toBeNull();
    expect(apply(heartbeat())).not.toBeNull();
    expect(topicsAfter(one(`${KAFKA}Filter`))).toEqual([]);
  });

  it('a predicate on another transform: only the records it selects are transformed', () => {
    const apply = chain({
      transforms: 'route',
      'transforms.route.type': `${KAFKA}RegexRouter`,
      'transforms.route.regex': 'dbz\\.public\\.(.*)',
      'transforms.route.replacement': 'tables.$1',
      'transforms.route.predicate': 'notOrders',
      'transforms.route.negate': 'true',
      predicates: 'notOrders',
      'predicates.notOrders.type': 'TopicNameMatches',
      'predicates.notOrders.pattern': '.*orders',
    });
    expect(records.slice(0, 2).map((record) => apply(record)!.topic)).toEqual(['tables.customers', 'dbz.public.orders']);
  });
});

describe('ExtractNewRecordState', () => {
  const create = () => changeRecord('c', null, { id: 1, name: 'a' });
  const update = () => changeRecord('u', { id: 1, name: 'a' }, { id: 1, name: 'b' });
  const remove = () => changeRecord('d', { id: 1, name: 'b' }, null);
  const row = customerSchemas('dbz.public.customers').row;
  const unwrap = (options: Record<string, string> = {}) => chain(one(UNWRAP, options));

  it('a create or update becomes its row after the change: the after struct, schema <topic>.Value rebuilt as required', () => {
    const out = unwrap()(update())!;
    expect(out.value).toEqual({ id: 1, name: 'b' });
    expect(out.valueSchema).toEqual({ ...row, optional: false });
    expect(out.key).toEqual({ id: 1 });
    expect(out.topic).toBe('dbz.public.customers');
  });

  it('delete.tombstone.handling.mode: tombstone (default), drop, delete-to-tombstone, rewrite, rewrite-with-tombstone', () => {
    const tombstone = tombstoneOf(remove());
    // tombstone: the delete becomes a record with a null value and the row's schema; Debezium's own tombstone is dropped.
    const deleted = unwrap()(remove())!;
    expect([deleted.value, deleted.valueSchema]).toEqual([null, row]);
    expect(unwrap()(tombstone)).toBeNull();
    expect(unwrap({ 'delete.tombstone.handling.mode': 'drop' })(remove())).toBeNull();
    expect(unwrap({ 'delete.tombstone.handling.mode': 'drop' })(tombstone)).toBeNull();
    const converted = unwrap({ 'delete.tombstone.handling.mode': 'delete-to-tombstone' })(remove())!;
    expect([converted.value, converted.valueSchema, converted.key]).toEqual([null, null, { id: 1 }]);
    expect(unwrap({ 'delete.tombstone.handling.mode': 'delete-to-tombstone' })(tombstone)).toBeNull();
    // rewrite: the row before the delete with __deleted "true"; creates and updates get "false" (ExtractNewRecordStateTest).
    const rewrite = unwrap({ 'delete.tombstone.handling.mode': 'rewrite' });
    const rewritten = rewrite(remove())!;
    expect(rewritten.value).toEqual({ id: 1, name: 'b', __deleted: 'true' });
    expect(rewritten.valueSchema).toEqual({ ...row, optional: false, fields: [...row.fields!, field('__deleted', OPTIONAL_STRING)] });
    expect(rewrite(create())!.value).toEqual({ id: 1, name: 'a', __deleted: 'false' });
    expect(rewrite(tombstone)).toBeNull();
    expect(unwrap({ 'delete.tombstone.handling.mode': 'rewrite-with-tombstone' })(tombstone)).toEqual(tombstone);
  });

  it('the older delete.handling.mode and drop.tombstones', () => {
    const tombstone = tombstoneOf(remove());
    expect(unwrap({ 'delete.handling.mode': 'drop' })(remove())).toBeNull();
    expect(unwrap({ 'delete.handling.mode': 'drop' })(tombstone)).toBeNull();
    expect(unwrap({ 'delete.handling.mode': 'none', 'drop.tombstones': 'false' })(remove())!.value).toBeNull();
    expect(unwrap({ 'delete.handling.mode': 'none', 'drop.tombstones': 'false' })(tombstone)).toEqual(tombstone);
    expect(unwrap({ 'delete.handling.mode': 'rewrite' })(remove())!.value).toEqual({ id: 1, name: 'b', __deleted: 'true' });
    expect(problemsOf(one(UNWRAP, { 'delete.handling.mode': 'rewrite', 'delete.tombstone.handling.mode': 'rewrite' }))).toEqual([expect.stringMatching(/^transforms\.x\.delete\.tombstone\.handling\.mode is set together with delete\.handling\.mode/)]);
  });

  it('add.fields: op, envelope and source fields, struct-qualified names, renames, a prefix; schemas optional copies', () => {
    const out = unwrap({ 'add.fields': 'op, table, lsn, source.ts_ms, id, transaction.total_order:TOTAL_ORDER, ts_ms' })(update())!;
    expect(out.value).toEqual({ id: 1, name: 'b', __op: 'u', __table: 'customers', __lsn: 1234, __source_ts_ms: 1700000000000, __id: '571:1234', __TOTAL_ORDER: 42, __ts_ms: 1700000000123 });
    expect(out.valueSchema!.fields!.slice(2)).toEqual([
      field('__op', OPTIONAL_STRING),
      field('__table', OPTIONAL_STRING),
      field('__lsn', OPTIONAL_INT64),
      field('__source_ts_ms', OPTIONAL_INT64),
      field('__id', OPTIONAL_STRING),
      field('__TOTAL_ORDER', OPTIONAL_INT64),
      field('__ts_ms', OPTIONAL_INT64),
    ]);
    // A field with a logical name keeps it, without its default.
    const snapshot = unwrap({ 'add.fields': 'snapshot', 'add.fields.prefix': 'meta.' })(create())!;
    expect(snapshot.valueSchema!.fields!.at(-1)).toEqual(field('meta.snapshot', { type: 'string', optional: true, name: 'io.debezium.data.Enum', version: 1, parameters: { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' } }));
    // The rewritten delete gets them too; a transaction-less event has null.
    const deleted = unwrap({ 'add.fields': 'op,id', 'delete.tombstone.handling.mode': 'rewrite' })({ ...remove(), value: { ...(remove().value as object), transaction: null } })!;
    expect(deleted.value).toEqual({ id: 1, name: 'b', __deleted: 'true', __op: 'd', __id: null });
  });

  it('add.headers: header values as strings; a tombstone gets op=d', () => {
    const apply = unwrap({ 'add.headers': 'op, source.lsn:source_lsn, transaction.id:TXN_ID, transaction.total_order:TOTAL_ORDER', 'delete.tombstone.handling.mode': 'rewrite-with-tombstone' });
    const out = apply(update())!;
    expect([...out.headers]).toEqual([['__op', 'u'], ['__source_lsn', '1234'], ['__TXN_ID', '571:1234'], ['__TOTAL_ORDER', '42']]);
    expect([...apply(tombstoneOf(remove()))!.headers]).toEqual([['__op', 'd']]);
    expect([...unwrap({ 'add.headers': 'op', 'add.headers.prefix': 'dbz_' })(create())!.headers]).toEqual([['dbz_op', 'c']]);
  });

  it('route.by.field: the topic from a column of the row (before for a delete)', () => {
    const apply = unwrap({ 'route.by.field': 'name', 'delete.tombstone.handling.mode': 'rewrite' });
    expect(apply(create())!.topic).toBe('a');
    expect(apply(remove())!.topic).toBe('b');
    expect(apply(changeRecord('c', null, { id: 2, name: null }))!.topic).toBe('dbz.public.customers');
  });

  it('truncates are dropped; records that are not change events pass unchanged', () => {
    expect(unwrap()(changeRecord('t', null, null))).toBeNull();
    const beat = heartbeat();
    expect(unwrap({ 'add.headers': 'op' })(beat)).toEqual(heartbeat());
  });
});

describe('ByLogicalTableRouter', () => {
  const props = (options: Record<string, string> = {}) => one(ROUTER, { 'topic.regex': '(.*)customers_shard(.*)', 'topic.replacement': '$1customers_all_shards', ...options });
  const shard = (n: number) => changeRecord('c', null, { id: 1, name: 'a' }, `myserver.mydb.customers_shard${n}`);

  it('routes matching topics, adds __dbz__physicalTableIdentifier to keys, renames Key/Envelope/Value schemas', () => {
    const out = chain(props())(shard(1))!;
    expect(out.topic).toBe('myserver.mydb.customers_all_shards');
    expect(out.key).toEqual({ id: 1, __dbz__physicalTableIdentifier: 'myserver.mydb.customers_shard1' });
    expect(out.keySchema).toEqual({ type: 'struct', fields: [field('id', INT32), field('__dbz__physicalTableIdentifier', STRING)], optional: false, name: 'myserver.mydb.customers_all_shards.Key' });
    const expected = customerSchemas('myserver.mydb.customers_all_shards').value;
    expect(out.valueSchema).toEqual(expected);
    expect(out.value).toEqual(shard(1).value);
    expect(chain(props())(changeRecord('c', null, { id: 1, name: 'a' }))!.topic).toBe('dbz.public.customers');
  });

  it('key.field.name, key.field.regex/replacement, key.enforce.uniqueness=false; tombstones and keyless records', () => {
    expect(chain(props({ 'key.field.name': 'shard', 'key.field.regex': '.*customers_shard(.*)', 'key.field.replacement': '$1' }))(shard(2))!.key).toEqual({ id: 1, shard: '2' });
    const unique = chain(props({ 'key.enforce.uniqueness': 'false' }))(shard(2))!;
    expect(unique.key).toEqual({ id: 1 });
    expect(unique.keySchema!.fields).toEqual([field('id', INT32)]);
    const tombstone = chain(props())(tombstoneOf(shard(3)))!;
    expect([tombstone.topic, tombstone.value, tombstone.key]).toEqual(['myserver.mydb.customers_all_shards', null, { id: 1, __dbz__physicalTableIdentifier: 'myserver.mydb.customers_shard3' }]);
    const keyless = chain(props())({ ...shard(4), keySchema: null, key: null })!;
    expect([keyless.keySchema, keyless.key]).toEqual([null, null]);
  });
});

describe('transforms in configurations', () => {
  const CONNECTOR = {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'database.hostname': 'db',
    'database.user': 'cdc',
    'database.dbname': 'shop',
    'topic.prefix': 'shop',
  };
  const ROUTE = {
    transforms: 'unwrap,route',
    'transforms.unwrap.type': UNWRAP,
    'transforms.unwrap.add.fields': 'op,table',
    'transforms.route.type': `${KAFKA}RegexRouter`,
    'transforms.route.regex': 'shop\\.(?<schema>[^.]+)\\.(.*)',
    'transforms.route.replacement': '${schema}_$2',
    predicates: 'p',
    'predicates.p.type': 'RecordIsTombstone',
  };

  it("a connector configuration's transforms and predicates become the Kafka target's connectTransforms, kept literally", async () => {
    const { document, problems } = connectorStreamDocument('orders', { ...CONNECTOR, ...ROUTE }, { kafkaBootstrapServers: 'kafka:9092' });
    expect(problems).toEqual([]);
    const kafka = (document as { spec: { target: { kafka: { connectTransforms: Record<string, string> } } } }).spec.target.kafka;
    expect(kafka.connectTransforms).toEqual({ ...ROUTE, 'transforms.route.replacement': '$${schema}_$2' });
    // ${schema} is the regex's group, not an environment variable: the document loads without one.
    await expect(parseStreamConfig(JSON.stringify(document), { env: {} })).resolves.toMatchObject({ target: { type: 'Kafka' } });
  });

  it('a bad transform in a connector configuration is a problem about its property', () => {
    const { problems } = connectorStreamDocument('orders', { ...CONNECTOR, transforms: 'x', 'transforms.x.type': 'io.debezium.transforms.outbox.EventRouter' }, { kafkaBootstrapServers: 'kafka:9092' });
    expect(problems).toEqual([{ property: 'transforms.x.type', message: expect.stringMatching(/^transforms\.x\.type is io\.debezium\.transforms\.outbox\.EventRouter, a transform pgcdc does not support; supported: /) }]);
  });

  it('a bad transform in a native stream is one problem at spec.target.kafka.connectTransforms', async () => {
    const spec = {
      apiVersion: 'pgcdc/v1',
      kind: 'Stream',
      metadata: { name: 'orders' },
      spec: {
        source: { type: 'Postgres', postgres: { url: 'postgres://cdc@db/shop' } },
        target: { type: 'Kafka', kafka: { bootstrapServers: 'kafka:9092', connectTransforms: { transforms: 'unwrap', 'transforms.unwrap.type': UNWRAP, 'transforms.unwrap.drop.tombstones': 'maybe' } } },
      },
    };
    await expect(parseStreamConfig(JSON.stringify(spec), { env: {} })).rejects.toThrow('spec.target.kafka.connectTransforms["transforms.unwrap.drop.tombstones"] is "maybe"; expected true or false');
    const valid = { ...spec, spec: { ...spec.spec, target: { type: 'Kafka', kafka: { ...spec.spec.target.kafka, connectTransforms: { transforms: 'unwrap', 'transforms.unwrap.type': UNWRAP, 'transforms.unwrap.drop.tombstones': false } } } } };
    await expect(parseStreamConfig(JSON.stringify(valid), { env: {} })).resolves.toMatchObject({ target: { type: 'Kafka' } });
  });
});
