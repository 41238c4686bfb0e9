/**
 * Conformance of the Kafka target with Debezium 3.6: one workload on one source database is
 * captured by Debezium's PostgreSQL connector on Kafka Connect (topic prefix `dbz`, its own slot and
 * publication) and by `pgcdc run` (prefix `pgc`, its own slot) into one broker, and the records are
 * compared with the prefix mapped: topic names and partition counts, keys byte for byte, the
 * partition of each key (Kafka's Java partitioner), each key's records in order with their
 * tombstones, the transaction topic, heartbeats, and every value field by field with its
 * JsonConverter schema. Debezium's records are the oracle. What legitimately differs is listed
 * below with the reason (IGNORED, and VALUE_RULES per column type, whose relation to Debezium's
 * value is checked, not skipped); every listed difference must occur, so the list stays exact.
 */
import { isLosslessNumber, parse } from 'lossless-json';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_TYPE_GROUPS, valueSql } from '../decoding/builtin-type-values.js';
import { runCli, startCli } from '../support/cli.js';
import { startDebeziumConnect, type DebeziumConnect } from '../support/debezium-connect.js';
import { waitForDebeziumWrites } from '../support/debezium-writes.js';
import { useKafkaCluster, type KafkaRecord } from '../support/kafka-cluster.js';
import { javaPartitions } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';
import { COLUMNS, EDGE_ROW, ROWS, SCHEMA } from '../support/value-fixtures.js';

const TIMEOUT_MS = 900_000;
/** Debezium's topic prefix (and logical server name), and pgcdc's. */
const DBZ = 'dbz';
const PGC = 'pgc';
const PARTITIONS = 3;

/**
 * Debezium's connector settings besides the harness's: the handling modes whose values come
 * closest to pgcdc's (PostgreSQL's to_jsonb), and what the comparison needs.
 */
const DEBEZIUM_SETTINGS: Readonly<Record<string, string>> = {
  'schema.include.list': 'public',
  'topic.creation.default.partitions': String(PARTITIONS),
  'provide.transaction.metadata': 'true',
  // Debezium skips truncates by default (`t`); pgcdc's default skips nothing.
  'skipped.operations': 'none',
  // pgcdc: numeric as an exact JSON number with a double schema; `double` is the same type.
  'decimal.handling.mode': 'double',
  // pgcdc: dates and times as ISO 8601 strings (to_jsonb's); `isostring` is the closest.
  'time.precision.mode': 'isostring',
  // pgcdc: an interval as PostgreSQL's text; `string` (ISO 8601) is a string too.
  'interval.handling.mode': 'string',
  // pgcdc: an hstore as a JSON object (to_jsonb's); `map` writes one.
  'hstore.handling.mode': 'map',
  // The default. pgcdc writes bytea as "\\x…" hex, which no mode gives; logical decoding message
  // contents are base64 in both with `bytes`.
  'binary.handling.mode': 'bytes',
  // pgcdc writes every column; Debezium leaves columns of types it does not know out by default.
  'include.unknown.datatypes': 'true',
  'heartbeat.interval.ms': '1000',
  // pgcdc's own markers (`pgcdc.marker`) are in the same WAL; `ignored.*` is excluded on both sides.
  'message.prefix.exclude.list': 'pgcdc\\..*,ignored\\..*',
};

/** Corpus values Debezium cannot stream: its connector stops (DateTimeParseException); pgcdc writes them. */
const DEBEZIUM_STOPS_ON: ReadonlyMap<string, readonly string[]> = new Map([
  // An offset with seconds, and 24:00 with an offset: Debezium parses timetz with HH:mm:ss[.S]+HH:mm.
  ['timetz', ['12:34:56-03:25:17', '24:00:00-15:59']],
]);

/**
 * Fields that legitimately differ, by name; each use in the comparison below refers to one, and
 * each must have been needed at least once.
 */
const IGNORED = {
  processingTime: 'ts_ms/ts_us/ts_ns of a change event are the time the writer processed it',
  version: "source.version is the writer's version (3.6.1.Final; pgcdc's own)",
  prefix: 'the topic prefix (dbz, pgc) is in topic names, schema names and source.name: mapped, then compared',
  beginId:
    "the BEGIN record's id (and key) is <xid>:<LSN of the Begin message>, the transaction's first WAL record; pgcdc's stream does not carry that position, so pgcdc's BEGIN id is <xid>:<commit LSN>: compared by xid",
  messageTime:
    'a non-transactional logical decoding message has no commit time: Debezium writes the previous transaction’s commit time in source.ts_ms/ts_us/ts_ns, pgcdc the time it processed the message',
  sequenceAfterMessage:
    'Debezium counts a non-transactional message as a commit position: the next transaction’s source.sequence starts with the message’s LSN; pgcdc’s with the previous commit’s end: compared from the second LSN',
  sequenceAfterStart:
    "the first transaction a run of pgcdc streams has source.sequence [null, …]: pgcdc's stream starts without the previous commit position, where Debezium's sequence starts with the last commit it processed (kept in its offsets): compared from the second LSN",
  messageCollection:
    "END's data_collections names logical decoding messages with a Java object's identity (io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@<hash>), and orders entries by its hash; pgcdc names them LOGICAL_DECODING_MESSAGE: compared as a set",
  emptyTransactions:
    'Debezium writes BEGIN and END (event_count 0) for a transaction whose every event it filtered out (an excluded message prefix; here also pgcdc’s own markers); pgcdc writes transaction records only for transactions with events',
  columnDefaults:
    "Debezium reads columns' defaults: a constant default is in the field schema (`default`), and a column a key-only old row lacks gets its default (a nullable one too) or, NOT NULL without a constant default, the type's fallback in Debezium's representation; pgcdc reads no defaults (NOT NULL: 0, false, \"\", [] or {}, else null)",
  runId: "the __debezium.context.runId header identifies the writer's run (a random id)",
  nullKeyPartition:
    "a record without key (truncates, tables without key) goes where the Java producer's sticky partitioner puts it; pgcdc writes it to partition 0: compared in transaction order",
} as const;
type IgnoredField = keyof typeof IGNORED;

// ---------------------------------------------------------------------------------------------
// Values: lossless JSON (numbers keep their text) and helpers.

type Json = null | boolean | string | { readonly value: string; readonly isLosslessNumber: true } | Json[] | { [key: string]: Json };

const num = (value: Json): number | undefined => (isLosslessNumber(value) ? Number((value as { value: string }).value) : undefined);
const text = (value: Json): string | undefined => (typeof value === 'string' ? value : undefined);
const base64 = (bytes: Buffer | string): string => (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('base64');

/** Deep equality, object keys in the same order, numbers by their text. */
function sameJson(a: Json, b: Json): boolean {
  if (isLosslessNumber(a) || isLosslessNumber(b)) return isLosslessNumber(a) && isLosslessNumber(b) && (a as { value: string }).value === (b as { value: string }).value;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]!));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((key, i) => key === kb[i] && sameJson((a as Record<string, Json>)[key]!, (b as Record<string, Json>)[key]!));
}

/** As sameJson, object keys in any order. */
function sameJsonAnyOrder(a: Json, b: Json): boolean {
  const sorted = (value: Json): Json => {
    if (value === null || typeof value !== 'object' || isLosslessNumber(value)) return value;
    if (Array.isArray(value)) return value.map(sorted);
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted((value as Record<string, Json>)[key]!)]));
  };
  return sameJson(sorted(a), sorted(b));
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value, (_key, item: unknown) => (isLosslessNumber(item) ? `#${(item as { value: string }).value}` : item));
  return text === undefined ? 'undefined' : text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

// Dates and times: pgcdc's (to_jsonb's, TimeZone UTC) text and Debezium's isostring text.

/** A year as java.time prints it: 4 digits at least, `-` before 0, `+` after 9999. */
function javaYear(astronomical: number): string {
  if (astronomical > 9999) return `+${astronomical}`;
  return astronomical < 0 ? `-${String(-astronomical).padStart(4, '0')}` : String(astronomical).padStart(4, '0');
}

/** `YYYY-MM-DD…[ BC]` → java.time's text of the same date (BC year y is year 1 - y), the rest kept. */
function javaDateTime(pg: string): string {
  const match = /^(\d+)(-\d\d-\d\d.*?)( BC)?$/.exec(pg)!;
  const year = Number(match[1]);
  return `${javaYear(match[3] ? 1 - year : year)}${match[2]}`;
}

/** `HH:MM:SS[.f]±HH[:MM[:SS]]` → the same instant of the day in UTC, `HH:MM:SS[.f]`. */
function timetzInUtc(pg: string): string {
  const match = /^(\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/.exec(pg)!;
  const seconds = Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
  const offset = (match[5] === '-' ? -1 : 1) * (Number(match[6]) * 3600 + Number(match[7] ?? 0) * 60 + Number(match[8] ?? 0));
  const utc = (((seconds - offset) % 86400) + 86400) % 86400;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(utc / 3600))}:${two(Math.floor(utc / 60) % 60)}:${two(utc % 60)}${match[4] ?? ''}`;
}

/** An interval as (months, days, microseconds), from PostgreSQL's text or ISO 8601 (PnYnMnDTnHnMnS). */
function intervalParts(value: string): [number, number, number] {
  const iso = /^P(-?\d+)Y(-?\d+)M(-?\d+)DT(-?\d+)H(-?\d+)M(-?[\d.]+)S$/.exec(value);
  if (iso) {
    const [years, months, days, hours, minutes] = iso.slice(1, 6).map(Number) as [number, number, number, number, number];
    return [years * 12 + months, days, Math.round((hours * 3600 + minutes * 60) * 1e6 + Number(iso[6]) * 1e6)];
  }
  let months = 0;
  let days = 0;
  let micros = 0;
  for (const [, amount, unit] of value.matchAll(/(-?\d+) (year|mon|day)s?/g)) {
    if (unit === 'year') months += 12 * Number(amount);
    else if (unit === 'mon') months += Number(amount);
    else days += Number(amount);
  }
  const time = /([+-])?(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(value);
  if (time) micros = (time[1] === '-' ? -1 : 1) * Math.round((Number(time[2]) * 3600 + Number(time[3]) * 60) * 1e6 + Number(time[4]) * 1e6);
  return [months, days, micros];
}

/** The numbers in a text, and the text with each number replaced by `#`. */
function numbersOf(value: string): { numbers: number[]; skeleton: string } {
  const numbers: number[] = [];
  const skeleton = value.replace(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, (match) => {
    numbers.push(Number(match));
    return '#';
  });
  return { numbers, skeleton };
}

/** The elements of a one-dimensional array literal (quoted or not; NULL as null). */
function arrayElements(literal: string): (string | null)[] {
  const body = literal.slice(1, -1);
  if (body === '') return [];
  const elements: (string | null)[] = [];
  let i = 0;
  while (i <= body.length) {
    if (body[i] === '"') {
      let value = '';
      for (i++; body[i] !== '"'; i++) value += body[i] === '\\' ? body[++i] : body[i];
      elements.push(value);
      i += 2;
    } else {
      const end = body.indexOf(',', i) < 0 ? body.length : body.indexOf(',', i);
      const value = body.slice(i, end);
      elements.push(value === 'NULL' ? null : value);
      i = end + 1;
    }
  }
  return elements;
}

// ---------------------------------------------------------------------------------------------
// Column types whose values (and schemas) pgcdc writes differently: pgcdc's values are PostgreSQL's
// to_jsonb (README: "Values are what PostgreSQL's to_jsonb() gives"), Debezium's its converters'.

interface ValueRule {
  /** Why Debezium's and pgcdc's values differ. */
  readonly why: string;
  /** The two field schemas when they differ (a subset each must match); undefined: they are equal. */
  readonly schema?: { readonly debezium: Record<string, unknown>; readonly pgcdc: Record<string, unknown> };
  /** True when Debezium's value `dbz` and pgcdc's `pgc` (neither null) stand for the same value. */
  same(dbz: Json, pgc: Json): boolean;
}

/** Debezium writes the UTF-8 bytes of the type's text output (unknown types, include.unknown.datatypes). */
const TEXT_AS_BYTES: ValueRule = {
  why: "a type Debezium does not know: it writes the bytes of the value's text (base64, schema bytes), pgcdc the text as a string (to_jsonb's)",
  schema: { debezium: { type: 'bytes' }, pgcdc: { type: 'string' } },
  same: (dbz, pgc) => dbz === base64(text(pgc)!),
};

/** Geometric types Debezium reads with the JDBC driver's classes and writes their text as bytes. */
const GEOMETRY_AS_BYTES: ValueRule = {
  why: "Debezium writes the bytes of the JDBC driver's text of the value (numbers as Java doubles, 1.0), pgcdc PostgreSQL's text (to_jsonb's)",
  schema: { debezium: { type: 'bytes' }, pgcdc: { type: 'string' } },
  same: (dbz, pgc) => {
    const a = numbersOf(Buffer.from(text(dbz)!, 'base64').toString('utf8'));
    const b = numbersOf(text(pgc)!);
    return a.skeleton === b.skeleton && a.numbers.length === b.numbers.length && a.numbers.every((n, i) => n === b.numbers[i]);
  },
};

const DATE_INFINITY: Readonly<Record<string, string>> = { infinity: '-5877611-06-21Z', '-infinity': '-5877611-06-22Z' };
const TIMESTAMP_INFINITY: Readonly<Record<string, string>> = { infinity: '+294247-01-10T04:00:25.2Z', '-infinity': '-290308-12-21T19:59:27.6Z' };

const VALUE_RULES: Readonly<Record<string, ValueRule>> = {
  bytea: {
    why: 'pgcdc writes "\\\\x" and hex (to_jsonb\'s), Debezium base64 of the bytes (binary.handling.mode bytes; hex mode: hex without "\\\\x")',
    schema: { debezium: { type: 'bytes' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => dbz === base64(Buffer.from(text(pgc)!.slice(2), 'hex')),
  },
  bit: {
    why: 'pgcdc writes the bits as text ("101"), Debezium io.debezium.data.Bits: the bits as a little-endian byte array (BitSet), base64',
    schema: { debezium: { type: 'bytes', name: 'io.debezium.data.Bits' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => {
      let bits = text(pgc)! === '' ? 0n : BigInt(`0b${text(pgc)!}`);
      const bytes: number[] = [];
      for (; bits > 0n; bits >>= 8n) bytes.push(Number(bits & 0xffn));
      return dbz === base64(Buffer.from(bytes));
    },
  },
  date: {
    why: 'Debezium (isostring) writes java.time\'s date with "Z" (years before 1 as 0, -1 …; ±infinity as its sentinel dates -5877611-06-21/22), pgcdc to_jsonb\'s ("0044-03-15 BC", "infinity")',
    schema: { debezium: { type: 'string', name: 'io.debezium.time.IsoDate' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => dbz === (DATE_INFINITY[text(pgc)!] ?? `${javaDateTime(text(pgc)!)}Z`),
  },
  time: {
    why: 'Debezium (isostring) writes the time with "Z" and 24:00:00 as 00:00:00Z (the next day\'s midnight lost), pgcdc to_jsonb\'s text',
    schema: { debezium: { type: 'string', name: 'io.debezium.time.IsoTime' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => dbz === (pgc === '24:00:00' ? '00:00:00Z' : `${text(pgc)!}Z`),
  },
  timetz: {
    why: 'Debezium writes the time moved to UTC with "Z" (the offset lost), pgcdc to_jsonb\'s text with its offset',
    same: (dbz, pgc) => dbz === `${timetzInUtc(text(pgc)!)}Z`,
  },
  timestamp: {
    why: 'Debezium (isostring) writes java.time\'s text with "Z" (BC years astronomical; ±infinity as sentinel instants), pgcdc to_jsonb\'s ("…T12:00:00 BC", "infinity")',
    schema: { debezium: { type: 'string', name: 'io.debezium.time.IsoTimestamp' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => dbz === (TIMESTAMP_INFINITY[text(pgc)!] ?? `${javaDateTime(text(pgc)!)}Z`),
  },
  timestamptz: {
    why: 'Debezium writes UTC with "Z" and always 6 fraction digits (BC years astronomical), pgcdc to_jsonb\'s "+00:00" with the digits PostgreSQL prints',
    same: (dbz, pgc) => {
      if (pgc === 'infinity' || pgc === '-infinity') return dbz === pgc;
      const match = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?\+00:00(.*)$/.exec(text(pgc)!)!;
      return dbz === `${javaDateTime(match[1]! + match[3]!)}${(match[2] ?? '.').padEnd(7, '0')}Z`;
    },
  },
  interval: {
    why: "Debezium (interval.handling.mode string) writes ISO 8601 (P1Y2M3DT4H5M6.789S; ±infinity as P0Y0M0DT0H0M0S, lost), pgcdc PostgreSQL's text (to_jsonb's)",
    schema: { debezium: { type: 'string', name: 'io.debezium.time.Interval' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) =>
      pgc === 'infinity' || pgc === '-infinity' ? dbz === 'P0Y0M0DT0H0M0S' : intervalParts(text(dbz)!).every((part, i) => part === intervalParts(text(pgc)!)[i]),
  },
  money: {
    why: "Debezium writes a number (decimal.handling.mode double), pgcdc PostgreSQL's text ($1,234.50, lc_monetary's format; to_jsonb's)",
    schema: { debezium: { type: 'double' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => num(dbz) === Number(text(pgc)!.replace(/[$,]/g, '')),
  },
  oid: {
    why: 'Debezium writes an oid as a number (int64), pgcdc as a string (to_jsonb\'s)',
    schema: { debezium: { type: 'int64' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => num(dbz) === Number(text(pgc)),
  },
  float4: {
    why: "Java's shortest text of a float (1.4E-45) and PostgreSQL's (1e-45, written out by to_jsonb) differ for some values: the same float",
    same: (dbz, pgc) => (typeof dbz === 'string' ? dbz === pgc : Math.fround(num(dbz)!) === Math.fround(num(pgc)!)),
  },
  float8: {
    why: "Java's text of a double (1.0E21) and PostgreSQL's (written out by to_jsonb) differ: the same double",
    same: (dbz, pgc) => (typeof dbz === 'string' ? dbz === pgc : num(dbz) === num(pgc)),
  },
  numeric: {
    why: "pgcdc writes numeric's exact digits (1.50, 30 digits), Debezium (decimal.handling.mode double) a double (precise: base64 bytes, string: a string): the same double",
    same: (dbz, pgc) => (typeof dbz === 'string' ? dbz === pgc : num(dbz) === num(pgc)),
  },
  point: {
    why: 'Debezium writes io.debezium.data.geometry.Point, a struct {x, y, wkb (the point as WKB, base64), srid}, pgcdc the text (x,y) (to_jsonb\'s)',
    schema: { debezium: { type: 'struct', name: 'io.debezium.data.geometry.Point' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => {
      const [x, y] = numbersOf(text(pgc)!).numbers as [number, number];
      const wkb = Buffer.alloc(21);
      wkb.writeUInt8(1, 0);
      wkb.writeUInt32LE(1, 1);
      wkb.writeDoubleLE(x, 5);
      wkb.writeDoubleLE(y, 13);
      const point = dbz as Record<string, Json>;
      return num(point.x!) === x && num(point.y!) === y && point.wkb === base64(wkb) && point.srid === null;
    },
  },
  line: GEOMETRY_AS_BYTES,
  lseg: GEOMETRY_AS_BYTES,
  box: GEOMETRY_AS_BYTES,
  path: GEOMETRY_AS_BYTES,
  polygon: GEOMETRY_AS_BYTES,
  circle: GEOMETRY_AS_BYTES,
  /** hstore, and arrays of hstore. */
  hstore: {
    why: "an hstore map's keys come in the order of Debezium's Java HashMap, pgcdc's in hstore's own order (to_jsonb's): the same object",
    same: (dbz, pgc) => sameJsonAnyOrder(dbz, pgc),
  },
  /** Arrays of base types, when they differ: of more than one dimension. */
  array: {
    why: "Debezium's array converter reads one dimension: a two-dimensional array becomes one null per sub-array; pgcdc writes nested arrays (to_jsonb's)",
    same: (dbz, pgc) => Array.isArray(dbz) && Array.isArray(pgc) && dbz.length === pgc.length && dbz.every((item, i) => item === null && Array.isArray(pgc[i])),
  },
  int2vector: {
    why: 'Debezium fails to read an int2vector (its log: "Failed to properly convert data value") and writes an empty array (null for an empty one), pgcdc the array (to_jsonb\'s)',
    schema: { debezium: { type: 'array', items: { type: 'int16', optional: false } }, pgcdc: { type: 'array', items: { type: 'int16', optional: true } } },
    same: (dbz, pgc) => (sameJson(pgc, []) ? dbz === null : sameJson(dbz, [])),
  },
  oidvector: {
    why: 'Debezium fails to read an oidvector and writes an empty array (null for an empty one), pgcdc the array of oids as strings (to_jsonb\'s)',
    schema: { debezium: { type: 'array', items: { type: 'int64', optional: false } }, pgcdc: { type: 'array', items: { type: 'string', optional: true } } },
    same: (dbz, pgc) => (sameJson(pgc, []) ? dbz === null : sameJson(dbz, [])),
  },
  composite: {
    why: "Debezium does not know composite types: it writes the bytes of the row's text (base64); pgcdc, with schemas, the text (without schemas the object to_jsonb gives)",
    schema: { debezium: { type: 'bytes' }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => dbz === base64(text(pgc)!),
  },
  'array:composite': {
    why: "Debezium writes an array of composites as an array of each element's text as bytes (null when an element is NULL); pgcdc, with schemas, the array's text (without schemas the array of objects)",
    schema: { debezium: { type: 'array', items: { type: 'bytes' } }, pgcdc: { type: 'string' } },
    same: (dbz, pgc) => {
      const elements = arrayElements(text(pgc)!);
      if (elements.includes(null)) return dbz === null;
      return Array.isArray(dbz) && sameJson(dbz, elements.map((element) => base64(element!)));
    },
  },
};

/** Types Debezium does not know (include.unknown.datatypes: the bytes of their text). */
for (const type of [
  'xid', 'xid8', 'cid', 'tid', 'tsquery', 'pg_lsn', 'jsonpath', 'regclass', 'regtype', 'regproc', 'regprocedure', 'regoperator', 'regconfig', 'regdictionary',
  'regnamespace', 'regrole', 'regcollation', 'txid_snapshot', 'pg_snapshot', 'aclitem', 'refcursor', 'int4multirange', 'int8multirange', 'nummultirange',
  'tsmultirange', 'tstzmultirange', 'datemultirange',
]) {
  (VALUE_RULES as Record<string, ValueRule>)[type] = TEXT_AS_BYTES;
}
(VALUE_RULES as Record<string, ValueRule>).varbit = VALUE_RULES.bit!;

/** What the catalog says of a column: its rule's key and whether it has a default. */
interface ColumnFacts {
  readonly rule: string;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
}

async function columnFacts(url: string): Promise<Map<string, Map<string, ColumnFacts>>> {
  const { rows } = await sql(
    url,
    `select c.relname as table_name, a.attname as column_name, a.attnotnull as not_null, a.atthasdef as has_default,
       coalesce(bt.typname, t.typname) as type_name, coalesce(bt.typtype, t.typtype) as type_kind,
       et.typname as element_name, et.typtype as element_kind, t.typname in ('int2vector', 'oidvector') as is_vector
     from pg_attribute a
     join pg_class c on c.oid = a.attrelid
     join pg_namespace n on n.oid = c.relnamespace
     join pg_type t on t.oid = a.atttypid
     left join pg_type bt on bt.oid = t.typbasetype and t.typtype = 'd'
     left join pg_type et on et.oid = t.typelem and t.typcategory = 'A'
     where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`,
  );
  const facts = new Map<string, Map<string, ColumnFacts>>();
  for (const row of rows) {
    let rule: string = row.type_name;
    if (row.is_vector) rule = row.type_name;
    else if (row.element_name !== null) rule = row.element_kind === 'c' ? 'array:composite' : row.element_name === 'hstore' ? 'hstore' : 'array';
    else if (row.type_kind === 'c') rule = 'composite';
    const table = facts.get(row.table_name) ?? new Map<string, ColumnFacts>();
    table.set(row.column_name, { rule, notNull: row.not_null, hasDefault: row.has_default });
    facts.set(row.table_name, table);
  }
  return facts;
}

// ---------------------------------------------------------------------------------------------
// The comparison.

interface Parsed {
  readonly record: KafkaRecord;
  /** The key with the prefix mapped (Debezium's) or as written (pgcdc's). */
  readonly key: string | null;
  readonly value: { schema: Json; payload: Record<string, Json> } | null;
}

class Comparison {
  readonly problems: string[] = [];
  readonly used = new Set<string>();
  /** LSNs of Debezium's non-transactional messages. */
  readonly messageLsns = new Set<string>();

  constructor(readonly facts: Map<string, Map<string, ColumnFacts>>) {}

  ignore(field: IgnoredField): void {
    this.used.add(`ignored:${field}`);
  }

  /** Headers of a pair of records: Debezium's context headers with the prefix mapped and the run id aside. */
  headers(where: string, dbz: KafkaRecord, pgc: KafkaRecord): void {
    const a = { ...dbz.headers };
    const b = { ...pgc.headers };
    if ('__debezium.context.connectorLogicalName' in a && a['__debezium.context.connectorLogicalName'] === DBZ) {
      this.ignore('prefix');
      a['__debezium.context.connectorLogicalName'] = PGC;
    }
    if ('__debezium.context.runId' in a && '__debezium.context.runId' in b) {
      this.ignore('runId');
      a['__debezium.context.runId'] = b['__debezium.context.runId']!;
    }
    if (!sameJson(a, b)) this.problem(where, 'headers', a, b);
  }

  problem(where: string, what: string, dbz: unknown, pgc: unknown): void {
    this.problems.push(`${where}: ${what}: Debezium ${show(dbz)}, pgcdc ${show(pgc)}`);
  }

  /** A change event value (or tombstone) of `table`. */
  change(where: string, table: string, dbz: Parsed['value'], pgc: Parsed['value']): void {
    if (dbz === null || pgc === null) {
      if (dbz !== pgc) this.problem(where, 'tombstone', dbz, pgc);
      return;
    }
    this.envelopeSchema(`${where} schema`, table, dbz.schema, pgc.schema);
    const a = { ...dbz.payload };
    const b = { ...pgc.payload };
    if (!sameJson(Object.keys(a), Object.keys(b))) this.problem(where, 'fields', Object.keys(a), Object.keys(b));
    for (const field of ['ts_ms', 'ts_us', 'ts_ns']) {
      if (field in a && field in b) this.ignore('processingTime');
      delete a[field];
      delete b[field];
    }
    this.source(where, a.source as Record<string, Json>, b.source as Record<string, Json>);
    delete a.source;
    delete b.source;
    for (const image of ['before', 'after']) {
      if (image in a || image in b) this.row(`${where} ${image}`, table, a[image]!, b[image]!, a.op === 'd' && image === 'before');
      delete a[image];
      delete b[image];
    }
    if (!sameJson(a, b)) this.problem(where, 'payload', a, b);
  }

  /** The `source` block: version ignored, name mapped, a non-transactional message's time ignored. */
  source(where: string, dbz: Record<string, Json>, pgc: Record<string, Json>): void {
    const a = { ...dbz };
    const b = { ...pgc };
    this.ignore('version');
    delete a.version;
    delete b.version;
    if (a.name === DBZ && b.name === PGC) {
      this.ignore('prefix');
      a.name = PGC;
    }
    if (a.txId === null && b.txId === null && a.table === '' && b.table === '') {
      this.ignore('messageTime');
      for (const field of ['ts_ms', 'ts_us', 'ts_ns']) {
        delete a[field];
        delete b[field];
      }
    }
    const sequenceA = JSON.parse(text(a.sequence) ?? 'null') as (string | null)[] | null;
    const sequenceB = JSON.parse(text(b.sequence) ?? 'null') as (string | null)[] | null;
    if (sequenceA && sequenceB && a.txId !== null && sequenceA[0] !== sequenceB[0] && sequenceA[0] !== null && (this.messageLsns.has(sequenceA[0]) || sequenceB[0] === null)) {
      this.ignore(sequenceB[0] === null ? 'sequenceAfterStart' : 'sequenceAfterMessage');
      if (sequenceA[1] !== sequenceB[1]) this.problem(where, 'source.sequence', a.sequence, b.sequence);
      delete a.sequence;
      delete b.sequence;
    }
    if (!sameJson(a, b)) this.problem(where, 'source', a, b);
  }

  /** A row image, column by column, with the value rules of the columns' types. */
  row(where: string, table: string, dbz: Json, pgc: Json, keyOnly: boolean): void {
    if (dbz === null || pgc === null || typeof dbz !== 'object' || typeof pgc !== 'object') {
      if (!sameJson(dbz, pgc)) this.problem(where, 'row', dbz, pgc);
      return;
    }
    const a = dbz as Record<string, Json>;
    const b = pgc as Record<string, Json>;
    if (!sameJson(Object.keys(a), Object.keys(b))) this.problem(where, 'columns', Object.keys(a), Object.keys(b));
    for (const column of Object.keys(a)) {
      const facts = this.facts.get(table)?.get(column);
      const x = a[column]!;
      const y = b[column]!;
      if (sameJson(x, y)) continue;
      if (keyOnly && facts?.hasDefault) {
        // A key-only old row: Debezium writes the column's default, pgcdc null or its fallback.
        this.ignore('columnDefaults');
        continue;
      }
      const rule = facts && VALUE_RULES[facts.rule];
      if (rule && y !== null && agrees(rule, x, y)) {
        this.used.add(`rule:${facts.rule}`);
        continue;
      }
      this.problem(`${where}.${column}`, facts ? facts.rule : 'value', x, y);
    }
  }

  /** The envelope schema: column fields by their rules, a constant default of Debezium's ignored. */
  envelopeSchema(where: string, table: string, dbz: Json, pgc: Json): void {
    const a = structuredClone(mapSchemaNames(dbz)) as Record<string, Json>;
    const b = structuredClone(pgc) as Record<string, Json>;
    const fields = (schema: Record<string, Json>, name: string) => ((schema.fields as Record<string, Json>[]).find((field) => field.field === name)?.fields ?? []) as Record<string, Json>[];
    for (const image of ['before', 'after']) {
      const columnsA = fields(a, image);
      const columnsB = fields(b, image);
      for (const [i, fieldA] of columnsA.entries()) {
        const fieldB = columnsB[i];
        if (fieldB === undefined) continue;
        const facts = this.facts.get(table)?.get(String(fieldA.field));
        if ('default' in fieldA && facts?.hasDefault) {
          this.ignore('columnDefaults');
          delete fieldA.default;
        }
        const rule = facts && VALUE_RULES[facts.rule];
        if (facts && rule?.schema) {
          if (!matches(fieldA, rule.schema.debezium) || !matches(fieldB, rule.schema.pgcdc)) this.problem(`${where}.${image}.${String(fieldA.field)}`, `schema (${facts.rule})`, fieldA, fieldB);
          columnsA[i] = { field: fieldA.field! };
          columnsB[i] = { field: fieldB.field! };
        }
      }
    }
    if (!sameJson(a, b)) this.problem(where, 'schema', a, b);
  }
}

/** Whether a rule finds Debezium's value `dbz` and pgcdc's `pgc` the same (false where it cannot read them). */
function agrees(rule: ValueRule, dbz: Json, pgc: Json): boolean {
  try {
    return rule.same(dbz, pgc);
  } catch {
    return false;
  }
}

/** Whether `value` has every member of `subset` (deeply, numbers by value). */
function matches(value: Json, subset: unknown): boolean {
  if (subset === null || typeof subset !== 'object') return isLosslessNumber(value) ? num(value) === subset : value === subset;
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(subset).every(([key, item]) => matches((value as Record<string, Json>)[key] ?? null, item));
}

/** Debezium's schema with `dbz.` names as `pgc.`. */
function mapSchemaNames(schema: Json): Json {
  if (schema === null || typeof schema !== 'object' || isLosslessNumber(schema)) return schema;
  if (Array.isArray(schema)) return schema.map(mapSchemaNames);
  return Object.fromEntries(
    Object.entries(schema).map(([key, item]) => [key, key === 'name' && typeof item === 'string' && item.startsWith(`${DBZ}.`) ? `${PGC}.${item.slice(DBZ.length + 1)}` : mapSchemaNames(item)]),
  );
}

function parseRecord(record: KafkaRecord, side: 'dbz' | 'pgc'): Parsed {
  const key = record.key === null ? null : side === 'dbz' ? record.key.replace(`"name":"${DBZ}.`, `"name":"${PGC}.`) : record.key;
  return { record, key, value: record.value === null ? null : (parse(record.value) as Parsed['value']) };
}

/** `records` grouped by key (keyed ones), in offset order within each key. */
function byKey(records: readonly Parsed[]): Map<string, Parsed[]> {
  const groups = new Map<string, Parsed[]>();
  for (const record of records) {
    if (record.key === null) continue;
    groups.set(record.key, [...(groups.get(record.key) ?? []), record]);
  }
  for (const group of groups.values()) group.sort((a, b) => a.record.partition - b.record.partition || a.record.offset - b.record.offset);
  return groups;
}

/**
 * The change events without key in transaction order (txId, total_order), and the number of
 * tombstones without key (after deletes of a table without key: Debezium's producer may put one on
 * another partition than its delete, so they are counted, not placed).
 */
function keylessInOrder(records: readonly Parsed[]): { events: Parsed[]; tombstones: number } {
  const keyless = records.filter((record) => record.key === null);
  const order = (record: Parsed) => {
    const payload = record.value!.payload;
    return [num((payload.source as Record<string, Json>).txId!)!, num((payload.transaction as Record<string, Json>).total_order!)!] as const;
  };
  const events = keyless.filter((record) => record.value !== null).sort((a, b) => order(a)[0] - order(b)[0] || order(a)[1] - order(b)[1]);
  return { events, tombstones: keyless.length - events.length };
}

describe('Kafka target conformance with Debezium 3.6 on Kafka Connect', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  let connect: DebeziumConnect | undefined;

  afterEach(async () => {
    await connect?.dispose();
    connect = undefined;
  });

  it('writes the topics, keys, partitions, tombstones, transaction records and values Debezium writes', async () => {
    const url = await createDatabase(server(), 'conformance');
    const major = server().major;

    // A table with a column of every type of the corpus, the user types of the value fixtures,
    // extension types, and tables for each replica identity and key shape.
    const groups = BUILTIN_TYPE_GROUPS.filter((group) => (group.since ?? 0) <= major);
    const column = (i: number) => `c${String(i).padStart(2, '0')}_${groups[i]!.type.replace(/[^a-z0-9]+/gi, '_').replace(/_+$/, '').toLowerCase()}`;
    await sql(url, `create table corpus (id int primary key, ${groups.map((group, i) => `${column(i)} ${group.type}`).join(', ')})`);
    await sql(url, SCHEMA);
    await sql(url, 'alter table vals replica identity full');
    await sql(url, 'create extension hstore; create extension ltree; create extension citext');
    await sql(url, 'create table ext_vals (id int primary key, h hstore, l ltree, ci citext, ha hstore[])');
    await sql(url, "create table docs (id int primary key, body text, n int not null, label text not null default 'none', flag bool default true, at timestamptz not null default now())");
    await sql(url, 'create table docs_full (id int primary key, body text, n int)');
    await sql(url, 'alter table docs_full replica identity full');
    await sql(url, 'create table pairs (a int, b text, v int, primary key (a, b))');
    await sql(url, 'create table keyless (x int, y text)');
    await sql(url, 'alter table keyless replica identity full');
    await sql(url, 'create table by_index (code text not null, v int)');
    await sql(url, 'create unique index by_index_code on by_index (code)');
    await sql(url, 'alter table by_index replica identity using index by_index_code');
    await sql(url, 'create table marker (id int primary key)');
    const facts = await columnFacts(url);

    connect = await startDebeziumConnect({
      bootstrapServers: kafka().bootstrapServers,
      postgresUrl: url,
      name: 'dbz-conformance',
      topicPrefix: DBZ,
      schemas: true,
      snapshotMode: 'no_data',
      connector: { ...DEBEZIUM_SETTINGS },
    });
    await connect.waitForSnapshotDone();
    await connect.waitForStreaming();

    const { specFile } = await targetStream({
      url,
      name: 'conformance',
      dir: tempDir(),
      source: { includes: ['public\\..*'], provideTransactionMetadata: true, messagePrefixExcludeList: ['ignored\\..*'] },
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, topicPrefix: PGC, createTopics: { partitions: PARTITIONS }, heartbeatInterval: '300ms', extendedHeaders: true } },
    });
    const created = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000); // the slot
    expect(created.code, created.stderr).toBe(0);

    // The workload: one statement string per transaction.
    const rowCount = Math.max(...groups.map((group) => group.values.length));
    const corpusRows = Array.from(
      { length: rowCount },
      (_, r) => `(${r + 1}, ${groups.map((group) => (r < group.values.length && !DEBEZIUM_STOPS_ON.get(group.type)?.includes(group.values[r] as string) ? valueSql(group, group.values[r]!) : 'null')).join(', ')})`,
    );
    const bigText = `(select string_agg(md5(g::text), '') from generate_series(1, 400) g)`; // TOASTed out of line
    const workload = [
      `insert into corpus values ${corpusRows.join(', ')}`,
      `insert into vals (${COLUMNS}) values ${[...ROWS, EDGE_ROW].join(', ')}`,
      `insert into ext_vals values (1, 'a=>1, "b c"=>"d\\"e", n=>NULL', 'top.science.astronomy', 'MixedCase', array['x=>1'::hstore, ''::hstore]), (2, '', 'x', '', '{}'), (3, null, null, null, null)`,
      `insert into docs (id, body, n) values (1, ${bigText}, 1), (2, 'short', 2)`,
      `select pg_logical_emit_message(true, 'ignored.x', 'a transaction whose only event is filtered out')`,
      `insert into docs_full values (1, ${bigText}, 1), (2, 'short', 2)`,
      // Unchanged TOASTed values: the placeholder (DEFAULT), the old row's value (FULL).
      `update docs set n = n + 1`,
      `update docs_full set n = n + 1`,
      `update docs set body = body || 'x' where id = 1`,
      `update docs_full set body = body || 'x' where id = 1`,
      `update vals set b = not b`,
      // Primary-key changes: delete, tombstone, create.
      `update corpus set id = id + 100 where id = 1`,
      `update docs set id = 10 where id = 1`,
      `update docs_full set id = 10 where id = 1`,
      `insert into pairs values (1, 'a', 1), (2, 'b', 2); update pairs set b = 'z' where a = 1; update pairs set v = 3 where a = 2`,
      `begin; insert into docs (id, body, n) values (3, 'multi', 3); insert into docs_full values (3, 'multi', 3); select pg_logical_emit_message(true, 'conf-prefix', 'in a transaction'); insert into keyless values (1, 'k'); insert into by_index values ('one', 1); commit`,
      `select pg_logical_emit_message(false, 'conf-prefix', 'outside any transaction')`,
      `insert into keyless values (2, 'two'), (3, 'three'); update keyless set y = 'TWO' where x = 2; delete from keyless where x = 3`,
      `update by_index set v = 2 where code = 'one'; update by_index set code = 'uno' where code = 'one'; insert into by_index values ('dos', 5); delete from by_index where code = 'dos'`,
      `delete from docs where id = 10`,
      `delete from docs_full where id = 10`,
      `delete from corpus where id = 2`,
      `delete from vals where id = 4`,
      `delete from pairs where a = 2`,
      `truncate docs`,
      `truncate docs_full, keyless`,
    ];
    for (const statement of workload) await sql(url, statement);
    const { rows: before } = await sql(url, 'select pg_current_wal_lsn()::text as lsn');
    await sql(url, 'insert into marker values (1)');
    await waitForDebeziumWrites(connect!, kafka(), url, DBZ, before[0].lsn);

    const streamed = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(streamed.code, streamed.stderr).toBe(0);
    // pgcdc's heartbeats: a run that stays up until one is written.
    const beating = startCli(['run', '-c', specFile]);
    try {
      await waitFor(async () => ((await kafka().consume(`__debezium-heartbeat\\.${PGC}`, { timeoutMs: 5_000 }).catch(() => [])).length > 0 ? true : undefined), 120_000, "pgcdc's heartbeat");
    } finally {
      beating.child.kill('SIGTERM');
    }
    expect((await beating.finished()).code).toBe(0);

    const records = await kafka().consume(`(${DBZ}|${PGC})\\..*`, { timeoutMs: 60_000 });
    const comparison = new Comparison(facts);
    const dbzRecords = records.filter((record) => record.topic.startsWith(`${DBZ}.`)).map((record) => parseRecord(record, 'dbz'));
    const pgcRecords = records.filter((record) => record.topic.startsWith(`${PGC}.`)).map((record) => parseRecord(record, 'pgc'));
    const topicOf = (record: Parsed) => (record.record.topic.startsWith(`${DBZ}.`) ? `${PGC}.${record.record.topic.slice(DBZ.length + 1)}` : record.record.topic);
    for (const record of dbzRecords) {
      const payload = record.value?.payload;
      if (record.record.topic === `${DBZ}.message` && payload?.transaction === null) comparison.messageLsns.add((payload.source as Record<string, Json>).lsn!.toString());
    }

    // Topic names (prefix mapped) and partition counts.
    const topics = [...new Set(pgcRecords.map(topicOf))].sort();
    comparison.ignore('prefix');
    expect([...new Set(dbzRecords.map(topicOf))].sort()).toEqual(topics);
    expect(topics).toEqual(
      [`${PGC}.message`, `${PGC}.transaction`, ...['by_index', 'corpus', 'docs', 'docs_full', 'ext_vals', 'keyless', 'marker', 'pairs', 'vals'].map((table) => `${PGC}.public.${table}`)].sort(),
    );
    for (const topic of topics) {
      const pgcTopic = await kafka().describeTopic(topic);
      const dbzTopic = await kafka().describeTopic(`${DBZ}.${topic.slice(PGC.length + 1)}`);
      expect(pgcTopic.partitions.length, topic).toBe(dbzTopic.partitions.length);
    }

    for (const topic of topics) {
      const a = dbzRecords.filter((record) => topicOf(record) === topic);
      const b = pgcRecords.filter((record) => topicOf(record) === topic);
      // Each record with a key is on the partition Kafka's Java partitioner gives its key's bytes
      // (Connect leaves it to the producer; pgcdc computes murmur2 itself).
      for (const side of [a, b]) {
        const keyed = side.filter((record) => record.record.key !== null).map((record) => record.record);
        if (keyed.length > 0) expect(keyed.map((record) => record.partition), topic).toEqual(javaPartitions(keyed, PARTITIONS));
      }
      expect(b.filter((record) => record.key === null).every((record) => record.record.partition === 0), topic).toBe(true);
      // (Debezium's may happen to be on partition 0 too: they are compared without their partition either way.)
      if (a.some((record) => record.key === null)) comparison.ignore('nullKeyPartition');

      if (topic === `${PGC}.transaction`) {
        compareTransactions(comparison, a, b);
        continue;
      }
      const table = topic.split('.')[2] ?? '';
      // Keys byte for byte; each key's records (tombstones included) in the same order.
      const keysA = byKey(a);
      const keysB = byKey(b);
      expect([...keysA.keys()].sort(), topic).toEqual([...keysB.keys()].sort());
      for (const [key, recordsA] of keysA) {
        const recordsB = keysB.get(key) ?? [];
        const shape = (group: Parsed[]) => group.map((record) => (record.value === null ? 'tombstone' : String(record.value.payload.op)));
        if (!sameJson(shape(recordsA), shape(recordsB))) comparison.problem(`${topic} ${key}`, 'records', shape(recordsA), shape(recordsB));
        for (const [i, record] of recordsA.entries()) {
          if (!recordsB[i]) continue;
          const where = `${topic} ${key.slice(key.indexOf('"payload"'))} #${i}`;
          comparison.headers(where, record.record, recordsB[i]!.record);
          comparison.change(where, table, record.value, recordsB[i]!.value);
        }
      }
      // Records without key (truncates, a table without key) in transaction order; one tombstone
      // per delete, which pgcdc writes right after it (on partition 0, as all its keyless records).
      const keylessA = keylessInOrder(a);
      const keylessB = keylessInOrder(b);
      const ops = (side: { events: Parsed[] }) => side.events.map((record) => String(record.value!.payload.op));
      expect(ops(keylessA), topic).toEqual(ops(keylessB));
      expect([keylessA.tombstones, keylessB.tombstones], topic).toEqual(Array(2).fill(ops(keylessB).filter((op) => op === 'd').length));
      const pgcKeyless = b.filter((record) => record.key === null).sort((x, y) => x.record.offset - y.record.offset);
      for (const [i, record] of pgcKeyless.entries()) if (record.value === null) expect(pgcKeyless[i - 1]?.value?.payload.op, topic).toBe('d');
      for (const [i, record] of keylessA.events.entries()) {
        comparison.headers(`${topic} (no key) #${i}`, record.record, keylessB.events[i]!.record);
        comparison.change(`${topic} (no key) #${i}`, table, record.value, keylessB.events[i]!.value);
      }
    }

    // Heartbeats: key byte for byte (server name mapped), value schema; ts_ms is the time of writing.
    const heartbeats = await kafka().consume('__debezium-heartbeat\\..*', { timeoutMs: 30_000 });
    const dbzBeat = heartbeats.find((record) => record.topic === `__debezium-heartbeat.${DBZ}`)!;
    const pgcBeat = heartbeats.find((record) => record.topic === `__debezium-heartbeat.${PGC}`)!;
    expect(dbzBeat.key!.replace(`"serverName":"${DBZ}"`, `"serverName":"${PGC}"`)).toBe(pgcBeat.key);
    expect(JSON.parse(dbzBeat.value!).schema).toEqual(JSON.parse(pgcBeat.value!).schema);
    expect(pgcBeat.headers).toEqual(dbzBeat.headers);
    expect(Object.keys(JSON.parse(pgcBeat.value!).payload)).toEqual(['ts_ms']);
    for (const beat of [dbzBeat, pgcBeat]) expect((await kafka().describeTopic(beat.topic)).partitions).toHaveLength(PARTITIONS);
    expect(dbzBeat.partition).toBe(0); // Debezium's heartbeat records name partition 0
    expect(pgcBeat.partition).toBe(0);

    if (process.env.PGCDC_CONFORMANCE_DUMP) (await import('node:fs')).writeFileSync(process.env.PGCDC_CONFORMANCE_DUMP, comparison.problems.join('\n'));
    expect(comparison.problems).toEqual([]);
    // Every listed difference occurred: the lists say exactly what differs.
    const listed = [...Object.keys(IGNORED).map((field) => `ignored:${field}`), ...Object.keys(VALUE_RULES).map((type) => `rule:${type}`)];
    expect(listed.filter((entry) => !comparison.used.has(entry))).toEqual([]);
  }, TIMEOUT_MS);
});

/**
 * The transaction topic: Debezium's transactions without events left out (IGNORED), then each
 * transaction's BEGIN and END, by xid: keys (END's byte for byte), schemas, payloads.
 */
function compareTransactions(comparison: Comparison, dbz: readonly Parsed[], pgc: readonly Parsed[]): void {
  const xid = (record: Parsed) => String(record.value!.payload.id).split(':')[0]!;
  const empty = new Set(dbz.filter((record) => record.value!.payload.status === 'END' && num(record.value!.payload.event_count!) === 0).map(xid));
  if (empty.size > 0) comparison.ignore('emptyTransactions');
  const order = (records: readonly Parsed[]) =>
    records.filter((record) => !empty.has(xid(record))).sort((a, b) => Number(xid(a)) - Number(xid(b)) || String(a.value!.payload.status).localeCompare(String(b.value!.payload.status)));
  const a = order(dbz);
  const b = order(pgc);
  expect(a.map((record) => `${xid(record)} ${String(record.value!.payload.status)}`)).toEqual(b.map((record) => `${xid(record)} ${String(record.value!.payload.status)}`));
  for (const [i, recordA] of a.entries()) {
    const recordB = b[i]!;
    const where = `transaction ${xid(recordA)} ${String(recordA.value!.payload.status)}`;
    comparison.headers(where, recordA.record, recordB.record);
    if (!sameJson(mapSchemaNames(recordA.value!.schema), recordB.value!.schema)) comparison.problem(where, 'schema', recordA.value!.schema, recordB.value!.schema);
    const payloadA = { ...recordA.value!.payload };
    const payloadB = { ...recordB.value!.payload };
    if (payloadA.status === 'BEGIN') {
      // Keyed by the id: compare xid, the rest of the key's bytes too.
      comparison.ignore('beginId');
      const keyA = recordA.key!.replace(/"id":"\d+:\d+"/, '"id":"?"');
      const keyB = recordB.key!.replace(/"id":"\d+:\d+"/, '"id":"?"');
      if (keyA !== keyB) comparison.problem(where, 'key', recordA.key, recordB.key);
      delete payloadA.id;
      delete payloadB.id;
    } else if (recordA.key !== recordB.key) comparison.problem(where, 'key', recordA.key, recordB.key);
    const collections = (payload: Record<string, Json>) => payload.data_collections as Record<string, Json>[] | null;
    const collectionsA = collections(payloadA);
    if (collectionsA?.some((entry) => String(entry.data_collection).startsWith('io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@'))) {
      comparison.ignore('messageCollection');
      const named = (entries: Record<string, Json>[]) =>
        entries
          .map((entry) => ({ ...entry, data_collection: String(entry.data_collection).startsWith('io.debezium.') ? 'LOGICAL_DECODING_MESSAGE' : entry.data_collection }))
          .sort((x, y) => String(x.data_collection).localeCompare(String(y.data_collection)));
      payloadA.data_collections = named(collectionsA);
      payloadB.data_collections = named(collections(payloadB) ?? []);
    }
    if (!sameJson(payloadA, payloadB)) comparison.problem(where, 'payload', payloadA, payloadB);
  }
}
