/**
 * Other tools' configuration files run as they are with `pgcdc run -c FILE`, end to end against a
 * real PostgreSQL, a real Kafka broker and a local HTTP receiver: a Debezium connector in a
 * .properties file, the guide's register-postgres.json (brokers from --kafka-bootstrap-servers),
 * Debezium Server's application.properties with the http sink, pgstream's .env (Kafka writer, one
 * topic) and pgstream's YAML (Postgres writer). Each run takes the snapshot, a second one the
 * changes made since (`--stop-at now`); the events rebuild a table equal to the source's rows as
 * to_jsonb gives them. `validate -c` of a .properties file prints its one warning.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { rebuildFromEvents, sourceRows } from '../support/rebuild.js';
import { tempDir } from '../support/stream-fixtures.js';

describe('other tools\' configuration files with pgcdc run -c', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  const receivers: CloudEventReceiver[] = [];
  afterAll(async () => {
    for (const receiver of receivers) await receiver.stop();
  });

  /** A database with table1 holding rows, and the parts of its URL. */
  async function database(prefix: string) {
    const url = await createDatabase(server(), prefix);
    await sql(url, 'create table table1 (id int primary key, v text, n numeric(8,2))');
    await sql(url, "insert into table1 select g, 'v' || g, g * 1.5 from generate_series(1, 5) g");
    const parsed = new URL(url);
    return { url, host: parsed.hostname, port: parsed.port, user: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password), dbname: parsed.pathname.slice(1) };
  }
  const changeRows = (url: string) =>
    sql(url, "insert into table1 values (6, 'six', 9), (7, 'seven', 10.5); update table1 set v = 'changed' where id = 2; delete from table1 where id = 3");

  /** Runs `pgcdc run -c file --stop-at now` twice: the snapshot, then the changes made meanwhile. */
  async function runTwice(file: string, url: string, extra: readonly string[] = []): Promise<void> {
    for (const step of ['snapshot', 'changes'] as const) {
      if (step === 'changes') await changeRows(url);
      const result = await runCli(['run', '-c', file, '--stop-at', 'now', ...extra], {}, 120_000);
      expect(result.code, `${step}: ${result.stderr}`).toBe(0);
    }
  }
  /** Connect's Decimal of scale 2 (base64 of the unscaled big-endian two's complement bytes) as a number. */
  const decimalOfScale2 = (base64: string | null): number | null => {
    if (base64 === null) return null;
    const bytes = Buffer.from(base64, 'base64');
    let unscaled = 0n;
    for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
    if (bytes[0]! & 0x80) unscaled -= 1n << BigInt(bytes.length * 8);
    return Number(unscaled) / 100;
  };
  /** A change event with table1's `n` read from its Decimal. */
  const decimalsRead = (event: any) => ({
    ...event,
    before: event.before && { ...event.before, n: decimalOfScale2(event.before.n) },
    after: event.after && { ...event.after, n: decimalOfScale2(event.after.n) },
  });
  const kafkaEvents = async (topicRegex: string, count: number) =>
    (await kafka().consume(topicRegex, { expect: count, timeoutMs: 60_000 })).filter((record) => record.value !== null).map((record) => JSON.parse(record.value!));

  it('runs a Debezium connector .properties file and the guide\'s register-postgres.json on Kafka', async () => {
    const db = await database('props');
    const dir = tempDir('pgcdc-props-');
    const properties = path.join(dir, 'inventory.properties');
    fs.writeFileSync(
      properties,
      [
        'name=inventory-connector',
        'connector.class=io.debezium.connector.postgresql.PostgresConnector',
        `database.hostname=${db.host}`,
        `database.port=${db.port}`,
        `database.user=${db.user}`,
        `database.password=${db.password.replaceAll('\\', '\\\\')}`,
        `database.dbname=${db.dbname}`,
        'topic.prefix=props',
        'table.include.list=public.table1',
        'slot.name=props_slot',
        'value.converter.schemas.enable=false',
        'key.converter.schemas.enable=false',
        `bootstrap.servers=${kafka().bootstrapServers}`,
        'tasks.max=2',
      ].join('\n'),
    );
    const validated = await runCli(['validate', '-c', properties]);
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout + validated.stderr).toContain('tasks.max');

    const json = path.join(dir, 'register-postgres.json');
    fs.writeFileSync(
      json,
      JSON.stringify({
        name: 'guide-connector',
        config: {
          'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
          'plugin.name': 'pgoutput',
          'database.hostname': db.host,
          'database.port': db.port,
          'database.user': db.user,
          'database.password': db.password,
          'database.dbname': db.dbname,
          'database.server.name': 'pg_repl',
          'table.include.list': 'public.table1',
          'slot.name': 'guide_slot',
          'publication.name': 'guide_publication',
          'publication.autocreate.mode': 'filtered',
          'value.converter.schemas.enable': 'false',
          'key.converter.schemas.enable': 'false',
        },
      }),
    );
    // Both streams read the same changes, each through its own slot.
    for (const step of ['snapshot', 'changes'] as const) {
      if (step === 'changes') await changeRows(db.url);
      for (const [file, extra] of [[properties, []], [json, ['--kafka-bootstrap-servers', kafka().bootstrapServers]]] as const) {
        const result = await runCli(['run', '-c', file, '--stop-at', 'now', ...extra], {}, 120_000);
        expect(result.code, `${file} ${step}: ${result.stderr}`).toBe(0);
      }
    }
    const expected = await sourceRows(db.url, 'table1');
    // A connector configuration gets Debezium's representations: numeric(8,2) as Connect's Decimal.
    expect(rebuildFromEvents((await kafkaEvents('props\\.public\\.table1', 10)).map(decimalsRead), 'table1')).toEqual(expected);
    expect(rebuildFromEvents((await kafkaEvents('pg_repl\\.public\\.table1', 10)).map(decimalsRead), 'table1')).toEqual(expected);
  }, 240_000);

  it("runs Debezium Server's application.properties with the http sink: each change event POSTed as JSON", async () => {
    const db = await database('dbzserver');
    const receiver = await CloudEventReceiver.start();
    receivers.push(receiver);
    const file = path.join(tempDir('pgcdc-dbzserver-'), 'application.properties');
    fs.writeFileSync(
      file,
      [
        'debezium.sink.type=http',
        `debezium.sink.http.url=${receiver.url}`,
        'debezium.sink.http.timeout.ms=10000',
        'debezium.source.connector.class=io.debezium.connector.postgresql.PostgresConnector',
        'debezium.source.offset.storage.file.filename=data/offsets.dat',
        'debezium.source.offset.flush.interval.ms=0',
        `debezium.source.database.hostname=${db.host}`,
        `debezium.source.database.port=${db.port}`,
        `debezium.source.database.user=${db.user}`,
        `debezium.source.database.password=${db.password.replaceAll('\\', '\\\\')}`,
        `debezium.source.database.dbname=${db.dbname}`,
        'debezium.source.topic.prefix=tutorial',
        'debezium.source.table.include.list=public.table1',
        'debezium.format.value=json',
        'debezium.format.value.schemas.enable=false',
        'quarkus.log.console.json=false',
      ].join('\n'),
    );
    await runTwice(file, db.url);
    const events = receiver.requests.map((request) => JSON.parse(request.body));
    expect(receiver.requests.every((request) => request.contentType === 'application/json')).toBe(true);
    expect(events.every((event) => event.source.name === 'tutorial' && event.source.table === 'table1')).toBe(true);
    // The events of one row arrive in order (never two of a row in flight together).
    expect(rebuildFromEvents(events, 'table1')).toEqual(await sourceRows(db.url, 'table1'));
  }, 240_000);

  it("runs pgstream's .env (Kafka writer, one topic) and YAML (Postgres writer)", async () => {
    const db = await database('pgstream');
    const dir = tempDir('pgcdc-pgstream-');
    const envFile = path.join(dir, 'pg2kafka.env');
    fs.writeFileSync(
      envFile,
      [
        `PGSTREAM_POSTGRES_LISTENER_URL="${db.url}"`,
        'PGSTREAM_POSTGRES_REPLICATION_SLOT_NAME=pgstream_slot',
        'PGSTREAM_POSTGRES_SNAPSHOT_TABLES="table1"',
        'PGSTREAM_FILTER_INCLUDE_TABLES="public.*"',
        `PGSTREAM_KAFKA_WRITER_SERVERS="${kafka().bootstrapServers}"`,
        'PGSTREAM_KAFKA_TOPIC_NAME=pgstream',
        'PGSTREAM_KAFKA_TOPIC_AUTO_CREATE=true',
        'PGSTREAM_KAFKA_WRITER_BATCH_TIMEOUT=5ms',
      ].join('\n'),
    );
    const target = await createDatabase(server(), 'pgstreamtarget');
    const yamlFile = path.join(dir, 'pg2pg.yaml');
    fs.writeFileSync(
      yamlFile,
      [
        'source:',
        '  postgres:',
        `    url: "${db.url}"`,
        '    mode: snapshot_and_replication',
        '    snapshot:',
        '      tables: ["*"]',
        '    replication:',
        '      replication_slot: pgstream_pg2pg_slot',
        'target:',
        '  postgres:',
        `    url: "${target}"`,
        '    on_conflict_action: update',
      ].join('\n'),
    );
    for (const step of ['snapshot', 'changes'] as const) {
      if (step === 'changes') await changeRows(db.url);
      for (const file of [envFile, yamlFile]) {
        const result = await runCli(['run', '-c', file, '--stop-at', 'now'], {}, 120_000);
        expect(result.code, `${file} ${step}: ${result.stderr}`).toBe(0);
      }
    }
    const expected = await sourceRows(db.url, 'table1');
    expect(rebuildFromEvents(await kafkaEvents('pgstream', 10), 'table1')).toEqual(expected);
    expect(await sourceRows(target, 'table1')).toEqual(expected);
  }, 240_000);
});
