/**
 * Connections to a PostgreSQL target: the same session settings as the source connections (so
 * every value's text reads back as the same value), `session_replication_role = replica` when
 * allowed (triggers and foreign-key checks stay quiet, as in native logical replication), and the
 * `pgcdc` schema holding, per stream, the source position applied: written in the same
 * transaction as the data, which makes applying exactly once.
 */
import type { ConnectionConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import { formatLsn, parseLsn, type Lsn } from '../../source/lsn.js';
import { SOURCE_SESSION_SETTINGS, sessionOptionsParameter } from '../../source/session-settings.js';
import { quoteLiteral } from '../../source/sql-quoting.js';
import type { ServerErrorFields } from '../../source/wire/server-error.js';
import { WireConnection } from '../../source/wire/wire-connection.js';

const POSITION_TABLE = 'pgcdc.applied_positions';

/** SQLSTATE of `pgcdc.expect_rows`'s error: rows a change is about are missing on the target. */
export const MISSING_ROWS_SQLSTATE = 'P0002';

/**
 * Starts a statement list creating pgcdc's tables on the target (run as one implicit
 * transaction): connections preparing at once (one per Kafka partition, several processes) take
 * turns, so none trips over a table another is creating.
 */
export const BOOKKEEPING_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('pgcdc.bookkeeping'));";

/**
 * The target's own bookkeeping: applied positions, chunks of the initial load, a row whose update
 * forces a WAL flush, and `pgcdc.expect_rows`, which fails a statement that changed fewer rows than
 * it was sent for (a target table that is no longer equal to the source: the stream must stop).
 */
const BOOKKEEPING_SQL = `
  ${BOOKKEEPING_LOCK_SQL}
  CREATE SCHEMA IF NOT EXISTS pgcdc;
  CREATE TABLE IF NOT EXISTS ${POSITION_TABLE} (stream text PRIMARY KEY, lsn pg_lsn NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE IF NOT EXISTS pgcdc.flush_marks (stream text PRIMARY KEY, at timestamptz NOT NULL);
  CREATE TABLE IF NOT EXISTS pgcdc.loaded_chunks (stream text NOT NULL, snapshot text NOT NULL, table_name text NOT NULL, from_page bigint NOT NULL, to_page bigint,
    loaded_rows bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (stream, snapshot, table_name, from_page));
  DO $do$ BEGIN
    IF to_regprocedure('pgcdc.expect_rows(bigint, bigint)') IS NULL THEN
      CREATE FUNCTION pgcdc.expect_rows(changed bigint, expected bigint) RETURNS void LANGUAGE plpgsql AS $f$
      BEGIN
        IF changed < expected THEN
          RAISE EXCEPTION USING ERRCODE = '${MISSING_ROWS_SQLSTATE}', MESSAGE = format('%s of the %s rows to change are missing on the target', expected - changed, expected);
        END IF;
      END $f$;
    END IF;
  EXCEPTION WHEN duplicate_function OR unique_violation THEN NULL; -- created meanwhile by another connection
  END $do$`;

/** Session settings of target connections: the source's, plus standard strings for literals. */
const TARGET_SESSION_SETTINGS = { ...SOURCE_SESSION_SETTINGS, standard_conforming_strings: 'on' };

/** A simple query's rows as objects (target catalog reads). */
export async function queryRows(connection: WireConnection, sql: string): Promise<Record<string, string | null>[]> {
  const results = await connection.query(sql);
  const last = results[results.length - 1];
  if (!last) return [];
  return last.rows.map((row) => Object.fromEntries(last.fields.map((name, i) => [name, row[i] ?? null])));
}

/**
 * Opens a connection to the target and checks it can take writes; `prepare` also creates the
 * bookkeeping tables. Fails with what to fix when the target is unusable.
 */
export async function openTargetConnection(config: ConnectionConfig, logger: Logger, options: { prepare: boolean; asynchronousCommit?: boolean }): Promise<WireConnection> {
  let connection: WireConnection;
  const settings = options.asynchronousCommit ? { ...TARGET_SESSION_SETTINGS, synchronous_commit: 'off' } : TARGET_SESSION_SETTINGS;
  try {
    connection = await WireConnection.connect(config, { parameters: { options: sessionOptionsParameter(settings) } });
  } catch (error) {
    throw asTargetError(error, config, 'cannot connect to the target');
  }
  try {
    const [facts] = await queryRows(
      connection,
      `SELECT current_setting('transaction_read_only') AS read_only, pg_is_in_recovery()::text AS standby`,
    );
    if (facts!.read_only === 'on' || facts!.standby === 'true') {
      throw new PgcdcError('TARGET_FAILED', `the target ${describeTarget(config)} is read-only (${facts!.standby === 'true' ? 'a standby' : 'default_transaction_read_only is on'})`, {
        hint: 'point spec.target.postgres.url at the primary, writable server',
      });
    }
    const role = await connection.run("SET session_replication_role = 'replica'");
    if (role.failure) logger.warn('the target role may not set session_replication_role = replica: the target tables\' triggers and foreign-key checks run on applied changes (grant SET on it, or use a superuser)');
    if (options.prepare) await connection.query(BOOKKEEPING_SQL);
  } catch (error) {
    connection.destroy();
    throw asTargetError(error, config, 'cannot prepare the target');
  }
  return connection;
}

/** Before the source is touched: the target can be reached, logged into, and written (not a standby, not read-only). */
export async function checkTargetWritable(config: ConnectionConfig, logger: Logger): Promise<void> {
  const connection = await openTargetConnection(config, logger, { prepare: false });
  await connection.close().catch(() => undefined);
}

/** The source position this stream has applied on the target (0 when none). */
export async function readAppliedPosition(connection: WireConnection, stream: string): Promise<Lsn> {
  const [row] = await queryRows(connection, `SELECT lsn::text AS lsn FROM ${POSITION_TABLE} WHERE stream = ${quoteLiteral(stream)}`);
  return row?.lsn ? parseLsn(row.lsn) : 0;
}

/** The statement recording `lsn` as applied, written before the COMMIT of a target transaction. */
export function appliedPositionSql(stream: string, lsn: Lsn): string {
  return `INSERT INTO ${POSITION_TABLE} (stream, lsn) VALUES (${quoteLiteral(stream)}, '${formatLsn(lsn)}') ON CONFLICT (stream) DO UPDATE SET lsn = EXCLUDED.lsn, applied_at = now()`;
}

/** The server's fields of a failed statement, when the error came from the server. */
export function serverFields(error: unknown): ServerErrorFields | undefined {
  const cause = (error as { cause?: unknown })?.cause as Partial<ServerErrorFields> | undefined;
  return cause && typeof cause.code === 'string' && typeof cause.message === 'string' ? (cause as ServerErrorFields) : undefined;
}

/**
 * A failure talking to the target as a PgcdcError that says it is the target and how to fix it:
 * TARGET_UNREACHABLE (retried) when the server cannot be reached, TARGET_FAILED otherwise.
 */
export function asTargetError(error: unknown, config: ConnectionConfig, what: string): PgcdcError {
  if (error instanceof PgcdcError && (error.code === 'TARGET_FAILED' || error.code === 'TARGET_UNREACHABLE')) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const message = `${what} ${describeTarget(config)}: ${reason}`;
  const code = error instanceof PgcdcError ? error.code : undefined;
  const sqlState = serverFields(error)?.code;
  if (code === 'SOURCE_UNREACHABLE' || code === 'CONNECTION_LOST') {
    return new PgcdcError('TARGET_UNREACHABLE', message, { cause: error, hint: 'check that the target server runs and listens on this host and port; pgcdc retries' });
  }
  const hint =
    code === 'AUTH_FAILED'
      ? 'check the user and password of spec.target.postgres.url (or the SGCluster secrets), and the target pg_hba.conf'
      : code === 'DATABASE_NOT_FOUND'
        ? 'create the database on the target, or fix the database name of the target URL'
        : code === 'PERMISSION_DENIED' || sqlState === '42501'
          ? 'grant the target role CREATE on the database and the privileges to write the included tables'
          : sqlState === '25006'
            ? 'point spec.target.postgres.url at the primary, writable server'
            : 'see the target server log; nothing after the last applied position was acknowledged at the source';
  return new PgcdcError('TARGET_FAILED', message, { cause: error, hint });
}

/** `user@host:port/database` of the target. */
export function describeTarget(config: ConnectionConfig): string {
  return `${config.user}@${config.host}:${config.port}/${config.database}`;
}
