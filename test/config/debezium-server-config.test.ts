/**
 * Debezium Server's application.properties as a stream: `debezium.source.*` is the connector,
 * the kafka sink (producer brokers and the producer keys pgcdc has) and the http sink (the
 * CloudEvent target in binary mode: the change event JSON as the body), JSON formats only,
 * transforms passed to the connector; offset storage, Quarkus and other sinks' keys named in one
 * warning; other sinks, other formats and unknown keys refused, one line naming the key.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';

const SOURCE = [
  'debezium.source.connector.class=io.debezium.connector.postgresql.PostgresConnector',
  'debezium.source.offset.storage.file.filename=data/offsets.dat',
  'debezium.source.offset.flush.interval.ms=0',
  'debezium.source.database.hostname=db.example.com',
  'debezium.source.database.port=5432',
  'debezium.source.database.user=cdc',
  'debezium.source.database.password=secret',
  'debezium.source.database.dbname=shop',
  'debezium.source.topic.prefix=Shop_Server',
  'debezium.source.table.include.list=public.orders',
  'debezium.source.plugin.name=pgoutput',
  'debezium.source.slot.name=server_slot',
  'debezium.format.value=json',
  'debezium.format.key=json',
  'quarkus.log.console.json=false',
];
const KAFKA = [
  'debezium.sink.type=kafka',
  'debezium.sink.kafka.producer.bootstrap.servers=kafka-1:9092,kafka-2:9092',
  'debezium.sink.kafka.producer.key.serializer=org.apache.kafka.common.serialization.StringSerializer',
  'debezium.sink.kafka.producer.value.serializer=org.apache.kafka.common.serialization.StringSerializer',
  'debezium.sink.kafka.producer.acks=1',
  'debezium.sink.kafka.producer.compression.type=gzip',
  'debezium.sink.kafka.producer.linger.ms=20',
  'debezium.sink.kafka.producer.client.id=server-client',
  'debezium.sink.kafka.producer.request.timeout.ms=15000',
  'debezium.sink.kafka.producer.max.request.size=2097152',
  'debezium.sink.kafka.producer.buffer.memory=1000',
  'debezium.sink.http.url=http://unused',
];
const HTTP = ['debezium.sink.type=http', 'debezium.sink.http.url=http://hooks.example.com/cdc', 'debezium.sink.http.timeout.ms=5000', 'debezium.sink.http.retries=3', 'debezium.sink.http.retry.interval.ms=100'];

const load = (lines: readonly string[]) => parseStreamConfig(lines.join('\n'), { fileName: 'application.properties', env: {} });

describe('Debezium Server configurations', () => {
  it('maps the source and the kafka sink with its producer keys; names the rest in one warning', async () => {
    const config = await load([...SOURCE, ...KAFKA]);
    expect(config.name).toBe('shop-server');
    expect(config.source.connection).toMatchObject({ host: 'db.example.com', port: 5432, user: 'cdc', password: 'secret', database: 'shop' });
    expect(config.source).toMatchObject({ slotName: 'server_slot', includes: ['public.orders'] });
    expect(config.target).toMatchObject({
      type: 'Kafka',
      bootstrapServers: ['kafka-1:9092', 'kafka-2:9092'],
      topicPrefix: 'Shop_Server',
      acks: '1',
      compression: 'gzip',
      lingerMs: 20,
      clientId: 'server-client',
      requestTimeoutMs: 15000,
    });
    expect(config.warnings).toHaveLength(1);
    for (const key of ['offset.storage.file.filename', 'offset.flush.interval.ms', 'quarkus.log.console.json', 'producer.key.serializer', 'producer.buffer.memory', 'debezium.sink.http.url']) {
      expect(config.warnings[0]).toContain(key);
    }
  });

  it('maps the http sink to the CloudEvent target in binary mode', async () => {
    const config = await load([...SOURCE, ...HTTP]);
    expect(config.target).toMatchObject({ type: 'CloudEvent', mode: 'binary', url: 'http://hooks.example.com/cdc', readTimeoutMs: 5000, retryLimit: 3 });
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toContain('debezium.sink.http.retry.interval.ms');
    expect(config.warnings[0]).toContain('debezium.format.value.schemas.enable');
  });

  it('refuses other sinks, other formats, unknown keys (with the nearest name) and a missing URL', async () => {
    await expect(load([...SOURCE, 'debezium.sink.type=pulsar'])).rejects.toThrow(/Debezium Server's pulsar sink is not supported by pgcdc; pgcdc runs the kafka and http sinks/);
    await expect(load([...SOURCE, ...HTTP, 'debezium.format.value=avro'].filter((l) => l !== 'debezium.format.value=json'))).rejects.toThrow(/debezium\.format\.value is avro; pgcdc writes Debezium's JSON only/);
    await expect(load([...SOURCE, ...HTTP, 'debezium.source.slot.nme=x'])).rejects.toThrow(/slot\.nme is not a property.*did you mean slot\.name\?.*\(debezium\.source\.slot\.nme\)/);
    await expect(load([...SOURCE, ...HTTP, 'debezium.sink.http.ulr=x'])).rejects.toThrow(/debezium\.sink\.http\.ulr is not a key of Debezium Server's http sink pgcdc knows; did you mean debezium\.sink\.http\.url\?/);
    await expect(load([...SOURCE, ...HTTP, 'debezium.sinc.type=x'])).rejects.toThrow(/debezium\.sinc\.type is not a Debezium Server key pgcdc knows; did you mean debezium\.sink\.type\?/);
    await expect(load([...SOURCE, 'debezium.sink.type=http'])).rejects.toThrow(/debezium\.sink\.http\.url is missing/);
    // Debezium's value representations are the Kafka target's: the http sink writes to_jsonb's values (hstore's map is its object).
    await expect(load([...SOURCE, ...HTTP, 'debezium.source.decimal.handling.mode=string'])).rejects.toThrow(/debezium\.source\.decimal\.handling\.mode is set, but with the http sink pgcdc writes values as PostgreSQL's to_jsonb does/);
    expect((await load([...SOURCE, ...HTTP, 'debezium.source.hstore.handling.mode=map'])).target.type).toBe('CloudEvent');
    await expect(load([...SOURCE, 'debezium.sink.type=kafka'])).rejects.toThrow(/debezium\.sink\.kafka\.producer\.bootstrap\.servers is missing/);
  });
});
