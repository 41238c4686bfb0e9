/**
 * Schema-change events on the targets that write Debezium's records, against real servers: Kafka
 * (a record on the `<topicPrefix>` topic keyed `{"databaseName"}`, JsonConverter schemas on; the
 * rows after the change carry the new value schema) and NATS JetStream (the same record on the
 * subject `<topicPrefix>`). Column lists are checked against the catalog, rows against the
 * source's own `to_jsonb()`.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { useNatsServer } from '../support/nats-server.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

/** Column names of a table, in order, from information_schema. */
async function catalogNames(url: string, table: string): Promise<string[]> {
  const { rows } = await sql(url, `select column_name::text as name from information_schema.columns where table_schema = 'public' and table_name = $1 order by ordinal_position`, [table]);
  return rows.map((row) => row.name as string);
}

/** Inserts a row and returns the source's own JSON of it. */
async function insertRow(url: string, values: string): Promise<unknown> {
  return (await sql(url, `insert into items as i values ${values} returning to_jsonb(i.*) as row`)).rows[0].row;
}

/** A table, a stream that captures DDL, and a workload: a row, ADD COLUMN, a row, RENAME COLUMN, a row. */
async function workload(url: string, config: Parameters<typeof runStream>[0]): Promise<{ rows: unknown[]; columns: string[][] }> {
  await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // slot and DDL capture
  const columns = [await catalogNames(url, 'items')];
  const rows = [await insertRow(url, "(1, 'a')")];
  await sql(url, 'alter table items add column qty int not null default 7');
  columns.push(await catalogNames(url, 'items'));
  rows.push(await insertRow(url, "(2, 'b', 3)"));
  await sql(url, 'alter table items rename column name to title');
  columns.push(await catalogNames(url, 'items'));
  rows.push(await insertRow(url, "(3, 'c', 4)"));
  await runStream(config, { logger: silentLogger(), stopAt: 'now' });
  return { rows, columns };
}

describe('schema-change records', () => {
  const server = useTestServer();

  describe('Kafka', () => {
    const kafka = useKafkaCluster();

    it('writes each schema change on <topicPrefix>, keyed by database, and rows after it with the new schema', async () => {
      const url = await createDatabase(server(), 'kschema');
      const database = new URL(url).pathname.slice(1);
      await sql(url, 'create table items (id int primary key, name text)');
      const { config } = await targetStream({
        url,
        name: 'ks',
        dir: tempDir(),
        source: { captureDdl: true, includes: ['public\\.items'] },
        target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: true } },
      });
      const { rows, columns } = await workload(url, config);

      const changes = await kafka().consume('ks', { timeoutMs: 60_000, expect: 2 });
      expect(changes.map((r) => r.topic)).toEqual(['ks', 'ks']);
      for (const record of changes) expect(JSON.parse(record.key!).payload).toEqual({ databaseName: database });
      const values = changes.map((r) => JSON.parse(r.value!));
      expect(values[0].schema.name).toBe('io.pgcdc.connector.postgresql.SchemaChangeValue');
      expect(values.map((v) => v.payload.op)).toEqual(['schema', 'schema']);
      expect(values.map((v) => [v.payload.schemaChange.operation, v.payload.schemaChange.query])).toEqual([
        ['ALTER', 'alter table items add column qty int not null default 7'],
        ['ALTER', 'alter table items rename column name to title'],
      ]);
      expect(values.map((v) => v.payload.schemaChange.before.map((c: { name: string }) => c.name))).toEqual(columns.slice(0, 2));
      expect(values.map((v) => v.payload.schemaChange.after.map((c: { name: string }) => c.name))).toEqual(columns.slice(1));
      expect(values[0].payload.schemaChange.after[2]).toEqual({ name: 'qty', type: 'integer', nullable: false, default: '7', primaryKey: false });

      const records = (await kafka().consume('ks\\.public\\.items', { timeoutMs: 60_000, expect: 3 })).map((r) => JSON.parse(r.value!));
      expect(records.map((r) => r.payload.after)).toEqual(rows);
      // The value schema of each row is the table's shape at that row (rebuilt after each Relation message).
      const fieldNames = (value: any) => value.schema.fields.find((f: { field: string }) => f.field === 'after').fields.map((f: { field: string }) => f.field);
      expect(records.map(fieldNames)).toEqual(columns);
      // In commit order with the schema changes: row, change, row, change, row.
      const lsns = [records[0].payload.source.lsn, values[0].payload.source.lsn, records[1].payload.source.lsn, values[1].payload.source.lsn, records[2].payload.source.lsn];
      expect(lsns).toEqual([...lsns].sort((a, b) => a - b));
    });
  });

  describe('NATS JetStream', () => {
    const nats = useNatsServer();

    it('publishes each schema change on the subject <topicPrefix>, between the rows of the old and new shape', async () => {
      const url = await createDatabase(server(), 'nschema');
      await sql(url, 'create table items (id int primary key, name text)');
      const { config } = await targetStream({
        url,
        name: 'ns',
        dir: tempDir(),
        source: { captureDdl: true, includes: ['public\\.items'] },
        target: { type: 'NatsJetStream', natsJetStream: { servers: nats().url, schemasEnable: false, stream: { create: true, subjects: ['ns', 'ns.>'] } } },
      });
      const { rows, columns } = await workload(url, config);

      const records = await nats().readStream('ns');
      expect(records.map((r) => r.topic)).toEqual(['ns.public.items', 'ns', 'ns.public.items', 'ns', 'ns.public.items']);
      const values = records.map((r) => JSON.parse(r.value!));
      expect([values[0].after, values[2].after, values[4].after]).toEqual(rows);
      expect([values[1], values[3]].map((v) => v.schemaChange.after.map((c: { name: string }) => c.name))).toEqual(columns.slice(1));
      expect(JSON.parse(records[1]!.key!)).toEqual({ databaseName: new URL(url).pathname.slice(1) });
      expect(records[1]!.headers['pgcdc-op']).toBe('schema');
      expect(records[1]!.headers['pgcdc-table']).toBe('public.items');
    });
  });
});
