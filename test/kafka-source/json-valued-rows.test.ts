/**
 * Changes read from change topics become events over JSON-valued tables: whatever writes events
 * (the File target, the Debezium JSON encoder every record target uses) must write each value's
 * JSON text exactly as it was read — integers past 2^53, `1.00`, nested documents, escapes — and an
 * unchanged TOASTed value as Debezium's placeholder. The oracle is the input text itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonWriter } from '../../src/encoding/json-writer.js';
import { DebeziumJsonEncoder, type DebeziumEncoderOptions } from '../../src/events/debezium-json-encoder.js';
import { JsonValuedTables, RecordImageTuple, textTuple } from '../../src/events/json-valued-rows.js';
import { writeTupleJson } from '../../src/events/tuple-json.js';
import { ChangeMessageDecoder } from '../../src/kafka-source/change-message-decoder.js';
import type { DecodedRow } from '../../src/kafka-source/decoded-change.js';
import type { RowEvent, StreamEvent, TableInfo, TransactionInfo } from '../../src/events/stream-event.js';
import { UNCHANGED, type ColumnValue } from '../../src/kafka-source/decoded-change.js';
import { silentLogger } from '../../src/logging/logger.js';
import { FileTarget } from '../../src/targets/file/file-target.js';
import { tempDir } from '../support/stream-fixtures.js';

const COLUMNS = ['id', 'n', 'doc', 's', 'body', 'gone', 'naïve'];
const KEY = ['id'];
/** JSON texts as a decoder hands them over, byte for byte what must come out. */
const VALUES: ColumnValue[] = [
  '9007199254740993',
  '1.00',
  '{"a": [1, 2.50, {"b": null}], "big": 123456789012345678901234567890, "e": 1E-7}',
  '"quote \\" backslash \\\\ nul \\u0000 é 😀 \\ud83d\\ude00"',
  UNCHANGED,
  null,
  '-0.0',
];

const txn: TransactionInfo = { xid: 77, commitLsn: 0x5000, commitTimeMicros: 1_700_000_000_123_000, previousCommitLsn: 0, origin: undefined };

function encoderOptions(format: 'value' | 'record'): DebeziumEncoderOptions {
  return { serverName: 'kafka-source', database: 'shop', version: 'test', format, tombstonesOnDelete: true, transactionMetadata: false, skippedOperations: [] };
}

/** `{"name":text,…}` of the values, names as JSON strings: what the row image must be, byte for byte. */
function expectedImage(columns: readonly string[], values: readonly (string | null)[]): string {
  return `{${columns.map((name, i) => `${JSON.stringify(name).replace('ï', '\\u00ef')}:${values[i] ?? 'null'}`).join(',')}}`;
}

function rowEvent(table: TableInfo, op: RowEvent['op'], before: ColumnValue[] | null, after: ColumnValue[] | null, lsn: number): RowEvent {
  return { kind: 'row', op, table, lsn, txn, before: before === null ? null : textTuple(before, op === 'd' ? 'K' : 'O'), after: after === null ? null : textTuple(after, 'N') };
}

describe('Kafka source: JSON-valued rows', () => {
  it('are written by the File target with every JSON text exactly as read, and unchanged values as the placeholder', async () => {
    const tables = new JsonValuedTables();
    const table = tables.table('public', 'orders', COLUMNS, KEY);
    const updated = VALUES.map((value, i) => (i === 1 ? '2.500' : value));
    const events: StreamEvent[] = [
      { kind: 'begin', txn },
      rowEvent(table, 'c', null, VALUES.map((v) => (v === UNCHANGED ? '"x"' : v)), 0x4000),
      rowEvent(table, 'u', null, updated, 0x4100),
      { kind: 'commit', txn, endLsn: 0x5001 },
    ];
    const file = path.join(tempDir('pgcdc-json-rows-'), 'events.ndjson');
    const target = new FileTarget({ type: 'File', path: file, format: 'value' }, new DebeziumJsonEncoder(encoderOptions('value')), silentLogger());
    await target.open();
    await target.write({ events });
    await target.close();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const inserted = VALUES.map((v) => (v === UNCHANGED ? '"x"' : v));
    expect(lines[0]).toContain(`{"before":null,"after":${expectedImage(COLUMNS, inserted)},"source":{`);
    expect(lines[1]).toContain(`{"before":null,"after":${expectedImage(COLUMNS, updated.map((v) => (v === UNCHANGED ? '"__debezium_unavailable_value"' : v)))},"source":{`);
    const parsed = JSON.parse(lines[1]!);
    expect(parsed.source).toMatchObject({ schema: 'public', table: 'orders', lsn: 0x4100, txId: 77 });
    expect(parsed.op).toBe('u');
    expect(parsed.unchanged_toast_columns).toEqual(['body']);
    expect(parsed.after['naïve']).toBe(-0);
    expect(parsed.after.s).toBe('quote " backslash \\ nul \u0000 é 😀 😀');
  });

  it('are written by the Debezium encoder as records keyed by the key columns, with deletes, tombstones and another placeholder', () => {
    const tables = new JsonValuedTables('(toasted)');
    const table = tables.table('inventory', 'items', COLUMNS, KEY);
    const key = VALUES.map((value, i) => (i === 0 ? value : null));
    const w = new JsonWriter();
    const encoder = new DebeziumJsonEncoder(encoderOptions('record'));
    encoder.encode([{ kind: 'begin', txn }, rowEvent(table, 'u', null, VALUES, 0x4000), rowEvent(table, 'd', key, null, 0x4100), { kind: 'commit', txn, endLsn: 0x5001 }], w, 1_700_000_000_000);
    const lines = Buffer.concat(w.take()).toString('utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const updated = VALUES.map((v) => (v === UNCHANGED ? '"(toasted)"' : v));
    expect(lines[0]!.startsWith(`{"key":{"id":9007199254740993},"value":{"before":null,"after":${expectedImage(COLUMNS, updated)},"source":{`)).toBe(true);
    // A key-only old row: the key column alone.
    expect(lines[1]!.startsWith('{"key":{"id":9007199254740993},"value":{"before":{"id":9007199254740993},"after":null,"source":{')).toBe(true);
    expect(lines[2]).toBe('{"key":{"id":9007199254740993},"value":null}');
  });

  it('give one TableInfo per table and column list, each table its own oid, key columns the columns have', () => {
    const tables = new JsonValuedTables();
    const a = tables.table('public', 'a', ['id', 'x'], ['id']);
    expect(tables.table('public', 'a', ['id', 'x'], ['id'])).toBe(a);
    expect(tables.table('public', 'a', [...'id,x'.split(',')], ['id'])).toBe(a);
    const wider = tables.table('public', 'a', ['id', 'x', 'y'], ['id']);
    expect(wider).not.toBe(a);
    expect(wider.oid).toBe(a.oid);
    expect(tables.table('public', 'a', ['id', 'x'], ['id'])).toBe(a);
    const b = tables.table('other', 'a', ['k', 'id'], ['id']);
    expect(b.oid).not.toBe(a.oid);
    expect(b.keyColumns).toEqual([1]);
    // A key the columns do not all hold is no key.
    expect(tables.table('other', 'a', ['k', 'id'], ['id', 'missing']).keyColumns).toEqual([]);
    expect(b.columns.map((c) => [c.name, c.typeName, c.isReplicaIdentity])).toEqual([
      ['k', 'json', false],
      ['id', 'json', true],
    ]);
    expect(tables.table('public', 'keyless', ['v'], []).replicaIdentity).toBe('f');
  });
  it("write a record's row image as the encoder lays it out, whether the record's object is copied whole or value by value", () => {
    const decoder = new ChangeMessageDecoder({ unavailableValuePlaceholder: '__debezium_unavailable_value' });
    const tables = new JsonValuedTables();
    let offset = 0;
    /** The `after` image the encoder writes for a record whose `after` is `image` (JSON text), through the tuple EventTargetWriter makes. */
    const written = (image: string, columns?: readonly string[]): string => {
      const value = Buffer.from(`{"before":null,"after":${image},"source":{"schema":"public","table":"t","lsn":1,"txId":2,"ts_ms":3},"op":"c","ts_ms":4}`);
      const change = decoder.decode({ topic: 't', partition: 0, offset: offset++, key: null, value, headers: new Map(), timestamp: 0 }) as DecodedRow;
      const table = tables.table('public', 't', columns ?? change.columns, []);
      const w = new JsonWriter(4096);
      writeTupleJson(w, table, new RecordImageTuple(change.afterValues!, 'N', change.columns));
      return Buffer.concat(w.take()).toString('utf8');
    };
    // Laid out as the encoder writes it: the same bytes (copied whole).
    const compact = '{"id":1,"n":null,"s":"a \\" b","doc":{"k":[1,2.50]},"big":123456789012345678901234567890}';
    expect(written(compact)).toBe(compact);
    expect(written(compact)).toBe(compact); // names and table known from the record before
    // Laid out otherwise: the same JSON, in the encoder's layout (value by value); the oracle is expectedImage.
    expect(written('{ "id" : 1 ,\n "n":null}')).toBe(expectedImage(['id', 'n'], ['1', null]));
    expect(written('{"i\\u0064":1,"n":2}')).toBe(expectedImage(['id', 'n'], ['1', '2']));
    expect(written('{"naïve":1}')).toBe(expectedImage(['naïve'], ['1']));
    expect(written('{"id":1,"n":"__debezium_unavailable_value"}')).toBe('{"id":1,"n":"__debezium_unavailable_value"}');
    expect(written('{"id":1,"s":"__debezium_unavailable_value","n":3}')).toBe('{"id":1,"s":"__debezium_unavailable_value","n":3}');
    // A table whose columns are named otherwise (a rename by a transform), names of the same length: its names, never the record's.
    expect(written('{"id":1,"n":2}', ['id', 'm'])).toBe('{"id":1,"m":2}');
  });
});
