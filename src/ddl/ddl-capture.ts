/**
 * Installs (and removes) DDL capture on the source: `pgcdc.describe_table(oid)`,
 * `pgcdc.describe_types(oid)` and two event triggers that emit a transactional `pgcdc.ddl` logical
 * decoding message in the DDL's own transaction, so schema changes reach the WAL stream in order
 * with the data. Each message also carries the tables' descriptions from before the command
 * (`previous`), kept in `pgcdc.ddl_table_state` (seeded at install, updated by every capture).
 */
import type { TargetConfig } from '../config/stream-config.js';
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { quoteIdent, quoteLiteral } from '../source/sql-quoting.js';
import { DDL_MESSAGE_PREFIX, DDL_MESSAGE_VERSION } from './ddl-message.js';
import { DESCRIBE_TABLE_SQL, DESCRIBE_TYPES_SQL } from './describe-table-sql.js';

export type DdlCaptureResult = { readonly installed: true } | { readonly installed: false; readonly warning: string };

/** Whether `target` replays the DDL captured on the source (a Postgres target with `replicateDdl`), so the stream needs DDL capture. */
export function targetReplaysDdl(target: TargetConfig): boolean {
  return target.type === 'Postgres' && target.replicateDdl;
}

const EMIT = `pg_catalog.pg_logical_emit_message(true, ${quoteLiteral(DDL_MESSAGE_PREFIX)}, message::pg_catalog.text)`;

/** An empty message of `event` carrying only what the command was (and an error, if any). */
function messageHead(event: string): string {
  return `pg_catalog.jsonb_build_object('version', ${DDL_MESSAGE_VERSION}, 'event', '${event}', 'commandTag', TG_TAG,
    'query', pg_catalog.current_query(), 'schemas', '[]'::pg_catalog.jsonb, 'types', '[]'::pg_catalog.jsonb,
    'tables', '[]'::pg_catalog.jsonb, 'dropped', '[]'::pg_catalog.jsonb, 'error', NULL::pg_catalog.text)`;
}

/**
 * Runs `describe` (a query assigning `message`), then emits the message. A failure to describe never
 * breaks the user's DDL: it becomes a warning and a message with `error` set.
 *
 * The emit is not inside that EXCEPTION block on purpose: a block is a subtransaction, and the
 * reorder buffer files a transactional message under its LSN *end*, which equals the start of the
 * next record; when that record belongs to another (sub)transaction the two tie and the message
 * may be decoded after it (after the DML that followed the DDL). After DDL an invalidation record
 * usually follows anyway; a `setval` right after the message makes it certain (sequences are not
 * decoded), also for DDL run inside the user's own SAVEPOINT.
 */
function captureBody(event: string, describe: string): string {
  return `
DECLARE
  message pg_catalog.jsonb;
BEGIN
  BEGIN
    ${describe}
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pgcdc could not capture % for replication: %', TG_TAG, SQLERRM;
    message := ${messageHead(event)} || pg_catalog.jsonb_build_object('error', SQLERRM);
  END;
  IF message IS NOT NULL THEN
    PERFORM ${EMIT};
    PERFORM pg_catalog.setval('pgcdc.ddl_message_padding', 1, false);
  END IF;
END`;
}

const DESCRIBE_COMMAND = `
    WITH command AS (
      SELECT classid, objid FROM pg_catalog.pg_event_trigger_ddl_commands() WHERE NOT in_extension
    ), constraint_owner AS (
      SELECT k.conrelid, k.contypid FROM command
      JOIN pg_catalog.pg_constraint k ON command.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND k.oid = command.objid
    ), affected_table AS (
      SELECT COALESCE(x.indrelid, owner.refobjid, c.oid) AS oid
      FROM command
      JOIN pg_catalog.pg_class c ON command.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = command.objid
      LEFT JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
      LEFT JOIN pg_catalog.pg_depend owner ON c.relkind = 'S'
        AND owner.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND owner.objid = c.oid
        AND owner.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND owner.refobjsubid > 0 AND owner.deptype IN ('a', 'i')
      UNION
      SELECT conrelid FROM constraint_owner WHERE conrelid <> 0
    ), described_table AS (
      SELECT c.oid, pgcdc.describe_table(c.oid) AS description
      FROM affected_table
      JOIN pg_catalog.pg_class c ON c.oid = affected_table.oid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND NOT pgcdc.ddl_skips_schema(n.nspname)
    ), affected_type AS (
      SELECT command.objid AS oid FROM command WHERE command.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
      UNION
      SELECT c.reltype FROM command
      JOIN pg_catalog.pg_class c ON command.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = command.objid
      WHERE c.relkind = 'c'
      UNION
      SELECT contypid FROM constraint_owner WHERE contypid <> 0
    ), described_type AS (
      SELECT t.oid, e.type, e.ord
      FROM affected_type
      JOIN pg_catalog.pg_type t ON t.oid = affected_type.oid
      JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(pgcdc.describe_types(t.oid)) WITH ORDINALITY AS e(type, ord)
      WHERE NOT pgcdc.ddl_skips_schema(n.nspname)
    ), affected_schema AS (
      SELECT n.oid, n.nspname FROM command
      JOIN pg_catalog.pg_namespace n ON command.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND n.oid = command.objid
      WHERE NOT pgcdc.ddl_skips_schema(n.nspname)
    )
    SELECT ${messageHead('ddl_command_end')} || pg_catalog.jsonb_build_object(
      'schemas', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('oid', s.oid::pg_catalog.int8, 'name', s.nspname::pg_catalog.text) ORDER BY s.oid) FROM affected_schema s), '[]'),
      'types', COALESCE((SELECT pg_catalog.jsonb_agg(d.type ORDER BY d.oid, d.ord) FROM described_type d), '[]'),
      'tables', COALESCE((SELECT pg_catalog.jsonb_agg(d.description ORDER BY d.oid) FROM described_table d WHERE d.description IS NOT NULL), '[]'))
    INTO message
    WHERE EXISTS (SELECT FROM described_table) OR EXISTS (SELECT FROM described_type) OR EXISTS (SELECT FROM affected_schema);
    IF message IS NOT NULL AND pg_catalog.jsonb_array_length(message->'tables') > 0 THEN
      message := message || pg_catalog.jsonb_build_object('previous', COALESCE((
        SELECT pg_catalog.jsonb_agg(s.description ORDER BY s.oid) FROM pgcdc.ddl_table_state s
        WHERE s.oid IN (SELECT (t->>'oid')::pg_catalog.oid FROM pg_catalog.jsonb_array_elements(message->'tables') t)), '[]'));
      INSERT INTO pgcdc.ddl_table_state (oid, description)
      SELECT (t->>'oid')::pg_catalog.oid, t FROM pg_catalog.jsonb_array_elements(message->'tables') t
      ON CONFLICT (oid) DO UPDATE SET description = EXCLUDED.description;
    END IF;`;

const DROPPED_TABLE_OIDS = `SELECT (d->>'oid')::pg_catalog.oid FROM pg_catalog.jsonb_array_elements(message->'dropped') d WHERE d->>'objectType' = 'table'`;

const DESCRIBE_DROP = `
    SELECT ${messageHead('sql_drop')} || pg_catalog.jsonb_build_object('dropped', pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'objectType', d.object_type,
      'oid', d.objid::pg_catalog.int8,
      'subId', d.objsubid,
      'schema', d.schema_name,
      'name', d.object_name,
      'identity', d.object_identity,
      'addressNames', pg_catalog.to_jsonb(d.address_names),
      'original', d.original,
      'normal', d.normal) ORDER BY d.ordinality))
    INTO message
    FROM pg_catalog.pg_event_trigger_dropped_objects() WITH ORDINALITY AS d
    WHERE NOT d.is_temporary
      AND d.object_type IN ('table', 'table column', 'index', 'table constraint', 'schema', 'type')
      AND (d.object_type IN ('table', 'table column') OR d.original OR d.normal)
      AND NOT pgcdc.ddl_skips_schema(COALESCE(d.schema_name, d.object_name))
    HAVING pg_catalog.count(*) > 0;
    IF message IS NOT NULL THEN
      message := message || pg_catalog.jsonb_build_object('previous', COALESCE((
        SELECT pg_catalog.jsonb_agg(s.description ORDER BY s.oid) FROM pgcdc.ddl_table_state s
        WHERE s.oid IN (${DROPPED_TABLE_OIDS})), '[]'));
      DELETE FROM pgcdc.ddl_table_state WHERE oid IN (${DROPPED_TABLE_OIDS});
    END IF;`;

/** Records every table's description as it is now in `pgcdc.ddl_table_state` (the "before" of its next DDL). */
const SEED_TABLE_STATE_SQL = `
DELETE FROM pgcdc.ddl_table_state WHERE oid NOT IN (SELECT oid FROM pg_catalog.pg_class);
INSERT INTO pgcdc.ddl_table_state (oid, description)
SELECT c.oid, d.description
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT pgcdc.describe_table(c.oid) AS description) d
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND NOT pgcdc.ddl_skips_schema(n.nspname) AND d.description IS NOT NULL
ON CONFLICT (oid) DO UPDATE SET description = EXCLUDED.description;`;

/** Everything `installDdlCapture` creates, as one script (one implicit transaction). */
export const INSTALL_DDL_CAPTURE_SQL = `
CREATE SCHEMA IF NOT EXISTS pgcdc;

CREATE SEQUENCE IF NOT EXISTS pgcdc.ddl_message_padding;

-- Unlogged: nothing of it reaches the WAL (no decoded rows, no extra WAL per DDL); emptied by a crash
-- of the source, after which the next start seeds it again (the first DDL of a table in between has no "before").
CREATE UNLOGGED TABLE IF NOT EXISTS pgcdc.ddl_table_state (oid pg_catalog.oid PRIMARY KEY, description pg_catalog.jsonb NOT NULL);
REVOKE ALL ON pgcdc.ddl_table_state FROM PUBLIC;

CREATE OR REPLACE FUNCTION pgcdc.describe_table(pg_catalog.oid) RETURNS pg_catalog.jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $pgcdc$
${DESCRIBE_TABLE_SQL}
$pgcdc$;

CREATE OR REPLACE FUNCTION pgcdc.describe_types(pg_catalog.oid) RETURNS pg_catalog.jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $pgcdc$
${DESCRIBE_TYPES_SQL}
$pgcdc$;

CREATE OR REPLACE FUNCTION pgcdc.ddl_skips_schema(pg_catalog.text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $pgcdc$
SELECT $1 IN ('pg_catalog', 'information_schema', 'pg_toast', 'pgcdc') OR $1 ~ '^pg_(toast_)?temp'
$pgcdc$;

CREATE OR REPLACE FUNCTION pgcdc.capture_ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgcdc$${captureBody('ddl_command_end', `
  IF TG_TAG IN ('COMMENT', 'GRANT', 'REVOKE', 'SECURITY LABEL', 'ALTER DEFAULT PRIVILEGES') THEN
    RETURN;
  END IF;${DESCRIBE_COMMAND}`)}
$pgcdc$;

CREATE OR REPLACE FUNCTION pgcdc.capture_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgcdc$${captureBody('sql_drop', DESCRIBE_DROP)}
$pgcdc$;

-- The tables as they are now: the "before" of the next DDL on each.
${SEED_TABLE_STATE_SQL}

REVOKE ALL ON FUNCTION pgcdc.capture_ddl_command_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgcdc.capture_sql_drop() FROM PUBLIC;

DROP EVENT TRIGGER IF EXISTS pgcdc_ddl_command_end;
CREATE EVENT TRIGGER pgcdc_ddl_command_end ON ddl_command_end EXECUTE FUNCTION pgcdc.capture_ddl_command_end();
DROP EVENT TRIGGER IF EXISTS pgcdc_sql_drop;
CREATE EVENT TRIGGER pgcdc_sql_drop ON sql_drop EXECUTE FUNCTION pgcdc.capture_sql_drop();
`;

const REMOVE_DDL_CAPTURE_SQL = `
DROP EVENT TRIGGER IF EXISTS pgcdc_ddl_command_end;
DROP EVENT TRIGGER IF EXISTS pgcdc_sql_drop;
DROP FUNCTION IF EXISTS pgcdc.capture_ddl_command_end();
DROP FUNCTION IF EXISTS pgcdc.capture_sql_drop();
DROP FUNCTION IF EXISTS pgcdc.ddl_skips_schema(pg_catalog.text);
DROP FUNCTION IF EXISTS pgcdc.describe_types(pg_catalog.oid);
DROP FUNCTION IF EXISTS pgcdc.describe_table(pg_catalog.oid);
DROP SEQUENCE IF EXISTS pgcdc.ddl_message_padding;
DROP TABLE IF EXISTS pgcdc.ddl_table_state;
`;

/**
 * Creates (or replaces) DDL capture, in one transaction. Event triggers need a superuser (or a
 * managed service's equivalent): when the server refuses, nothing is changed and the result carries
 * a warning saying what is lost and how to fix it.
 */
export async function installDdlCapture(query: CatalogQuery): Promise<DdlCaptureResult> {
  const refusal = await tryInstall(query);
  if (refusal === undefined) return { installed: true };
  return {
    installed: false,
    warning:
      `DDL capture is not installed (${refusal}): schema changes on the source will not be replayed ` +
      'on the target; run pgcdc init as a superuser to install it',
  };
}

/** Runs the install; resolves with the server's reason when it refuses the privilege, undefined once installed. */
async function tryInstall(query: CatalogQuery): Promise<string | undefined> {
  try {
    await query(INSTALL_DDL_CAPTURE_SQL, []);
    return undefined;
  } catch (error) {
    if (!isRefusal(error)) throw error;
    return (error as Error).message;
  }
}

/** Drops the event triggers and functions (not the `pgcdc` schema, which holds other things). */
export async function removeDdlCapture(query: CatalogQuery): Promise<void> {
  await query(REMOVE_DDL_CAPTURE_SQL, []);
}

/** Whether a server error (or its PgcdcError) is a refused privilege. */
export function isRefusal(error: unknown): boolean {
  return (error as { code?: unknown }).code === '42501' || (error instanceof PgcdcError && error.code === 'PERMISSION_DENIED');
}

/**
 * Whether the connected role could install DDL capture: the install runs in a transaction that is
 * rolled back, so nothing changes. Event triggers need a superuser; a managed service's
 * equivalent (e.g. rds_superuser) is not detectable from the catalogs, so the server is asked.
 */
export async function probeDdlCapture(query: CatalogQuery): Promise<{ readonly possible: true } | { readonly possible: false; readonly reason: string }> {
  await query('BEGIN', []);
  try {
    await query(INSTALL_DDL_CAPTURE_SQL, []);
    return { possible: true };
  } catch (error) {
    if (!isRefusal(error)) throw error;
    return { possible: false, reason: (error as Error).message };
  } finally {
    await query('ROLLBACK', []);
  }
}

/** The one line for a stream with `captureDdl: true` whose role cannot install DDL capture. */
export function ddlCaptureRefused(role: string, reason: string): PgcdcError {
  return new PgcdcError('PERMISSION_DENIED', `captureDdl is true but role ${role} cannot install DDL capture on the source (${reason})`, {
    hint: `event triggers need a superuser: run ALTER ROLE ${quoteIdent(role)} SUPERUSER, or run pgcdc init once as a superuser to install DDL capture`,
  });
}

/**
 * Installs DDL capture for a stream that requires it (`captureDdl`) unless this version's is in
 * place; a refusal is the error saying how to fix it, never a warning.
 */
export async function requireDdlCapture(query: CatalogQuery): Promise<'present' | 'installed'> {
  if (await ddlCaptureCurrent(query)) {
    await reseedAfterCrash(query);
    return 'present';
  }
  const refusal = await tryInstall(query);
  if (refusal === undefined) return 'installed';
  const { rows } = await query('SELECT current_user AS role', []);
  throw ddlCaptureRefused(String(rows[0]?.role), refusal);
}

/**
 * Seeds `pgcdc.ddl_table_state` again when a crash of the source emptied it (it is unlogged). Only
 * the role that may write it can; for any other, the first DDL of each table has no "before".
 */
async function reseedAfterCrash(query: CatalogQuery): Promise<void> {
  const { rows } = await query('SELECT NOT EXISTS (SELECT FROM pgcdc.ddl_table_state) AS empty', []).catch((error: unknown) => {
    if (isRefusal(error)) return { rows: [{ empty: false }] };
    throw error;
  });
  if (rows[0]?.empty !== true) return;
  await query(SEED_TABLE_STATE_SQL, []).catch((error: unknown) => {
    if (!isRefusal(error)) throw error;
  });
}

/** Whether this version's capture is installed: both event triggers and the table of previous descriptions. */
export async function ddlCaptureCurrent(query: CatalogQuery): Promise<boolean> {
  if (!(await ddlCaptureInstalled(query))) return false;
  const { rows } = await query(`SELECT pg_catalog.to_regclass('pgcdc.ddl_table_state') IS NOT NULL AS present`, []);
  return rows[0]?.present === true;
}

/** Whether both event triggers are installed and enabled. */
export async function ddlCaptureInstalled(query: CatalogQuery): Promise<boolean> {
  const { rows } = await query(
    `SELECT pg_catalog.count(*) AS n FROM pg_catalog.pg_event_trigger
     WHERE evtname IN ('pgcdc_ddl_command_end', 'pgcdc_sql_drop') AND evtenabled <> 'D'`,
    [],
  );
  return Number(rows[0]?.n) === 2;
}
