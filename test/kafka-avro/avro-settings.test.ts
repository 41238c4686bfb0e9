/**
 * Avro settings: Connect's AvroConverter properties (Confluent's and Apicurio's) of a connector
 * configuration and the native `converter: avro` + `schemaRegistry` land in the Kafka target's
 * config; a missing or bad registry is one problem naming its property.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectorStreamDocument } from '../../src/config/connector-config.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { KafkaTargetConfig } from '../../src/config/stream-config.js';
import { tempDir } from '../support/stream-fixtures.js';

const BASE = {
  'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
  'database.hostname': 'db.example.com',
  'database.user': 'cdc',
  'database.password': 'secret',
  'database.dbname': 'shop',
  'topic.prefix': 'shop',
};
const BROKERS = { kafkaBootstrapServers: 'kafka:9092' };
const CONFLUENT = 'io.confluent.connect.avro.AvroConverter';
const APICURIO = 'io.apicurio.registry.utils.converter.AvroConverter';

async function converterOf(config: Record<string, unknown>): Promise<KafkaTargetConfig['converter']> {
  const { document, problems, warnings } = connectorStreamDocument('orders', config, BROKERS);
  expect(problems).toEqual([]);
  expect(warnings).toEqual([]);
  return ((await parseStreamConfig(JSON.stringify(document), { env: {} })).target as KafkaTargetConfig).converter;
}

describe('Avro settings', () => {
  it("maps Confluent's AvroConverter with its registry URL and USER_INFO credentials; schemas.enable does not apply", async () => {
    const both = (property: string, value: string) => ({ [`key.converter.${property}`]: value, [`value.converter.${property}`]: value });
    expect(
      await converterOf({ ...BASE, 'key.converter': CONFLUENT, 'value.converter': CONFLUENT, ...both('schema.registry.url', 'http://registry:8081'), 'value.converter.schemas.enable': 'false' }),
    ).toEqual({ kind: 'avro', schemaRegistry: { url: 'http://registry:8081', basicAuth: undefined, autoRegister: true } });
    expect(
      await converterOf({
        ...BASE,
        'key.converter': CONFLUENT,
        'value.converter': CONFLUENT,
        ...both('schema.registry.url', 'https://registry.example.com/'),
        ...both('basic.auth.credentials.source', 'USER_INFO'),
        ...both('basic.auth.user.info', 'alice:s3cr:et'),
        'value.converter.auto.register.schemas': 'false',
      }),
    ).toEqual({ kind: 'avro', schemaRegistry: { url: 'https://alice:s3cr%3Aet@registry.example.com', basicAuth: undefined, autoRegister: false } });
  });

  it("maps Apicurio's AvroConverter to its registry's Confluent-compatible API", async () => {
    expect(
      await converterOf({
        ...BASE,
        'key.converter': APICURIO,
        'value.converter': APICURIO,
        'key.converter.apicurio.registry.url': 'http://apicurio:8080/apis/registry/v2',
        'value.converter.apicurio.registry.url': 'http://apicurio:8080/apis/registry/v2',
        'value.converter.apicurio.registry.auto-register': 'true',
      }),
    ).toEqual({ kind: 'avro', schemaRegistry: { url: 'http://apicurio:8080/apis/ccompat/v6', basicAuth: undefined, autoRegister: true } });
  });

  it('names the property of each problem', () => {
    const problemsOf = (config: Record<string, unknown>) => connectorStreamDocument('orders', { ...BASE, ...config }, BROKERS).problems;
    expect(problemsOf({ 'key.converter': CONFLUENT, 'value.converter': CONFLUENT, 'value.converter.schema.registry.url': 'http://r:8081' })).toEqual([
      { property: 'key.converter.schema.registry.url', message: expect.stringContaining('key.converter.schema.registry.url is missing') },
    ]);
    expect(problemsOf({ 'key.converter': CONFLUENT, 'value.converter': CONFLUENT, 'key.converter.schema.registry.url': 'ftp://r', 'value.converter.schema.registry.url': 'ftp://r' })).toEqual([
      { property: 'value.converter.schema.registry.url', message: 'value.converter.schema.registry.url is ftp://r, not an http(s) URL' },
    ]);
    expect(
      problemsOf({ 'key.converter': CONFLUENT, 'value.converter': CONFLUENT, 'key.converter.schema.registry.url': 'http://r', 'value.converter.schema.registry.url': 'http://r', 'value.converter.basic.auth.user.info': 'a:b' }),
    ).toEqual([{ property: 'value.converter.basic.auth.credentials.source', message: expect.stringContaining('set it to USER_INFO') }]);
    expect(problemsOf({ 'value.converter': 'io.confluent.connect.protobuf.ProtobufConverter' })[0]!.property).toBe('value.converter');
  });

  it('loads converter: avro with a schemaRegistry whose password is a secret reference, and refuses avro without a registry', async () => {
    const dir = tempDir('pgcdc-avro-settings-');
    const secrets = path.join(dir, 'secrets');
    fs.mkdirSync(path.join(secrets, 'registry'), { recursive: true });
    fs.writeFileSync(path.join(secrets, 'registry', 'password'), 'pw');
    const spec = (kafka: Record<string, unknown>) =>
      JSON.stringify({
        apiVersion: 'pgcdc/v1',
        kind: 'Stream',
        metadata: { name: 'avro' },
        spec: { source: { type: 'Postgres', postgres: { url: 'postgres://u:p@db/shop' } }, target: { type: 'Kafka', kafka: { bootstrapServers: 'kafka:9092', ...kafka } } },
      });
    const config = await parseStreamConfig(spec({ converter: 'avro', schemaRegistry: { url: 'http://registry:8081', basicAuth: { username: 'alice', password: { name: 'registry', key: 'password' } } } }), { env: {}, cwd: dir, secretsDir: secrets });
    expect((config.target as KafkaTargetConfig).converter).toEqual({ kind: 'avro', schemaRegistry: { url: 'http://registry:8081', basicAuth: { username: 'alice', password: 'pw' }, autoRegister: true } });
    await expect(parseStreamConfig(spec({ converter: 'avro' }), { env: {}, cwd: dir })).rejects.toThrow(/spec\.target\.kafka\.schemaRegistry.*is missing, but converter avro needs a schema registry/);
  });
});
