/**
 * TypeCatalog against a real catalog: kinds, transitive loading in one query, dropped attributes,
 * quoted names, delimiters, and errors for unknown types.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeCatalog } from '../../src/decoding/values/type-catalog.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { createDatabase, useTestServer } from '../support/postgres.js';
import { openOracle, type OracleSession } from './to-jsonb-oracle.js';

const SCHEMA = `
CREATE SCHEMA "Mixed Case";
CREATE TYPE "Mixed Case"."Mood ""Quoted""" AS ENUM ('a', 'b');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN posint_again AS posint;
CREATE DOMAIN tag_list AS text[];
CREATE TYPE textrange AS RANGE (subtype = text);
CREATE TYPE inner_t AS (n numeric, tags tag_list, mood "Mixed Case"."Mood ""Quoted""");
CREATE TYPE "Mixed Case"."Outer ""T""" AS ("Inner" inner_t, inners inner_t[], p posint_again, r textrange, b box[]);
CREATE TYPE with_dropped AS (a int, gone text, b text, also_gone int, c numeric);
ALTER TYPE with_dropped DROP ATTRIBUTE gone, DROP ATTRIBUTE also_gone;
CREATE TABLE row_type (id int, junk text, v float8);
ALTER TABLE row_type DROP COLUMN junk;
`;

describe('TypeCatalog', () => {
  const server = useTestServer();
  let session: OracleSession;
  const oids: Record<string, number> = {};

  beforeAll(async () => {
    session = await openOracle(await createDatabase(server()));
    await session.client.query(SCHEMA);
    const names = ['posint', 'posint_again', 'tag_list', 'textrange', 'inner_t', 'inner_t[]', '"Mixed Case"."Outer ""T"""', '"Mixed Case"."Mood ""Quoted"""',
      'with_dropped', 'row_type', 'int4multirange', 'record'];
    const { rows } = await session.client.query('SELECT name, name::regtype::oid::int8 AS oid FROM unnest($1::text[]) AS name', [names]);
    for (const row of rows) oids[row.name] = Number(row.oid);
  });

  afterAll(async () => {
    await session?.close();
  });

  /** A catalog whose queries are recorded with the OIDs each returned. */
  function countingCatalog(): { catalog: TypeCatalog; queries: number[][] } {
    const queries: number[][] = [];
    const catalog = new TypeCatalog(async (text, params) => {
      const result = await session.client.query(text, params);
      queries.push(result.rows.map((row) => Number(row.oid)).sort((a, b) => a - b));
      return result;
    });
    return { catalog, queries };
  }

  it('loads a type and everything it is built from in one query', async () => {
    const { catalog, queries } = countingCatalog();
    const outer = oids['"Mixed Case"."Outer ""T"""']!;
    await catalog.load([outer]);
    expect(queries).toHaveLength(1);
    for (const dependency of ['inner_t', 'inner_t[]', 'tag_list', 'posint_again', 'posint', '"Mixed Case"."Mood ""Quoted"""', 'textrange']) {
      expect(catalog.has(oids[dependency]!), dependency).toBe(true);
    }
    for (const builtin of [1700, 1009, 25, 23, 603, 1020]) expect(catalog.has(builtin), String(builtin)).toBe(true);

    const type = catalog.get(outer);
    expect(type).toMatchObject({ oid: outer, name: 'Outer "T"', schema: 'Mixed Case', kind: 'composite', elementOid: 0, baseOid: 0, delimiter: ',' });
    expect(type.fields).toEqual([
      { name: 'Inner', typeOid: oids['inner_t'] },
      { name: 'inners', typeOid: oids['inner_t[]'] },
      { name: 'p', typeOid: oids['posint_again'] },
      { name: 'r', typeOid: oids['textrange'] },
      { name: 'b', typeOid: 1020 },
    ]);
    expect(catalog.get(oids['inner_t[]']!)).toMatchObject({ kind: 'array', elementOid: oids['inner_t'], fields: [] });
    expect(catalog.get(oids['posint_again']!)).toMatchObject({ kind: 'domain', baseOid: oids['posint'] });
    expect(catalog.get(oids['posint']!)).toMatchObject({ kind: 'domain', baseOid: 23, name: 'posint', schema: 'public' });
    expect(catalog.get(oids['tag_list']!)).toMatchObject({ kind: 'domain', baseOid: 1009 });
    expect(catalog.get(oids['"Mixed Case"."Mood ""Quoted"""']!)).toMatchObject({ kind: 'enum', name: 'Mood "Quoted"', schema: 'Mixed Case' });
    expect(catalog.get(oids['textrange']!)).toMatchObject({ kind: 'range' });
    expect(catalog.get(603)).toMatchObject({ name: 'box', kind: 'base', delimiter: ';', elementOid: 0 });
    expect(catalog.get(1020)).toMatchObject({ name: '_box', kind: 'array', elementOid: 603, delimiter: ';' });
  });

  it('costs nothing for loaded types and fetches only new ones', async () => {
    const { catalog, queries } = countingCatalog();
    await catalog.load([oids['inner_t']!]);
    expect(queries).toHaveLength(1);
    await catalog.load([oids['inner_t']!, 1700, 25]);
    expect(queries).toHaveLength(1);
    await catalog.load([]);
    expect(queries).toHaveLength(1);
    // The outer type needs inner_t again, which is not fetched a second time.
    await catalog.load([oids['"Mixed Case"."Outer ""T"""']!, oids['inner_t']!]);
    expect(queries).toHaveLength(2);
    const expected = ['"Mixed Case"."Outer ""T"""', 'inner_t[]', 'posint_again', 'posint', 'textrange'].map((name) => oids[name]!);
    expect(queries[1]).toEqual([...expected, 23, 603, 1020].sort((x, y) => x - y));
  });

  it('leaves dropped attributes out of composite fields, in attnum order', async () => {
    const { catalog } = countingCatalog();
    await catalog.load([oids['with_dropped']!, oids['row_type']!]);
    expect(catalog.get(oids['with_dropped']!).fields).toEqual([
      { name: 'a', typeOid: 23 },
      { name: 'b', typeOid: 25 },
      { name: 'c', typeOid: 1700 },
    ]);
    expect(catalog.get(oids['row_type']!)).toMatchObject({
      kind: 'composite',
      name: 'row_type',
      fields: [
        { name: 'id', typeOid: 23 },
        { name: 'v', typeOid: 701 },
      ],
    });
  });

  it('knows the kinds of built-in types', async () => {
    const { catalog } = countingCatalog();
    await catalog.load([16, 22, 30, 19, 600, 1009, 3904, oids['int4multirange']!, oids['record']!, 114, 3802]);
    expect(catalog.get(16)).toMatchObject({ name: 'bool', schema: 'pg_catalog', kind: 'base' });
    expect(catalog.get(22)).toMatchObject({ name: 'int2vector', kind: 'array', elementOid: 21 });
    expect(catalog.get(30)).toMatchObject({ name: 'oidvector', kind: 'array', elementOid: 26 });
    // name and point have a typelem but are not arrays.
    expect(catalog.get(19)).toMatchObject({ name: 'name', kind: 'base', elementOid: 0 });
    expect(catalog.get(600)).toMatchObject({ name: 'point', kind: 'base', elementOid: 0 });
    expect(catalog.get(1009)).toMatchObject({ name: '_text', kind: 'array', elementOid: 25 });
    expect(catalog.get(3904)).toMatchObject({ name: 'int4range', kind: 'range' });
    expect(catalog.get(oids['int4multirange']!)).toMatchObject({ name: 'int4multirange', kind: 'multirange' });
    expect(catalog.get(oids['record']!)).toMatchObject({ name: 'record', kind: 'pseudo' });
    expect(catalog.has(21)).toBe(true);
  });

  it('refuses unknown and unloaded types', async () => {
    const { catalog } = countingCatalog();
    expect(catalog.has(23)).toBe(false);
    expect(() => catalog.get(23)).toThrow(PgcdcError);
    await expect(catalog.load([23, 4_000_000_000])).rejects.toThrow(/4000000000/);
    expect(catalog.has(23)).toBe(true);
  });
});
