/**
 * The test oracle for value rendering: asks a real server for each value's text output (what
 * pgoutput sends) and its to_jsonb, renders the text with pgcdc's renderer, and compares the two
 * as parsed JSON with numbers kept exact.
 */
import { isLosslessNumber, parse, type LosslessNumber } from 'lossless-json';
import pg from 'pg';
import { TypeCatalog } from '../../src/decoding/values/type-catalog.js';
import { valueRenderer } from '../../src/decoding/values/value-renderer.js';
import { JsonWriter } from '../../src/encoding/json-writer.js';
import { SOURCE_SESSION_SETTINGS } from '../../src/source/session-settings.js';

/** A client with pgcdc's source session settings, and a type catalog reading through it. */
export interface OracleSession {
  readonly client: pg.Client;
  readonly catalog: TypeCatalog;
  /** server_version_num / 10000 */
  readonly major: number;
  close(): Promise<void>;
}

export async function openOracle(url: string, settings: Readonly<Record<string, string>> = SOURCE_SESSION_SETTINGS): Promise<OracleSession> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const [name, value] of Object.entries(settings)) {
    await client.query('SELECT pg_catalog.set_config($1, $2, false)', [name, value]);
  }
  const { rows } = await client.query("SELECT current_setting('server_version_num')::int / 10000 AS major");
  return {
    client,
    catalog: new TypeCatalog((text, params) => client.query(text, params)),
    major: Number(rows[0].major),
    close: () => client.end(),
  };
}

/** One value as the server sees it. */
export interface OracleRow {
  readonly expr: string;
  /** Text output, null for SQL NULL. */
  readonly text: string | null;
  readonly toJsonb: string | null;
  readonly typeOid: number;
}

const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/**
 * `v` itself, read in text format, is its output function's text, as pgoutput sends it (`v::text`
 * is not always: the casts of bpchar and inet to text differ from their output functions).
 */
function oracleSql(expr: string): string {
  return `SELECT v AS text, to_jsonb(v)::text AS to_jsonb, pg_typeof(v)::oid::int8::text AS type_oid FROM (SELECT (${expr}) AS v) AS value`;
}

/** Evaluates the expressions in one round trip (one at a time when one fails, to name it). */
export async function evaluate(client: pg.Client, exprs: readonly string[]): Promise<OracleRow[]> {
  let results: pg.QueryResult[];
  try {
    const result = await client.query({ text: exprs.map(oracleSql).join(';\n'), types: RAW_TEXT });
    results = (Array.isArray(result) ? result : [result]) as pg.QueryResult[];
  } catch (error) {
    for (const expr of exprs) {
      await client.query({ text: oracleSql(expr), types: RAW_TEXT }).catch((cause: unknown) => {
        throw new Error(`evaluating ${expr}: ${String(cause)}`);
      });
    }
    throw error;
  }
  return results.map((result, i) => {
    const row = result.rows[0];
    return { expr: exprs[i]!, text: row.text, toJsonb: row.to_jsonb, typeOid: Number(row.type_oid) };
  });
}

const PADDING_BEFORE = Buffer.from('x"{(\\,');
const PADDING_AFTER = Buffer.from('"})\\,y');

/**
 * Renders `text` with the renderer of `typeOid`, from the middle of a larger buffer (so a renderer
 * reading outside its range shows), with a normal writer and with a writer of tiny chunks.
 */
export function render(catalog: TypeCatalog, typeOid: number, text: string): string {
  const value = Buffer.from(text, 'utf8');
  const src = Buffer.concat([PADDING_BEFORE, value, PADDING_AFTER]);
  const start = PADDING_BEFORE.length;
  const renderer = valueRenderer(catalog, typeOid);
  const outputs = [new JsonWriter(), new JsonWriter(8)].map((w) => {
    renderer(w, src, start, start + value.length);
    return Buffer.concat(w.take()).toString('utf8');
  });
  if (outputs[0] !== outputs[1]) throw new Error(`output depends on the writer's chunk size: ${outputs[0]} vs ${outputs[1]}`);
  return outputs[0]!;
}

/** How rendering `row` differs from to_jsonb, or undefined when it does not. */
export function difference(catalog: TypeCatalog, row: OracleRow, numbersByValue: boolean): string | undefined {
  if (row.text === null) return row.toJsonb === null ? undefined : `SQL NULL but to_jsonb gave ${row.toJsonb}`;
  let actual: string;
  try {
    actual = render(catalog, row.typeOid, row.text);
  } catch (error) {
    return `renderer threw ${String(error)}`;
  }
  try {
    JSON.parse(actual);
  } catch {
    return `invalid JSON ${actual}`;
  }
  let parsedActual: unknown;
  try {
    parsedActual = parse(actual);
  } catch (error) {
    return `lossless-json rejects ${actual}: ${String(error)}`;
  }
  const found = jsonDifference(parsedActual, parse(row.toJsonb!), numbersByValue, '$');
  return found === undefined ? undefined : `${found}: rendered ${actual}, to_jsonb ${row.toJsonb}`;
}

/** Evaluates and renders each expression; returns one line per mismatch. */
export async function mismatches(session: OracleSession, exprs: readonly string[], numbersByValue = false): Promise<string[]> {
  const rows = await evaluate(session.client, exprs);
  await session.catalog.load(rows.map((row) => row.typeOid));
  const problems: string[] = [];
  for (const row of rows) {
    const problem = difference(session.catalog, row, numbersByValue);
    if (problem !== undefined) problems.push(`${row.expr} (text ${JSON.stringify(row.text)}): ${problem}`);
  }
  return problems;
}

function jsonDifference(actual: unknown, expected: unknown, numbersByValue: boolean, path: string): string | undefined {
  if (isLosslessNumber(expected)) {
    if (!isLosslessNumber(actual)) return `${path} should be the number ${expected.value}`;
    const equal = numbersByValue ? canonicalDecimal(actual) === canonicalDecimal(expected) : actual.value === expected.value;
    return equal ? undefined : `${path} is ${actual.value}, should be ${expected.value}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `${path} should be an array of ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const found = jsonDifference(actual[i], expected[i], numbersByValue, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual) || isLosslessNumber(actual)) return `${path} should be an object`;
    const actualKeys = Object.keys(actual).sort();
    const expectedKeys = Object.keys(expected).sort();
    if (JSON.stringify(actualKeys) !== JSON.stringify(expectedKeys)) return `${path} has keys ${actualKeys}, should have ${expectedKeys}`;
    for (const key of expectedKeys) {
      const found = jsonDifference((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], numbersByValue, `${path}.${key}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return Object.is(actual, expected) ? undefined : `${path} is ${JSON.stringify(actual)}, should be ${JSON.stringify(expected)}`;
}

/** A number's exact value as `[-]digits e exponent` with no leading or trailing zeros. */
export function canonicalDecimal(number: LosslessNumber): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(number.value);
  if (!match) throw new Error(`not a JSON number: ${number.value}`);
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  const trimmed = digits.replace(/0+$/, '');
  if (trimmed === '') return '0';
  const scale = Number(exponent) - fraction.length + (digits.length - trimmed.length);
  return `${sign}${trimmed}e${scale}`;
}
