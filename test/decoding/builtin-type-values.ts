/**
 * Test values for every built-in type, as SQL: each group is a type and values of it, either input
 * text (quoted and cast) or SQL expressions of that type.
 */

/** A value: its input text, or `{ sql }`, an expression already of the group's type. */
export type TestValue = string | { readonly sql: string };

export interface TypeGroup {
  /** The type as written in SQL, with modifiers when needed (`bit(3)`). */
  readonly type: string;
  readonly values: readonly TestValue[];
  /** Compare numbers by exact decimal value (json and jsonb normalise number text). */
  readonly numbersByValue?: boolean;
  /** Lowest PostgreSQL major that has the type or these values. */
  readonly since?: number;
}

/** `'text'` as an SQL literal (standard_conforming_strings). */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The SQL expression of a value of `group`. */
export function valueSql(group: TypeGroup, value: TestValue): string {
  return typeof value === 'string' ? `${literal(value)}::${group.type}` : `(${value.sql})::${group.type}`;
}

const STRINGS: readonly TestValue[] = [
  '',
  'hello',
  'with "quotes"',
  String.raw`back\slash and \\ double`,
  'comma, {braces} (parens) [brackets] ;semicolon',
  'NULL',
  'null',
  ' leading and trailing ',
  "it's",
  'emoji 😀, 日本語, é',
  { sql: String.raw`E'ctl \x01\x02\t\n\r\x1f\x7f end'` },
  { sql: String.raw`E'\u2028\u2029 \uFEFF'` },
  { sql: `repeat('long "text" \\ ', 400)` },
];

export const BUILTIN_TYPE_GROUPS: readonly TypeGroup[] = [
  { type: 'bool', values: ['true', 'false'] },
  { type: 'int2', values: ['0', '1', '-1', '32767', '-32768'] },
  { type: 'int4', values: ['0', '42', '2147483647', '-2147483648'] },
  { type: 'int8', values: ['0', '1234567890123', '9223372036854775807', '-9223372036854775808'] },
  { type: 'oid', values: ['0', '1', '4294967295'] },
  { type: 'xid', values: ['0', '3', '4294967295'] },
  { type: 'xid8', values: ['0', '18446744073709551615'] },
  { type: 'cid', values: ['0', '4294967295'] },
  { type: 'tid', values: ['(0,1)', '(4294967295,65535)'] },
  {
    type: 'float4',
    values: ['0', '-0', '1', '-1.5', '0.1', '1e-45', '1.4e-45', '1.17549435e-38', '3.4028235e38', '-3.4028235e38', '123456.79', '1e6', '1e7',
      '12345678', '1.5e-5', '0.0001', 'NaN', 'Infinity', '-Infinity'],
  },
  {
    type: 'float8',
    values: ['0', '-0', '0.1', '100', '3.141592653589793', '1e-300', '5e-324', '4.9e-324', '2.2250738585072014e-308', '1.7976931348623157e308',
      '-1.7976931348623157e308', '1e15', '1e16', '1e21', '1e22', '123456789012345680000', '-1e-5', '-1.25e-7', 'NaN', 'Infinity', '-Infinity'],
  },
  {
    type: 'numeric',
    values: ['0', '-0', '1.50', '-1.50', '-0.000', '123456789012345678901234567890.123456789', '0.000000000000000000000000000001', '1e-20',
      '1e20', '-5.5e-3', '99999999999999999999999999999999999999', '1e+300', 'NaN', 'Infinity', '-Infinity'],
  },
  { type: 'numeric(10,2)', values: ['1', '-12345678.9'] },
  { type: 'money', values: ['0', '12.34', '-1234567.89', '92233720368547758.07', '-92233720368547758.08'] },
  { type: 'text', values: STRINGS },
  { type: 'varchar', values: STRINGS },
  { type: 'varchar(5)', values: ['abc', '', 'a"b'] },
  { type: 'bpchar', values: ['abc', 'a "b" ', ''] },
  { type: 'character(5)', values: ['ab', '', 'a\\"'] },
  { type: 'name', values: ['pg_class', 'Mixed Case', 'a"b\\c', 'x'.repeat(63)] },
  { type: '"char"', values: ['a', '"', '\\', ' ', ',', '{', { sql: `''` }, { sql: 'chr(200)' }] },
  { type: 'bytea', values: ['\\x', '\\xdeadbeef', '\\x00ff22', { sql: `convert_to('héllo "q" \\', 'UTF8')` }] },
  { type: 'date', values: ['2020-02-29', '1999-12-31', '0001-01-01', '0001-12-31 BC', '4714-11-24 BC', '5874897-12-31', '10000-01-01', 'infinity', '-infinity'] },
  { type: 'time', values: ['00:00', '23:59:59.999999', '24:00:00', '12:34:56.5', '01:02:03.000001'] },
  { type: 'time(2)', values: ['12:34:56.789'] },
  { type: 'timetz', values: ['12:00+00', '12:00:00.5+05:45', '23:59:59.999999-14:59', '00:00:00+14', '24:00:00-15:59', '12:34:56-03:25:17', '08:00-01'] },
  {
    type: 'timestamp',
    values: ['2020-01-01 00:00', '2020-01-01 12:34:56.789012', '1999-12-31 23:59:59.5', '0001-01-01 00:00', '0044-03-15 12:00 BC',
      '4714-11-24 00:00 BC', '294276-12-31 23:59:59.999999', '10000-01-01 00:00', 'infinity', '-infinity'],
  },
  { type: 'timestamp(0)', values: ['2020-01-01 12:34:56.789'] },
  {
    type: 'timestamptz',
    values: ['2020-01-01 00:00+00', '2020-01-01 12:34:56.789012+00', '2020-06-01 12:00:00+05:45', '2020-06-01 12:00:00-11:30',
      '1999-12-31 23:59:59.5 UTC', '0044-03-15 12:00+00 BC', '4714-11-24 00:00+00 BC', '294276-12-31 23:59:59.999999+00', '10000-01-01 00:00+00',
      'infinity', '-infinity'],
  },
  {
    type: 'interval',
    values: ['0', '1 year 2 months 3 days 04:05:06.789', '-1 day +02:03', '178000000 years', '-00:00:00.000001', 'P1Y2M3DT4H5M6S', '1 mon -1 day',
      '-2147483648 days', '@ 1 minute'],
  },
  { type: 'interval', values: ['infinity', '-infinity'], since: 17 },
  { type: 'uuid', values: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '00000000-0000-0000-0000-000000000000'] },
  { type: 'inet', values: ['192.168.0.1', '192.168.0.1/24', '::1', '2001:db8::ff00:42:8329/64'] },
  { type: 'cidr', values: ['10.0.0.0/8', '2001:db8::/32'] },
  { type: 'macaddr', values: ['08:00:2b:01:02:03'] },
  { type: 'macaddr8', values: ['08:00:2b:01:02:03:04:05'] },
  { type: 'bit(3)', values: ['101', '000'] },
  { type: 'varbit', values: ['', '1', '1010101010101'] },
  { type: 'xml', values: ['<a b="c">d &amp; e</a>', 'plain text', { sql: String.raw`E'<x>\n\t"y"</x>'` }] },
  { type: 'tsvector', values: ['a fat cat', "'a''b' 'c\\d' 'x y':1A,2B", ''] },
  { type: 'tsquery', values: ['fat & (rat | cat)', "!a <-> 'b c':*"] },
  { type: 'point', values: ['(1,2)', '(1.5,-2.25e-10)'] },
  { type: 'line', values: ['{1,2,3}'] },
  { type: 'lseg', values: ['[(1,2),(3,4)]'] },
  { type: 'box', values: ['(1,1),(0,0)', '(2.5,3),(-1,-2)'] },
  { type: 'path', values: ['((1,2),(3,4))', '[(1,2),(3,4),(5,6)]'] },
  { type: 'polygon', values: ['((0,0),(1,1),(1,0))'] },
  { type: 'circle', values: ['<(1,2),3>'] },
  { type: 'pg_lsn', values: ['0/0', '16/B374D848', 'FFFFFFFF/FFFFFFFF'] },
  { type: 'int4range', values: ['[1,5)', 'empty', '(,)', '[,3)'] },
  { type: 'int8range', values: ['[1,9223372036854775807)'] },
  { type: 'numrange', values: ['(1.5,2.5]', '[-Infinity,Infinity]'] },
  { type: 'tsrange', values: ['[2020-01-01,2020-01-02)', '(,infinity]'] },
  { type: 'tstzrange', values: ['[2020-01-01 00:00+00,infinity)'] },
  { type: 'daterange', values: ['[2020-01-01,2020-02-01)', 'empty'] },
  { type: 'int4multirange', values: ['{}', '{[1,3),[5,7)}'] },
  { type: 'int8multirange', values: ['{[1,3)}'] },
  { type: 'nummultirange', values: ['{[1.5,2.5],(3,)}'] },
  { type: 'tsmultirange', values: ['{[2020-01-01,2020-01-02)}'] },
  { type: 'tstzmultirange', values: ['{[2020-01-01 00:00+00,2020-01-02 00:00+00)}'] },
  { type: 'datemultirange', values: ['{[2020-01-01,2020-01-05),[2020-02-01,infinity)}'] },
  {
    type: 'json',
    numbersByValue: true,
    values: [
      '{"a":1,"a":2}',
      '{"a":1, "b" : {"x":1,"x":[1,{"y":2,"y":3}]}, "b":{"z":null}}',
      '  [1, 2.50, 1e2, -0, 1E-2, -0.0, 123456789012345678901234567890.123456789]  ',
      { sql: String.raw`E'{\n\t"k": "v\\n\\"q\\"",\r\n "e": "\\u00e9\\ud83d\\ude00"\n}'` },
      String.raw`{"\u0061":1,"a":2}`,
      String.raw`{"a\"b":1,"a\u0022b":2, "a\\b": 3}`,
      'null',
      'true',
      'false',
      '"str"',
      '123',
      '{}',
      '[]',
      '[{}, [], [[]], {"": ""}]',
      '{"a b":"c d","":"", "x": [1, "]", "}", "\\""]}',
      '{"nested":{"deep":{"deeper":[1,{"k":"v","k":"w"}]}}}',
      '{"emoji 😀": "日本語"}',
      { sql: `(SELECT '{' || string_agg(format('"k%s" : %s', i % 20, i), ', ') || '}' FROM generate_series(1, 40) AS i)` },
      { sql: `(SELECT '{' || string_agg(format('"k%s":%s', i, i), ',') || '}' FROM generate_series(1, 40) AS i)` },
    ],
  },
  {
    type: 'jsonb',
    numbersByValue: true,
    values: ['{"a": 1, "b": [1, 2.50, 1e2, -0, 1.0e+2, 1e-5]}', 'null', '"x"', '[]', '{}', '{"":"", "emoji":"😀", "ctl":"\\u0001\\n"}',
      '123456789012345678901234567890.123456789', '{"a":{"b":{"c":[{"d":null}]}}}'],
  },
  { type: 'jsonpath', values: ['$.a[*] ? (@ > 1)', '$."key with \\"quote\\""', 'strict $.a.b', '$.a + 1e2'] },
  { type: 'regclass', values: ['pg_class', 'pg_catalog.pg_type'] },
  { type: 'regtype', values: ['integer', 'character varying', 'double precision[]'] },
  { type: 'regproc', values: ['now'] },
  { type: 'regprocedure', values: ['abs(integer)'] },
  { type: 'regoperator', values: ['+(integer,integer)'] },
  { type: 'regconfig', values: ['english'] },
  { type: 'regdictionary', values: ['simple'] },
  { type: 'regnamespace', values: ['pg_catalog'] },
  { type: 'regrole', values: ['postgres'] },
  { type: 'regcollation', values: ['"C"', '"default"'] },
  { type: 'txid_snapshot', values: ['10:20:10,14,15'] },
  { type: 'pg_snapshot', values: ['10:20:10,14,15'] },
  { type: 'aclitem', values: ['postgres=arwdDxt/postgres', '=r/postgres'] },
  { type: 'refcursor', values: ['cursor one'] },
  { type: 'int2vector', values: ['1 2 3', '', '-5'] },
  { type: 'oidvector', values: ['1 2', '', '4294967295'] },
];
