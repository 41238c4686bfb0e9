/**
 * A table with a column of every common built-in type (and user types) and rows of edge-case
 * values: shared by the streaming and the snapshot value tests.
 */
export const SCHEMA = `
create type mood as enum ('sad', 'ok', 'happy "quoted"');
create domain posint as int check (value > 0);
create type pair as (a int, b text);
create table vals (
  id int primary key,
  b bool, i2 int2, i4 int4, i8 int8,
  n numeric, n2 numeric(12,3),
  f4 float4, f8 float8,
  t text, vc varchar(20), c char(5),
  by bytea,
  d date, tm time, ttz timetz, ts timestamp, tstz timestamptz,
  iv interval,
  js json, jb jsonb,
  u uuid, ip inet, cd cidr, mac macaddr,
  bt bit(4), vb varbit,
  x xml, pt point,
  r4 int4range, rtz tstzrange,
  ia int[], ta text[],
  en mood, dm posint, cp pair, cpa pair[],
  m money, o oid
)`;

/** Columns whose values are json: to_jsonb turns them into jsonb, which rewrites their numbers. */
export const JSON_COLUMNS = ['js'];

export const COLUMNS = 'id, b, i2, i4, i8, n, n2, f4, f8, t, vc, c, by, d, tm, ttz, ts, tstz, iv, js, jb, u, ip, cd, mac, bt, vb, x, pt, r4, rtz, ia, ta, en, dm, cp, cpa, m, o';

export const ROWS = [
  String.raw`(1, true, 32767, 2147483647, 9223372036854775807,
    123456789012345678901234567890.123456789, 1.500, 3.4028235e38, 1.7976931348623157e308,
    E'quote " backslash \\ newline \n tab \t cr \r emoji 😀 日本語 é ctl \x01', 'varchar ''x''', 'ab', '\xdeadbeef00',
    '2020-02-29', '23:59:59.999999', '12:00:00.5+05:45', '2020-01-01 12:34:56.789012', '2020-06-01 12:00:00-11:30',
    '1 year 2 months 3 days 04:05:06.789',
    '{"a": 1e2, "b": [1, 2.50, -0, 1E-2], "c": {"d": "e\"f"}, "n": null, "big": 123456789012345678901234567890.5}',
    '{"a": 1, "b": [1, 2.50, 1e2], "c": "😀", "d": {"e": [true, false, null]}}',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
    B'1010', B'1101011', '<a b="c">d &amp; e</a>', '(1.5,-2.25)', '[1,5)', '[2020-01-01 00:00+00,infinity)',
    '{{1,2,3},{4,5,6}}', ARRAY['a', NULL, 'b,c', 'd"e', 'NULL', ''], 'happy "quoted"', 42, ROW(1, 'x "y" \'),
    ARRAY[ROW(1, 'a')::pair, ROW(NULL, NULL)::pair, NULL], 12.34, 4294967295)`,
  String.raw`(2, false, -32768, -2147483648, -9223372036854775808,
    -0.000000000000000000000000000000000001, -12345.678, 'NaN', '-Infinity',
    '', '', '', '\x',
    '0044-03-15 BC', '00:00', '23:59:59.999999-14:59', '-infinity', 'infinity',
    '-1 day +02:03',
    '[]', '{}',
    '00000000-0000-0000-0000-000000000000', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff',
    B'0000', B'', 'plain text', '(0,0)', 'empty', '(,)',
    '{}', '{}', 'sad', 1, ROW(NULL, NULL), '{}', -1234567.89, 0)`,
  String.raw`(3, null, 0, 0, 0,
    'NaN', 0, 'Infinity', 'NaN',
    repeat('long "text" \ ', 300), 'x', 'abcde', convert_to('héllo "q" \', 'UTF8'),
    'infinity', '24:00:00', '00:00+00', '0044-03-15 12:00 BC', '0044-03-15 12:00+00 BC',
    '178000000 years',
    '"str"', '123456789012345678901234567890.123456789',
    null, '2001:db8::ff00:42:8329/64', null, null,
    null, B'1', E'<x>\n\t"y"</x>', '(1e-10,-1e300)', '[,3)', null,
    '{{NULL,2},{3,NULL}}', ARRAY[NULL]::text[], 'ok', 2147483647, ROW(-1, ''), ARRAY[ROW(2, 'b,c')::pair], 0, 1)`,
  `(4, ${Array.from({ length: 38 }, () => 'null').join(', ')})`,
];

/** Infinities of the other sign, the smallest subnormal floats, a tiny numeric. */
export const EDGE_ROW = String.raw`(5, true, 1, 1, 1, 1e-20, 1, 1.4e-45, 5e-324, 'x', 'x', 'x', '\x00',
    '-infinity', '12:34:56.5', '08:00-01', 'infinity', '-infinity', '-00:00:00.000001', '1', '1', null, null, null, null,
    null, null, null, null, null, null, null, null, null, null, null, null, null, null)`;
