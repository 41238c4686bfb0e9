/**
 * Helpers for DDL tests: a query function over one client, descriptions of every user table and
 * type of a database without oids (to compare a source with a target), statements run one by one,
 * and the `pgcdc.ddl` messages (and other lines) a test_decoding slot decoded.
 */
import type pg from 'pg';
import type { CatalogQuery } from '../../src/decoding/values/type-catalog.js';
import { DDL_MESSAGE_PREFIX, parseDdlMessage, type DdlMessage } from '../../src/ddl/ddl-message.js';
import { describeTables } from '../../src/ddl/describe-tables.js';
import type { TableDescription } from '../../src/ddl/table-description.js';
import { sql, withClient } from './postgres.js';

/** `client.query` as a CatalogQuery. */
export function queryOf(client: pg.Client): CatalogQuery {
  return (text, params) => client.query(text, params);
}

const OID_KEYS = new Set(['oid', 'schemaOid', 'typeOid']);

/** `value` without oid fields (they differ between databases), recursively. */
export function withoutOids(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutOids);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([key]) => !OID_KEYS.has(key)).map(([key, v]) => [key, withoutOids(v)]));
  }
  return value;
}

/** Describes every ordinary and partitioned table outside the system schemas and `pgcdc`. */
export async function describeUserTables(url: string): Promise<TableDescription[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `select c.oid::int8 as oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and c.relpersistence <> 't'
         and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'pgcdc')
       order by n.nspname, c.relname`,
    );
    return describeTables(
      queryOf(client),
      rows.map((r) => Number(r.oid)),
    );
  });
}

/**
 * The user schemas, the user-defined types (kind and enum labels in order) and the tables of a
 * database, without oids: equal for a source and a target in sync.
 */
export async function schemaSnapshot(url: string): Promise<unknown> {
  const { rows } = await sql(
    url,
    `select n.nspname as schema, t.typname as name, t.typtype as kind,
            (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) as labels
     from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where t.typtype in ('e', 'c', 'd', 'r') and n.nspname not in ('pg_catalog', 'information_schema', 'pgcdc')
       and (t.typtype <> 'c' or (select relkind from pg_class where oid = t.typrelid) = 'c')
     order by 1, 2`,
  );
  const { rows: schemas } = await sql(
    url,
    `select nspname from pg_namespace where nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'pgcdc', 'public')
       and nspname !~ '^pg_(toast_)?temp' order by 1`,
  );
  return { schemas: schemas.map((s) => s.nspname), types: rows, tables: withoutOids(await describeUserTables(url)) };
}

/** Runs statements one at a time (so an error names the statement). */
export async function runStatements(url: string, statements: readonly string[]): Promise<void> {
  await withClient(url, async (client) => {
    for (const statement of statements) {
      try {
        await client.query(statement);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n  in: ${statement}`);
      }
    }
  });
}

/** Creates a test_decoding slot. */
export async function createDecodingSlot(url: string, slot: string): Promise<void> {
  await sql(url, "select pg_create_logical_replication_slot($1, 'test_decoding')", [slot]);
}

/** One decoded line: a `pgcdc.ddl` message, or any other test_decoding line (BEGIN, table …, COMMIT). */
export type DecodedLine = { readonly kind: 'ddl'; readonly message: DdlMessage; readonly xid: string } | { readonly kind: 'other'; readonly data: string; readonly xid: string };

const MESSAGE_LINE = /^message: transactional: (\d) prefix: (.*?), sz: \d+ content:([\s\S]*)$/;

/**
 * Flushes the WAL written so far (the test server commits asynchronously, and a slot decodes only
 * flushed WAL): a checkpoint writes and flushes all of it.
 */
export async function flushWal(url: string): Promise<void> {
  await sql(url, 'checkpoint');
}

/** Reads (and consumes, unless `peek`) what the slot decoded since the last read. */
export async function readDecoded(url: string, slot: string, peek = false): Promise<DecodedLine[]> {
  await flushWal(url);
  const { rows } = await sql(
    url,
    `select xid::text as xid, data from pg_logical_slot_${peek ? 'peek' : 'get'}_changes($1, null, null)`,
    [slot],
  );
  return rows.map((row: { xid: string; data: string }) => {
    const match = MESSAGE_LINE.exec(row.data);
    if (match && match[2] === DDL_MESSAGE_PREFIX) return { kind: 'ddl', message: parseDdlMessage(match[3]!), xid: row.xid };
    return { kind: 'other', data: row.data, xid: row.xid };
  });
}

/** The `pgcdc.ddl` messages the slot decoded since the last read. */
export async function readDdlMessages(url: string, slot: string): Promise<DdlMessage[]> {
  return (await readDecoded(url, slot)).flatMap((line) => (line.kind === 'ddl' ? [line.message] : []));
}
