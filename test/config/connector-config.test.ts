/**
 * Kafka Connect connector configurations turned into streams: the connection, prefix, filters,
 * converters and Debezium's properties (typed from Connect's strings) land in the loaded
 * StreamConfig; every bad configuration is a problem naming its property (unknown ones with the
 * nearest name, Avro without its registry, converters that disagree, no brokers); ignored ones are one warning.
 */
import { describe, expect, it } from 'vitest';
import { connectorStreamDocument, readConnectorDocument } from '../../src/config/connector-config.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { ChangeFilter } from '../../src/pipeline/change-filter.js';

const BASE = {
  'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
  'database.hostname': 'db.example.com',
  'database.port': '5433',
  'database.user': 'cdc',
  'database.password': 'p@ss${word}',
  'database.dbname': 'shop',
  'topic.prefix': 'shop',
};
const BROKERS = { kafkaBootstrapServers: 'kafka-1:9092,kafka-2:9092' };

async function load(config: Record<string, unknown>): Promise<StreamConfig> {
  const { document, problems } = connectorStreamDocument('orders', config, BROKERS);
  expect(problems).toEqual([]);
  return parseStreamConfig(JSON.stringify(document), { env: {} });
}

const problemsOf = (config: Record<string, unknown>, options = BROKERS) => connectorStreamDocument('orders', config, options).problems;

describe('connector configurations', () => {
  it('maps the connection, prefix, filters, converters and Debezium properties', async () => {
    const config = await load({
      ...BASE,
      'table.include.list': 'public.orders,public.items',
      'column.exclude.list': 'public.orders.secret',
      'slot.name': 'orders_slot',
      'snapshot.mode': 'no_data',
      'tombstones.on.delete': 'false',
      'slot.max.retries': 3,
      'skipped.operations': 'u,d',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter.schemas.enable': 'false',
      'key.converter.schemas.enable': false,
    });
    const { source, target } = config;
    expect(source.connection).toMatchObject({ host: 'db.example.com', port: 5433, user: 'cdc', password: 'p@ss${word}', database: 'shop' });
    expect(source.includes).toEqual(['public.orders', 'public.items']);
    expect(source.excludes).toEqual(['public.orders.secret']);
    expect(source).toMatchObject({ slotName: 'orders_slot', publicationName: 'dbz_publication', snapshotMode: 'no_data', tombstonesOnDelete: false, slotMaxRetries: 3, skippedOperations: ['u', 'd'] });
    expect(target).toMatchObject({ type: 'Kafka', bootstrapServers: ['kafka-1:9092', 'kafka-2:9092'], topicPrefix: 'shop', schemasEnable: false });
  });

  it("takes Debezium's defaults, the older database.server.name, and warns once about what does not apply", async () => {
    const { 'topic.prefix': _, ...withoutPrefix } = BASE;
    const { document, warnings } = connectorStreamDocument('orders', { ...withoutPrefix, 'database.server.name': 'pg_repl', 'tasks.max': '2', 'header.converter': 'x' }, BROKERS);
    const config = await parseStreamConfig(JSON.stringify(document), { env: {} });
    expect(config.source).toMatchObject({ slotName: 'debezium', publicationName: 'dbz_publication', skippedOperations: ['t'] });
    expect(config.target).toMatchObject({ topicPrefix: 'pg_repl', schemasEnable: true });
    // Debezium's value representations, with its default modes.
    expect(config.target).toMatchObject({ valueRepresentations: { decimal: 'precise', time: 'adaptive', binary: 'bytes', interval: 'numeric', hstore: 'json', moneyFractionDigits: 2 } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('tasks.max');
    expect(warnings[0]).toContain('header.converter');
  });

  it("maps Debezium's column rules whose property names carry the length, algorithm or salt", async () => {
    const rules = {
      'column.truncate.to.20.chars': 'public.orders.note,public.items.name',
      'column.mask.with.10.chars': 'public.orders.card',
      'column.mask.hash.SHA-256.with.salt.CzQMA0cB5K': 'public.orders.email',
      'column.mask.hash.v2.SHA-256.with.salt.s2': 'public.orders.phone',
    };
    const { document, problems } = connectorStreamDocument('orders', { ...BASE, ...rules }, BROKERS);
    expect(problems).toEqual([]);
    expect((document as { spec: { source: { postgres: { debeziumProperties: unknown } } } }).spec.source.postgres.debeziumProperties).toMatchObject({
      columnTruncateToLengthChars: ['20:public.orders.note', '20:public.items.name'],
      columnMaskWithLengthChars: ['10:public.orders.card'],
      columnMaskHash: { 'SHA-256': { CzQMA0cB5K: ['public.orders.email'] } },
      columnMaskHashV2: { 'SHA-256': { s2: ['public.orders.phone'] } },
    });
    const config = await parseStreamConfig(JSON.stringify(document), { env: {} });
    expect(JSON.stringify(config.source.columnMasks)).toContain('public.orders.phone');
    expect(problemsOf({ ...BASE, 'column.truncate.to.length.chars': 'public.orders.note' })[0]!.message).toContain('did you mean column.truncate.to.<length>.chars?');
  });

  it('captures the columns of column.include.list, within the tables the table and schema lists name', async () => {
    const captured = async (lists: Record<string, string>) => {
      const { source } = await load({ ...BASE, ...lists });
      const filter = new ChangeFilter(source.includes, source.excludes);
      const tables = (['public.orders', 'public.items', 'sales.orders'] as const).filter((name) => filter.includesTable(...(name.split('.') as [string, string]), ['id', 'note']));
      return tables.map((name) => `${name}(${['id', 'note'].filter((column) => filter.includesColumn(...(name.split('.') as [string, string]), column)).join(',')})`);
    };
    expect(await captured({ 'column.include.list': '.*\\.id' })).toEqual(['public.orders(id)', 'public.items(id)', 'sales.orders(id)']);
    expect(await captured({ 'table.include.list': 'public.orders,sales.orders', 'column.include.list': '.*\\.id,public\\.orders\\.note' })).toEqual(['public.orders(id,note)', 'sales.orders(id)']);
    expect(await captured({ 'schema.include.list': 'sales', 'column.include.list': '.*\\.note' })).toEqual(['sales.orders(note)']);
    expect(await captured({ 'table.include.list': 'public.items' })).toEqual(['public.items(id,note)']);
    expect(problemsOf({ ...BASE, 'column.include.list': 'public.orders.id', 'column.exclude.list': 'public.orders.note' }).map((p) => p.property)).toEqual(['column.include.list']);
  });

  it("maps Debezium's handling modes to the Kafka target's valueRepresentations, refusing a mode pgcdc does not write", async () => {
    const config = await load({
      ...BASE,
      'decimal.handling.mode': 'string',
      'time.precision.mode': 'connect',
      'binary.handling.mode': 'base64-url-safe',
      'interval.handling.mode': 'string',
      'hstore.handling.mode': 'map',
      'money.fraction.digits': '4',
    });
    expect(config.target).toMatchObject({ valueRepresentations: { decimal: 'string', time: 'connect', binary: 'base64-url-safe', interval: 'string', hstore: 'map', moneyFractionDigits: 4 } });
    expect(problemsOf({ ...BASE, 'time.precision.mode': 'isostring' })).toEqual([
      { property: 'time.precision.mode', message: 'time.precision.mode is "isostring", which pgcdc does not write; set it to one of: adaptive, adaptive_time_microseconds, connect' },
    ]);
    expect(problemsOf({ ...BASE, 'money.fraction.digits': 'two' })[0]!.property).toBe('money.fraction.digits');
  });

  it('passes tasks.max 1 silently', () => {
    expect(connectorStreamDocument('orders', { ...BASE, 'tasks.max': '1' }, BROKERS).warnings).toEqual([]);
  });

  it('names the property of each problem', () => {
    expect(problemsOf({ ...BASE, 'slot.nme': 'x' })).toEqual([{ property: 'slot.nme', message: expect.stringContaining('did you mean slot.name?') }]);
    expect(problemsOf({ ...BASE, 'value.converter': 'io.confluent.connect.avro.AvroConverter' })).toEqual([
      { property: 'value.converter', message: expect.stringContaining('make key.converter and value.converter the same') },
    ]);
    expect(problemsOf({ ...BASE, 'key.converter': 'io.apicurio.registry.utils.converter.AvroConverter' })[0]!.message).toContain('make key.converter and value.converter the same');
    const avro = { 'key.converter': 'io.confluent.connect.avro.AvroConverter', 'value.converter': 'io.confluent.connect.avro.AvroConverter' };
    expect(problemsOf({ ...BASE, ...avro })).toEqual([{ property: 'value.converter.schema.registry.url', message: expect.stringContaining('schema.registry.url is missing') }]);
    expect(problemsOf({ ...BASE, 'key.converter.schemas.enable': 'true', 'value.converter.schemas.enable': 'false' })[0]!.property).toBe('key.converter.schemas.enable');
    expect(problemsOf({ ...BASE, 'connector.class': 'io.debezium.connector.mysql.MySqlConnector' })[0]!.property).toBe('connector.class');
    expect(problemsOf({ ...BASE, 'database.port': 'abc' })[0]!.property).toBe('database.port');
    expect(problemsOf({ ...BASE }, {} as typeof BROKERS)[0]!.message).toContain('--kafka-bootstrap-servers');
    const { 'database.hostname': _, 'topic.prefix': __, ...missing } = BASE;
    expect(problemsOf(missing).map((p) => p.property).sort()).toEqual(['database.hostname', 'topic.prefix']);
  });

  it('leaves value errors to the stream schema, under the debeziumProperties name', async () => {
    const { document } = connectorStreamDocument('orders', { ...BASE, 'snapshot.mode': 'sometimes' }, BROKERS);
    await expect(parseStreamConfig(JSON.stringify(document), { env: {} })).rejects.toThrow(/snapshotMode/);
  });

  it('reads connector documents and nothing else', () => {
    expect(readConnectorDocument(JSON.stringify({ name: 'a', config: BASE }))).toEqual({ name: 'a', config: BASE });
    expect(readConnectorDocument(JSON.stringify({ apiVersion: 'pgcdc/v1', kind: 'Stream', name: 'a', config: {} }))).toBeUndefined();
    expect(readConnectorDocument('apiVersion: pgcdc/v1\nkind: Stream\n')).toBeUndefined();
    expect(readConnectorDocument('{not json')).toBeUndefined();
  });
});
