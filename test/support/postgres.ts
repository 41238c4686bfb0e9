/**
 * Test helpers around a real PostgreSQL: one embedded server per test file (major from PGCDC_TEST_PG),
 * a fresh database per test, and SQL helpers. When a test fails, the server's ERROR lines logged
 * during it (with their DETAIL, CONTEXT and STATEMENT) are printed, so that a server-side failure
 * seen once in CI can be diagnosed.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import {
  majorFromEnvironment,
  startEmbeddedPostgres,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresServer,
} from '../../src/embedded/embedded-postgres-server.js';

let counter = 0;

/** Starts one server for the current test file and stops it afterwards. */
export function useTestServer(options: Omit<EmbeddedPostgresOptions, 'major'> = {}): () => EmbeddedPostgresServer {
  let server: EmbeddedPostgresServer | undefined;
  /** The server's log since the current test began (bounded). */
  let log = '';
  beforeAll(async () => {
    server = await startEmbeddedPostgres({
      ...options,
      major: majorFromEnvironment(),
      onLog: (text) => {
        log = (log + text).slice(-1_000_000);
        options.onLog?.(text);
      },
    });
  });
  beforeEach(({ onTestFailed }) => {
    log = '';
    onTestFailed(() => {
      const errors = serverErrors(log);
      if (errors.length > 0) console.error(`the test server logged during this test:\n${errors.join('\n')}`);
    });
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('test server not started');
    return server;
  };
}

/** ERROR, FATAL and PANIC lines of a server log, each with the DETAIL/HINT/CONTEXT/STATEMENT lines after it (at most 40). */
function serverErrors(log: string): string[] {
  const lines = log.split('\n');
  const picked: string[] = [];
  for (let i = 0; i < lines.length && picked.length < 40; i++) {
    if (!/\b(ERROR|FATAL|PANIC):/.test(lines[i]!)) continue;
    picked.push(lines[i]!);
    while (i + 1 < lines.length && /\b(DETAIL|HINT|CONTEXT|STATEMENT):|^\t/.test(lines[i + 1]!)) picked.push(lines[++i]!);
  }
  return picked;
}

/** Creates a fresh database and returns its URL. */
export async function createDatabase(server: EmbeddedPostgresServer, prefix = 'db'): Promise<string> {
  const name = `${prefix}_${process.pid}_${++counter}`;
  await withClient(server.url(), (client) => client.query(`CREATE DATABASE ${name}`));
  return server.url(name);
}

/** Runs `fn` with a connected client and closes it afterwards. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a server restart in a test must not crash the runner
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs SQL statements on a database. */
export async function sql(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  return withClient(url, (client) => client.query(text, params));
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The server's current WAL position, as text. */
export async function walPosition(url: string): Promise<string> {
  return (await sql(url, 'select pg_current_wal_lsn()::text as lsn')).rows[0].lsn as string;
}

/** Whether the slot of the database of `url` has confirmed_flush_lsn at or before `lsn`. */
export async function confirmedAtMost(url: string, lsn: string): Promise<boolean> {
  const { rows } = await sql(url, 'select confirmed_flush_lsn <= $1::pg_lsn as ok from pg_replication_slots where database = current_database()', [lsn]);
  return rows[0].ok as boolean;
}

/**
 * A WAL position the walsender will reach: a checkpoint writes and flushes all WAL (asynchronously
 * committed transactions included); the write position after it ends on a record.
 */
export async function flushedWalPosition(url: string): Promise<number> {
  return withClient(url, async (client) => {
    await client.query('checkpoint');
    const { rows } = await client.query('select pg_current_wal_lsn()::text as lsn');
    const [hi, lo] = (rows[0].lsn as string).split('/');
    return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
  });
}
