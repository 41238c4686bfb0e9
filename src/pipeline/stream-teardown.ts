/**
 * Removing what a stream set up on the source: the replication slot, the publication (unless it
 * is user-managed), DDL capture (database-wide: removed only when no other stream's state remains
 * in the database, since another stream may need it) and the local state. `pgcdc teardown` and the `tombstone` signal both use it.
 */
import type { StreamConfig } from '../config/stream-config.js';
import { ddlCaptureInstalled, isRefusal, removeDdlCapture } from '../ddl/ddl-capture.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import { dropPublication } from '../source/publication-manager.js';
import { dropSlot } from '../source/slot-manager.js';
import { streamStateStore } from '../state/state-store.js';

export interface TeardownResult {
  readonly slotDropped: boolean;
  readonly publicationDropped: boolean;
  /** What became of DDL capture: `removed`, `not present`, or `kept: <why>`. */
  readonly ddlCapture: string;
}

/**
 * Drops the slot (waiting up to `slotWaitMs` for a walsender that is just ending to release it),
 * the publication, and the state directory.
 */
export async function tearDownStream(catalog: CatalogConnection, config: StreamConfig, slotWaitMs = 0): Promise<TeardownResult> {
  const slotDropped = await dropSlotWhenReleased(catalog, config.source.slotName, slotWaitMs);
  const publicationDropped = await dropPublication(catalog, config.source);
  await streamStateStore(catalog, config).remove();
  return { slotDropped, publicationDropped, ddlCapture: await removeUnusedDdlCapture(catalog) };
}

/** Removes DDL capture unless another stream of the database remains (it may need it) or the role may not. */
async function removeUnusedDdlCapture(catalog: CatalogConnection): Promise<string> {
  if (await otherStreamsRemain(catalog)) return 'kept: other streams of this database may use it';
  const query = (text: string, params: unknown[]) => catalog.query(text, params);
  const present = await ddlCaptureInstalled(query);
  try {
    await removeDdlCapture(query);
  } catch (error) {
    if (!isRefusal(error)) throw error;
    return `kept: ${(error as Error).message}; run pgcdc teardown as a superuser to remove it`;
  }
  return present ? 'removed' : 'not present';
}

/** Whether another stream's state is still recorded in this database (it may rely on DDL capture). */
async function otherStreamsRemain(catalog: CatalogConnection): Promise<boolean> {
  const { rows: table } = await catalog.query<{ found: boolean }>(`select to_regclass('pgcdc.stream_state') is not null as found`);
  if (!table[0]?.found) return false;
  const { rows } = await catalog.query<{ found: boolean }>('select exists (select from pgcdc.stream_state) as found');
  return rows[0]?.found === true;
}

async function dropSlotWhenReleased(catalog: CatalogConnection, slotName: string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await dropSlot(catalog, slotName);
    } catch (error) {
      if (!(error instanceof PgcdcError) || error.code !== 'SLOT_ACTIVE' || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** What pgcdc creates in its schema on a source; anything else there is the user's. */
const OWN_OBJECTS = new Set([
  'table stream_state',
  'table signals',
  'sequence ddl_message_padding',
  'table ddl_table_state',
  'function describe_table',
  'function describe_types',
  'function ddl_skips_schema',
  'function capture_ddl_command_end',
  'function capture_sql_drop',
]);

const SCHEMA_OBJECTS_SQL = `
  select case c.relkind when 'S' then 'sequence' else 'table' end || ' ' || c.relname as object
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'pgcdc' and c.relkind in ('r', 'p', 'S', 'v', 'm', 'f')
  union all
  select 'function ' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'pgcdc'
  union all
  select 'type ' || t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
   where n.nspname = 'pgcdc' and t.typtype in ('e', 'd', 'r', 'c') and not exists (select 1 from pg_class c where c.reltype = t.oid)`;

/**
 * After a teardown: drops the `pgcdc` schema when no other stream's state remains in it and it
 * holds only what pgcdc creates; otherwise says what was kept and why (one line for the report).
 */
export async function dropUnusedPgcdcSchema(catalog: CatalogConnection): Promise<string> {
  const { rows: found } = await catalog.query<{ found: boolean }>(`select to_regnamespace('pgcdc') is not null as found`);
  if (!found[0]?.found) return 'not present';
  const { rows: state } = await catalog.query<{ found: boolean }>(`select to_regclass('pgcdc.stream_state') is not null as found`);
  if (state[0]?.found) {
    const { rows: streams } = await catalog.query<{ stream: string }>('select stream from pgcdc.stream_state order by stream');
    if (streams.length > 0) return `kept: used by ${streams.length === 1 ? 'stream' : 'streams'} ${streams.map((row) => row.stream).join(', ')}`;
  }
  const { rows } = await catalog.query<{ object: string }>(SCHEMA_OBJECTS_SQL);
  const others = rows.map((row) => row.object).filter((object) => !OWN_OBJECTS.has(object));
  if (others.length > 0) return `kept: it also holds ${others.join(', ')}, which pgcdc did not create`;
  await catalog.query('drop schema pgcdc cascade');
  return 'dropped (no other stream uses it)';
}
