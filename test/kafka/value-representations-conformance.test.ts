/**
 * Debezium's value representations against Debezium 3.6 on Kafka Connect: the same connector
 * configuration runs in Debezium's PostgreSQL connector and in pgcdc (`pgcdc run -c
 * connector.json`), with Debezium's default modes (decimal precise, time adaptive, binary bytes,
 * interval numeric, hstore json, money 2 digits) and with three sets of the other modes, over
 * tables of numeric(p,s), numeric, numeric(p), a domain over numeric(p,s), money, date, time(3),
 * time(6), timestamp(3), timestamp(6), timestamptz, timestamptz(3), interval, bytea and hstore
 * columns with NULLs, NaN, Infinity, ±infinity, BC dates and 24:00:00, one table keyed by numeric
 * and date columns (a key change included: the delete's old row holds only the key, and Debezium's
 * fallbacks in the NOT NULL columns). Debezium's records are the oracle: key bytes, values
 * with their schemas, record by record. What legitimately differs: the topic prefix (mapped), and
 * in envelopes the writer's processing times, version, name and source.sequence.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isSafeNumber, parse } from 'lossless-json';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startDebeziumConnect, type DebeziumConnect } from '../support/debezium-connect.js';
import { waitForDebeziumWrites } from '../support/debezium-writes.js';
import { useKafkaCluster, type KafkaRecord } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';

const TIMEOUT_MS = 600_000;

type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

/** JSON with int64 values beyond 2^53 as bigints (other numbers as doubles, as Java reads them). */
const parseJson = (text: string): Json => parse(text, null, (value) => (isSafeNumber(value) || !/^-?\d+$/.test(value) ? Number(value) : BigInt(value))) as Json;

interface Written {
  readonly topic: string;
  /** The key's bytes as text: the partition is chosen from them. */
  readonly keyText: string | null;
  readonly value: Json;
}

/** A record with the prefix mapped to `to` (topic, schema names) and what legitimately differs set aside. */
function comparable(record: KafkaRecord, from: string, to: string): Written {
  const mapped = (text: string | null): Json => (text === null ? null : parseJson(text.replaceAll(`"${from}.`, `"${to}.`)));
  const value = mapped(record.value) as { schema: Json; payload: Record<string, Json> | null } | null;
  const topic = `${to}.${record.topic.slice(from.length + 1)}`;
  const payload = value?.payload;
  const keyText = record.key === null ? null : record.key.replaceAll(`"${from}.`, `"${to}.`);
  if (payload === null || payload === undefined || !('source' in payload)) return { topic, keyText, value };
  const { ts_ms: _ms, ts_us: _us, ts_ns: _ns, source, ...rest } = payload;
  const { version: _version, name: _name, sequence: _sequence, ts_us: _sus, ts_ns: _sns, ...kept } = source as Record<string, Json>;
  return { topic, keyText, value: { schema: value!.schema, payload: { ...rest, source: kept } } };
}

const TABLE = `create extension if not exists hstore;
  create table vals (id int primary key, n numeric(10,2), nv numeric, m money, d date, t3 time(3), t6 time(6),
    ts3 timestamp(3), ts6 timestamp(6), tstz timestamptz, iv interval, b bytea, h hstore);
  create domain price as numeric(8,3);
  create table keyed (n numeric(6,2), d date, whole numeric(5), p price, tstz3 timestamptz(3), v text,
    nn numeric(4,1) not null, vn numeric not null, mn money not null, tn time not null, tsn timestamp(3) not null, tzn timestamptz not null,
    ivn interval not null, bn bytea not null, hn hstore not null, primary key (n, d));
  create table marker (id int primary key)`;

const WORKLOAD = [
  `insert into vals values
     (1, 1234.5, 1.500, 12.34, '2024-02-29', '10:20:30.123', '23:59:59.999999', '2024-01-15 10:20:30.123', '2024-01-15 10:20:30.123456',
      '2024-01-15 10:20:30.5+02', '1 year 2 months 3 days 04:05:06.789', '\\x00ff10', 'a=>1, b=>NULL, "c d"=>"x\\"y"'),
     (2, -0.01, -123456789012345678901234567890.5, -1234.56, '0044-03-15 BC', '24:00:00', '24:00:00', '0044-03-15 12:00:00 BC', '1969-12-31 23:59:59.999999',
      '1970-01-01 00:00:00+00', '-1 days -02:00:00', '\\xfbff', ''),
     (3, 0, 0, 92233720368547758.07, '1969-12-31', '00:00:00', '00:00:00.000001', '1900-01-01 00:00:00', '2262-04-12 00:00:00',
      '2024-06-30 23:59:59.999999-07', '-00:00:01.5', '\\x', 'k=>v'),
     (4, null, null, null, null, null, null, null, null, null, null, null, null)`,
  `update vals set n = 99999999.99, nv = 1200, m = 0.5, iv = '1 mon', b = '\\x0102', h = 'z=>""' where id = 1`,
  `insert into vals (id, n, nv, d, ts3, ts6, tstz) values (5, 'NaN', 'NaN', 'infinity', 'infinity', '-infinity', 'infinity'), (6, null, null, '-infinity', '-infinity', 'infinity', '-infinity')`,
  `delete from vals where id = 3`,
  `update vals set nv = 'Infinity' where id = 6`,
  `insert into keyed values
     (1.5, '2024-01-02', 12345, 1.25, '2024-01-15 10:20:30.12+00', 'a', 1, 1, 1, '01:00', '2024-01-01', '2024-01-01 00:00:00+00', '1 day', '\\x01', 'a=>b'),
     (-20, '1970-01-01', -1, null, '2024-01-15 10:20:30+00', 'b', 2, 2, 2, '02:00', '2024-01-02', '2024-01-02 00:00:00+00', '2 days', '\\x02', 'c=>d')`,
  `update keyed set v = 'c', n = 2.5 where n = 1.5`,
];

/** A connector configuration's properties shared by both sides (the handling modes under test). */
const MODES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  defaults: {},
  others: {
    'decimal.handling.mode': 'string',
    'time.precision.mode': 'connect',
    'binary.handling.mode': 'hex',
    'interval.handling.mode': 'string',
    'hstore.handling.mode': 'map',
  },
  base64: {
    'binary.handling.mode': 'base64',
    'money.fraction.digits': '0',
  },
  microseconds: {
    'decimal.handling.mode': 'double',
    'time.precision.mode': 'adaptive_time_microseconds',
    'binary.handling.mode': 'base64-url-safe',
    'money.fraction.digits': '3',
  },
};

describe("Debezium's value representations, conformance with Debezium 3.6 on Kafka Connect", () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  let connect: DebeziumConnect | undefined;

  afterEach(async () => {
    await connect?.dispose();
    connect = undefined;
  });

  for (const [label, modes] of Object.entries(MODES)) {
    it(`writes the values and schemas Debezium writes (${label}: ${Object.entries(modes).map(([k, v]) => `${k}=${v}`).join(', ') || "Debezium's default modes"})`, async () => {
      const dbz = `dbz${label.slice(0, 3)}`;
      const pgc = `pgc${label.slice(0, 3)}`;
      const url = await createDatabase(server(), `reps_${label}`);
      await sql(url, TABLE);
      connect = await startDebeziumConnect({
        bootstrapServers: kafka().bootstrapServers,
        postgresUrl: url,
        name: `dbz-${label}`,
        topicPrefix: dbz,
        snapshotMode: 'no_data',
        connector: { 'schema.include.list': 'public', ...modes },
      });
      await connect.waitForSnapshotDone();
      await connect.waitForStreaming();

      const db = new URL(url);
      const connectorFile = path.join(tempDir(), 'connector.json');
      fs.writeFileSync(
        connectorFile,
        JSON.stringify({
          name: `pgc-${label}`,
          config: {
            'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
            'database.hostname': db.hostname,
            'database.port': db.port,
            'database.user': decodeURIComponent(db.username),
            'database.password': decodeURIComponent(db.password),
            'database.dbname': db.pathname.slice(1),
            'topic.prefix': pgc,
            'slot.name': `pgc_${label}`,
            'publication.name': `pgc_${label}`,
            'schema.include.list': 'public',
            'snapshot.mode': 'no_data',
            'bootstrap.servers': kafka().bootstrapServers,
            ...modes,
          },
        }),
      );
      const created = await runCli(['run', '-c', connectorFile, '--stop-at', 'now'], {}, 120_000);
      expect(created.code, created.stderr).toBe(0);

      for (const statement of WORKLOAD) await sql(url, statement);
      const { rows } = await sql(url, 'select pg_current_wal_lsn()::text as lsn');
      await sql(url, 'insert into marker values (1)');
      await waitForDebeziumWrites(connect, kafka(), url, dbz, rows[0].lsn);
      const streamed = await runCli(['run', '-c', connectorFile, '--stop-at', 'now'], {}, 180_000);
      expect(streamed.code, streamed.stderr).toBe(0);

      const byOffset = (a: KafkaRecord, b: KafkaRecord) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.offset - b.offset;
      const debezium = (await kafka().consume(`${dbz}\\.public\\.(vals|keyed)`, { timeoutMs: 60_000 })).sort(byOffset).map((record) => comparable(record, dbz, 'x'));
      const pgcdc = (await kafka().consume(`${pgc}\\.public\\.(vals|keyed)`, { timeoutMs: 60_000 })).sort(byOffset).map((record) => comparable(record, pgc, 'x'));
      // vals: 6 inserts, 2 updates, 1 delete and its tombstone; keyed: 2 inserts, a key change (delete, tombstone, create).
      expect(debezium).toHaveLength(15);
      expect(pgcdc).toEqual(debezium);
    }, TIMEOUT_MS);
  }
});
