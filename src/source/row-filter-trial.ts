/**
 * Tries the stream's row filters on the server before any publication gets them: each filter is
 * put on a publication created inside a transaction that is rolled back, so the server itself
 * judges the expression (syntax, columns, immutable built-in functions only) and says how it
 * stores it (its canonical text, compared with what a publication holds), and the columns the
 * stored expression reads (the `:varattno` of its Var nodes) are compared with the table's
 * replica identity: a filter reading other columns would make the application's UPDATEs and
 * DELETEs on the table fail once the publication has it.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { RowFilter } from './row-filters.js';
import { SOURCE_SESSION_SETTINGS, sessionOptionsParameter } from './session-settings.js';
import { qualifiedName, quoteIdent } from './sql-quoting.js';
import { WireConnection } from './wire/wire-connection.js';

/** A filter as the server accepted it. */
export interface TriedRowFilter extends RowFilter {
  /** `pg_get_expr` of the stored expression: what `pg_publication_tables.rowfilter` shows. */
  readonly canonical: string;
  /** Columns the filter reads that are not in the table's replica identity (empty: safe). */
  readonly outsideIdentity: readonly string[];
  /** The table's replica identity in words, for messages. */
  readonly identity: string;
}

const STORED_FILTER_SQL = `
  select pr.prqual::text as qual, pg_get_expr(pr.prqual, pr.prrelid) as canonical, pr.prrelid::int as relid, c.relreplident as replident,
         (select array_agg(a.attname::text order by a.attnum) from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
           where i.indrelid = c.oid and (case c.relreplident when 'd' then i.indisprimary when 'i' then i.indisreplident else false end)) as identity_columns
    from pg_publication p join pg_publication_rel pr on pr.prpubid = p.oid join pg_class c on c.oid = pr.prrelid
   where p.pubname = $1`;

const COLUMN_NAMES_SQL = `
  select a.attname::text as name from pg_attribute a
   where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped and (a.attnum = any($2::int[]) or 0 = any($2::int[]))
   order by a.attnum`;

let trials = 0;

/**
 * Each filter as the server stores it, with the columns it reads outside the replica identity.
 * Throws a CONFIG_INVALID error naming the table when the server rejects a filter.
 */
export async function tryRowFilters(connection: ConnectionConfig, filters: readonly RowFilter[]): Promise<TriedRowFilter[]> {
  if (filters.length === 0) return [];
  const session = await WireConnection.connect(connection, { parameters: { options: sessionOptionsParameter(SOURCE_SESSION_SETTINGS) } });
  // A name no other trial uses at the same time (several streams may share a process).
  const publication = `pgcdc_row_filter_trial_${process.pid}_${++trials}`;
  try {
    await session.query('BEGIN');
    const tried: TriedRowFilter[] = [];
    for (const filter of filters) {
      await session.query('SAVEPOINT trial');
      try {
        // One statement per round trip (extended protocol): the expression cannot end it and start another.
        await session.queryParams(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${qualifiedName(filter)} WHERE (${filter.expression})`);
      } catch (error) {
        throw rejected(filter, error);
      }
      const { rows } = await session.queryParams(STORED_FILTER_SQL, [publication]);
      const stored = rows[0] as { qual: string; canonical: string; relid: number; replident: string; identity_columns: string[] | null };
      const read = [...stored.qual.matchAll(/:varattno (\d+)/g)].map((match) => Number(match[1]));
      const names = (await session.queryParams(COLUMN_NAMES_SQL, [stored.relid, read])).rows.map((row) => row['name'] as string);
      const identityColumns = stored.identity_columns ?? [];
      tried.push({
        ...filter,
        canonical: stored.canonical,
        outsideIdentity: stored.replident === 'f' ? [] : names.filter((name) => !identityColumns.includes(name)),
        identity: identityText(stored.replident, identityColumns),
      });
      await session.query('ROLLBACK TO SAVEPOINT trial');
    }
    await session.query('ROLLBACK');
    return tried;
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** The refusal of a filter the replica identity does not cover, naming the columns and the fix. */
export function identityRefusal(filter: TriedRowFilter): PgcdcError {
  const name = `${filter.schema}.${filter.table}`;
  return new PgcdcError(
    'CONFIG_INVALID',
    `rowFilters: the filter of ${name} reads ${filter.outsideIdentity.join(', ')}, which ${filter.outsideIdentity.length === 1 ? 'is' : 'are'} not in the table's replica identity (${filter.identity}): with it in the publication, every UPDATE and DELETE on ${name} would fail`,
    { hint: `run ALTER TABLE ${qualifiedName(filter)} REPLICA IDENTITY FULL, or filter on the key columns only` },
  );
}

function identityText(replident: string, columns: readonly string[]): string {
  if (replident === 'n') return 'nothing';
  if (columns.length === 0) return 'none: no primary key';
  return `${replident === 'i' ? 'the index on' : 'the primary key'} ${columns.join(', ')}`;
}

/** The server's refusal of a filter, with the table named. */
function rejected(filter: RowFilter, error: unknown): PgcdcError {
  if (!(error instanceof PgcdcError)) return new PgcdcError('INTERNAL', String(error), { cause: error });
  const fields = error.cause as { message?: string; detail?: string } | undefined;
  const reason = fields?.message ? `${fields.message}${fields.detail ? ` (${fields.detail})` : ''}` : error.message;
  if (error.code === 'PERMISSION_DENIED') {
    return new PgcdcError('PERMISSION_DENIED', `rowFilters: trying the filter of ${filter.schema}.${filter.table} on the server (in a publication created, then rolled back) was refused: ${reason}`, {
      cause: error,
      hint: 'the connecting role needs CREATE on the database and to own the table (as it does to manage the publication); grant them, or have the owner run pgcdc init',
    });
  }
  if (error.code !== 'QUERY_FAILED') return error;
  return new PgcdcError('CONFIG_INVALID', `rowFilters: the server rejects the filter of ${filter.schema}.${filter.table}: ${reason}`, {
    cause: error,
    hint: 'give a boolean expression over the table\'s columns, using only immutable built-in functions and operators (no subqueries, user-defined functions or system columns)',
  });
}
