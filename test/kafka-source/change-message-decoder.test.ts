/**
 * The Kafka source's decoder on real records: pgcdc's Kafka target (schemas off and on, and the
 * Avro converter with a real registry) and Debezium 3.6 on Kafka Connect (its default handling
 * modes: decimal precise, time adaptive, binary bytes) capture a workload on a real PostgreSQL into
 * a real broker; every record read back is decoded. The oracle is PostgreSQL's `to_jsonb` of the
 * rows, compared column by column with lossless-json (number text such as `1.00` and int8 beyond
 * 2^53 checked exactly; json and jsonb by value, as to_jsonb normalises their numbers). Also
 * unchanged TOAST values, deletes with their key-only old row and tombstones, truncates, logical
 * messages, transaction records, heartbeats, and one line for records that are not change events.
 */
import { Consumer } from '@platformatic/kafka';
import { parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { ChangeMessageDecoder } from '../../src/kafka-source/change-message-decoder.js';
import { type DecodedChange, type DecodedRow, type KafkaMessage, NotAChangeEvent, UNCHANGED } from '../../src/kafka-source/decoded-change.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { BUILTIN_TYPE_GROUPS, valueSql } from '../decoding/builtin-type-values.js';
import { startDebeziumConnect } from '../support/debezium-connect.js';
import { waitForDebeziumWrites } from '../support/debezium-writes.js';
import { type KafkaRecord, useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { useSchemaRegistry } from '../support/schema-registry.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';
import { COLUMNS as VALS_COLUMNS, EDGE_ROW, JSON_COLUMNS, ROWS as VALS_ROWS, SCHEMA as VALS_SCHEMA } from '../support/value-fixtures.js';

const PLACEHOLDER = '__debezium_unavailable_value';
/** TOASTed out of line (external storage, 12 800 bytes). */
const BIG_TEXT = `(select string_agg(md5(g::text), '') from generate_series(1, 400) g)`;

/** A record of the harness's reader (UTF-8 text) as the Kafka source's consumer hands it over. */
function kafkaMessage(record: KafkaRecord): KafkaMessage {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key === null ? null : Buffer.from(record.key, 'utf8'),
    value: record.value === null ? null : Buffer.from(record.value, 'utf8'),
    headers: new Map(Object.entries(record.headers).map(([name, value]) => [name, Buffer.from(value ?? '', 'utf8')])),
    timestamp: record.timestamp,
  };
}

/** Every record of `topics` as raw bytes (Avro), read from the beginning until `expected` are there. */
async function rawRecords(bootstrapServers: string, topics: string[], expected: number): Promise<KafkaMessage[]> {
  const consumer = new Consumer({ groupId: `decoder-test-${process.hrtime.bigint()}`, clientId: 'decoder-test', bootstrapBrokers: bootstrapServers.split(',') });
  const messages: KafkaMessage[] = [];
  try {
    const stream = await consumer.consume({ topics, mode: 'earliest', autocommit: false, maxWaitTime: 500 });
    for await (const message of stream) {
      messages.push({
        topic: message.topic,
        partition: message.partition,
        offset: Number(message.offset),
        key: message.key === undefined || message.key === null || (message.key as Buffer).length === 0 ? null : (message.key as Buffer),
        value: message.value === undefined || message.value === null || (message.value as Buffer).length === 0 ? null : (message.value as Buffer),
        headers: new Map([...message.headers].map(([name, value]) => [name.toString(), value as Buffer])),
        timestamp: Number(message.timestamp),
      });
      if (messages.length >= expected) break;
    }
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return messages;
}

/** Each row's columns as to_jsonb gives them (parsed with lossless-json), by id; `<column>_text` the text of each of `textColumns`. */
async function toJsonbRows(url: string, table: string, textColumns: readonly string[] = []): Promise<Map<string, Record<string, unknown>>> {
  const casts = textColumns.map((column) => `, ${column}::text as ${column}_text`).join('');
  const { rows } = await sql(url, `select id::text as id, to_jsonb(source_row)::text as row${casts} from ${table} source_row`);
  return new Map(
    rows.map((row: Record<string, string | null>) => {
      const columns = parse(row.row!) as Record<string, unknown>;
      for (const column of textColumns) columns[`${column}_text`] = row[`${column}_text`];
      return [row.id!, columns];
    }),
  );
}

/** A JSON number by its value (-0 is 0, as in jsonb). */
const numberByValue = (_: string, value: unknown) => (Object.is(value, -0) ? 0 : value);

/** Compares a decoded image with the source row, column by column (numbers exactly, unless `byValue`). */
function expectImage(row: DecodedRow, image: readonly (string | null | typeof UNCHANGED)[], expected: Record<string, unknown>, byValue: ReadonlySet<string>, where: string): void {
  expect([...row.columns].sort(), where).toEqual(Object.keys(expected).sort());
  row.columns.forEach((column, i) => {
    const value = image[i];
    const wanted = expected[column];
    if (value === UNCHANGED) throw new Error(`${where}: ${column} is UNCHANGED`);
    if (value === null) {
      expect(wanted, `${where}.${column}`).toBeNull();
      return;
    }
    if (byValue.has(column)) expect(JSON.parse(value, numberByValue), `${where}.${column}`).toEqual(JSON.parse(JSON.stringify(wanted, (_, v) => (v?.isLosslessNumber ? Number(v.value) : v)), numberByValue));
    else expect(parse(value), `${where}.${column}: ${value}`).toEqual(wanted);
  });
}

/** Decodes every record (awaiting Avro schema fetches). */
async function decodeAll(decoder: ChangeMessageDecoder, messages: readonly KafkaMessage[]): Promise<{ message: KafkaMessage; change: DecodedChange }[]> {
  const decoded: { message: KafkaMessage; change: DecodedChange }[] = [];
  for (const message of messages) decoded.push({ message, change: await decoder.decode(message) });
  return decoded;
}

function rowsOf(decoded: readonly { change: DecodedChange }[], table: string, op?: DecodedRow['op']): DecodedRow[] {
  return decoded.map((d) => d.change).filter((c): c is DecodedRow => c.kind === 'row' && c.table === table && (op === undefined || c.op === op));
}

function columnValue(row: DecodedRow, image: 'before' | 'after', column: string): string | null | typeof UNCHANGED {
  return row[image]![row.columns.indexOf(column)]!;
}

/** The id of a decoded row (from its key). */
function idOf(row: DecodedRow): string {
  return row.key[row.keyColumns.indexOf('id')] as string;
}

describe('ChangeMessageDecoder', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();

  it("decodes pgcdc's JSON records, with schemas and without, to to_jsonb's texts", async () => {
    const url = await createDatabase(server(), 'decoder');
    const major = server().major;
    const groups = BUILTIN_TYPE_GROUPS.filter((group) => (group.since ?? 0) <= major);
    const column = (i: number) => `c${String(i).padStart(2, '0')}_${groups[i]!.type.replace(/[^a-z0-9]+/gi, '_').replace(/_+$/, '').toLowerCase()}`;
    await sql(url, `create table corpus (id int primary key, ${groups.map((group, i) => `${column(i)} ${group.type}`).join(', ')})`);
    await sql(url, VALS_SCHEMA);
    await sql(url, 'create table docs (id int primary key, n int not null, body text); alter table docs alter column body set storage external');
    await sql(url, 'create table wide (id int8 primary key, n numeric(10,2), m numeric)');
    await sql(url, 'create table keyless (x int, y text); alter table keyless replica identity full');
    await sql(url, 'create table trunc (id int primary key)');
    const streams: { prefix: string; schemasEnable: boolean; config: Awaited<ReturnType<typeof targetStream>>['config'] }[] = [];
    // One after the other: each first run creates pgcdc's state table if missing.
    for (const [prefix, schemasEnable] of [
      ['dj1', false],
      ['dj2', true],
    ] as const) {
      const { config } = await targetStream({
        url,
        name: prefix,
        dir: tempDir(),
        source: { provideTransactionMetadata: true },
        target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: prefix, schemasEnable, heartbeatInterval: '300ms' } },
      });
      await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // the slot
      streams.push({ prefix, schemasEnable, config });
    }

    const rowCount = Math.max(...groups.map((group) => group.values.length));
    await sql(url, `insert into corpus values ${Array.from({ length: rowCount }, (_, r) => `(${r + 1}, ${groups.map((group) => (r < group.values.length ? valueSql(group, group.values[r]!) : 'null')).join(', ')})`).join(', ')}`);
    await sql(url, `insert into vals (${VALS_COLUMNS}) values ${[...VALS_ROWS, EDGE_ROW].join(', ')}`);
    await sql(url, `insert into docs values (1, 1, ${BIG_TEXT}), (2, 2, 'short')`);
    await sql(url, "insert into wide values (9007199254740993, 1.00, 1.00), (-9223372036854775808, 0.10, '123456789012345678901234567890.000000000000000001')");
    await sql(url, "insert into keyless values (1, 'k'), (null, null)");
    const corpusRows = await toJsonbRows(url, 'corpus');
    const valsRows = await toJsonbRows(url, 'vals', ['cp', 'cpa']);
    const wideRows = await toJsonbRows(url, 'wide');
    const docsRows = await toJsonbRows(url, 'docs');
    await sql(url, 'update docs set n = n + 10'); // the TOASTed body unchanged
    await sql(url, 'delete from vals where id = 2');
    await sql(url, 'delete from wide where id = 9007199254740993');
    await sql(url, 'insert into trunc values (1); truncate trunc');
    await sql(url, "select pg_logical_emit_message(true, 'h5', 'in a transaction'); select pg_logical_emit_message(false, 'h5', 'outside')");

    for (const { prefix, schemasEnable, config } of streams) {
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });
      // Heartbeats: a run that stays up until one is written.
      const stop = new AbortController();
      const run = runStream(config, { logger: silentLogger(), signal: stop.signal });
      try {
        await waitFor(async () => ((await kafka().consume(`__debezium-heartbeat\\.${prefix}`, { timeoutMs: 5_000 }).catch(() => [])).length > 0 ? true : undefined), 60_000, `${prefix}'s heartbeat`);
      } finally {
        stop.abort();
        await run;
      }

      const records = [...(await kafka().consume(`${prefix}\\..*`, { timeoutMs: 60_000 })), ...(await kafka().consume(`__debezium-heartbeat\\.${prefix}`, { timeoutMs: 60_000 }))];
      const decoder = new ChangeMessageDecoder({ unavailableValuePlaceholder: PLACEHOLDER });
      const decoded = await decodeAll(decoder, records.map(kafkaMessage));
      const where = (table: string, id: string) => `${prefix} ${table} ${id}`;

      // Inserts: every column as to_jsonb writes it. With schemas, pgcdc writes composites (and
      // arrays of them) as their PostgreSQL text, as Debezium does: a string of that text.
      const jsonGroups = new Set(groups.flatMap((group, i) => (group.numbersByValue ? [column(i)] : [])));
      const corpusInserts = rowsOf(decoded, 'corpus', 'c');
      expect(corpusInserts).toHaveLength(rowCount);
      for (const row of corpusInserts) expectImage(row, row.after!, corpusRows.get(idOf(row))!, jsonGroups, where('corpus', idOf(row)));
      const valsInserts = rowsOf(decoded, 'vals', 'c');
      expect(valsInserts).toHaveLength(VALS_ROWS.length + 1);
      for (const row of valsInserts) {
        const { cp_text, cpa_text, ...expected } = valsRows.get(idOf(row))!;
        if (schemasEnable) Object.assign(expected, { cp: cp_text, cpa: cpa_text });
        expectImage(row, row.after!, expected, new Set(JSON_COLUMNS), where('vals', idOf(row)));
      }
      for (const row of rowsOf(decoded, 'wide', 'c')) expectImage(row, row.after!, wideRows.get(idOf(row))!, new Set(), where('wide', idOf(row)));
      expect(rowsOf(decoded, 'wide', 'c').map(idOf).sort()).toEqual(['-9223372036854775808', '9007199254740993']);
      expect(rowsOf(decoded, 'keyless', 'c').map((row) => [row.keyColumns, row.after])).toEqual([
        [[], ['1', '"k"']],
        [[], [null, null]],
      ]);

      // The update left the TOASTed body out: UNCHANGED; no old row under REPLICA IDENTITY DEFAULT.
      const updates = rowsOf(decoded, 'docs', 'u');
      expect(updates.map((row) => [idOf(row), columnValue(row, 'after', 'n'), columnValue(row, 'after', 'body'), row.before])).toEqual([
        ['1', '11', UNCHANGED, null],
        ['2', '12', JSON.stringify('short'), null],
      ]);
      for (const row of rowsOf(decoded, 'docs', 'c')) expectImage(row, row.after!, docsRows.get(idOf(row))!, new Set(), where('docs', idOf(row)));

      // Deletes: the old row holds the key (the other columns null), then a tombstone.
      const [valsDelete] = rowsOf(decoded, 'vals', 'd');
      expect(valsDelete!.after).toBeNull();
      expect(valsDelete!.keyColumns).toEqual(['id']);
      expect(valsDelete!.key).toEqual(['2']);
      expect(valsDelete!.before!.filter((value) => value !== null)).toEqual(['2']);
      const [wideDelete] = rowsOf(decoded, 'wide', 'd');
      expect(wideDelete!.key).toEqual(['9007199254740993']);
      expect(columnValue(wideDelete!, 'before', 'id')).toBe('9007199254740993');
      const afterDelete = (table: string) => decoded[decoded.findIndex((d) => d.change.kind === 'row' && d.change.table === table && d.change.op === 'd') + 1]!.change;
      expect(afterDelete('vals')).toEqual({ kind: 'tombstone' });
      expect(afterDelete('wide')).toEqual({ kind: 'tombstone' });

      // Source facts of a change.
      const [first] = corpusInserts;
      expect(first!.schema).toBe('public');
      expect(first!.sourceLsn).toBeGreaterThan(0);
      expect(first!.txId).toBeGreaterThan(0);
      expect(first!.tsMs).toBeGreaterThan(Date.now() - 600_000);
      expect(first!.snapshot).toBeUndefined();

      const kinds = (kind: DecodedChange['kind']) => decoded.filter((d) => d.change.kind === kind);
      expect(kinds('truncate').map((d) => d.change)).toEqual([expect.objectContaining({ kind: 'truncate', schema: 'public', table: 'trunc' })]);
      // The non-transactional message comes first (it is not held until the commit).
      expect(kinds('message').map((d) => d.change)).toEqual([
        expect.objectContaining({ kind: 'message', prefix: 'h5', content: Buffer.from('outside'), transactional: false }),
        expect.objectContaining({ kind: 'message', prefix: 'h5', content: Buffer.from('in a transaction'), transactional: true }),
      ]);
      // BEGIN and END of each of the workload's 10 transactions (a statement string is one).
      expect(kinds('transaction').map((d) => d.message.topic)).toEqual(records.filter((r) => r.topic === `${prefix}.transaction`).map((r) => r.topic));
      expect(kinds('transaction')).toHaveLength(2 * 10);
      expect(kinds('heartbeat').length).toBeGreaterThan(0);
      expect(kinds('heartbeat').every((d) => d.message.topic === `__debezium-heartbeat.${prefix}`)).toBe(true);
    }
  }, 600_000);

  it("decodes Debezium's records (decimal precise, time adaptive, binary bytes) to to_jsonb's texts", async () => {
    const url = await createDatabase(server(), 'decoderdbz');
    await sql(url, `create table dvals (id int primary key, n numeric, n2 numeric(12,3), d date, t time, t3 time(3), ts timestamp, ts3 timestamp(3),
      by bytea, js json, jb jsonb, i8 int8, da date[], tsa timestamp[])`);
    await sql(url, 'create table docs (id int primary key, n int not null, body text); alter table docs alter column body set storage external');
    await sql(url, 'create table marker (id int primary key)');
    await sql(url, "create table snap (id int primary key, v text); insert into snap values (1, 'a'), (2, 'b'), (3, 'c')"); // read by the snapshot
    const connect = await startDebeziumConnect({
      bootstrapServers: kafka().bootstrapServers,
      postgresUrl: url,
      name: 'dbz-decoder',
      topicPrefix: 'dbzd',
      schemas: true,
      snapshotMode: 'initial',
      // Debezium's defaults otherwise: decimal.handling.mode precise, time.precision.mode adaptive, binary.handling.mode bytes.
      connector: { 'schema.include.list': 'public', 'provide.transaction.metadata': 'true', 'skipped.operations': 'none', 'heartbeat.interval.ms': '1000' },
    });
    let expected: Map<string, Record<string, unknown>>;
    try {
      await connect.waitForSnapshotDone();
      await connect.waitForStreaming();
      await sql(
        url,
        String.raw`insert into dvals values
        (1, 123456789012345678901234567890.123456789, 1.500, '2020-02-29', '23:59:59.999999', '12:34:56.789', '2020-01-01 12:34:56.789012', '2020-01-01 12:34:56.789',
          '\xdeadbeef00', '{"a": 1e2, "b": [1, 2.50], "c": "x\"y"}', '{"a": 1e2, "b": [1, 2.50], "c": "x\"y"}', 9223372036854775807, '{2020-02-29,1969-12-31}', '{"2020-01-01 00:00:00.5"}'),
        (2, -0.000000000000000000000000000000000001, -12345.678, '1900-01-01', '00:00:00', '00:00:00.5', '1969-12-31 23:59:59.5', '1900-01-01 00:00:00',
          '\x', '[]', '{}', -9223372036854775808, '{}', '{}'),
        (3, 1.00, 0, '0001-01-01', '24:00:00', '12:00:00', '0001-01-01 00:00:00', '2262-04-11 23:47:16.854',
          convert_to('héllo', 'UTF8'), '"str"', '123456789012345678901234567890.123456789', 0, '{NULL,2000-01-01}', null),
        (4, null, null, null, null, null, null, null, null, null, null, null, null, null)`,
      );
      await sql(url, `insert into docs values (1, 1, ${BIG_TEXT}), (2, 2, 'short')`);
      expected = await toJsonbRows(url, 'dvals');
      await sql(url, 'update docs set n = n + 10');
      await sql(url, 'delete from docs where id = 2');
      await sql(url, "select pg_logical_emit_message(true, 'h5', 'in a transaction')");
      await sql(url, 'truncate docs');
      const { rows: lsn } = await sql(url, 'select pg_current_wal_lsn()::text as lsn');
      await sql(url, 'insert into marker values (1)');
      await waitForDebeziumWrites(connect, kafka(), url, 'dbzd', lsn[0].lsn);
      await waitFor(async () => ((await kafka().consume('__debezium-heartbeat\\.dbzd', { timeoutMs: 5_000 }).catch(() => [])).length > 0 ? true : undefined), 60_000, "Debezium's heartbeat");
    } finally {
      await connect.dispose();
    }

    const records = [...(await kafka().consume('dbzd\\..*', { timeoutMs: 60_000 })), ...(await kafka().consume('__debezium-heartbeat\\.dbzd', { timeoutMs: 60_000 }))];
    const decoded = await decodeAll(new ChangeMessageDecoder({ unavailableValuePlaceholder: PLACEHOLDER }), records.map(kafkaMessage));
    const inserts = rowsOf(decoded, 'dvals', 'c');
    expect(inserts.map(idOf).sort()).toEqual(['1', '2', '3', '4']);
    // Debezium's VariableScaleDecimal (numeric without scale) drops trailing zeros: its record of
    // 1.00 holds scale 0 and unscaled 1, so 1 is all there is to decode; the value is the same.
    expect(parse(JSON.stringify(expected.get('3')!.n))).toEqual(parse('1.00'));
    expected.get('3')!.n = parse('1');
    for (const row of inserts) expectImage(row, row.after!, expected.get(idOf(row))!, new Set(['js', 'jb']), `debezium dvals ${idOf(row)}`);
    // The json column's own text (json keeps it; jsonb's is normalised).
    expect(columnValue(inserts.find((row) => idOf(row) === '1')!, 'after', 'js')).toBe('{"a": 1e2, "b": [1, 2.50], "c": "x\\"y"}');

    // The snapshot's reads: Debezium marks the first first_in_data_collection (a table's first
    // record, inside the snapshot: true), the next true, the snapshot's last record last.
    expect(rowsOf(decoded, 'snap').map((row) => [row.op, row.after, row.snapshot])).toEqual([
      ['r', ['1', '"a"'], 'true'],
      ['r', ['2', '"b"'], 'true'],
      ['r', ['3', '"c"'], 'last'],
    ]);
    expect(inserts.every((row) => row.snapshot === undefined)).toBe(true);

    const updates = rowsOf(decoded, 'docs', 'u');
    expect(updates.map((row) => [idOf(row), columnValue(row, 'after', 'n'), columnValue(row, 'after', 'body')])).toEqual([
      ['1', '11', UNCHANGED],
      ['2', '12', JSON.stringify('short')],
    ]);
    const [deleted] = rowsOf(decoded, 'docs', 'd');
    // The key-only old row: Debezium fills a NOT NULL column with its type's default (n: 0).
    expect([deleted!.key, deleted!.after, deleted!.columns, deleted!.before]).toEqual([['2'], null, ['id', 'n', 'body'], ['2', '0', null]]);
    const kinds = (kind: DecodedChange['kind']) => decoded.filter((d) => d.change.kind === kind).map((d) => d.change);
    expect(kinds('tombstone')).toHaveLength(1);
    expect(kinds('truncate')).toEqual([expect.objectContaining({ kind: 'truncate', schema: 'public', table: 'docs' })]);
    expect(kinds('message')).toEqual([expect.objectContaining({ kind: 'message', prefix: 'h5', content: Buffer.from('in a transaction'), transactional: true })]);
    expect(kinds('transaction').length).toBeGreaterThanOrEqual(2 * 6);
    expect(kinds('heartbeat').length).toBeGreaterThan(0);
  }, 600_000);

  describe('Avro', () => {
    const registry = useSchemaRegistry();

    it("decodes pgcdc's Avro records (Confluent framing, writer schemas from the registry) to to_jsonb's texts", async () => {
      const url = await createDatabase(server(), 'decoderavro');
      // numeric is left out: pgcdc's Connect schema gives it double, which Avro holds as a double.
      await sql(url, `create table avals (id int8 primary key, i2 int2, i4 int4, b bool, f4 float4, f8 float8, t text, by bytea, d date, ts timestamp, tstz timestamptz,
        js json, jb jsonb, ia int[], ta text[], u uuid)`);
      await sql(url, 'create table docs (id int primary key, n int not null, body text); alter table docs alter column body set storage external');
      const { config } = await targetStream({
        url,
        name: 'av1',
        dir: tempDir(),
        source: { provideTransactionMetadata: true },
        target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: 'av1', converter: 'avro', schemaRegistry: { url: registry().url } } },
      });
      await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // the slot
      await sql(
        url,
        String.raw`insert into avals values
        (9007199254740993, 32767, -2147483648, true, 3.4028235e38, 1.7976931348623157e308, E'quote " backslash \\ emoji 😀 ctl \x01', '\xdeadbeef00', '2020-02-29',
          '2020-01-01 12:34:56.789012', '2020-06-01 12:00:00-11:30', '{"a": 1e2, "b": [1, 2.50]}', '{"a": 1, "b": [1, 2.50, 1e2]}', '{1,NULL,3}', ARRAY['a', NULL, 'b,c'],
          'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
        (-9223372036854775808, -1, 0, false, 1.4e-45, 'NaN', '', '\x', '0044-03-15 BC', '-infinity', 'infinity', '[]', '{}', '{}', '{}', null),
        (3, null, null, null, '-Infinity', 5e-324, null, null, null, null, null, null, null, null, null, null)`,
      );
      await sql(url, `insert into docs values (1, 1, ${BIG_TEXT}), (2, 2, 'short')`);
      const expected = await toJsonbRows(url, 'avals');
      await sql(url, 'update docs set n = n + 10');
      await sql(url, 'delete from docs where id = 2');
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });

      const decoder = new ChangeMessageDecoder({ unavailableValuePlaceholder: PLACEHOLDER, schemaRegistry: { url: registry().url } });
      const avals = await decodeAll(decoder, await rawRecords(kafka().bootstrapServers, ['av1.public.avals'], 3));
      expect(avals.every(({ message }) => message.value![0] === 0 && message.key![0] === 0)).toBe(true); // Confluent-framed
      const inserts = rowsOf(avals, 'avals', 'c');
      expect(inserts.map(idOf).sort()).toEqual(['-9223372036854775808', '3', '9007199254740993']);
      for (const row of inserts) expectImage(row, row.after!, expected.get(idOf(row))!, new Set(['js']), `avro avals ${idOf(row)}`);

      const docs = await decodeAll(decoder, await rawRecords(kafka().bootstrapServers, ['av1.public.docs'], 6));
      expect(rowsOf(docs, 'docs', 'u').map((row) => [idOf(row), columnValue(row, 'after', 'n'), columnValue(row, 'after', 'body')])).toEqual([
        ['1', '11', UNCHANGED],
        ['2', '12', JSON.stringify('short')],
      ]);
      const [deleted] = rowsOf(docs, 'docs', 'd');
      // As in Debezium's Avro, the key-only old row holds the NOT NULL column's default (n: 0): Avro's int is not nullable.
      expect([deleted!.key, deleted!.after, deleted!.columns, deleted!.before]).toEqual([['2'], null, ['id', 'n', 'body'], ['2', '0', null]]);
      expect(docs.at(-1)!.change).toEqual({ kind: 'tombstone' });
      const transactions = await decodeAll(decoder, await rawRecords(kafka().bootstrapServers, ['av1.transaction'], 8));
      expect(transactions.map(({ change }) => change.kind)).toEqual(Array(8).fill('transaction'));

      // Without a registry: one line saying so.
      const [first] = await rawRecords(kafka().bootstrapServers, ['av1.public.avals'], 1);
      expect(() => new ChangeMessageDecoder({ unavailableValuePlaceholder: PLACEHOLDER }).decode(first!)).toThrow(
        /^the record at av1\.public\.avals\[0\]@0 is Avro \(Confluent wire format, schema id \d+\) but no schema registry is set: set the Kafka source's schemaRegistry to read it$/,
      );
    }, 600_000);
  });

  it('names, in one line, what a record that is not a change event is', async () => {
    await kafka().createTopic('not-changes', { partitions: 1 });
    await kafka().produce('not-changes', [
      { key: 'k', value: 'plain text, not JSON' },
      { key: '{"id":1}', value: '{"id": 1, "name": "a row without an envelope"}' },
      { key: '{"id":1}', value: '{"op": "x", "source": {"schema": "public", "table": "t"}}' },
      { key: '{"id":1}', value: '{"op": "c", "after": {"id": 1}, "source": {"schema": "public", "table": "t"}, "broken": [1, 2' },
      { key: null, value: '{}' },
      { key: '{"id":1}', value: '{"op": "c", "after": {"id": 1}}' },
    ]);
    const decoder = new ChangeMessageDecoder({ unavailableValuePlaceholder: PLACEHOLDER });
    const reasons = (await kafka().consume('not-changes')).map((record) => {
      try {
        decoder.decode(kafkaMessage(record));
        return 'decoded';
      } catch (error) {
        expect(error).toBeInstanceOf(NotAChangeEvent);
        return (error as Error).message;
      }
    });
    expect(reasons).toEqual([
      'the record at not-changes[0]@0 is not a JSON object (it starts with "plain text, "): the Kafka source reads Debezium change events in JSON or Avro; leave other topics out of its topic list',
      "the record at not-changes[0]@1 has no \"op\" (its members: id, name): not a Debezium change event; leave this topic out of the Kafka source's topics",
      'the record at not-changes[0]@2 has an unknown op "x" (expected c, u, d, r, t or m)',
      "the record at not-changes[0]@3 is not valid JSON (unterminated array at byte 88): the Kafka source reads JsonConverter or Avro change events; leave other topics out of its topic list",
      "the record at not-changes[0]@4 has no \"op\" (its members: none): not a Debezium change event; leave this topic out of the Kafka source's topics",
      'the record at not-changes[0]@5 (op "c") has no source.schema and source.table: not a Debezium PostgreSQL change event',
    ]);
    for (const reason of reasons) expect(reason).not.toContain('\n');
  });
});

describe('ChangeMessageDecoder: source blocks', () => {
  it('reads every record\'s source facts, also where a block repeats the last one but for sequence and lsn', () => {
    const decoder = new ChangeMessageDecoder({ unavailableValuePlaceholder: PLACEHOLDER });
    // Blocks as Debezium and pgcdc write them, varied record to record in one member at a time (or
    // laid out otherwise); the oracle is JSON.parse of the record.
    let seed = 7;
    const random = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    const source = { version: '3.6.1.Final', connector: 'postgresql', name: 'shop', ts_ms: 1_700_000_000_000, snapshot: 'false', db: 'shop', sequence: '[null,"100"]', ts_us: 1, ts_ns: 2, schema: 'public', table: 'orders', txId: 700, lsn: 100, xmin: null };
    const variations: (() => void)[] = [
      () => undefined,
      () => (source.lsn += 1 + random(10 ** random(12))),
      () => (source.sequence = `["${random(1000)}","${source.lsn}"]`),
      () => (source.txId += 1),
      () => (source.table = source.table === 'orders' ? 'items' : 'orders'),
      () => (source.schema = source.schema === 'public' ? 'shop' : 'public'),
      () => (source.ts_ms += random(5)),
      () => (source.snapshot = ['false', 'true', 'last', 'first'][random(4)]!),
      () => (source.db = random(2) === 0 ? 'shop' : 'shop2'),
    ];
    for (let offset = 0; offset < 2000; offset++) {
      variations[random(variations.length)]!();
      source.lsn += 1 + random(3);
      let block = JSON.stringify(source);
      if (random(20) === 0) block = JSON.stringify(source, null, 1); // whitespace
      if (random(20) === 0) block = JSON.stringify({ ...source, lsn: undefined }).replace('{', `{"lsn":${source.lsn},`); // lsn before sequence
      const value = `{"before":null,"after":{"id":${offset}},"source":${block},"op":"c","ts_ms":5}`;
      const change = decoder.decode({ topic: 'shop.public.orders', partition: 0, offset, key: Buffer.from(`{"id":${offset}}`), value: Buffer.from(value), headers: new Map(), timestamp: 0 }) as DecodedRow;
      const expected = (JSON.parse(value) as { source: typeof source }).source;
      expect({ schema: change.schema, table: change.table, txId: change.txId, lsn: change.sourceLsn, tsMs: change.tsMs, snapshot: change.snapshot ?? 'false' }, `record ${offset}: ${block}`).toEqual({
        schema: expected.schema,
        table: expected.table,
        txId: expected.txId,
        lsn: expected.lsn,
        tsMs: expected.ts_ms,
        snapshot: expected.snapshot,
      });
      expect(change.afterValues!.texts()).toEqual([String(offset)]);
    }
  });
});

describe('ChangeMessageDecoder: record keys', () => {
  it("gives each row change its own key columns and values, read once every record was decoded, while keys change shape and carry schemas or not", () => {
    const decoder = new ChangeMessageDecoder({ unavailableValuePlaceholder: PLACEHOLDER });
    const random = (n: number): number => below(testRandom, n);
    const shapes = [['id'], ['id'], ['id'], ['tenant', 'id'], ['k"q', 'ñ'], ['id', '__dbz__physicalTableIdentifier']];
    const decoded: { change: DecodedRow; expected: Record<string, unknown> }[] = [];
    for (let offset = 0; offset < 600; offset++) {
      const names = shapes[random(shapes.length)]!;
      const payload = Object.fromEntries(names.map((name, i) => [name, name.startsWith('__dbz') ? 'shop.public.orders' : random(3) === 0 ? `v${offset}-${i}` : offset * 10 + i]));
      // A Connect schema for some keys (plain int64/string fields: no value needs rendering).
      const schema = { type: 'struct', optional: false, name: 'shop.public.orders.Key', fields: names.map((name) => ({ field: name, type: typeof payload[name] === 'number' ? 'int64' : 'string', optional: false })) };
      const key = random(3) === 0 ? JSON.stringify({ schema, payload }) : JSON.stringify(payload, null, random(8) === 0 ? 1 : undefined);
      const value = `{"before":null,"after":{"id":${offset}},"source":{"schema":"public","table":"orders","lsn":${offset + 1}},"op":"c"}`;
      const change = decoder.decode({ topic: 'shop.public.orders', partition: 0, offset, key: Buffer.from(key), value: Buffer.from(value), headers: new Map(), timestamp: 0 }) as DecodedRow;
      decoded.push({ change, expected: payload });
    }
    for (const [offset, { change, expected }] of decoded.entries()) {
      const columns = Object.keys(expected).filter((name) => !name.startsWith('__dbz'));
      expect(change.keyColumns, `record ${offset}`).toEqual(columns);
      expect(change.key, `record ${offset}`).toEqual(columns.map((name) => JSON.stringify(expected[name])));
    }
  });
});
