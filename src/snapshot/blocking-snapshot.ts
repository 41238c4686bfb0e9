/**
 * Blocking snapshots (Debezium's `execute-snapshot` with `"type": "blocking"`), for targets that
 * receive events: the stream stops at the end of the signal's transaction and the queue drains; a
 * temporary slot exports a snapshot at a known position P; the tables (with their additional
 * conditions) are read at it with the initial snapshot's parallel COPY, their `r` events going
 * through the queue; streaming then goes on from where it stopped, and the stream drops the
 * tables' changes committed before P (they are in the rows: see snapshot-coverage), so nothing is
 * lost or delivered twice. A table not read completely (a crash, a DDL since the snapshot) is read
 * again whole at a newer snapshot. A `stop-snapshot` row inserted into the signal table meanwhile
 * is acted on at once (the stream, which carries signals, is waiting).
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import type { Logger } from '../logging/logger.js';
import { anchoredPattern } from '../pipeline/change-filter.js';
import { sleepUnlessAborted } from '../pipeline/abortable-waits.js';
import type { DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import type { Lsn } from '../source/lsn.js';
import { createTemporarySnapshot } from '../source/slot-manager.js';
import { qualifiedName } from '../source/sql-quoting.js';
import type { WireConnection } from '../source/wire/wire-connection.js';
import type { SnapshotTableRecord } from '../state/state-store.js';
import { importSnapshot, openReadOnlyTransaction, runInitialSnapshot } from './initial-snapshot.js';
import type { PausedStreamWork } from './paused-stream-work.js';
import type { SnapshotCoverage } from './snapshot-coverage.js';
import { tableRecord, type SnapshotTable } from './snapshot-plan.js';
import type { SnapshotProgress } from './snapshot-progress.js';
import { parseSignal } from './signals.js';

/** The snapshot plan, as the blocking snapshotter works on it (the SnapshotController). */
export interface BlockingPlan {
  readonly progress: SnapshotProgress;
  /** Describes tables with `query` (reading the catalog as of a snapshot). */
  describeWith(query: CatalogQuery, oids: readonly number[]): Promise<Map<number, SnapshotTable>>;
  /** Acts on a stop-snapshot signal. */
  stopSnapshot(dataCollections: readonly string[]): Promise<void>;
}

export interface BlockingSnapshotOptions {
  readonly connection: ConnectionConfig;
  /** The source's catalog as it is now: the chunks' guard, and the signal table's stop-snapshot rows. */
  readonly catalog: CatalogConnection;
  /** The stream's slot; the temporary slots are named after it. */
  readonly slotName: string;
  readonly queue: DeliveryQueue;
  readonly coverage: SnapshotCoverage;
  readonly parallelism: number;
  readonly chunkRows: number;
  readonly signalTable: { readonly schema: string; readonly table: string } | undefined;
  readonly logger: Logger;
}

/** Pause between two snapshots when a DDL or TRUNCATE changed a table since the previous one. */
const CHANGED_RETRY_MS = 200;
/** How often the signal table is read for stop-snapshot rows while the stream waits. */
const STOP_POLL_MS = 250;

export class BlockingSnapshotter implements PausedStreamWork {
  readonly #options: BlockingSnapshotOptions;
  readonly #plan: BlockingPlan;
  #onWork: (() => void) | undefined;

  constructor(options: BlockingSnapshotOptions, plan: BlockingPlan) {
    this.#options = options;
    this.#plan = plan;
  }

  /** A blocking snapshot is planned and not finished (or finished but not recorded as done: run() records it). */
  get hasWork(): boolean {
    const { record } = this.#plan.progress;
    return record.kind === 'blocking' && record.status === 'running';
  }

  /** A blocking snapshot was planned: tells the stream, which stops at the end of the signal's transaction. */
  wake(): void {
    if (this.hasWork) this.#onWork?.();
  }

  onWork(wanted: () => void): () => void {
    this.#onWork = wanted;
    if (this.hasWork) queueMicrotask(wanted);
    return () => {
      if (this.#onWork === wanted) this.#onWork = undefined;
    };
  }

  /**
   * Reads every table of the plan not read completely, at new exported snapshots, until none is
   * left; the stream must be stopped and the queue drained. Resolves with the highest snapshot
   * position, or undefined when `signal` stopped it (the next run reads the unfinished tables again).
   */
  async run(signal?: AbortSignal): Promise<Lsn | undefined> {
    const { logger, coverage } = this.#options;
    let reached: Lsn = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) return undefined;
      const progress = this.#plan.progress;
      const unfinished = progress.record.tables.filter((t) => t.chunks.some((c) => !c.done));
      if (unfinished.length === 0) {
        if (progress.record.status === 'running') {
          await progress.setStatus('done');
          logger.info({ snapshot: progress.record.id }, 'blocking snapshot complete; streaming resumes');
        }
        // Complete tables were recorded with their positions: the stream drops what they hold.
        await coverage.load();
        return reached;
      }
      if (attempt > 0 && (await sleepUnlessAborted(CHANGED_RETRY_MS, signal))) return undefined;
      const position = await this.#readAtNewSnapshot(progress, unfinished, signal);
      if (position === undefined) return undefined;
      reached = Math.max(reached, position);
    }
  }

  /**
   * One exported snapshot at P: the tables are planned again whole with P as their position, then
   * read. Resolves with P, or undefined when `signal` aborted (a stop-snapshot also ends the
   * reading, but the loop goes on with the tables it left).
   */
  async #readAtNewSnapshot(progress: SnapshotProgress, tables: readonly SnapshotTableRecord[], signal: AbortSignal | undefined): Promise<Lsn | undefined> {
    const { connection, catalog, logger, queue } = this.#options;
    const stopWatch = await this.#watchStopSignals(signal);
    try {
      const snapshot = await createTemporarySnapshot(connection, `${this.#options.slotName}_blocking`.slice(0, 63), logger, stopWatch.signal);
      const workers: WireConnection[] = [];
      try {
        const chunks = tables.reduce((n, t) => n + t.chunks.length, 0);
        for (let i = Math.max(1, Math.min(this.#options.parallelism, chunks)); i > 0; i--) {
          const worker = await openReadOnlyTransaction(connection);
          workers.push(worker);
          await importSnapshot(worker, snapshot.snapshotName);
        }
        // The tables as of the snapshot, read in the snapshot's own transaction.
        const query: CatalogQuery = (text, params) => workers[0]!.queryParams(text, params);
        const described = await this.#plan.describeWith(query, tables.map((t) => t.oid));
        const gone = tables.filter((t) => !described.has(t.oid));
        for (const table of gone) await progress.tableSkipped(table.oid);
        if (gone.length > 0) logger.error({ tables: gone.map((t) => `${t.schema}.${t.table}`) }, 'the table disappeared before it could be snapshotted; it is skipped');
        const position = snapshot.consistentPoint;
        const planned = tables
          .filter((t) => described.has(t.oid))
          .map((t) => ({ ...tableRecord(described.get(t.oid)!, this.#options.chunkRows, t.condition), position }));
        await progress.restartTables(planned);
        logger.info({ tables: planned.map((t) => `${t.schema}.${t.table}`), position: snapshot.consistentPoint }, 'blocking snapshot: reading tables while streaming waits');
        const outcome = await runInitialSnapshot({
          connection,
          snapshotName: snapshot.snapshotName,
          consistentPoint: position,
          progress,
          tables: new Map([...described].map(([oid, table]) => [oid, table.info])),
          queue,
          parallelism: workers.length,
          logger,
          guard: catalog,
          workers,
          signal: stopWatch.signal,
          what: 'blocking snapshot',
        });
        if (outcome !== 'stopped') return position;
        // Stopped: what was read is delivered (its chunks recorded), the rest waits for the next run, or was stopped.
        await queue.drain();
        return signal?.aborted ? undefined : position;
      } finally {
        await Promise.all(workers.map((worker) => worker.close().catch(() => undefined)));
        snapshot.session.destroy();
      }
    } catch (error) {
      // Stopping gave up creating the snapshot: the run ends, or (a stop-snapshot) the loop goes on with what is left.
      if (signal?.aborted) return undefined;
      if (stopWatch.stopped) return 0;
      throw error;
    } finally {
      stopWatch.end();
    }
  }

  /**
   * Reads the signal table for stop-snapshot rows inserted from now on (the stream, which carries
   * signals, waits): one stops the tables it names. The returned signal aborts on such a stop and
   * when `outer` aborts.
   */
  async #watchStopSignals(outer: AbortSignal | undefined): Promise<{ readonly signal: AbortSignal; readonly stopped: boolean; end(): void }> {
    const { catalog, logger, signalTable } = this.#options;
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    outer?.addEventListener('abort', abort, { once: true });
    if (outer?.aborted) abort();
    const watch = { signal: controller.signal, stopped: false, end: () => outer?.removeEventListener('abort', abort) };
    if (signalTable === undefined) return watch;
    const read = async (): Promise<{ id: string; data: string | null }[]> =>
      (await catalog.query<{ id: string; data: string | null }>(`SELECT id, data FROM ${qualifiedName(signalTable)} WHERE type = 'stop-snapshot'`)).rows;
    // Unreadable now (dropped since the signal came through it): every row read later counts as new.
    const seen = new Set((await read().catch(() => [])).map((row) => row.id));
    let polling = false;
    let ended = false;
    const timer = setInterval(() => {
      if (polling || controller.signal.aborted) return;
      polling = true;
      read()
        .then(async (rows) => {
          for (const row of rows) {
            if (ended) return;
            if (seen.has(row.id)) continue;
            seen.add(row.id);
            const stop = parsedStop(row.data);
            // A malformed one is refused when the stream reaches it.
            if (stop === undefined) continue;
            logger.info({ signal: row.id, type: 'stop-snapshot' }, 'signal received while streaming waits for a blocking snapshot');
            const patterns = stop.map(anchoredPattern);
            const named = (t: SnapshotTableRecord): boolean => patterns.length === 0 || patterns.some((pattern) => pattern.test(`${t.schema}.${t.table}`));
            if (!this.#plan.progress.record.tables.some((t) => named(t) && t.chunks.some((c) => !c.done))) continue;
            await this.#plan.stopSnapshot(stop);
            watch.stopped = true;
            controller.abort();
          }
        })
        .catch((error: unknown) => logger.warn({ error: (error as Error).message }, 'cannot read stop-snapshot signals during the blocking snapshot'))
        .finally(() => (polling = false));
    }, STOP_POLL_MS);
    return {
      signal: controller.signal,
      get stopped() {
        return watch.stopped;
      },
      end: () => {
        ended = true;
        clearInterval(timer);
        watch.end();
      },
    };
  }
}

/** The tables a stop-snapshot row names (empty: all), or undefined when its data is malformed. */
function parsedStop(data: string | null): readonly string[] | undefined {
  try {
    const signal = parseSignal('stop-snapshot', data);
    return signal.type === 'stop-snapshot' ? signal.dataCollections : undefined;
  } catch {
    return undefined;
  }
}
