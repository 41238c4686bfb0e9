/**
 * Every built-in type rendered from its text output must give what the server's to_jsonb gives:
 * as a value, as array elements (one and more dimensions, explicit bounds, NULLs) and as fields
 * of composites (also inside arrays of composites).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, useTestServer } from '../support/postgres.js';
import { BUILTIN_TYPE_GROUPS, valueSql, type TypeGroup } from './builtin-type-values.js';
import { evaluate, mismatches, openOracle, type OracleSession } from './to-jsonb-oracle.js';

function scalarExprs(group: TypeGroup): string[] {
  return group.values.map((value) => valueSql(group, value));
}

function arrayExprs(group: TypeGroup): string[] {
  const values = scalarExprs(group);
  const first = values[0]!;
  const last = values[values.length - 1]!;
  const arrayType = `${group.type}[]`;
  const square = `ARRAY[ARRAY[${first}, NULL], ARRAY[NULL, ${last}]]::${arrayType}`;
  return [
    ...values.map((value) => `ARRAY[${value}]::${arrayType}`),
    `ARRAY[${values.join(', ')}, NULL]::${arrayType}`,
    square,
    `ARRAY[[[${first}, ${last}]], [[NULL, ${first}]]]::${arrayType}`,
    `('[0:${values.length - 1}]=' || ARRAY[${values.join(', ')}]::${arrayType}::text)::${arrayType}`,
    `('[-3:-2][5:6]=' || (${square})::text)::${arrayType}`,
    `ARRAY[]::${arrayType}`,
    `ARRAY[NULL]::${arrayType}`,
  ];
}

function compositeExprs(group: TypeGroup, wrapper: string): string[] {
  const values = scalarExprs(group);
  return [
    ...values.map((value) => `ROW(${value}, ARRAY[${value}, NULL], 'x')::${wrapper}`),
    `ROW(NULL, ARRAY[]::${group.type}[], NULL)::${wrapper}`,
    `ROW(NULL, NULL, '')::${wrapper}`,
    `ARRAY[${values.map((value) => `ROW(${value}, ARRAY[${value}], 'x')::${wrapper}`).join(', ')}, NULL, ROW(NULL, NULL, NULL)::${wrapper}]`,
    `ARRAY[[ROW(${values[0]}, NULL, 'a "b"')::${wrapper}], [ROW(NULL, ARRAY[${values[0]}], NULL)::${wrapper}]]`,
  ];
}

describe('rendering built-in types like to_jsonb', () => {
  const server = useTestServer();
  let session: OracleSession;
  const wrapperOf = (index: number): string => `wrap_${index}`;

  beforeAll(async () => {
    const url = await createDatabase(server());
    session = await openOracle(url);
    // A composite per type: the value, an array of it, and a text field.
    const ddl = BUILTIN_TYPE_GROUPS.map((group, index) => `CREATE TYPE ${wrapperOf(index)} AS (v ${group.type}, a ${group.type}[], t text)`);
    await session.client.query(ddl.join(';\n'));
  });

  afterAll(async () => {
    await session?.close();
  });

  BUILTIN_TYPE_GROUPS.forEach((group, index) => {
    const name = `${group.type}${group.since === undefined ? '' : ` (PostgreSQL ${group.since}+)`}`;

    it(`${name}: values`, async () => {
      if (group.since !== undefined && session.major < group.since) {
        // Older servers reject these values: nothing to render.
        await expect(evaluate(session.client, scalarExprs(group))).rejects.toThrow();
        return;
      }
      expect(await mismatches(session, scalarExprs(group), group.numbersByValue)).toEqual([]);
    });

    it(`${name}: in arrays`, async () => {
      if (group.since !== undefined && session.major < group.since) {
        await expect(evaluate(session.client, arrayExprs(group))).rejects.toThrow();
        return;
      }
      expect(await mismatches(session, arrayExprs(group), group.numbersByValue)).toEqual([]);
    });

    it(`${name}: in composites`, async () => {
      if (group.since !== undefined && session.major < group.since) {
        await expect(evaluate(session.client, compositeExprs(group, wrapperOf(index)))).rejects.toThrow();
        return;
      }
      expect(await mismatches(session, compositeExprs(group, wrapperOf(index)), group.numbersByValue)).toEqual([]);
    });
  });

  it('renders the offsets other time zones print, with minutes and seconds as to_jsonb does', async () => {
    // pgcdc always uses UTC; this checks the offset rule itself against the server.
    for (const zone of ['Asia/Kathmandu', 'America/St_Johns', 'Europe/Amsterdam', 'Africa/Monrovia', 'Pacific/Chatham']) {
      await session.client.query('SELECT pg_catalog.set_config($1, $2, false)', ['TimeZone', zone]);
      try {
        const exprs = ['1900-01-01 00:00', '1970-06-01 12:00', '2020-06-01 12:34:56.5', '0044-03-15 12:00 BC'].flatMap((text) => [
          `'${text}'::timestamptz`,
          `ARRAY['${text}'::timestamptz]`,
          `tstzrange('${text}'::timestamptz, NULL)`,
        ]);
        expect(await mismatches(session, exprs)).toEqual([]);
      } finally {
        await session.client.query('SELECT pg_catalog.set_config($1, $2, false)', ['TimeZone', 'UTC']);
      }
    }
  });
});
