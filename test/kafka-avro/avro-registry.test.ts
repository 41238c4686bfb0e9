/**
 * Avro with a schema registry on the Kafka target, against a real PostgreSQL, a real Kafka broker and
 * a real registry (Apicurio Registry, Confluent-compatible API). Records are read back by an
 * independent reader (test/jvm/AvroTopicDump.java: Kafka's Java consumer, Apache Avro's Java
 * library, writer schemas fetched by id from the registry). The Debezium guide's sequence with
 * AvroConverter POSTed to `pgcdc serve` (rows compared with the source's `to_jsonb`), the schemas
 * against AvroData's rules, ADD COLUMN registering version 2 under BACKWARD compatibility; the Avro
 * schemas derived from Debezium's own Connect schemas (every built-in column type) equal, text for
 * text, to those Apicurio's AvroConverter (its port of AvroData) registers for Debezium; a native
 * stream with `converter: avro` over every built-in column type (decoded values equal to what the
 * JSON converter writes for the same rows); and a type change refused under FULL compatibility: one
 * line naming the subject, nothing acknowledged past it.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avroSchemaOf } from '../../src/targets/records/avro-schema.js';
import type { ConnectSchema } from '../../src/targets/records/connect-record.js';
import { BUILTIN_TYPE_GROUPS, valueSql } from '../decoding/builtin-type-values.js';
import { runCli } from '../support/cli.js';
import { type DebeziumConnect, startDebeziumConnect } from '../support/debezium-connect.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { readAvroTopics, useSchemaRegistry } from '../support/schema-registry.js';
import { connectorDatabaseProperties, type Served, startServe } from '../support/serve-process.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const CONNECTOR = 'inventory-connector';
const TOPIC = 'pg_repl.public.table1';
const AVRO_CONVERTER = 'io.confluent.connect.avro.AvroConverter';
/** Apicurio's AvroConverter (its port of Confluent's AvroData), a Connect plugin directory (test/jvm/apicurio-converter). */
const APICURIO_CONVERTER_DIR = path.resolve('.jvm/apicurio-converter');

/** `schema` with each name of `references` (full name → schema) replaced by its schema where first met. */
function inlineReferences(schema: unknown, references: ReadonlyMap<string, unknown>, defined = new Set<string>()): unknown {
  if (typeof schema === 'string') {
    if (!references.has(schema) || defined.has(schema)) return schema;
    defined.add(schema);
    return inlineReferences(references.get(schema), references, defined);
  }
  if (Array.isArray(schema)) return schema.map((branch) => inlineReferences(branch, references, defined));
  if (schema === null || typeof schema !== 'object') return schema;
  const object = schema as Record<string, unknown>;
  if (object.type === 'record') defined.add(object.namespace === undefined ? String(object.name) : `${String(object.namespace)}.${String(object.name)}`);
  return Object.fromEntries(
    Object.entries(object).map(([member, value]) => {
      if (member === 'fields') return [member, (value as Record<string, unknown>[]).map((field) => ({ ...field, type: inlineReferences(field.type, references, defined) }))];
      if (member === 'type' || member === 'items' || member === 'values') return [member, inlineReferences(value, references, defined)];
      return [member, value];
    }),
  );
}

describe('Avro with a schema registry', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  const registry = useSchemaRegistry();

  describe('the Debezium guide with AvroConverter on pgcdc serve', () => {
    let url: string;
    let serve: Served;

    beforeAll(async () => {
      url = await createDatabase(server(), 'guide');
      await sql(url, 'create table table1 (id int primary key, v text)');
      await sql(url, "insert into table1 select g, 'v' || g from generate_series(1, 5) g");
      serve = await startServe(tempDir('pgcdc-avro-serve-'), ['--kafka-bootstrap-servers', kafka().bootstrapServers]);
    }, 120_000);

    afterAll(async () => {
      if (serve && serve.program.child.exitCode === null) {
        serve.program.child.kill('SIGKILL');
        await serve.program.finished();
      }
    });

    const post = async (route: string, body: unknown): Promise<{ status: number; body: any }> => {
      const response = await fetch(`${serve.origin}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json() };
    };
    const state = async (): Promise<string | undefined> => {
      const response = await fetch(`${serve.origin}/connectors/${CONNECTOR}/status`);
      return response.ok ? ((await response.json()) as any).connector.state : undefined;
    };
    /** The source's rows as to_jsonb renders them, by id. */
    const sourceRows = async (): Promise<Map<number, unknown>> => new Map((await sql(url, 'select id, to_jsonb(t) as row from table1 t')).rows.map((r) => [r.id as number, r.row]));

    it('registers the connector, writes snapshot rows then changes in the Confluent wire format, schemas as AvroData derives them', async () => {
      // register-postgres.json of the guide, host, port and password adapted.
      const registration = {
        name: CONNECTOR,
        config: {
          'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
          'plugin.name': 'pgoutput',
          ...connectorDatabaseProperties(url),
          'database.server.name': 'pg_repl',
          'table.include.list': 'public.table1',
          'publication.autocreate.mode': 'filtered',
          'key.converter': AVRO_CONVERTER,
          'value.converter': AVRO_CONVERTER,
          'key.converter.schema.registry.url': registry().url,
          'value.converter.schema.registry.url': registry().url,
          'value.converter.schemas.enable': false,
        },
      };
      const created = await post('/connectors/', registration);
      expect(created.status).toBe(201);
      await waitFor(async () => ((await state()) === 'RUNNING' ? true : undefined), 60_000, 'the connector to be RUNNING');
      await sql(url, "insert into table1 values (6, 'six'), (7, null)");
      await sql(url, "update table1 set v = 'one' where id = 1");

      const records = await readAvroTopics(kafka().bootstrapServers, registry().url, TOPIC.replaceAll('.', '\\.'), 8).catch((error: Error) => {
        throw new Error(`${error.message}\npgcdc serve's output:\n${serve.program.output().stderr.slice(-3000)}`);
      });
      expect(records.slice(0, 5).map((r) => [r.value.op, r.key.id])).toEqual([1, 2, 3, 4, 5].map((id) => ['r', id]));
      expect(records.slice(5).map((r) => [r.value.op, r.key.id])).toEqual([['c', 6], ['c', 7], ['u', 1]]);
      const rows = await sourceRows();
      const last = new Map(records.map((r) => [r.key.id as number, r.value.after]));
      expect(last).toEqual(rows);
      expect(records[7]!.value.before).toBeNull(); // replica identity default: no old row
      expect(records[0]!.value.source).toMatchObject({ connector: 'postgresql', name: 'pg_repl', schema: 'public', table: 'table1', snapshot: 'first' });

      // One schema per subject, every record naming it.
      expect(await registry().subjects()).toEqual([`${TOPIC}-key`, `${TOPIC}-value`]);
      const key = await registry().schema(`${TOPIC}-key`, 'latest');
      const value = await registry().schema(`${TOPIC}-value`, 'latest');
      expect(new Set(records.map((r) => `${r.keySchemaId}/${r.valueSchemaId}`))).toEqual(new Set([`${key.id}/${value.id}`]));
      // AvroData: a struct is a record named by its Connect name split at the last dot, connect.name
      // after the fields; a required int32 is "int"; an optional field is ["null", T] with default null.
      expect(JSON.parse(key.schema)).toEqual({
        type: 'record',
        name: 'Key',
        namespace: TOPIC,
        fields: [{ name: 'id', type: 'int' }],
        'connect.name': `${TOPIC}.Key`,
      });
      const envelope = JSON.parse(value.schema);
      expect(Object.keys(envelope)).toEqual(['type', 'name', 'namespace', 'fields', 'connect.version', 'connect.name']);
      expect(envelope).toMatchObject({ type: 'record', name: 'Envelope', namespace: TOPIC, 'connect.version': 2, 'connect.name': `${TOPIC}.Envelope` });
      const field = (name: string) => envelope.fields.find((f: any) => f.name === name);
      expect(field('before')).toEqual({
        name: 'before',
        type: ['null', { type: 'record', name: 'Value', fields: [{ name: 'id', type: 'int' }, { name: 'v', type: ['null', 'string'], default: null }], 'connect.name': `${TOPIC}.Value` }],
        default: null,
      });
      // The same record again: by name.
      expect(field('after')).toEqual({ name: 'after', type: ['null', 'Value'], default: null });
      expect(field('op')).toEqual({ name: 'op', type: 'string' });
      expect(field('ts_ms')).toEqual({ name: 'ts_ms', type: ['null', 'long'], default: null });
      const source = field('source').type;
      expect(source).toMatchObject({ type: 'record', name: 'Source', namespace: 'io.debezium.connector.postgresql', 'connect.version': 1, 'connect.name': 'io.debezium.connector.postgresql.Source' });
      // A field with a default: [T, "null"] with that default; the Enum's metadata in AvroData's order.
      expect(source.fields.find((f: any) => f.name === 'snapshot')).toEqual({
        name: 'snapshot',
        type: [
          {
            type: 'string',
            'connect.version': 1,
            'connect.parameters': { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' },
            'connect.default': 'false',
            'connect.name': 'io.debezium.data.Enum',
          },
          'null',
        ],
        default: 'false',
      });
      expect(field('transaction').type).toEqual([
        'null',
        {
          type: 'record',
          name: 'block',
          namespace: 'event',
          fields: [{ name: 'id', type: 'string' }, { name: 'total_order', type: 'long' }, { name: 'data_collection_order', type: 'long' }],
          'connect.version': 1,
          'connect.name': 'event.block',
        },
      ]);
    }, 240_000);

    it('registers version 2 of the value schema at ADD COLUMN, accepted under BACKWARD compatibility', async () => {
      await registry().setCompatibility(`${TOPIC}-value`, 'BACKWARD');
      await sql(url, 'alter table table1 add column w int');
      await sql(url, "insert into table1 values (8, 'eight', 80)");
      const records = await readAvroTopics(kafka().bootstrapServers, registry().url, TOPIC.replaceAll('.', '\\.'), 9);
      expect(records).toHaveLength(9);
      const added = records[8]!;
      expect(added.value.after).toEqual({ id: 8, v: 'eight', w: 80 });
      expect(await registry().versions(`${TOPIC}-value`)).toEqual([1, 2]);
      expect(await registry().versions(`${TOPIC}-key`)).toEqual([1]);
      const second = await registry().schema(`${TOPIC}-value`, 2);
      expect(added.valueSchemaId).toBe(second.id);
      expect(records[7]!.valueSchemaId).not.toBe(second.id);
      const value = JSON.parse(second.schema).fields.find((f: any) => f.name === 'before').type[1];
      expect(value.fields.at(-1)).toEqual({ name: 'w', type: ['null', 'int'], default: null });
      expect(await state()).toBe('RUNNING');
    }, 180_000);
  });

  it('writes every built-in column type as a native stream with converter: avro, decoded to what the JSON converter writes', async () => {
    const url = await createDatabase(server(), 'avrotypes');
    const major = server().major;
    const groups = BUILTIN_TYPE_GROUPS.filter((group) => (group.since ?? 0) <= major);
    const column = (i: number) => `c${String(i).padStart(2, '0')}_${groups[i]!.type.replace(/[^a-z0-9]+/gi, '_').replace(/_+$/, '').toLowerCase()}`;
    await sql(url, `create table corpus (id int primary key, ${groups.map((group, i) => `${column(i)} ${group.type}`).join(', ')}, small smallint not null default 1)`);
    const rows = Math.max(...groups.map((group) => group.values.length));
    await sql(url, `insert into corpus values ${Array.from({ length: rows }, (_, r) => `(${r + 1}, ${groups.map((group) => (r < group.values.length ? valueSql(group, group.values[r]!) : 'null')).join(', ')}, ${r})`).join(', ')}`);

    const stream = async (name: string, kafkaSettings: Record<string, unknown>) => {
      const { specFile } = await targetStream({
        url,
        name,
        dir: tempDir(),
        source: { snapshotMode: 'initial' },
        target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: name, ...kafkaSettings } },
      });
      const result = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
      expect(result.code, result.stderr).toBe(0);
    };
    await stream('typesjson', { schemasEnable: true });
    await stream('typesavro', { converter: 'avro', schemaRegistry: { url: registry().url } });

    const json = (await kafka().consume('typesjson\\.public\\.corpus', { expect: rows, timeoutMs: 60_000 })).map((record) => JSON.parse(record.value!));
    const avro = await readAvroTopics(kafka().bootstrapServers, registry().url, 'typesavro\\.public\\.corpus', rows);
    expect(avro).toHaveLength(rows);
    // Bytes: JsonConverter's base64, Avro's GenericData JSON a string of code points 0-255.
    const afterSchema = json[0].schema.fields.find((f: any) => f.field === 'after');
    const bytesFields = new Set(afterSchema.fields.filter((f: any) => f.type === 'bytes').map((f: any) => f.field as string));
    const normalisedBytes = (after: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(after).map(([name, v]) => [name, bytesFields.has(name) && typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : v]));
    // float32: the shortest text differs between JavaScript and Java (1e-45 and 1.4E-45), not the value.
    const floatFields = new Set(afterSchema.fields.filter((f: any) => f.type === 'float').map((f: any) => f.field as string));
    const float32 = (after: Record<string, unknown>) => Object.fromEntries(Object.entries(after).map(([name, v]) => [name, floatFields.has(name) && typeof v === 'number' ? Math.fround(v) : v]));
    const jsonById = new Map(json.map((v) => [v.payload.after.id, float32(normalisedBytes(v.payload.after))]));
    for (const record of avro) expect(float32(record.value.after), `row ${record.key.id}`).toEqual(jsonById.get(record.key.id));

    // AvroData's primitive rules on this table's Value record.
    const valueSchema = JSON.parse((await registry().schema('typesavro.public.corpus-value', 'latest')).schema);
    const valueFields = valueSchema.fields.find((f: any) => f.name === 'before').type[1].fields;
    const typeOf = (name: string) => valueFields.find((f: any) => f.name === name);
    expect(typeOf('small')).toEqual({ name: 'small', type: { type: 'int', 'connect.type': 'int16' } });
    expect(typeOf('id')).toEqual({ name: 'id', type: 'int' });
    const byColumnType = (type: string) => typeOf(column(groups.findIndex((group) => group.type === type)));
    expect(byColumnType('int2')?.type).toEqual(['null', { type: 'int', 'connect.type': 'int16' }]);
    expect(byColumnType('int8')?.type).toEqual(['null', 'long']);
    expect(byColumnType('float4')?.type).toEqual(['null', 'float']);
    expect(byColumnType('float8')?.type).toEqual(['null', 'double']);
    expect(byColumnType('bool')?.type).toEqual(['null', 'boolean']);
    expect(byColumnType('text')?.type).toEqual(['null', 'string']);
    expect(byColumnType('uuid')?.type).toEqual(['null', { type: 'string', 'connect.version': 1, 'connect.name': 'io.debezium.data.Uuid' }]);
    expect(byColumnType('timestamptz')?.type).toEqual(['null', { type: 'string', 'connect.version': 1, 'connect.name': 'io.debezium.time.ZonedTimestamp' }]);
  }, 300_000);

  it("writes Debezium's value representations (valueRepresentations) with converter: avro, decoded to what the JSON converter writes", async () => {
    const url = await createDatabase(server(), 'avroreps');
    await sql(
      url,
      `create extension if not exists hstore;
       create table reps (id int primary key, n numeric(10,2), nv numeric, m money, d date, t3 time(3), t6 time(6), ts3 timestamp(3), ts6 timestamp(6), iv interval, b bytea, h hstore);
       insert into reps values
         (1, 1234.5, 1.500, 12.34, '2024-02-29', '10:20:30.123', '23:59:59.999999', '2024-01-15 10:20:30.123', '2024-01-15 10:20:30.123456', '1 year 2 mons 3 days 04:05:06.789', '\\x00ff10', 'a=>1, b=>NULL'),
         (2, -0.01, -123456789012345678901234567890.5, -1234.56, '0044-03-15 BC', '24:00:00', '00:00:00', '1900-01-01 00:00:00', '1969-12-31 23:59:59.999999', '-1 days -02:00:00', '\\x', ''),
         (3, null, null, null, null, null, null, null, null, null, null, null)`,
    );
    const stream = async (name: string, kafkaSettings: Record<string, unknown>) => {
      const { specFile } = await targetStream({
        url,
        name,
        dir: tempDir(),
        source: { snapshotMode: 'initial' },
        target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: name, valueRepresentations: {}, ...kafkaSettings } },
      });
      const result = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
      expect(result.code, result.stderr).toBe(0);
    };
    await stream('repsjson', { schemasEnable: true });
    await stream('repsavro', { converter: 'avro', schemaRegistry: { url: registry().url } });
    const json = (await kafka().consume('repsjson\\.public\\.reps', { expect: 3, timeoutMs: 60_000 })).map((record) => JSON.parse(record.value!));
    const avro = await readAvroTopics(kafka().bootstrapServers, registry().url, 'repsavro\\.public\\.reps', 3);
    expect(avro).toHaveLength(3);
    // Bytes (Decimal, VariableScaleDecimal's value, bytea): JsonConverter's base64, Avro's GenericData JSON a string of code points 0-255.
    const latin1 = (base64: unknown) => (typeof base64 === 'string' ? Buffer.from(base64, 'base64').toString('latin1') : base64);
    const decoded = (after: Record<string, any>) => ({
      ...after,
      n: latin1(after.n),
      m: latin1(after.m),
      b: latin1(after.b),
      nv: after.nv === null ? null : { scale: after.nv.scale, value: latin1(after.nv.value) },
    });
    const jsonById = new Map(json.map((v) => [v.payload.after.id, decoded(v.payload.after)]));
    for (const record of avro) expect(record.value.after, `row ${record.key.id}`).toEqual(jsonById.get(record.key.id));
    // The registered schema has the logical types: Decimal with its scale and precision, Debezium's time names.
    const valueSchema = JSON.parse((await registry().schema('repsavro.public.reps-value', 'latest')).schema);
    const fields = valueSchema.fields.find((f: any) => f.name === 'before').type[1].fields;
    const typeOf = (name: string) => fields.find((f: any) => f.name === name)?.type[1];
    expect(typeOf('n')).toEqual({ type: 'bytes', scale: 2, precision: 10, 'connect.version': 1, 'connect.parameters': { scale: '2', 'connect.decimal.precision': '10' }, 'connect.name': 'org.apache.kafka.connect.data.Decimal', logicalType: 'decimal' });
    expect(typeOf('d')).toEqual({ type: 'int', 'connect.version': 1, 'connect.name': 'io.debezium.time.Date' });
    expect(typeOf('ts6')).toEqual({ type: 'long', 'connect.version': 1, 'connect.name': 'io.debezium.time.MicroTimestamp' });
  }, 300_000);

  it("derives from Debezium's Connect schemas the Avro schemas Apicurio's AvroConverter registers for Debezium, over every built-in column type", async () => {
    await promisify(execFile)('bash', ['test/jvm/resolve.sh', 'apicurio-converter'], { timeout: 15 * 60_000 });
    const url = await createDatabase(server(), 'avrodbz');
    const groups = BUILTIN_TYPE_GROUPS.filter((group) => (group.since ?? 0) <= server().major);
    await sql(url, `create table corpus (id int primary key, ${groups.map((group, i) => `c${i} ${group.type}`).join(', ')})`);
    await sql(url, 'create table keyed (a int, b text, v numeric(10,2) not null default 0, d date, s smallint, primary key (a, b))');
    await sql(url, 'insert into corpus (id) values (1)');
    await sql(url, "insert into keyed values (1, 'x', 1.5, '2024-01-02', 3)");
    const debezium = async (prefix: string, worker: Record<string, string>, ready: () => Promise<boolean>): Promise<void> => {
      let connect: DebeziumConnect | undefined;
      try {
        connect = await startDebeziumConnect({ bootstrapServers: kafka().bootstrapServers, postgresUrl: url, name: prefix, topicPrefix: prefix, connector: { 'table.include.list': 'public.corpus,public.keyed' }, worker });
        await connect.waitForSnapshotDone(120_000);
        await waitFor(async () => ((await ready()) ? true : undefined), 60_000, `${prefix}'s records`);
      } finally {
        await connect?.dispose();
      }
    };
    // Debezium's Connect schemas, through JsonConverter.
    await debezium('dbzjson', {}, async () => (await kafka().consume('dbzjson\\.public\\..*', { expect: 2, timeoutMs: 5_000 }).catch(() => [])).length >= 2);
    const connectSchemas = new Map<string, ConnectSchema>();
    for (const record of await kafka().consume('dbzjson\\.public\\..*', { expect: 2 })) {
      const table = record.topic.replace('dbzjson.', '');
      connectSchemas.set(`${table}-key`, JSON.parse(record.key!.replaceAll('dbzjson.', 'dbzavro.')).schema);
      connectSchemas.set(`${table}-value`, JSON.parse(record.value!.replaceAll('dbzjson.', 'dbzavro.')).schema);
    }
    // The same tables through Apicurio's AvroConverter, registering in the test's registry.
    const apicurio = {
      'plugin.path': APICURIO_CONVERTER_DIR,
      'plugin.discovery': 'hybrid_warn',
      'key.converter': 'io.apicurio.registry.utils.converter.AvroConverter',
      'value.converter': 'io.apicurio.registry.utils.converter.AvroConverter',
      'key.converter.apicurio.registry.url': registry().nativeUrl,
      'value.converter.apicurio.registry.url': registry().nativeUrl,
      'key.converter.apicurio.registry.auto-register': 'true',
      'value.converter.apicurio.registry.auto-register': 'true',
    };
    const subjects = ['public.corpus-key', 'public.corpus-value', 'public.keyed-key', 'public.keyed-value'];
    await debezium('dbzavro', apicurio, async () => (await registry().subjects()).filter((subject) => subject.startsWith('dbzavro.')).length === subjects.length);
    expect(connectSchemas.size).toBe(4);
    const referenced = new Map<string, unknown>();
    for (const subject of (await registry().subjects()).filter((name) => !name.startsWith('dbz') && !name.includes('-'))) {
      referenced.set(subject, JSON.parse((await registry().schema(subject, 'latest')).schema));
    }
    for (const subject of subjects) {
      // Apicurio's converter registers a record shared by several schemas (Debezium's Source) as an
      // artifact of its own, referred to by name: inlined where first met, as one schema text has it.
      const registered = JSON.stringify(inlineReferences(JSON.parse((await registry().schema(`dbzavro.${subject}`, 'latest')).schema), referenced));
      expect(JSON.parse(JSON.stringify(avroSchemaOf(connectSchemas.get(subject)!))), subject).toEqual(JSON.parse(registered));
      expect(JSON.stringify(avroSchemaOf(connectSchemas.get(subject)!)), `${subject}, member order`).toBe(JSON.stringify(JSON.parse(registered)));
    }
  }, 600_000);

  it('stops with one line naming the subject when the registry refuses a type change under FULL compatibility, acknowledging nothing past it', async () => {
    const url = await createDatabase(server(), 'avrofull');
    await sql(url, 'create table t (id int primary key, v text)');
    const { specFile } = await targetStream({
      url,
      name: 'full',
      dir: tempDir(),
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: 'full', converter: 'avro', schemaRegistry: { url: registry().url } } },
    });
    const runOnce = async () => {
      const result = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
      expect(result.code, result.stderr).toBe(0);
    };
    await runOnce();
    await sql(url, "insert into t values (1, 'one')");
    await runOnce();
    await registry().setCompatibility('full.public.t-value', 'FULL');
    const before = (await sql(url, 'select pg_current_wal_lsn()::text as lsn')).rows[0].lsn as string;
    await sql(url, 'alter table t alter column v type int using length(v)');
    await sql(url, 'insert into t values (2, 2)');
    const failed = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
    expect(failed.code).not.toBe(0);
    const lines = failed.stderr.split('\n').filter((line) => line.includes('full.public.t-value'));
    expect(lines.length, failed.stderr).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/the schema registry refused the new schema of subject full\.public\.t-value as incompatible: .+fix: .*compatibility/);
    const { rows } = await sql(url, "select confirmed_flush_lsn <= $1::pg_lsn as behind from pg_replication_slots where database = current_database()", [before]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.behind === true)).toBe(true);
    const records = await readAvroTopics(kafka().bootstrapServers, registry().url, 'full\\.public\\.t', 1);
    expect(records.map((r) => r.value.after)).toEqual([{ id: 1, v: 'one' }]);
  }, 240_000);
});
