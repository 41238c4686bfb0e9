/**
 * Table synchronisation: how a target that keeps tables and loads them itself (the Postgres
 * target) receives a table's existing rows on every path but a new slot's own exported snapshot:
 * after `init`, `always` with an existing slot, an interrupted load resumed, a new table, an
 * execute-snapshot signal. As PostgreSQL's logical replication copies a table, every table of the
 * snapshot plan not completely loaded is copied at a new exported snapshot (a temporary slot gives
 * one at a known position P, the tables locked from before it so that no DDL or TRUNCATE can make
 * the copy stale): the target empties it, reshapes it as of P, records P, and loads it; the stream
 * applies its changes committed after P only. This runs while the stream is stopped at a
 * transaction boundary (before streaming starts, or between two replication connections), so every
 * change the target applied before was committed before P: nothing is applied to a row that is not
 * there yet and nothing is copied twice, whatever the table's key, TOAST or DDL. (Watermarks, the
 * DBLog method, stay the way for targets that only receive events.)
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import type { Logger } from '../logging/logger.js';
import { sleepUnlessAborted } from '../pipeline/abortable-waits.js';
import type { DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import type { Lsn } from '../source/lsn.js';
import { createTemporarySnapshot, type SlotWithSnapshot } from '../source/slot-manager.js';
import type { WireConnection } from '../source/wire/wire-connection.js';
import type { SnapshotRecord } from '../state/state-store.js';
import type { SnapshotLoader } from '../targets/target.js';
import type { PausedStreamWork } from './paused-stream-work.js';
import { importSnapshot, openReadOnlyTransaction, restartReadOnlyTransaction, runInitialSnapshot, withLoadedChunks } from './initial-snapshot.js';
import { lockRequestsWaiting, lockTablesNowait } from './snapshot-guard.js';
import type { SnapshotTable } from './snapshot-plan.js';
import type { SnapshotProgress } from './snapshot-progress.js';

/** The snapshot plan, as the synchroniser works on it (the SnapshotController). */
export interface SyncPlan {
  readonly progress: SnapshotProgress;
  /** Makes `record` the current plan, with the tables in `restarted` planned again from the start. */
  restartLoad(record: SnapshotRecord, restarted: ReadonlyMap<number, SnapshotTable>): Promise<void>;
  /** Describes tables with `query` (reading the catalog as of a snapshot). */
  describeWith(query: CatalogQuery, oids: readonly number[]): Promise<Map<number, SnapshotTable>>;
}

export interface TableSyncOptions {
  readonly connection: ConnectionConfig;
  /** The source's catalog as it is now (to find tables DDL changed since a snapshot). */
  readonly catalog: CatalogConnection;
  /** The stream's slot; the temporary slots are named after it. */
  readonly slotName: string;
  readonly loader: SnapshotLoader;
  readonly queue: DeliveryQueue;
  readonly parallelism: number;
  readonly logger: Logger;
}

/** Pause between two snapshots when a DDL or TRUNCATE holds or wants a table about to be copied. */
const CHANGED_RETRY_MS = 200;
/** How often lock requests waiting on the tables are looked for while the snapshot is created. */
const CONTENTION_POLL_MS = 50;

export class TableSynchronizer implements PausedStreamWork {
  readonly #options: TableSyncOptions;
  readonly #plan: SyncPlan;
  #paused = false;
  #onWork: (() => void) | undefined;

  constructor(options: TableSyncOptions, plan: SyncPlan) {
    this.#options = options;
    this.#plan = plan;
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.wake();
  }

  /** Tables were added to the plan: tells the stream, which stops at its next transaction boundary. */
  wake(): void {
    if (this.hasWork) this.#onWork?.();
  }

  /** Tables wait to be synchronised (and the snapshot is not paused). */
  get hasWork(): boolean {
    return !this.#paused && this.#plan.progress.record.status !== 'paused' && !this.#plan.progress.complete;
  }

  /** Calls `wanted` once there is work (at once if there is some now); returns what stops calling it. */
  onWork(wanted: () => void): () => void {
    this.#onWork = wanted;
    if (this.hasWork) queueMicrotask(wanted);
    return () => {
      if (this.#onWork === wanted) this.#onWork = undefined;
    };
  }

  /**
   * Synchronises every table of the plan not completely loaded; the stream must be stopped (nothing
   * applied to the target may be committed after the new snapshot). Resolves with the position the
   * stream must reach for the loaded tables to be consistent with the others (0 when nothing was
   * copied), or undefined when `signal` stopped it (the next run goes on from the target's records).
   */
  async run(signal?: AbortSignal): Promise<Lsn | undefined> {
    const { loader } = this.#options;
    let reached: Lsn = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) return undefined;
      // Chunks the target committed count, whatever the local state says (it may lag after a crash).
      const record = await withLoadedChunks(this.#plan.progress.record, loader);
      const unfinished = record.tables.filter((t) => t.chunks.some((c) => !c.done)).map((t) => t.oid);
      if (unfinished.length === 0) {
        await this.#plan.restartLoad(record, new Map());
        await loader.finishLoad();
        await this.#plan.progress.setStatus('done');
        return reached;
      }
      if (attempt > 0 && (await sleepUnlessAborted(CHANGED_RETRY_MS, signal))) return undefined;
      const position = await this.#copyAtNewSnapshot(record, unfinished, signal);
      if (position === undefined) return undefined;
      reached = Math.max(reached, position);
    }
  }

  /**
   * One temporary snapshot: the target empties the tables and loads them again as of it. The
   * copy's connections lock the tables before the snapshot exists and import it once it does, so
   * that no DDL or TRUNCATE can commit on them between the snapshot and the copy (either would make
   * the copy miss rows, see snapshot-guard). The locks are taken without waiting; a table whose
   * lock is taken (or wanted: creating the snapshot is given up when a lock request waits on ours)
   * is left for the next snapshot.
   */
  async #copyAtNewSnapshot(record: SnapshotRecord, oids: readonly number[], signal: AbortSignal | undefined): Promise<Lsn | undefined> {
    const { connection, catalog, loader, logger } = this.#options;
    const chunks = record.tables.filter((t) => oids.includes(t.oid)).reduce((n, t) => n + t.chunks.length, 0);
    const workers: WireConnection[] = [];
    try {
      for (let i = Math.max(1, Math.min(this.#options.parallelism, chunks)); i > 0; i--) workers.push(await openReadOnlyTransaction(connection));
      const busy: number[] = [];
      const gone: number[] = [];
      for (let candidates = [...oids]; candidates.length > 0; ) {
        const failed = await lockTablesNowait(workers, catalog, candidates);
        if (!failed) break;
        (failed.reason === 'busy' ? busy : gone).push(failed.oid);
        candidates = candidates.filter((oid) => oid !== failed.oid);
        await Promise.all(workers.map(restartReadOnlyTransaction));
      }
      for (const oid of gone) await this.#plan.progress.tableSkipped(oid);
      if (gone.length > 0) logger.error({ tables: names(record, gone) }, 'the table disappeared before it could be copied; it is skipped');
      if (busy.length > 0) logger.info({ tables: names(record, busy) }, 'a DDL or TRUNCATE holds the tables; they are copied once it is done');
      const ready = oids.filter((oid) => !busy.includes(oid) && !gone.includes(oid));
      if (ready.length === 0) return 0;
      const snapshot = await this.#snapshotUncontended(ready);
      if (!snapshot) {
        logger.info({ tables: names(record, ready) }, 'a DDL or TRUNCATE waits for the tables; trying again once it is done');
        return 0;
      }
      try {
        await Promise.all(workers.map((worker) => importSnapshot(worker, snapshot.snapshotName)));
        // The source's catalog as of the snapshot, read in the copy's own transaction.
        const query: CatalogQuery = (text, params) => workers[0]!.queryParams(text, params);
        const described = await this.#plan.describeWith(query, ready);
        await loader.restartTables(query, [...described.keys()], snapshot.consistentPoint);
        await this.#plan.restartLoad(record, described);
        logger.info({ tables: names(record, ready) }, 'copying tables at a new snapshot; their changes after it follow from the stream');
        const outcome = await runInitialSnapshot({
          connection,
          snapshotName: snapshot.snapshotName,
          consistentPoint: snapshot.consistentPoint,
          progress: this.#plan.progress,
          tables: new Map([...described].map(([oid, table]) => [oid, table.info])),
          queue: this.#options.queue,
          loader,
          parallelism: workers.length,
          logger,
          workers,
          ...(signal ? { signal } : {}),
        });
        return outcome === 'stopped' ? undefined : snapshot.consistentPoint;
      } finally {
        snapshot.session.destroy();
      }
    } finally {
      await Promise.all(workers.map((worker) => worker.close().catch(() => undefined)));
    }
  }

  /**
   * A temporary slot with an exported snapshot, unless a lock request on the tables waits while it
   * is created: creating it waits for running transactions, and one of them may be waiting for our
   * locks (a deadlock nobody would detect); it is then given up (undefined).
   */
  async #snapshotUncontended(oids: readonly number[]): Promise<SlotWithSnapshot | undefined> {
    const { connection, catalog, logger } = this.#options;
    const contended = new AbortController();
    const watch = setInterval(() => {
      lockRequestsWaiting(catalog, oids).then(
        (waiting) => waiting && contended.abort(),
        () => undefined,
      );
    }, CONTENTION_POLL_MS);
    try {
      return await createTemporarySnapshot(connection, `${this.#options.slotName}_sync`.slice(0, 63), logger, contended.signal);
    } catch (error) {
      if (contended.signal.aborted) return undefined;
      throw error;
    } finally {
      clearInterval(watch);
    }
  }
}

function names(record: SnapshotRecord, oids: readonly number[]): string[] {
  return record.tables.filter((t) => oids.includes(t.oid)).map((t) => `${t.schema}.${t.table}`);
}
