/**
 * End-to-end capture helpers: run a File-target stream to the source's current position and read
 * what that run appended, parse lines with exact numbers, and read rows as to_jsonb gives them.
 */
import fs from 'node:fs';
import { isLosslessNumber, parse } from 'lossless-json';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream, type RunStreamResult } from '../../src/pipeline/run-stream.js';
import { canonicalDecimal } from '../decoding/to-jsonb-oracle.js';
import { withClient } from './postgres.js';
import { fileStream, type TestStreamOptions } from './stream-fixtures.js';

export interface Capture {
  readonly config: StreamConfig;
  readonly outFile: string;
  /** Runs the stream to the source's current WAL position (the first run creates publication and slot). */
  run(): Promise<RunStreamResult>;
  /** Runs the stream to now and returns the lines this run appended to the file. */
  lines(): Promise<string[]>;
  /** As `lines`, each parsed with JSON.parse. */
  events(): Promise<any[]>;
  /** What the latest run returned. */
  readonly lastResult: RunStreamResult | undefined;
}

/** A File-target stream whose first run (publication and slot) is done, so later changes are captured. */
export async function startCapture(options: TestStreamOptions): Promise<Capture> {
  const { config, outFile } = await fileStream(options);
  let offset = 0;
  let lastResult: RunStreamResult | undefined;
  const run = async (): Promise<RunStreamResult> => {
    lastResult = await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    return lastResult;
  };
  const lines = async (): Promise<string[]> => {
    await run();
    if (!fs.existsSync(outFile)) return [];
    const all = fs.readFileSync(outFile);
    const added = all.subarray(offset).toString('utf8');
    offset = all.length;
    return added.split('\n').filter((line) => line.length > 0);
  };
  const capture: Capture = {
    config,
    outFile,
    run,
    lines,
    events: async () => (await lines()).map((line) => JSON.parse(line)),
    get lastResult() {
      return lastResult;
    },
  };
  await run();
  return capture;
}

/** Parses JSON keeping every number's exact text (as LosslessNumber). */
export function parseExact(text: string): any {
  return parse(text);
}

/**
 * Turns a value parsed with `parseExact` into plain data for `toEqual`: each number becomes
 * `{"#number": text}`, its text as written, or with `byValue` its canonical decimal value.
 */
export function exact(value: unknown, byValue = false): unknown {
  if (isLosslessNumber(value)) return { '#number': byValue ? canonicalDecimal(value) : value.value };
  if (Array.isArray(value)) return value.map((item) => exact(item, byValue));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, exact(item, byValue)]));
  }
  return value;
}

/** As `exact` for a row object, comparing numbers by value in the columns named in `byValue` (json columns). */
export function exactRow(row: unknown, byValue: readonly string[] = []): unknown {
  if (row === null || typeof row !== 'object') return row;
  return Object.fromEntries(Object.entries(row).map(([key, item]) => [key, exact(item, byValue.includes(key))]));
}

/**
 * `to_jsonb` of each row of `table` (SQL, e.g. `public.items`) ordered by `orderBy`, read in a
 * session with TimeZone UTC, parsed with exact numbers.
 */
export async function rowsAsJsonb(url: string, table: string, orderBy = 'id'): Promise<any[]> {
  return withClient(url, async (client) => {
    await client.query(`set TimeZone = 'UTC'`);
    const { rows } = await client.query<{ j: string }>(`select to_jsonb(row__)::text as j from ${table} as row__ order by ${orderBy}`);
    return rows.map((row) => parse(row.j));
  });
}

/** The slot's confirmed_flush_lsn, as a number. */
export async function slotPosition(url: string, slotName: string): Promise<{ confirmedFlush: bigint }> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ confirmed: string }>(
      `select (confirmed_flush_lsn - '0/0'::pg_lsn)::text as confirmed from pg_replication_slots where slot_name = $1`,
      [slotName],
    );
    if (rows.length === 0) throw new Error(`no slot ${slotName}`);
    return { confirmedFlush: BigInt(rows[0]!.confirmed) };
  });
}

/** The current WAL insert position, as a number: every record written before starts below it. */
export async function currentWal(url: string): Promise<bigint> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ lsn: string }>(`select (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::text as lsn`);
    return BigInt(rows[0]!.lsn);
  });
}
