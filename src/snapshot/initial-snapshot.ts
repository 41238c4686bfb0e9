/**
 * The initial snapshot: several connections import the snapshot exported when the slot was created
 * (so every row is read exactly as of the slot's consistent point: no gap and no duplicate with
 * the stream that follows), and read the planned chunks in parallel with COPY. Rows go to the
 * delivery queue as read events, rendered later straight from the COPY bytes; a chunk is recorded
 * done once its rows are durable.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { TableInfo, TransactionInfo } from '../events/stream-event.js';
import type { Logger } from '../logging/logger.js';
import type { DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { Lsn } from '../source/lsn.js';
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
  readonly parallelism: number;
  readonly logger: Logger;
  /** Aborting stops after the chunks being read; the rest waits for the next run. */
  readonly signal?: AbortSignal;
}

/** Reads every chunk not done; resolves true when all are done, false when stopped early. */
export async function runInitialSnapshot(options: InitialSnapshotOptions): Promise<boolean> {
  const { progress, queue, logger } = options;
  const pending = progress.pendingChunks();
  const workers = await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallelism, pending.length)) }, () => openWorker(options)));
  try {
    const txn = await snapshotTransaction(workers[0]!, options.consistentPoint);
    const emitter = new SnapshotEmitter(queue, txn, options.consistentPoint);
    const skipped = new Set<number>();
    let next = 0;
    const work = async (worker: WireConnection): Promise<void> => {
      while (next < pending.length && !options.signal?.aborted) {
        const { table: record, index } = pending[next++]!;
        if (skipped.has(record.oid)) continue;
        const table = options.tables.get(record.oid);
        if (!table) {
          skipped.add(record.oid);
          continue;
        }
        const rows = await readChunk(worker, table, record.chunks[index]!, record.condition, emitter, progress);
        if (rows === undefined) {
          skipped.add(record.oid);
          logger.error({ table: `${record.schema}.${record.table}` }, 'the table disappeared during the snapshot; it is skipped');
          await progress.tableSkipped(record.oid);
          continue;
        }
        emitter.afterDurable(() => void progress.chunkDone(record.oid, index, rows));
      }
    };
    await Promise.all(workers.map(work));
    if (options.signal?.aborted) return false;
    await emitter.finish();
    await queue.drain();
    logger.info({ rows: emitter.emitted, tables: options.tables.size }, 'initial snapshot complete');
    return true;
  } finally {
    await Promise.all(workers.map((worker) => worker.close().catch(() => undefined)));
  }
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

/**
 * COPY one chunk into the emitter. Returns the number of rows, or undefined when the table no
 * longer exists (the chunk's savepoint keeps the snapshot transaction usable).
 */
async function readChunk(
  worker: WireConnection,
  table: TableInfo,
  chunk: { fromPage: number; toPage: number | null },
  condition: string | undefined,
  emitter: SnapshotEmitter,
  progress: SnapshotProgress,
): Promise<number | undefined> {
  await worker.query('SAVEPOINT chunk');
  try {
    // Each CopyData holds one row ending with a newline; rows are rendered from these bytes.
    const rows = await worker.copyOut(chunkCopySql(table, { ...chunk, done: false }, condition), (buf, start, end) => {
      progress.rowRead(table.oid);
      return emitter.push(table, copyRow(buf, start, end - 1), end - start);
    });
    await worker.query('RELEASE SAVEPOINT chunk');
    return rows;
  } catch (error) {
    if (error instanceof PgcdcError && /does not exist/.test(error.message) && !worker.closed) {
      await worker.query('ROLLBACK TO SAVEPOINT chunk');
      return undefined;
    }
    throw error;
  }
}
