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
}

/** Reads every chunk not done; resolves true when all are done, false when stopped early. */
export async function runInitialSnapshot(options: InitialSnapshotOptions): Promise<boolean> {
  const { progress, queue, logger, loader } = options;
  const pending = progress.pendingChunks();
  const count = Math.max(1, Math.min(options.parallelism, pending.length));
  const workers = await Promise.all(Array.from({ length: count }, () => openWorker(options)));
  const loaders: SnapshotLoadWorker[] = [];
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
        if (skipped.has(record.oid)) continue;
        const table = options.tables.get(record.oid);
        if (!table) {
          skipped.add(record.oid);
          continue;
        }
        const chunk = record.chunks[index]!;
        const rows = loaders[n]
          ? await loadChunk(worker, loaders[n], table, chunk, record.condition, { snapshot: progress.record.id, table, fromPage: chunk.fromPage, toPage: chunk.toPage }, progress)
          : await readChunk(worker, table, chunk, record.condition, emitter, progress);
        if (rows === undefined) {
          skipped.add(record.oid);
          logger.error({ table: `${record.schema}.${record.table}` }, 'the table disappeared during the snapshot; it is skipped');
          await progress.tableSkipped(record.oid);
          continue;
        }
        if (loaders[n]) {
          loaded += rows;
          await progress.chunkDone(record.oid, index, rows);
        } else emitter.afterDurable(() => void progress.chunkDone(record.oid, index, rows));
      }
    };
    await Promise.all(workers.map(work));
    if (options.signal?.aborted) return false;
    await emitter.finish();
    await queue.drain();
    logger.info({ rows: loader ? loaded : emitter.emitted, tables: options.tables.size, ...(loader ? { loadedBy: 'target' } : {}) }, 'initial snapshot complete');
    return true;
  } finally {
    await Promise.all([...workers, ...loaders].map((worker) => worker.close().catch(() => undefined)));
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
async function openWorker(options: InitialSnapshotOptions): Promise<WireConnection> {
  const worker = await WireConnection.connect(options.connection, { parameters: { options: sessionOptionsParameter(SOURCE_SESSION_SETTINGS) } });
  try {
    await worker.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await worker.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(options.snapshotName)}`);
  } catch (error) {
    worker.destroy();
    throw error instanceof PgcdcError && error.code === 'QUERY_FAILED'
      ? new PgcdcError('QUERY_FAILED', `cannot import the exported snapshot: ${error.message}`, { hint: 'the replication connection that exported it must stay open; this is retried on restart' })
      : error;
  }
  return worker;
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

/** COPY one chunk straight into the target's loader; undefined when the table no longer exists. */
function loadChunk(
  worker: WireConnection,
  loader: SnapshotLoadWorker,
  table: TableInfo,
  chunk: ChunkRecord,
  condition: string | undefined,
  key: ChunkKey,
  progress: SnapshotProgress,
): Promise<number | undefined> {
  return inChunkSavepoint(worker, () =>
    loader.loadChunk(key, (onRow, format) => worker.copyOut(chunkCopySql(table, chunk, condition, 'included', format), onRow), () => progress.rowRead(table.oid)),
  );
}

/** COPY one chunk into the emitter; undefined when the table no longer exists. */
function readChunk(
  worker: WireConnection,
  table: TableInfo,
  chunk: ChunkRecord,
  condition: string | undefined,
  emitter: SnapshotEmitter,
  progress: SnapshotProgress,
): Promise<number | undefined> {
  return inChunkSavepoint(worker, () =>
    // Each CopyData holds one row ending with a newline; rows are rendered from these bytes.
    worker.copyOut(chunkCopySql(table, chunk, condition), (buf, start, end) => {
      progress.rowRead(table.oid);
      return emitter.push(table, copyRow(buf, start, end - 1), end - start);
    }),
  );
}

/**
 * Reads a chunk inside a savepoint of the snapshot transaction; resolves undefined when the table
 * no longer exists (rolling back to the savepoint keeps the snapshot transaction usable).
 */
async function inChunkSavepoint(worker: WireConnection, read: () => Promise<number>): Promise<number | undefined> {
  await worker.query('SAVEPOINT chunk');
  try {
    const rows = await read();
    await worker.query('RELEASE SAVEPOINT chunk');
    return rows;
  } catch (error) {
    if (error instanceof PgcdcError && error.code === 'QUERY_FAILED' && /does not exist/.test(error.message) && !worker.closed) {
      await worker.query('ROLLBACK TO SAVEPOINT chunk');
      return undefined;
    }
    throw error;
  }
}
