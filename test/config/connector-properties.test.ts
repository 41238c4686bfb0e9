/**
 * Debezium connector configurations in Java `.properties` files (and the JSON file of the guide
 * with `run -c`): java.util.Properties' rules (separators, comments, continuation lines, escapes),
 * every key mapped as in the JSON `config`, the brokers from the file or the option, the one
 * warning of what does not apply, an unknown key with its nearest name, and bad files.
 */
import { describe, expect, it } from 'vitest';
import { readPropertiesText } from '../../src/config/connector-properties.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';

const CONNECTOR = [
  '# the guide\'s connector, as a .properties file',
  'name=inventory-connector',
  'connector.class = io.debezium.connector.postgresql.PostgresConnector',
  'database.hostname: db.example.com',
  'database.port 5433',
  'database.user=cdc',
  'database.password=p\\u0040ss',
  'database.dbname=shop',
  '! an old-style comment',
  'topic.prefix=pg_repl',
  'table.include.list=public.orders,\\',
  '    public.items',
  'slot.name=orders_slot',
  'snapshot.mode=no_data',
  'tombstones.on.delete=false',
  'value.converter=org.apache.kafka.connect.json.JsonConverter',
  'value.converter.schemas.enable=false',
  'key.converter.schemas.enable=false',
].join('\n');

const load = (text: string, options: { fileName?: string; kafkaBootstrapServers?: string; env?: NodeJS.ProcessEnv } = {}) =>
  parseStreamConfig(text, { fileName: 'inventory.properties', env: {}, ...options });

describe('connector configurations in .properties files', () => {
  it('reads java.util.Properties syntax', () => {
    const { entries, problems } = readPropertiesText('a=1\nb : 2\nc 3\n# x=9\n! y=9\nd=one \\\n   two\ne\\u0041=\\t\\=x\nf\n');
    expect(Object.fromEntries([...entries].map(([key, entry]) => [key, entry.value]))).toEqual({ a: '1', b: '2', c: '3', d: 'one two', eA: '\t=x', f: '' });
    expect(entries.get('eA')!.line).toBe(8);
    expect(problems).toEqual([]);
  });

  it('maps every key as the JSON config does, with the brokers of --kafka-bootstrap-servers', async () => {
    const config = await load(CONNECTOR, { kafkaBootstrapServers: 'kafka-1:9092' });
    expect(config.name).toBe('inventory-connector');
    expect(config.source.connection).toMatchObject({ host: 'db.example.com', port: 5433, user: 'cdc', password: 'p@ss', database: 'shop' });
    expect(config.source.includes).toEqual(['public.orders', 'public.items']);
    expect(config.source).toMatchObject({ slotName: 'orders_slot', publicationName: 'dbz_publication', snapshotMode: 'no_data', tombstonesOnDelete: false });
    expect(config.target).toMatchObject({ type: 'Kafka', bootstrapServers: ['kafka-1:9092'], topicPrefix: 'pg_repl', schemasEnable: false });
    expect(config.warnings).toEqual([]);
  });

  it('takes the brokers from bootstrap.servers in the file, or PGCDC_KAFKA_BOOTSTRAP_SERVERS', async () => {
    expect((await load(`${CONNECTOR}\nbootstrap.servers=file-broker:9092`, { kafkaBootstrapServers: 'option:9092' })).target).toMatchObject({ bootstrapServers: ['file-broker:9092'] });
    expect((await load(CONNECTOR, { env: { PGCDC_KAFKA_BOOTSTRAP_SERVERS: 'env-broker:9092' } })).target).toMatchObject({ bootstrapServers: ['env-broker:9092'] });
    await expect(load(CONNECTOR)).rejects.toThrow(/no Kafka brokers.*--kafka-bootstrap-servers/);
  });

  it('reads the JSON connector file of the guide the same way', async () => {
    const json = JSON.stringify({ name: 'inventory-connector', config: Object.fromEntries([...readPropertiesText(CONNECTOR).entries].filter(([key]) => key !== 'name').map(([key, entry]) => [key, entry.value])) });
    const fromJson = await parseStreamConfig(json, { fileName: 'register-postgres.json', env: {}, kafkaBootstrapServers: 'kafka-1:9092' });
    const fromProperties = await load(CONNECTOR, { kafkaBootstrapServers: 'kafka-1:9092' });
    expect(fromJson.source).toEqual(fromProperties.source);
    expect(fromJson.target).toEqual(fromProperties.target);
  });

  it('names what does not apply in one warning', async () => {
    const config = await load(`${CONNECTOR}\ntasks.max=3\nheader.converter=x`, { kafkaBootstrapServers: 'k:9092' });
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toMatch(/tasks\.max.*header\.converter/);
  });

  it('rejects an unknown key with the nearest name, a missing name, a key given twice, and a file that is no connector', async () => {
    await expect(load(`${CONNECTOR}\nslot.nmae=x`, { kafkaBootstrapServers: 'k:9092' })).rejects.toThrow(/slot\.nmae is not a property.*did you mean slot\.name\?/);
    await expect(load(CONNECTOR.replace('name=inventory-connector', ''), { kafkaBootstrapServers: 'k:9092' })).rejects.toThrow(/name is missing: add name=/);
    await expect(load(`${CONNECTOR}\nslot.name=again`, { kafkaBootstrapServers: 'k:9092' })).rejects.toThrow(/slot\.name is set twice \(lines 13 and 19\)/);
    await expect(load('just=some\nother=keys\n')).rejects.toThrow(/inventory\.properties is a \.properties file but neither a connector configuration/);
  });
});
