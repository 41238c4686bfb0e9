/**
 * User-defined types rendered like to_jsonb: enums, domains (over scalars, arrays, composites and
 * domains), composites (nested, with arrays, dropped columns, quoted names, no fields), custom
 * ranges, hstore (an extension's type, through its cast to json), and arrays of all of these; plus
 * the unchanged-TOAST placeholder renderer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeCatalog } from '../../src/decoding/values/type-catalog.js';
import { unchangedToastRenderer, valueRenderer } from '../../src/decoding/values/value-renderer.js';
import { JsonWriter } from '../../src/encoding/json-writer.js';
import { createDatabase, useTestServer } from '../support/postgres.js';
import { evaluate, mismatches, openOracle, type OracleSession } from './to-jsonb-oracle.js';

const SCHEMA = `
CREATE SCHEMA "Mixed Case";
CREATE TYPE "Mixed Case"."Mood ""Quoted""" AS ENUM ('sad', 'with space', 'quote"d', 'back\\slash', 'comma,{brace}(paren)', '😀', 'NULL', 'null');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN posint_again AS posint;
CREATE DOMAIN "Mixed Case".short_text AS varchar(10);
CREATE DOMAIN text_list AS text[];
CREATE DOMAIN money_amount AS numeric(12, 2);
CREATE DOMAIN doc AS jsonb;
CREATE DOMAIN moment AS timestamptz;
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN checked_pair AS pair CHECK ((VALUE).a <> 0);
CREATE DOMAIN pair_list AS pair[];
CREATE TYPE leaf AS (label text, tags text[], at moment);
CREATE TYPE branch AS (id int8, leaves leaf[], main leaf, amount money_amount);
CREATE TYPE tree AS (
  name "Mixed Case".short_text,
  mood "Mixed Case"."Mood ""Quoted""",
  moods "Mixed Case"."Mood ""Quoted"""[],
  branches branch[],
  grid int[],
  checked checked_pair,
  pairs pair_list,
  list text_list,
  positive posint_again,
  body doc,
  raw json,
  f float8,
  flag bool
);
CREATE TYPE "Mixed Case"."Point ""Pair""" AS ("First Field" int, "sEcond, field" text[], "quo""te\\back" jsonb, "😀" bool);
CREATE TYPE with_dropped AS (a int, gone text, b text, also_gone int, c numeric);
ALTER TYPE with_dropped DROP ATTRIBUTE gone, DROP ATTRIBUTE also_gone;
CREATE TABLE row_type (id int, junk text, v float8, w text[]);
ALTER TABLE row_type DROP COLUMN junk;
CREATE TYPE empty_t AS ();
CREATE TYPE single_t AS (sole text);
CREATE TYPE textrange AS RANGE (subtype = text);
CREATE TYPE boxes AS (b box, bs box[]);
CREATE TYPE inner_most AS (x text);
CREATE TYPE middle AS (i inner_most, arr inner_most[]);
CREATE TYPE outer_most AS (m middle, ms middle[]);
CREATE EXTENSION hstore;
CREATE TYPE with_hstore AS (id int, h hstore);
`;

const MOOD = `"Mixed Case"."Mood ""Quoted"""`;
const POINT_PAIR = `"Mixed Case"."Point ""Pair"""`;

const LEAF_A = `ROW('a "quoted" leaf', ARRAY['x,y', NULL, '{}', 'back\\slash', ''], '2020-01-01 00:00+00')::leaf`;
const LEAF_B = `ROW(NULL, NULL, 'infinity')::leaf`;
const LEAF_C = `ROW('', ARRAY[]::text[], '0044-03-15 12:00+00 BC')::leaf`;
const BRANCH = `ROW(9223372036854775807, ARRAY[${LEAF_A}, NULL, ${LEAF_B}], ${LEAF_C}, 1234567890.5)::branch`;

const CASES: readonly { readonly title: string; readonly exprs: readonly string[] }[] = [
  {
    title: 'enums, with labels that need quoting, in arrays',
    exprs: [
      ...['sad', 'with space', 'quote"d', 'back\\slash', 'comma,{brace}(paren)', '😀', 'NULL', 'null'].map((label) => `'${label}'::${MOOD}`),
      `ARRAY['sad', 'with space', 'quote"d', 'back\\slash', 'comma,{brace}(paren)', '😀', 'NULL', 'null', NULL]::${MOOD}[]`,
    ],
  },
  {
    title: 'domains as their base types',
    exprs: [
      '5::posint',
      '7::posint_again',
      `'abc "d"'::"Mixed Case".short_text`,
      `ARRAY['a', NULL, 'b,c']::text_list`,
      `'{}'::text_list`,
      '12.5::money_amount',
      `'{"a": [1, 2.50]}'::doc`,
      `'2020-01-01 12:00+00'::moment`,
      `ROW(1, 'x')::checked_pair`,
      `ARRAY[ROW(1, 'x')::pair, NULL, ROW(NULL, NULL)::pair]::pair_list`,
      'ARRAY[1, 2, NULL]::posint[]',
      `ARRAY[ROW(1, 'x')::checked_pair]`,
      `ARRAY['{"k": 1}', NULL]::doc[]`,
      `ARRAY['2020-01-01 12:00+00', 'infinity']::moment[]`,
    ],
  },
  {
    title: 'composites nested in composites and arrays',
    exprs: [
      LEAF_A,
      LEAF_B,
      BRANCH,
      `ARRAY[${BRANCH}, NULL, ${BRANCH}]`,
      `ROW('tree', 'quote"d', ARRAY['sad', NULL, 'with space']::${MOOD}[], ARRAY[${BRANCH}, NULL],
        '[0:1][2:3]={{1,2},{3,NULL}}', ROW(3, 'y'), ARRAY[ROW(4, 'z "w"')::pair], ARRAY['p', 'q'],
        8, '{"x": {"y": [1e2, "s"]}}', '{"d": 1, "d": 2, "e" : [ 1 , 2 ]}', 1e-7, true)::tree`,
      `ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::tree`,
      `ARRAY[ROW('t', 'sad', NULL, ARRAY[${BRANCH}], NULL, NULL, NULL, NULL, NULL, NULL, '[1, {"a": 2}]', 'NaN', false)::tree]`,
      `ROW(ROW('a"b'), ARRAY[ROW('c\\d')::inner_most, NULL, ROW(NULL)::inner_most])::middle`,
      `ROW(ROW(ROW('x y'), ARRAY[ROW('(z)')::inner_most]), ARRAY[ROW(ROW(''), NULL)::middle, ROW(NULL, ARRAY[ROW('"')::inner_most])::middle])::outer_most`,
      `ARRAY[[ROW(ROW(ROW(',')::inner_most, NULL)::middle, NULL)::outer_most]]`,
    ],
  },
  {
    title: 'quoted mixed-case names, dropped attributes, empty and single-field composites',
    exprs: [
      `ROW(1, ARRAY['a', 'b c'], '{"k": "v"}', true)::${POINT_PAIR}`,
      `ARRAY[ROW(NULL, NULL, NULL, NULL)::${POINT_PAIR}, NULL]`,
      `ROW(1, 'kept', 2.50)::with_dropped`,
      `ROW(1, 2.5e10, ARRAY['x'])::row_type`,
      `ROW(NULL, NULL, NULL)::row_type`,
      'ROW()::empty_t',
      'ARRAY[ROW()::empty_t, NULL]',
      'ROW(NULL)::single_t',
      `ROW('')::single_t`,
      `ARRAY[ROW(NULL)::single_t, ROW('')::single_t, ROW('NULL')::single_t, NULL]`,
    ],
  },
  {
    title: 'hstore as an object (to_jsonb goes through its cast to json), in arrays and composites',
    exprs: [
      String.raw`'a=>1, "b c"=>"d\"e\\f", n=>NULL, "=>"=>"NULL", ""=>""'::hstore`,
      `''::hstore`,
      `'"😀 é"=>"日本語"'::hstore`,
      `ARRAY['x=>1'::hstore, NULL, '', 'k=>NULL']`,
      `ROW(1, 'k=>"v,w"')::with_hstore`,
      `ARRAY[ROW(2, NULL)::with_hstore, ROW(3, '')::with_hstore]`,
    ],
  },
  {
    title: 'custom ranges and the box delimiter inside composites',
    exprs: [
      `'["a,b","c\\"d")'::textrange`,
      `ARRAY['["a,b","c\\"d")'::textrange, 'empty', NULL]`,
      `ROW('(1,1),(0,0)', ARRAY['(1,1),(0,0)'::box, '(3,3),(2,2)', NULL])::boxes`,
      `ARRAY[ROW('(1,1),(0,0)', ARRAY['(1,1),(0,0)'::box])::boxes]`,
    ],
  },
];

describe('rendering user-defined types like to_jsonb', () => {
  const server = useTestServer();
  let session: OracleSession;

  beforeAll(async () => {
    session = await openOracle(await createDatabase(server()));
    await session.client.query(SCHEMA);
  });

  afterAll(async () => {
    await session?.close();
  });

  for (const { title, exprs } of CASES) {
    it(title, async () => {
      // jsonb and json fields inside these values normalise numbers (1e2 becomes 100).
      expect(await mismatches(session, exprs, true)).toEqual([]);
    });
  }

  it('keeps the number text of non-json fields exactly', async () => {
    const exprs = [`ROW(9223372036854775807, NULL, NULL, 1234567890.50)::branch`, `ROW(1, 1e-7, NULL)::row_type`, `ROW(1, 'x', 0.10)::with_dropped`];
    expect(await mismatches(session, exprs)).toEqual([]);
  });

  it('still renders a composite whose attributes changed after its type was loaded', async () => {
    await session.client.query('CREATE TYPE changing AS (a int, b text)');
    const { rows } = await session.client.query(`SELECT 'changing'::regtype::oid::int8 AS oid`);
    const oid = Number(rows[0].oid);
    const catalog = new TypeCatalog((text, params) => session.client.query(text, params));
    await catalog.load([oid]);
    const renderText = (text: string): string => {
      const w = new JsonWriter();
      valueRenderer(catalog, oid)(w, Buffer.from(text), 0, Buffer.byteLength(text));
      return Buffer.concat(w.take()).toString('utf8');
    };
    // An added attribute is kept under to_jsonb's name for unnamed fields; a missing one is left out.
    await session.client.query('ALTER TYPE changing ADD ATTRIBUTE c text');
    const added = await evaluate(session.client, [`ROW(1, 'x', 'y z')::changing`]);
    expect(JSON.parse(renderText(added[0]!.text!))).toEqual({ a: 1, b: 'x', f3: 'y z' });
    await session.client.query('ALTER TYPE changing DROP ATTRIBUTE b, DROP ATTRIBUTE c');
    const dropped = await evaluate(session.client, [`ROW(1)::changing`]);
    expect(JSON.parse(renderText(dropped[0]!.text!))).toEqual({ a: 1 });
  });

  describe('unchanged-TOAST placeholder', () => {
    const placeholder = '__debezium_unavailable_value "q" é';

    async function renderPlaceholder(typeSql: string): Promise<{ rendered: string; oid: number }> {
      const { rows } = await session.client.query(`SELECT $1::regtype::oid::int8 AS oid`, [typeSql]);
      const oid = Number(rows[0].oid);
      await session.catalog.load([oid]);
      const w = new JsonWriter();
      unchangedToastRenderer(session.catalog, oid, placeholder)(w);
      return { rendered: Buffer.concat(w.take()).toString('utf8'), oid };
    }

    it('is a string for text and jsonb', async () => {
      for (const type of ['text', 'jsonb', 'varchar', 'posint', `"Mixed Case".short_text`]) {
        const { rendered } = await renderPlaceholder(type);
        expect(JSON.parse(rendered)).toBe(placeholder);
      }
    });

    it("is to_jsonb of the placeholder's UTF-8 bytes for bytea", async () => {
      const { rendered } = await renderPlaceholder('bytea');
      const { rows } = await session.client.query(`SELECT to_jsonb(convert_to($1, 'UTF8'))::text AS j`, [placeholder]);
      expect(JSON.parse(rendered)).toBe(JSON.parse(rows[0].j));
      expect(JSON.parse(rendered)).toBe(`\\x${Buffer.from(placeholder).toString('hex')}`);
    });

    it('is a one-element array for arrays, domains over arrays included', async () => {
      for (const type of ['int[]', 'text_list', 'pair[]', 'bytea[]']) {
        const { rendered } = await renderPlaceholder(type);
        expect(JSON.parse(rendered)).toEqual([placeholder]);
      }
    });
  });
});
