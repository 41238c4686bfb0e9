/**
 * The initial snapshot: several connections import the snapshot exported when the slot was created
 * (so every row is read exactly as of the slot's consistent point: no gap and no duplicate with
 * the stream that follows), and read the planned chunks in parallel with COPY. Rows go to the
 * delivery queue as read events, rendered later straight from the COPY bytes, or, for a target
 * that loads snapshots itself, straight into the target's COPY; a chunk is recorded done once its
 * rows are durable.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import type { TableInfo, TransactionInfo } from '../events/stream-event.js';
import type { Logger } from '../logging/logger.js';
import type { DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { ChunkKey, SnapshotLoader, SnapshotLoadWorker } from '../targets/target.js';
import type { Lsn } from '../source/lsn.js';
import type { ChunkRecord, SnapshotRecord } from '../state/state-store.js';
import { SOURCE_SESSION_SETTINGS, sessionOptionsParameter } from '../source/session-settings.js';
import { quoteLiteral } from '../source/sql-quoting.js';
import { WireConnection } from '../source/wire/wire-connection.js';
import { copyRow } from '../events/copy-row.js';
import { SnapshotEmitter } from './snapshot-emitter.js';
import { SnapshotGuard, type TableAtSnapshot } from './snapshot-guard.js';
import { chunkCopySql } from './snapshot-plan.js';
import type { SnapshotProgress } from './snapshot-progress.js';

export interface InitialSnapshotOptions {
  readonly connection: ConnectionConfig;
  /** The snapshot exported by CREATE_REPLICATION_SLOT. */
  readonly snapshotName: string;
  readonly consistentPoint: Lsn;
  readonly progress: SnapshotProgress;
  /** Every planned table, by OID. */
  readonly tables: ReadonlyMap<number, TableInfo>;
  readonly queue: DeliveryQueue;
  /** The target's own loader: chunks go straight to it instead of through the queue. */
  readonly loader?: SnapshotLoader;
  readonly parallelism: number;
  readonly logger: Logger;
  /** Aborting stops after the chunks being read; the rest waits for the next run. */
  readonly signal?: AbortSignal;
  /**
   * Lock each table for each chunk and leave out (for a newer snapshot) the tables DDL or TRUNCATE
   * changed since the snapshot (see snapshot-guard), comparing with the catalog as this connection
   * reads it now.
   */
  readonly guard?: CatalogConnection;
  /** Connections already in the snapshot's transaction, holding the tables' locks: used, not closed. */
  readonly workers?: readonly WireConnection[];
  /** What the completion is logged as (default `initial snapshot`). */
  readonly what?: string;
}

/**
 * How a run ended: every chunk read (`done`), stopped early (`stopped`), or done but for tables DDL
 * changed after the snapshot, whose chunks are left pending for a newer snapshot (`deferred`).
 */
export type InitialSnapshotOutcome = 'done' | 'stopped' | 'deferred';

/** Reads every chunk not done. */
export async function runInitialSnapshot(options: InitialSnapshotOptions): Promise<InitialSnapshotOutcome> {
  const { progress, queue, logger, loader } = options;
  const pending = progress.pendingChunks();
  const count = options.workers?.length ?? Math.max(1, Math.min(options.parallelism, pending.length));
  const workers = options.workers ?? (await Promise.all(Array.from({ length: count }, () => openSnapshotConnection(options.connection, options.snapshotName))));
  const loaders: SnapshotLoadWorker[] = [];
  const guard = options.guard ? new SnapshotGuard(options.guard) : undefined;
  /** Tables DDL or TRUNCATE changed since the snapshot: their chunks are left for a newer one. */
  const deferred = new Set<number>();
  try {
    if (loader) for (let i = 0; i < count; i++) loaders.push(await loader.openWorker());
    const txn = await snapshotTransaction(workers[0]!, options.consistentPoint);
    const emitter = new SnapshotEmitter(queue, txn, options.consistentPoint);
    const skipped = new Set<number>();
    let next = 0;
    let loaded = 0;
    const work = async (worker: WireConnection, n: number): Promise<void> => {
      while (next < pending.length && !options.signal?.aborted) {
        const { table: record, index } = pending[next++]!;
        if (skipped.has(record.oid) || deferred.has(record.oid)) continue;
        const table = options.tables.get(record.oid);
        if (!table) {
          skipped.add(record.oid);
          continue;
        }
        const chunk = record.chunks[index]!;
        const rows = await inChunkSavepoint(worker, guard, table.oid, () =>
          loaders[n]
            ? loadChunk(worker, loaders[n], table, chunk, record.condition, { snapshot: progress.record.id, table, fromPage: chunk.fromPage, toPage: chunk.toPage }, progress)
            : readChunk(worker, table, chunk, record.condition, emitter, progress),
        );
        if (rows === 'gone') {
          skipped.add(record.oid);
          logger.error({ table: `${record.schema}.${record.table}` }, 'the table disappeared during the snapshot; it is skipped');
          await progress.tableSkipped(record.oid);
          continue;
        }
        if (rows === 'changed') {
          deferred.add(record.oid);
          logger.warn({ table: `${record.schema}.${record.table}` }, 'the table was changed by DDL or TRUNCATE since the snapshot was taken (or is being changed); it is copied later, at a newer snapshot');
          continue;
        }
        if (loaders[n]) {
          loaded += rows;
          await progress.chunkDone(record.oid, index, rows);
        } else emitter.afterDurable(() => void progress.chunkDone(record.oid, index, rows));
      }
    };
    await Promise.all(workers.map(work));
    if (options.signal?.aborted) return 'stopped';
    await emitter.finish();
    await queue.drain();
    if (deferred.size > 0) return 'deferred';
    logger.info({ rows: loader ? loaded : emitter.emitted, tables: options.tables.size, ...(loader ? { loadedBy: 'target' } : {}) }, `${options.what ?? 'initial snapshot'} complete`);
    return 'done';
  } finally {
    await Promise.all([...(options.workers ? [] : workers), ...loaders].map((worker) => worker.close().catch(() => undefined)));
  }
}

/** The record with the chunks the target's loader already committed marked done (they may be missing locally after a crash). */
export async function withLoadedChunks(record: SnapshotRecord, loader: SnapshotLoader): Promise<SnapshotRecord> {
  const loaded = await loader.loadedChunks(record.id);
  return {
    ...record,
    tables: record.tables.map((table) => {
      const pages = loaded.get(`${table.schema}.${table.table}`);
      return pages ? { ...table, chunks: table.chunks.map((chunk) => (pages.has(chunk.fromPage) ? { ...chunk, done: true } : chunk)) } : table;
    }),
  };
}

/** A connection inside a read-only transaction on the exported snapshot. */
async function openSnapshotConnection(connection: ConnectionConfig, snapshotName: string): Promise<WireConnection> {
  const worker = await openReadOnlyTransaction(connection);
  await importSnapshot(worker, snapshotName);
  return worker;
}

/**
 * A connection inside a read-only REPEATABLE READ transaction that has read nothing yet: it can
 * still take locks (LOCK TABLE takes no snapshot) before it imports an exported snapshot.
 */
export async function openReadOnlyTransaction(connection: ConnectionConfig): Promise<WireConnection> {
  const worker = await WireConnection.connect(connection, { parameters: { options: sessionOptionsParameter(SOURCE_SESSION_SETTINGS) } });
  try {
    await worker.query(BEGIN_READ_ONLY);
  } catch (error) {
    worker.destroy();
    throw error;
  }
  return worker;
}

/** Ends the transaction of `worker` and begins a new one, as openReadOnlyTransaction's. */
export async function restartReadOnlyTransaction(worker: WireConnection): Promise<void> {
  await worker.query(`ROLLBACK; ${BEGIN_READ_ONLY}`);
}

const BEGIN_READ_ONLY = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

/** Makes the transaction of `worker` (which has read nothing yet) see the exported snapshot. */
export async function importSnapshot(worker: WireConnection, snapshotName: string): Promise<void> {
  try {
    await worker.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotName)}`);
  } catch (error) {
    worker.destroy();
    throw error instanceof PgcdcError && error.code === 'QUERY_FAILED'
      ? new PgcdcError('QUERY_FAILED', `cannot import the exported snapshot: ${error.message}`, { hint: 'the replication connection that exported it must stay open; this is retried on restart' })
      : error;
  }
}

/** The transaction read events belong to: the snapshot's xmin, at the consistent point, read now. */
async function snapshotTransaction(worker: WireConnection, consistentPoint: Lsn): Promise<TransactionInfo> {
  const [result] = await worker.query('SELECT pg_snapshot_xmin(pg_current_snapshot())::text');
  return {
    xid: Number(result?.rows[0]?.[0] ?? 0),
    commitLsn: consistentPoint,
    commitTimeMicros: Date.now() * 1000,
    previousCommitLsn: 0,
    origin: undefined,
  };
}

/** COPY one chunk straight into the target's loader. */
function loadChunk(
  worker: WireConnection,
  loader: SnapshotLoadWorker,
  table: TableInfo,
  chunk: ChunkRecord,
  condition: string | undefined,
  key: ChunkKey,
  progress: SnapshotProgress,
): Promise<number> {
  return loader.loadChunk(key, (onRow, format) => worker.copyOut(chunkCopySql(table, chunk, condition, 'included', format), onRow), () => progress.rowRead(table.oid));
}

/** COPY one chunk into the emitter. */
function readChunk(worker: WireConnection, table: TableInfo, chunk: ChunkRecord, condition: string | undefined, emitter: SnapshotEmitter, progress: SnapshotProgress): Promise<number> {
  // Each CopyData holds one row ending with a newline; rows are rendered from these bytes.
  return worker.copyOut(chunkCopySql(table, chunk, condition), (buf, start, end) => {
    progress.rowRead(table.oid);
    return emitter.push(table, copyRow(buf, start, end - 1), end - start);
  });
}

/**
 * Reads a chunk inside a savepoint of the snapshot transaction, the table locked by `guard` first
 * when there is one; the savepoint is rolled back afterwards, which lets go of the table's locks
 * and keeps the snapshot transaction usable after an error. Resolves with the rows read, or tells
 * that the table no longer exists or differs from the snapshot's.
 */
async function inChunkSavepoint(worker: WireConnection, guard: SnapshotGuard | undefined, oid: number, read: () => Promise<number>): Promise<number | Exclude<TableAtSnapshot, 'unchanged'>> {
  await worker.query('SAVEPOINT chunk');
  try {
    const state = guard ? await guard.lock(worker, oid) : 'unchanged';
    const rows = state === 'unchanged' ? await read() : state;
    await worker.query('ROLLBACK TO SAVEPOINT chunk');
    return rows;
  } catch (error) {
    if (error instanceof PgcdcError && error.code === 'QUERY_FAILED' && /does not exist/.test(error.message) && !worker.closed) {
      await worker.query('ROLLBACK TO SAVEPOINT chunk');
      return 'gone';
    }
    throw error;
  }
}
