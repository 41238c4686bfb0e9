/**
 * The Postgres target's bulk load: each snapshot chunk goes from the source's COPY output straight
 * into a target COPY, byte for byte, and is committed together with its record in
 * `pgcdc.loaded_chunks`, so a chunk is loaded exactly once however the load is interrupted (the
 * tables were emptied before the load began). Indexes and constraints deferred when the tables
 * were created are restored by `finishLoad`.
 */
import type { ConnectionConfig } from '../../config/stream-config.js';
import type { CatalogQuery } from '../../decoding/values/type-catalog.js';
import type { Lsn } from '../../source/lsn.js';
import type { Logger } from '../../logging/logger.js';
import { qualifiedName, quoteIdent, quoteLiteral } from '../../source/sql-quoting.js';
import type { CopyDataHandler, WireConnection } from '../../source/wire/wire-connection.js';
import type { CopyFormat } from '../../snapshot/snapshot-plan.js';
import type { ChunkKey, SnapshotLoader, SnapshotLoadWorker } from '../target.js';
import type { TableInfo } from '../../events/stream-event.js';
import { asTargetError, openTargetConnection, queryRows } from './target-session.js';

export interface LoadContext {
  readonly connection: ConnectionConfig;
  readonly stream: string;
  readonly logger: Logger;
  /** Commit chunks asynchronously (the target flushes everything once the load is finished). */
  readonly asynchronousCommit: boolean;
  /** The COPY format that carries the table's rows from the source to the target. */
  copyFormat(table: TableInfo): CopyFormat;
  /** Restores what was deferred for the loaded tables (indexes, constraints). */
  restoreDeferred(): Promise<void>;
  /** Empties tables to load them again at a new snapshot (see SnapshotLoader.restartTables). */
  restartTables(source: CatalogQuery, tables: readonly number[], position: Lsn): Promise<void>;
}

export class PostgresSnapshotLoader implements SnapshotLoader {
  readonly #context: LoadContext;

  constructor(context: LoadContext) {
    this.#context = context;
  }

  async loadedChunks(snapshot: string): Promise<ReadonlyMap<string, ReadonlySet<number>>> {
    const connection = await openTargetConnection(this.#context.connection, this.#context.logger, { prepare: true });
    try {
      const rows = await queryRows(
        connection,
        `SELECT table_name, from_page::text FROM pgcdc.loaded_chunks WHERE stream = ${quoteLiteral(this.#context.stream)} AND snapshot = ${quoteLiteral(snapshot)}`,
      );
      const loaded = new Map<string, Set<number>>();
      for (const row of rows) {
        const pages = loaded.get(row.table_name!) ?? new Set<number>();
        pages.add(Number(row.from_page));
        loaded.set(row.table_name!, pages);
      }
      return loaded;
    } catch (error) {
      throw asTargetError(error, this.#context.connection, 'cannot read the loaded chunks from the target');
    } finally {
      await connection.close();
    }
  }

  async openWorker(): Promise<SnapshotLoadWorker> {
    const { connection, logger, asynchronousCommit } = this.#context;
    return new LoadWorker(await openTargetConnection(connection, logger, { prepare: false, asynchronousCommit }), this.#context);
  }

  finishLoad(): Promise<void> {
    return this.#context.restoreDeferred();
  }

  restartTables(source: CatalogQuery, tables: readonly number[], position: Lsn): Promise<void> {
    return this.#context.restartTables(source, tables, position);
  }
}

class LoadWorker implements SnapshotLoadWorker {
  readonly #connection: WireConnection;
  readonly #context: LoadContext;

  constructor(connection: WireConnection, context: LoadContext) {
    this.#connection = connection;
    this.#context = context;
  }

  async loadChunk(chunk: ChunkKey, copyOut: (onRow: CopyDataHandler, format: CopyFormat) => Promise<number>, onRow: () => void): Promise<number> {
    const connection = this.#connection;
    const table = chunk.table;
    const format = this.#context.copyFormat(table);
    const columns = table.columns.filter((c) => c.included).map((c) => quoteIdent(c.name));
    let sourceFailure: unknown;
    try {
      await connection.query('BEGIN');
      const rows = await connection.copyIn(`COPY ${qualifiedName(table)} (${columns.join(', ')}) FROM STDIN${format === 'binary' ? ' (FORMAT binary)' : ''}`, (sink) =>
        copyOut((buf, start, end) => {
          if (format === 'text' || !isBinaryTrailer(buf, start, end)) onRow();
          return sink.write(buf, start, end);
        }, format).then(
          () => undefined,
          (error: unknown) => {
            sourceFailure = error;
            throw error;
          },
        ),
      );
      const record = `INSERT INTO pgcdc.loaded_chunks (stream, snapshot, table_name, from_page, to_page, loaded_rows) VALUES (${[
        this.#context.stream,
        chunk.snapshot,
        `${table.schema}.${table.table}`,
      ]
        .map(quoteLiteral)
        .join(', ')}, ${chunk.fromPage}, ${chunk.toPage ?? 'NULL'}, ${rows})`;
      await connection.query(`${record}; COMMIT`);
      return rows;
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      if (error === sourceFailure) throw error; // the source's error, as it is
      throw asTargetError(error, this.#context.connection, `cannot load ${table.schema}.${table.table} into the target`);
    }
  }

  async close(): Promise<void> {
    await this.#connection.close().catch(() => undefined);
  }
}

/** The signature that starts COPY's binary format. */
const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags and header extension length. */
const BINARY_HEADER_BYTES = BINARY_SIGNATURE.length + 8;

/**
 * Whether a CopyData of a binary COPY holds its trailer (-1 as int16) and no row: alone, or after
 * the header when there are no rows at all. Rows start with their column count, never -1.
 */
function isBinaryTrailer(buf: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (buf.readInt16BE(end - 2) !== -1) return false;
  return length === 2 || (length === BINARY_HEADER_BYTES + 2 && buf.compare(BINARY_SIGNATURE, 0, BINARY_SIGNATURE.length, start, start + BINARY_SIGNATURE.length) === 0);
}
