/**
 * Plans snapshots: which captured tables are copied, each split into chunks of heap pages (read
 * with TID range scans, PostgreSQL 14+) of about the wanted number of rows; and describes a table
 * from the catalog the way a pgoutput Relation message would, so snapshot rows render exactly like
 * streamed ones.
 */
import type { RelationMessage } from '../decoding/pgoutput-messages.js';
import type { RelationRegistry } from '../decoding/relation-registry.js';
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import type { TableInfo } from '../events/stream-event.js';
import { rowFilterOf, snapshotCondition } from '../source/row-filters.js';
import { qualifiedName, quoteIdent } from '../source/sql-quoting.js';
import type { ChunkRecord, SnapshotTableRecord } from '../state/state-store.js';

/** Rows per page assumed for a table never analyzed. */
const DEFAULT_ROWS_PER_PAGE = 60;

interface TableFacts {
  oid: number;
  schema: string;
  table: string;
  replica_identity: string;
  names: string[];
  types: number[];
  typmods: number[];
  key_names: string[] | null;
  relpages: number;
  reltuples: number;
  pages_now: number;
}

const TABLE_FACTS_SQL = `
  select c.oid::int as oid, n.nspname as schema, c.relname as table, c.relreplident as replica_identity,
         array_agg(a.attname::text order by a.attnum) as names,
         array_agg(a.atttypid::int order by a.attnum) as types,
         array_agg(a.atttypmod order by a.attnum) as typmods,
         (select array_agg(k.attname::text) from pg_index i join pg_attribute k on k.attrelid = i.indrelid and k.attnum = any(i.indkey)
           where i.indrelid = c.oid and (i.indisprimary or i.indisreplident)) as key_names,
         c.relpages::int as relpages, c.reltuples::float8 as reltuples,
         (pg_relation_size(c.oid) / current_setting('block_size')::int)::int as pages_now
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
   where c.oid = any($1::oid[])
   group by c.oid, n.nspname, c.relname, c.relreplident, c.relpages, c.reltuples`;

/** What a snapshot needs of a table: how to render its rows and how big it is. */
export interface SnapshotTable {
  readonly info: TableInfo;
  readonly estimatedRows: number;
  /** Heap pages now. */
  readonly pages: number;
  readonly rowsPerPage: number;
  /** The stream's row filter of the table (`rowFilters`): every chunk reads only the rows it keeps. */
  readonly rowFilter: string | undefined;
}

/**
 * Describes tables (that still exist) for a snapshot; missing OIDs are left out. `query` reads the
 * catalog: now, or as of an exported snapshot (inside a transaction that imported it).
 * `rowFilters` are the stream's (`schema.table` → expression).
 */
export async function describeSnapshotTables(
  query: CatalogQuery,
  registry: RelationRegistry,
  oids: readonly number[],
  rowFilters?: Readonly<Record<string, string>>,
): Promise<Map<number, SnapshotTable>> {
  const rows = (await query(TABLE_FACTS_SQL, [oids])).rows as TableFacts[];
  const tables = new Map<number, SnapshotTable>();
  for (const row of rows) {
    const keys = new Set(row.key_names ?? []);
    const relation: RelationMessage = {
      tag: 'relation',
      xid: undefined,
      oid: row.oid,
      schema: row.schema,
      table: row.table,
      replicaIdentity: row.replica_identity,
      columns: row.names.map((name, i) => ({ name, typeOid: row.types[i]!, typeModifier: row.typmods[i]!, isKey: row.replica_identity === 'f' || keys.has(name) })),
    };
    const estimatedRows = Math.max(0, Math.round(row.reltuples));
    const rowsPerPage = row.relpages > 0 && row.reltuples > 0 ? row.reltuples / row.relpages : DEFAULT_ROWS_PER_PAGE;
    const rowFilter = rowFilterOf(rowFilters, row.schema, row.table);
    tables.set(row.oid, { info: await registry.describe(relation), estimatedRows, pages: Math.max(row.pages_now, row.relpages), rowsPerPage, rowFilter });
  }
  return tables;
}

/** Splits a table into page ranges of about `chunkRows` rows; the last range is open-ended. */
export function planChunks(table: SnapshotTable, chunkRows: number): ChunkRecord[] {
  const pagesPerChunk = Math.max(1, Math.floor(chunkRows / Math.max(1, table.rowsPerPage)));
  const chunks: ChunkRecord[] = [];
  for (let from = 0; from + pagesPerChunk < table.pages; from += pagesPerChunk) {
    chunks.push({ fromPage: from, toPage: from + pagesPerChunk, done: false });
  }
  const lastFrom = chunks.length === 0 ? 0 : chunks[chunks.length - 1]!.toPage!;
  chunks.push({ fromPage: lastFrom, toPage: null, done: false });
  return chunks;
}

/** Splits the chunks not yet done into smaller ones (resuming at incremental chunk size). */
export function splitRemaining(record: SnapshotTableRecord, table: SnapshotTable, chunkRows: number): SnapshotTableRecord {
  const pagesPerChunk = Math.max(1, Math.floor(chunkRows / Math.max(1, table.rowsPerPage)));
  const chunks: ChunkRecord[] = [];
  for (const chunk of record.chunks) {
    if (chunk.done) {
      chunks.push(chunk);
      continue;
    }
    const end = chunk.toPage ?? Math.max(chunk.fromPage + 1, table.pages);
    let from = chunk.fromPage;
    for (; from + pagesPerChunk < end; from += pagesPerChunk) chunks.push({ fromPage: from, toPage: from + pagesPerChunk, done: false });
    chunks.push({ fromPage: from, toPage: chunk.toPage === null ? null : end, done: false });
  }
  return { ...record, chunks };
}

/**
 * A new plan entry for a table. Its condition is the table's row filter AND-ed with `condition`
 * (an execute-snapshot one): whatever reads the chunks copies only rows the stream would send.
 */
export function tableRecord(table: SnapshotTable, chunkRows: number, condition: string | undefined): SnapshotTableRecord {
  return {
    oid: table.info.oid,
    schema: table.info.schema,
    table: table.info.table,
    estimatedRows: table.estimatedRows,
    rowsDone: 0,
    condition: snapshotCondition(table.rowFilter, condition),
    chunks: planChunks(table, chunkRows),
  };
}

/** COPY's text format, or its binary one (faster both ways, same types on both sides only). */
export type CopyFormat = 'text' | 'binary';

/**
 * `COPY (SELECT … WHERE ctid in the chunk's pages [AND condition]) TO STDOUT`, of every column the
 * server sends (rows become events), or of the included ones only (rows copied as they are).
 */
export function chunkCopySql(table: TableInfo, chunk: ChunkRecord, condition: string | undefined, columnsWanted: 'all' | 'included' = 'all', format: CopyFormat = 'text'): string {
  const columns = table.columns
    .filter((column) => columnsWanted === 'all' || column.included)
    .map((column) => quoteIdent(column.name))
    .join(', ');
  const range = [`ctid >= '(${chunk.fromPage},0)'::tid`];
  if (chunk.toPage !== null) range.push(`ctid < '(${chunk.toPage},0)'::tid`);
  if (condition) range.push(`(${condition})`);
  return `COPY (SELECT ${columns} FROM ${qualifiedName(table)} WHERE ${range.join(' AND ')}) TO STDOUT${format === 'binary' ? ' (FORMAT binary)' : ''}`;
}
