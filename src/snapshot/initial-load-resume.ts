/**
 * Resuming an initial load that the target does itself (bulk COPY, the Postgres target) after pgcdc
 * was stopped or killed in the middle of it, when the exported snapshot is gone. Tables whose chunks
 * were all loaded stay as they are: they are consistent at the first snapshot and the stream from
 * the slot brings them up to date. Every other table starts again at a new exported snapshot (from
 * a temporary slot), as native logical replication's table synchronisation does: the target empties
 * it, loads it at the new snapshot, and skips its changes committed before that snapshot's position.
 * Reading the remaining chunks between watermarks instead would double the rows of tables without a
 * key, whose rows cannot be matched.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import type { Logger } from '../logging/logger.js';
import type { DeliveryQueue } from '../pipeline/delivery-queue.js';
import { CatalogConnection } from '../source/catalog-connection.js';
import type { Lsn } from '../source/lsn.js';
import { createTemporarySnapshot } from '../source/slot-manager.js';
import { quoteLiteral } from '../source/sql-quoting.js';
import type { SnapshotRecord } from '../state/state-store.js';
import type { SnapshotLoader } from '../targets/target.js';
import { runInitialSnapshot, withLoadedChunks } from './initial-snapshot.js';
import type { SnapshotController } from './snapshot-controller.js';

export interface InitialLoadResumeOptions {
  readonly connection: ConnectionConfig;
  readonly slotName: string;
  readonly record: SnapshotRecord;
  readonly loader: SnapshotLoader;
  readonly snapshots: SnapshotController;
  readonly queue: DeliveryQueue;
  readonly parallelism: number;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Finishes the load. Resolves with the position the stream must reach for every table to be
 * consistent (the new snapshot's, or 0 when no table started again), or undefined when stopped early.
 */
export async function resumeInitialLoad(options: InitialLoadResumeOptions): Promise<Lsn | undefined> {
  const { loader, snapshots, logger } = options;
  const record = await withLoadedChunks(options.record, loader);
  const restarted = record.tables.filter((t) => t.chunks.some((c) => !c.done)).map((t) => t.oid);
  let position: Lsn = 0;
  if (restarted.length > 0) {
    const snapshot = await createTemporarySnapshot(options.connection, `${options.slotName}_load`.slice(0, 63), logger);
    try {
      await restartInSnapshot(options.connection, snapshot.snapshotName, (query) => loader.restartTables(query, restarted, snapshot.consistentPoint));
      const tables = await snapshots.restartLoad(record, restarted);
      logger.info({ tables: record.tables.filter((t) => restarted.includes(t.oid)).map((t) => `${t.schema}.${t.table}`) }, 'loading again, at a new snapshot, the tables the interrupted load had not finished');
      const complete = await runInitialSnapshot({
        connection: options.connection,
        snapshotName: snapshot.snapshotName,
        consistentPoint: snapshot.consistentPoint,
        progress: snapshots.progress,
        tables,
        queue: options.queue,
        loader,
        parallelism: options.parallelism,
        logger,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!complete) return undefined;
      position = snapshot.consistentPoint;
    } finally {
      snapshot.session.destroy();
    }
  } else {
    // Every chunk was loaded (the run was stopped while restoring indexes, say): the record, with
    // its chunks done, becomes the controller's, so that it is the one marked done below (and the
    // initial snapshot with it; else the next start would take a whole new snapshot).
    await snapshots.restartLoad(record, []);
  }
  await loader.finishLoad();
  await snapshots.progress.setStatus('done');
  return position;
}

/** Runs `work` with catalog queries that see the source as of the exported snapshot. */
async function restartInSnapshot(connection: ConnectionConfig, snapshotName: string, work: (query: (text: string, params: unknown[]) => Promise<{ rows: any[] }>) => Promise<void>): Promise<void> {
  const catalog = await CatalogConnection.open(connection);
  try {
    await catalog.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await catalog.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotName)}`);
    await work((text, params) => catalog.query(text, params));
    await catalog.query('COMMIT');
  } finally {
    await catalog.close();
  }
}
