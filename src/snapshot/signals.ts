/**
 * Debezium-compatible signals: rows inserted into the signal table (`id`, `type`, `data` columns)
 * travel through the WAL with the data and are acted on in stream order: `execute-snapshot`,
 * `stop-snapshot`, `pause-snapshot`, `resume-snapshot` and `log`, plus SGStream's `tombstone` (stop
 * for good, dropping the slot and publication) and `command` (SQL run on a Postgres target in its
 * place in the stream). A malformed signal is refused with a log line; the stream goes on.
 * `pgcdc signal` inserts such a row.
 */
import type { SourceConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { TransactionInfo } from '../events/stream-event.js';
import type { Logger } from '../logging/logger.js';
import type { Lsn } from '../source/lsn.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import { quoteIdent } from '../source/sql-quoting.js';

export const SIGNAL_TYPES = ['execute-snapshot', 'stop-snapshot', 'pause-snapshot', 'resume-snapshot', 'log', 'tombstone', 'command'] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];

/** A table named by a signal, with its optional extra condition. */
export interface SnapshotRequest {
  /** Anchored regular expressions over `schema.table`. */
  readonly dataCollections: readonly string[];
  /** `schema.table` regex → SQL condition (Debezium `additional-conditions`). */
  readonly conditions: ReadonlyMap<string, string>;
  /** `"type": "blocking"`: read while streaming waits (see blocking-snapshot), not between watermarks. */
  readonly blocking: boolean;
}

export type Signal =
  | { readonly type: 'execute-snapshot'; readonly request: SnapshotRequest }
  | { readonly type: 'stop-snapshot'; readonly dataCollections: readonly string[] }
  | { readonly type: 'pause-snapshot' }
  | { readonly type: 'resume-snapshot' }
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'tombstone' }
  | { readonly type: 'command'; readonly sql: string };

/** Where in the stream a signal row was inserted. */
export interface SignalPosition {
  readonly txn: TransactionInfo;
  readonly lsn: Lsn;
}

/** What acts on snapshot signals. */
export interface SignalHandlers {
  executeSnapshot(request: SnapshotRequest): Promise<void>;
  stopSnapshot(dataCollections: readonly string[]): Promise<void>;
  pauseSnapshot(): Promise<void>;
  resumeSnapshot(): Promise<void>;
}

/** What acts on every signal: snapshots, plus stopping the stream and commands for the target. */
export interface StreamSignalHandlers {
  readonly snapshots: SignalHandlers;
  /** Stop once the signal's transaction is delivered, then drop the slot and publication. */
  tombstone(at: SignalPosition): void;
  /** Runs SQL on the target in the signal's place in the stream; throws CONFIG_INVALID if the target cannot. */
  command(sql: string, at: SignalPosition): void | Promise<void>;
}

/** `schema` and `table` of the configured signal table. */
export function signalTableName(source: SourceConfig): { schema: string; table: string } {
  const [schema, table] = source.signalTable.split('.') as [string, string];
  return { schema, table };
}

/** Parses a signal row; throws a PgcdcError saying what is wrong with it. */
export function parseSignal(type: string, data: string | null): Signal {
  if (type === 'command') return { type: 'command', sql: commandSql(data) };
  const payload = parsePayload(type, data);
  switch (type as SignalType) {
    case 'execute-snapshot': {
      const collections = stringList(payload['data-collections'], 'data-collections');
      if (collections.length === 0) throw refusal('execute-snapshot needs "data-collections": a list of schema.table names or patterns');
      // Debezium reads the type in any case (INCREMENTAL, blocking).
      const kind = typeof payload.type === 'string' ? payload.type.toLowerCase() : payload.type;
      if (kind !== undefined && kind !== 'incremental' && kind !== 'blocking') {
        throw refusal(`execute-snapshot "type" is ${JSON.stringify(payload.type)}; expected incremental or blocking`);
      }
      return { type: 'execute-snapshot', request: { dataCollections: collections, conditions: conditions(payload), blocking: kind === 'blocking' } };
    }
    case 'stop-snapshot':
      return { type: 'stop-snapshot', dataCollections: payload['data-collections'] === undefined ? [] : stringList(payload['data-collections'], 'data-collections') };
    case 'pause-snapshot':
      return { type: 'pause-snapshot' };
    case 'resume-snapshot':
      return { type: 'resume-snapshot' };
    case 'log':
      if (typeof payload.message !== 'string') throw refusal('log needs {"message": "..."}');
      return { type: 'log', message: payload.message };
    case 'tombstone':
      return { type: 'tombstone' };
    default:
      throw refusal(`unknown signal type "${type}"; expected one of ${SIGNAL_TYPES.join(', ')}`);
  }
}

/** Acts on one signal row; a bad signal is logged and refused, never fatal. */
export async function handleSignal(id: string, type: string, data: string | null, at: SignalPosition, handlers: StreamSignalHandlers, logger: Logger): Promise<void> {
  let signal: Signal;
  try {
    signal = parseSignal(type, data);
  } catch (error) {
    logger.error({ signal: id, type, data, refusal: (error as Error).message }, 'signal refused');
    return;
  }
  logger.info({ signal: id, type }, 'signal received');
  try {
    switch (signal.type) {
      case 'execute-snapshot':
        return await handlers.snapshots.executeSnapshot(signal.request);
      case 'stop-snapshot':
        return await handlers.snapshots.stopSnapshot(signal.dataCollections);
      case 'pause-snapshot':
        return await handlers.snapshots.pauseSnapshot();
      case 'resume-snapshot':
        return await handlers.snapshots.resumeSnapshot();
      case 'log':
        logger.info({ signal: id }, signal.message);
        return;
      case 'tombstone':
        return handlers.tombstone(at);
      case 'command':
        return await handlers.command(signal.sql, at);
    }
  } catch (error) {
    if (!(error instanceof PgcdcError) || error.code !== 'CONFIG_INVALID') throw error;
    logger.error({ signal: id, type, refusal: error.message }, 'signal refused');
  }
}

/** Creates the signal table (and its schema) when missing; returns false with a warning if not allowed. */
export async function ensureSignalTable(catalog: CatalogConnection, source: SourceConfig, logger: Logger): Promise<boolean> {
  const { schema, table } = signalTableName(source);
  const { rowCount } = await catalog.query('select 1 from pg_tables where schemaname = $1 and tablename = $2', [schema, table]);
  if (rowCount) return true;
  try {
    await catalog.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await catalog.query(`CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.${quoteIdent(table)} (id text PRIMARY KEY, type text NOT NULL, data text)`);
    logger.info({ table: source.signalTable }, 'created the signal table');
    return true;
  } catch (error) {
    logger.warn({ table: source.signalTable, error: (error as Error).message }, 'cannot create the signal table: signals are off (grant CREATE on the database, or create it yourself)');
    return false;
  }
}

/** Inserts a signal (what `pgcdc signal` does). */
export async function sendSignal(catalog: CatalogConnection, source: SourceConfig, type: string, data: string | undefined): Promise<string> {
  parseSignal(type, data ?? null); // refuse here what the stream would refuse
  const { schema, table } = signalTableName(source);
  const { rows } = await catalog.query<{ id: string }>(
    `INSERT INTO ${quoteIdent(schema)}.${quoteIdent(table)} (id, type, data) VALUES (gen_random_uuid()::text, $1, $2) RETURNING id`,
    [type, data ?? null],
  );
  return rows[0]!.id;
}

/**
 * The SQL of a `command` signal: the data as SQL text (as an SGStream annotation gives it), or a
 * JSON object `{"command": "…"}`.
 */
function commandSql(data: string | null): string {
  const text = data?.trim() ?? '';
  if (text.startsWith('{')) {
    const command = parsePayload('command', text).command;
    if (typeof command !== 'string' || command.trim() === '') throw refusal('command needs {"command": "<SQL>"} or the SQL itself as data');
    return command;
  }
  if (text === '') throw refusal('command needs the SQL to run on the target as data');
  return text;
}

function parsePayload(type: string, data: string | null): Record<string, unknown> {
  if (data === null || data.trim() === '') return {};
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch (error) {
    throw refusal(`the data of ${type} is not JSON: ${(error as Error).message}`);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw refusal(`the data of ${type} must be a JSON object`);
  return payload as Record<string, unknown>;
}

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw refusal(`"${name}" must be a list of strings`);
  return value as string[];
}

function conditions(payload: Record<string, unknown>): Map<string, string> {
  const found = new Map<string, string>();
  const list = payload['additional-conditions'];
  if (list === undefined) return found;
  if (!Array.isArray(list)) throw refusal('"additional-conditions" must be a list of {"data-collection", "filter"}');
  for (const item of list) {
    const collection = (item as Record<string, unknown>)?.['data-collection'];
    const filter = (item as Record<string, unknown>)?.filter;
    if (typeof collection !== 'string' || typeof filter !== 'string') throw refusal('each additional condition needs "data-collection" and "filter" strings');
    found.set(collection, filter);
  }
  return found;
}

function refusal(message: string): PgcdcError {
  return new PgcdcError('CONFIG_INVALID', message, { hint: 'see docs/signals.md for the signal formats' });
}
