/**
 * Debezium's own topics as the source of pgcdc, end to end: Debezium 3.6 on a real Kafka Connect
 * worker captures a table with a wide corpus of types (its snapshot, then inserts, updates,
 * deletes, a TRUNCATE and primary-key changes; a second table keeps the snapshot's rows) into a
 * real broker, with its DEFAULT value settings (decimal.handling.mode precise, time.precision.mode
 * adaptive, binary.handling.mode bytes, hstore.handling.mode json), its tombstones, a
 * heartbeat topic and the transaction metadata topic; a `pgcdc run` Kafka-sourced stream reads all
 * of these topics into a Postgres target whose table was created with the same definition. The
 * oracle is the source's own rows: `to_jsonb` of every row, in key order, and the json column's
 * text, must be the same on both sides; the brokers must hold the group's offsets past every record
 * Debezium wrote (change topics, transaction topic, heartbeats). Once with JsonConverter schemas, once without (only the
 * columns whose values can be recovered without a schema; see SCHEMALESS_LEFT_OUT).
 *
 * Representations that cannot round-trip, so they are not in the corpus:
 * - interval (interval.handling.mode numeric, the default): MicroDuration counts a month as
 *   30.4375 days and a day as 24 hours, so `1 mon` comes back as `730:30:00`.
 * - numeric NaN and ±Infinity (decimal.handling.mode precise): Decimal and VariableScaleDecimal
 *   have no such values.
 * - multi-dimensional arrays: Debezium's array schema is one-dimensional.
 * - trailing zeros of a numeric without typmod: Debezium's VariableScaleDecimal strips them
 *   (`-1.50` is written as {"scale":1,"value":"8Q=="}, i.e. -1.5), in its snapshot and its stream.
 *   numeric(p,s) keeps its scale (Decimal with the column's scale).
 * - a BC date in Debezium's snapshot (read through JDBC) is written as the same date AD (day count
 *   -703383 for 0044-03-15 BC); its streamed changes are right. Snapshot rows that stay hold no BC date.
 */
import { Admin } from '@platformatic/kafka';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, type StartedProgram } from '../support/cli.js';
import { startDebeziumConnect, type DebeziumConnect } from '../support/debezium-connect.js';
import { waitForDebeziumWrites } from '../support/debezium-writes.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { kafkaSourcedSpec, tempDir } from '../support/stream-fixtures.js';

const TIMEOUT_MS = 600_000;

/** The corpus's columns and types (each created identically on the source and the target). */
const CORPUS_COLUMNS: readonly (readonly [string, string])[] = [
  ['n_fixed', 'numeric(20,4)'],
  ['n_free', 'numeric'],
  ['i2', 'int2'],
  ['i4', 'int4'],
  ['i8', 'int8'],
  ['f4', 'float4'],
  ['f8', 'float8'],
  ['b', 'bool'],
  ['t', 'text'],
  ['bin', 'bytea'],
  ['d', 'date'],
  ['t3', 'time(3)'],
  ['t6', 'time(6)'],
  ['ts3', 'timestamp(3)'],
  ['ts6', 'timestamp(6)'],
  ['tstz', 'timestamptz'],
  ['u', 'uuid'],
  ['j', 'json'],
  ['jb', 'jsonb'],
  ['ia', 'int4[]'],
  ['ta', 'text[]'],
  ['m', 'mood'],
  ['h', 'hstore'],
];

/**
 * Columns left out of the schemaless case, each with why: without a schema the target has only the
 * JSON value and its own column type, which cannot tell some values apart (j, jb). A Decimal's
 * base64 bytes take the scale the target column declares (n_fixed), a VariableScaleDecimal carries
 * its own (n_free), and an hstore written as a JSON object's text is read as one (h).
 */
const SCHEMALESS_LEFT_OUT: ReadonlyMap<string, string> = new Map([
  // Debezium writes a json/jsonb value as a string holding the document's text (io.debezium.data.Json
  // is a string schema); pgcdc's own schemaless records hold the document itself. Without the
  // schema's name a string is both the text of a document and a document that is a string.
  ['j', 'io.debezium.data.Json: a string of the text, ambiguous with a json string value without the schema'],
  ['jb', 'io.debezium.data.Json: a string of the text, ambiguous with a jsonb string value without the schema'],
]);

/** One row of corpus values per entry, as SQL literals by column name (missing: NULL). */
const ROWS: readonly Readonly<Record<string, string>>[] = [
  {
    n_fixed: '12345678.9012',
    n_free: '123456789012345678901234567890.123456789',
    i2: '-32768',
    i4: '2147483647',
    i8: '9007199254740993',
    f4: '1.1',
    f8: '0.1',
    b: 'true',
    t: `'it''s "quoted" \\ back é 😀 日本'`,
    bin: `'\\x00ff10'`,
    d: `'2000-02-29'`,
    t3: `'12:34:56.789'`,
    t6: `'23:59:59.999999'`,
    ts3: `'1969-12-31 23:59:59.999'`,
    ts6: `'2024-05-06 07:08:09.123456'`,
    tstz: `'2024-05-06 07:08:09.654321+02'`,
    u: `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`,
    j: `'{"a": [1, 2.50, {"b": null}],  "big": 123456789012345678901234567890}'`,
    jb: `'{"k": 1e2, "s": "x\\"y", "n": null}'`,
    ia: `'{1,NULL,-3}'`,
    ta: `'{"a,b","c\\"d",NULL,""}'`,
    m: `'happy ''quoted'''`,
  },
  {
    n_fixed: '-0.0001',
    n_free: '-1.5', // not -1.50: see the header
    i2: '32767',
    i4: '-2147483648',
    i8: '-9223372036854775808',
    f4: '3.4028235e38',
    f8: '1.7976931348623157e308',
    b: 'false',
    t: `''`,
    bin: `''`,
    d: `'1969-12-31'`,
    t3: `'00:00:00'`,
    t6: `'00:00:00.000001'`,
    ts3: `'2038-01-19 03:14:08.5'`,
    ts6: `'1900-01-01 00:00:00.000001'`,
    tstz: `'1969-12-31 23:59:59.999999+00'`,
    u: `'00000000-0000-0000-0000-000000000000'`,
    j: `'[]'`,
    jb: `'{}'`,
    ia: `'{}'`,
    ta: `'{}'`,
    m: `'sad'`,
  },
  {
    n_fixed: '0.0000',
    n_free: '0.00000000000000000001',
    i2: '0',
    i4: '0',
    i8: '9223372036854775807',
    f4: '-0',
    f8: '5e-324',
    b: 'true',
    t: `'line
break	tab'`,
    bin: `'\\xdeadbeef00'`,
    d: `'0001-01-01'`,
    t3: `'23:59:59.999'`,
    t6: `'12:00:00'`,
    ts3: `'0001-01-01 00:00:00'`,
    ts6: `'9999-12-31 23:59:59.999999'`,
    tstz: `'2000-01-01 00:00:00+00'`,
    u: `'ffffffff-ffff-ffff-ffff-ffffffffffff'`,
    j: `'"just a string"'`,
    jb: `'[1, "two", [3]]'`,
    ia: `'{7}'`,
    ta: `'{NULL}'`,
    m: `'ok'`,
  },
  {}, // every column NULL
  { f4: `'NaN'`, f8: `'-Infinity'`, d: `'0044-03-15 BC'`, t6: `'24:00:00'`, ts6: `'0044-03-15 12:00:00 BC'`, h: `'a=>1, "b c"=>"d\\"e", n=>NULL'` },
];

/** The schema both databases get: the enum, the corpus table, and the marker table of waitForDebeziumWrites. */
function schemaSql(columns: readonly (readonly [string, string])[]): string {
  return [
    'create extension if not exists hstore',
    `create type mood as enum ('sad', 'ok', 'happy ''quoted''')`,
    `create table corpus (id int primary key, ${columns.map(([name, type]) => `${name} ${type}`).join(', ')})`,
    // The snapshot's rows that stay (corpus is truncated): its values are compared too.
    'create table snapshot_kept (like corpus including all)',
    'create table marker (id int primary key)',
  ].join('; ');
}

/** `insert into <table>` of corpus row `row` (ROWS index) under key `id`. */
function insertRow(columns: readonly (readonly [string, string])[], id: number, row: number, table = 'corpus'): string {
  const values = columns.map(([name]) => ROWS[row]![name] ?? 'null');
  return `insert into ${table} (id, ${columns.map(([name]) => name).join(', ')}) values (${id}, ${values.join(', ')})`;
}

/** `update <table>` setting the named columns of `id` to corpus row `row`'s values. */
function updateRow(columns: readonly (readonly [string, string])[], id: number, row: number, names: readonly string[], table = 'corpus'): string {
  const kept = names.filter((name) => columns.some(([column]) => column === name));
  if (kept.length === 0) return `update ${table} set id = id where id = ${id}`;
  return `update ${table} set ${kept.map((name) => `${name} = ${ROWS[row]![name] ?? 'null'}`).join(', ')} where id = ${id}`;
}

/**
 * Every row of both corpus tables as `to_jsonb`, and the json column's own text if it has one
 * (to_jsonb would normalise it), in key order.
 */
async function corpusRows(url: string, jsonText: boolean): Promise<string> {
  const tables: Record<string, unknown[]> = {};
  for (const table of ['corpus', 'snapshot_kept']) {
    const { rows } = await sql(url, `select to_jsonb(corpus_row)::text as row${jsonText ? ', j::text as j' : ''} from ${table} corpus_row order by id`);
    tables[table] = rows;
  }
  return JSON.stringify(tables);
}


/** The offsets group `groupId` committed, by `topic:partition`, as the brokers tell them. */
async function committedOffsets(bootstrapServers: string, groupId: string): Promise<Map<string, bigint>> {
  const admin = new Admin({ clientId: 'debezium-topics-test', bootstrapBrokers: bootstrapServers.split(',') });
  try {
    const groups = await admin.listConsumerGroupOffsets({ groups: [groupId] });
    const committed = new Map<string, bigint>();
    for (const topic of groups[0]?.topics ?? []) for (const partition of topic.partitions) committed.set(`${topic.name}:${partition.partitionIndex}`, partition.committedOffset);
    return committed;
  } finally {
    await admin.close();
  }
}

/** The columns in which two `corpusRows` results differ, one line each (for a failure's message). */
function rowDifferences(expected: string, got: string): string {
  const lines: string[] = [];
  const want = JSON.parse(expected) as Record<string, { row: string; j?: string }[]>;
  const have = JSON.parse(got) as Record<string, { row: string; j?: string }[]>;
  /** Each row's columns by id, the json column's text as `j::text`. */
  const byId = (list: { row: string; j?: string }[]) =>
    new Map(list.map(({ row, j }) => [(JSON.parse(row) as { id: number }).id, { ...(parseLossless(row) as Record<string, unknown>), 'j::text': j } as Record<string, unknown>]));
  for (const [table, rows] of Object.entries(want)) {
    const source = byId(rows);
    const target = byId(have[table] ?? []);
    for (const id of new Set([...source.keys(), ...target.keys()])) {
      const a = source.get(id);
      const b = target.get(id);
      if (a === undefined || b === undefined) lines.push(`${table} id ${id}: ${a === undefined ? 'only on the target' : 'missing on the target'}`);
      else for (const column of Object.keys(a)) if (stringifyLossless(a[column]) !== stringifyLossless(b[column])) lines.push(`${table} id ${id} ${column}: source ${stringifyLossless(a[column])}, target ${stringifyLossless(b[column])}`);
    }
  }
  return lines.join('\n');
}

/** What a pgcdc process logged, without stack frames, for a failure's message. */
function logLines(program: StartedProgram): string {
  return program
    .output()
    .stderr.split('\n')
    .filter((line) => !/^\s+at /.test(line))
    .join('\n')
    .slice(0, 6000);
}

describe("Kafka source: Debezium's topics", () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  let connect: DebeziumConnect | undefined;
  let pgcdc: StartedProgram | undefined;

  afterEach(async () => {
    pgcdc?.child.kill('SIGTERM');
    await pgcdc?.finished();
    pgcdc = undefined;
    await connect?.dispose();
    connect = undefined;
  });

  /**
   * Debezium captures the corpus (snapshot, then the workload) with `schemas`; pgcdc reads every
   * topic of its prefix and its heartbeat topic into the target; the target must equal the source.
   */
  async function debeziumTopicsIntoPostgres(prefix: string, schemas: boolean): Promise<void> {
    const columns = schemas ? CORPUS_COLUMNS : CORPUS_COLUMNS.filter(([name]) => !SCHEMALESS_LEFT_OUT.has(name));
    const jsonText = columns.some(([name]) => name === 'j');
    const sourceUrl = await createDatabase(server(), `${prefix}_src`);
    const targetUrl = await createDatabase(server(), `${prefix}_dst`);
    await sql(sourceUrl, schemaSql(columns));
    await sql(targetUrl, schemaSql(columns));
    // The snapshot's rows.
    for (let row = 0; row < ROWS.length; row++) {
      await sql(sourceUrl, insertRow(columns, row + 1, row));
      await sql(sourceUrl, insertRow(columns, row + 1, row, 'snapshot_kept'));
    }
    // Debezium's snapshot (read through JDBC) writes a BC date as the same date AD (its streamed
    // changes do not): such a date cannot come back from a snapshot record, so none is kept.
    await sql(sourceUrl, `update snapshot_kept set d = null where d < '0001-01-01'`);

    connect = await startDebeziumConnect({
      bootstrapServers: kafka().bootstrapServers,
      postgresUrl: sourceUrl,
      name: `${prefix}-debezium`,
      topicPrefix: prefix,
      schemas,
      connector: {
        'table.include.list': 'public.corpus,public.snapshot_kept,public.marker',
        // Debezium skips truncates unless told otherwise; every value setting stays at its default.
        'skipped.operations': 'none',
        'heartbeat.interval.ms': '500',
        'provide.transaction.metadata': 'true',
      },
    });
    await connect.waitForSnapshotDone();
    await connect.waitForStreaming();

    // Streamed changes: inserts, updates (to other values and to NULL), deletes, a TRUNCATE,
    // inserts after it, a primary-key change, a multi-statement transaction.
    const workload = [
      insertRow(columns, 50, 0),
      insertRow(columns, 51, 1),
      updateRow(columns, 1, 2, columns.map(([name]) => name)),
      updateRow(columns, 2, 3, ['n_free', 'i8', 'bin', 'ts6', 'ta', 'm']),
      'delete from corpus where id = 3',
      'truncate corpus',
      ...ROWS.map((_, row) => insertRow(columns, 10 + row, row)),
      insertRow(columns, 20, 2),
      `begin; ${updateRow(columns, 10, 1, ['n_fixed', 'f4', 'f8', 't', 'd', 't3', 'tstz', 'jb'])}; update corpus set id = 110 where id = 10; delete from corpus where id = 11; ${insertRow(columns, 21, 0)}; commit`,
      'update corpus set id = 120, i4 = 1 where id = 20',
      updateRow(columns, 2, 0, ['t', 'ts3'], 'snapshot_kept'),
      updateRow(columns, 13, 1, ['n_free']),
      updateRow(columns, 12, 0, ['ia', 'u', 'j', 'b']),
    ];
    for (const statement of workload) await sql(sourceUrl, statement);
    const { rows: before } = await sql(sourceUrl, 'select pg_current_wal_lsn()::text as lsn');
    await sql(sourceUrl, 'insert into marker values (1)');
    await waitForDebeziumWrites(connect, kafka(), sourceUrl, prefix, before[0].lsn);

    // What pgcdc will read besides change events: tombstones (after deletes and the key changes),
    // the transaction topic's BEGIN/END, heartbeats.
    const changes = await kafka().consume(`${prefix}\\.public\\.corpus`);
    // Two deletes (ids 3 and 11; the TRUNCATE writes none) and two key changes: four tombstones.
    expect(changes.filter((record) => record.value === null)).toHaveLength(4);
    expect(changes.filter((record) => record.value !== null && /"op":"t"/.test(record.value))).toHaveLength(1);
    const transactions = await kafka().consume(`${prefix}\\.transaction`);
    expect(transactions.some((record) => /"status":"BEGIN"/.test(record.value ?? '')) && transactions.some((record) => /"status":"END"/.test(record.value ?? ''))).toBe(true);
    const heartbeats = await waitFor(async () => {
      const records = await kafka().consume(`__debezium-heartbeat\\.${prefix}`, { timeoutMs: 5_000 }).catch(() => []);
      return records.length > 0 ? records : undefined;
    }, 60_000, "Debezium's heartbeats");
    // Where each partition ended before pgcdc started: the group must commit at least that far.
    const endOffsets = new Map<string, number>();
    for (const record of [...changes, ...transactions, ...heartbeats, ...(await kafka().consume(`${prefix}\\.public\\.marker`))]) {
      const name = `${record.topic}:${record.partition}`;
      endOffsets.set(name, Math.max(endOffsets.get(name) ?? 0, record.offset + 1));
    }
    for (const record of await kafka().consume(`${prefix}\\.public\\.snapshot_kept`)) endOffsets.set(`${record.topic}:${record.partition}`, Math.max(endOffsets.get(`${record.topic}:${record.partition}`) ?? 0, record.offset + 1));
    expect([...endOffsets.keys()].sort()).toEqual([`__debezium-heartbeat.${prefix}:0`, `${prefix}.public.corpus:0`, `${prefix}.public.marker:0`, `${prefix}.public.snapshot_kept:0`, `${prefix}.transaction:0`]);

    const dir = tempDir();
    const specFile = kafkaSourcedSpec(
      dir,
      `${prefix}-pgcdc`,
      { bootstrapServers: kafka().bootstrapServers, topicPattern: `${prefix}\\..*|__debezium-heartbeat\\.${prefix}`, groupId: `${prefix}-pgcdc` },
      { type: 'Postgres', postgres: { url: targetUrl } },
      0,
    );
    pgcdc = startCli(['run', '-c', specFile]);
    const running = pgcdc;
    const expected = await corpusRows(sourceUrl, jsonText);
    // The workload leaves these rows.
    const ids = (rows: { row: string }[]) => rows.map((row) => (JSON.parse(row.row) as { id: number }).id);
    const parsed = JSON.parse(expected) as Record<string, { row: string }[]>;
    expect([ids(parsed.corpus!), ids(parsed.snapshot_kept!)]).toEqual([[12, 13, 14, 21, 110, 120], [1, 2, 3, 4, 5]]);
    const outcome = await waitFor(
      async () => {
        if (running.child.exitCode !== null) return 'stopped';
        return (await corpusRows(targetUrl, jsonText)) === expected ? 'equal' : undefined;
      },
      120_000,
      'the target equal to the source',
    ).catch((error: Error) => error.message);
    if (outcome !== 'equal') throw new Error(`${outcome === 'stopped' ? `pgcdc stopped (${running.child.exitCode})` : outcome}\n${rowDifferences(expected, await corpusRows(targetUrl, jsonText))}\npgcdc:\n${logLines(running)}`);
    expect(await corpusRows(targetUrl, jsonText)).toBe(expected);
    // Every topic was read through, heartbeats and transaction records among them (the group's
    // committed offsets, from the brokers), and nothing stopped the stream or was warned about.
    const groupId = `${prefix}-pgcdc`;
    await waitFor(
      async () => {
        const committed = await committedOffsets(kafka().bootstrapServers, groupId);
        return [...endOffsets].every(([name, end]) => (committed.get(name) ?? -1n) >= BigInt(end)) ? true : undefined;
      },
      60_000,
      `group ${groupId} to commit every partition past what Debezium wrote`,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}: ended at ${JSON.stringify([...endOffsets])}, committed ${[...(await committedOffsets(kafka().bootstrapServers, groupId))].join(', ')}`);
    });
    expect(running.child.exitCode).toBeNull();
    expect(running.output().stderr).not.toMatch(/"level":(40|50)|error\[/);
  }

  it('applies what Debezium writes with JsonConverter schemas (default value settings) until the target equals the source', async () => {
    await debeziumTopicsIntoPostgres('dbzs', true);
  }, TIMEOUT_MS);

  it('applies what Debezium writes without schemas, every value that can be recovered without one', async () => {
    await debeziumTopicsIntoPostgres('dbzn', false);
  }, TIMEOUT_MS);
});
