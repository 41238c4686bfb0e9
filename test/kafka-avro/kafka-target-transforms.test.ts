/**
 * Connect transforms on the Kafka target's records, before the converter, against a real
 * PostgreSQL, Kafka broker and schema registry: with ExtractNewRecordState ("unwrap", as Debezium
 * users configure it) the topic's values are the rows themselves, checked against the source's
 * `to_jsonb`, with JsonConverter (no schemas) and with Avro (decoded by the independent reader, the
 * value schema registered being the row's `Value` record, not the envelope).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { readAvroTopics, useSchemaRegistry } from '../support/schema-registry.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const UNWRAP = { transforms: 'unwrap', 'transforms.unwrap.type': 'io.debezium.transforms.ExtractNewRecordState' };

describe('Connect transforms on the Kafka target', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  const registry = useSchemaRegistry();

  it('unwraps change events to their rows before JsonConverter and before Avro', async () => {
    const url = await createDatabase(server(), 'unwrap');
    await sql(url, 'create table items (id int primary key, name text, qty int)');
    await sql(url, "insert into items select g, 'item ' || g, g * 10 from generate_series(1, 4) g");
    const stream = async (name: string, settings: Record<string, unknown>) => {
      const { specFile } = await targetStream({
        url,
        name,
        dir: tempDir(),
        source: { snapshotMode: 'initial' },
        target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: name, connectTransforms: UNWRAP, ...settings } },
      });
      const result = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
      expect(result.code, result.stderr).toBe(0);
      return specFile;
    };
    const jsonSpec = await stream('unwrapjson', { schemasEnable: false });
    const avroSpec = await stream('unwrapavro', { converter: 'avro', schemaRegistry: { url: registry().url } });
    await sql(url, "update items set qty = qty + 1 where id = 2; insert into items values (5, 'item 5', 50)");
    for (const spec of [jsonSpec, avroSpec]) {
      const result = await runCli(['run', '-c', spec, '--stop-at', 'now'], {}, 120_000);
      expect(result.code, result.stderr).toBe(0);
    }
    const rows = new Map((await sql(url, 'select id, to_jsonb(t) as row from items t')).rows.map((r) => [r.id as number, r.row]));

    const json = (await kafka().consume('unwrapjson\\.public\\.items', { expect: 6 })).map((record) => JSON.parse(record.value!));
    expect(json).toHaveLength(6);
    expect(new Map(json.map((value) => [value.id as number, value]))).toEqual(rows);

    const avro = await readAvroTopics(kafka().bootstrapServers, registry().url, 'unwrapavro\\.public\\.items', 6);
    expect(avro).toHaveLength(6);
    expect(new Map(avro.map((record) => [record.value.id as number, record.value]))).toEqual(rows);
    const schema = JSON.parse((await registry().schema('unwrapavro.public.items-value', 'latest')).schema);
    expect(schema).toMatchObject({ type: 'record', name: 'Value', namespace: 'unwrapavro.public.items', 'connect.name': 'unwrapavro.public.items.Value' });
    expect(schema.fields.map((field: { name: string }) => field.name)).toEqual(['id', 'name', 'qty']);
  }, 240_000);
});
