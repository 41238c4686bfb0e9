/**
 * Owns the stream's snapshots: plans them (the initial one, resumed ones, those asked for by
 * signals, and those of tables that appear while streaming), keeps their progress, hands the
 * planned tables to what reads them while streaming (the incremental snapshotter, or table
 * synchronisation for a target that loads tables itself; blocking snapshots while streaming
 * waits), and answers snapshot signals.
 */
import crypto from 'node:crypto';
import type { SourceConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { RelationRegistry } from '../decoding/relation-registry.js';
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import type { TableInfo } from '../events/stream-event.js';
import type { Logger } from '../logging/logger.js';
import { ChangeFilter, anchoredPattern } from '../pipeline/change-filter.js';
import type { DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import { listSourceTables, selectCapturedTables, type SourceTable } from '../source/captured-tables.js';
import { qualifiedName } from '../source/sql-quoting.js';
import type { SnapshotRecord, SnapshotTableRecord, StateStore } from '../state/state-store.js';
import { BlockingSnapshotter, type BlockingPlan } from './blocking-snapshot.js';
import { IncrementalSnapshotter } from './incremental-snapshot.js';
import type { PausedStreamWork } from './paused-stream-work.js';
import { SnapshotCoverage } from './snapshot-coverage.js';
import { describeSnapshotTables, splitRemaining, tableRecord, type SnapshotTable } from './snapshot-plan.js';
import { SnapshotProgress } from './snapshot-progress.js';
import { signalTableName, type SignalHandlers, type SnapshotRequest } from './signals.js';
import { TableSynchronizer, type SyncPlan, type TableSyncOptions } from './table-sync.js';

export interface SnapshotControllerOptions {
  readonly catalog: CatalogConnection;
  readonly source: SourceConfig;
  readonly registry: RelationRegistry;
  readonly state: StateStore;
  readonly queue: DeliveryQueue;
  readonly logger: Logger;
  /** The target loads tables itself: planned tables are synchronised (see table-sync), not read between watermarks. */
  readonly tableSync?: TableSyncOptions;
}

/** What reads the planned tables while streaming. */
interface SnapshotRunner {
  pause(): void;
  resume(): void;
  /** Tables were added to the plan. */
  wake(): void;
}

export class SnapshotController implements SignalHandlers, SyncPlan, BlockingPlan {
  readonly #options: SnapshotControllerOptions;
  readonly #filter: ChangeFilter;
  readonly #snapshotFilter: ChangeFilter;
  #progress: SnapshotProgress | undefined;
  /** Reads planned tables between watermarks (targets that receive events). */
  readonly snapshotter: IncrementalSnapshotter | undefined;
  /** Synchronises planned tables while the stream is stopped (targets that load tables themselves). */
  readonly tableSync: TableSynchronizer | undefined;
  /** Reads the tables of blocking snapshots while the stream waits (targets that receive events). */
  readonly blocking: BlockingSnapshotter | undefined;
  /** The changes blocking snapshots' rows hold, which the stream drops. */
  readonly coverage: SnapshotCoverage;
  readonly #runner: SnapshotRunner;
  /** What the incremental snapshotter works on while the plan is a blocking snapshot's: nothing. */
  #idle: SnapshotProgress | undefined;

  constructor(options: SnapshotControllerOptions) {
    this.#options = options;
    this.#filter = new ChangeFilter(options.source.includes, options.source.excludes);
    this.#snapshotFilter = new ChangeFilter(options.source.snapshotIncludes, []);
    this.coverage = new SnapshotCoverage(options.state);
    if (options.tableSync) {
      this.tableSync = new TableSynchronizer(options.tableSync, this);
      this.#runner = this.tableSync;
    } else {
      this.snapshotter = new IncrementalSnapshotter({
        connection: options.source.connection,
        progress: this.progress,
        describe: (oids) => this.describe(oids),
        queue: options.queue,
        logger: options.logger,
      });
      this.#runner = this.snapshotter;
      this.blocking = new BlockingSnapshotter(
        {
          connection: options.source.connection,
          catalog: options.catalog,
          slotName: options.source.slotName,
          queue: options.queue,
          coverage: this.coverage,
          parallelism: options.source.snapshotParallelism,
          chunkRows: options.source.snapshotChunkRows,
          signalTable: signalTableName(options.source),
          logger: options.logger,
        },
        this,
      );
    }
  }

  /** What reads tables while the stream waits at a transaction boundary: table synchronisation, or blocking snapshots. */
  get pausedStreamWork(): PausedStreamWork | undefined {
    return this.tableSync ?? this.blocking;
  }

  /** The progress of the current snapshot (an empty, finished one until something is planned). */
  get progress(): SnapshotProgress {
    this.#progress ??= new SnapshotProgress(emptyRecord('incremental', 'done'), this.#options.state);
    return this.#progress;
  }

  describe(oids: readonly number[]): Promise<Map<number, SnapshotTable>> {
    return this.describeWith((text, params) => this.#options.catalog.query(text, params), oids);
  }

  describeWith(query: CatalogQuery, oids: readonly number[]): Promise<Map<number, SnapshotTable>> {
    return describeSnapshotTables(query, this.#options.registry, oids, this.#options.source.rowFilters);
  }

  /** Captured tables (never the signal table). */
  async capturedTables(): Promise<SourceTable[]> {
    const signal = signalTableName(this.#options.source);
    const tables = selectCapturedTables(await listSourceTables(this.#options.catalog), this.#filter);
    return tables.filter((t) => !(t.schema === signal.schema && t.table === signal.table) && t.kind === 'r');
  }

  /**
   * Plans a snapshot of every captured table `snapshotIncludes` selects; the others become known
   * tables at once. `chunkRows` sizes the chunks.
   */
  async planAll(kind: SnapshotRecord['kind'], chunkRows: number): Promise<Map<number, TableInfo>> {
    const captured = await this.capturedTables();
    const chosen = captured.filter((t) => this.#snapshotFilter.includesTable(t.schema, t.table));
    const described = await this.describe(chosen.map((t) => t.oid));
    const tables = [...described.values()].map((table) => tableRecord(table, chunkRows, undefined));
    const record: SnapshotRecord = { ...emptyRecord(kind, 'running'), tables };
    this.#progress = new SnapshotProgress(record, this.#options.state);
    const skipped = captured.filter((t) => !chosen.includes(t)).map((t) => `${t.schema}.${t.table}`);
    await this.#options.state.update((state) => ({ ...state, snapshot: record, knownTables: union(state.knownTables, skipped) }));
    this.#rebind();
    this.#options.logger.info({ snapshot: record.id, kind, tables: tables.length, chunks: tables.reduce((n, t) => n + t.chunks.length, 0) }, 'snapshot planned');
    return new Map([...described].map(([oid, table]) => [oid, table.info]));
  }

  /**
   * Continues an interrupted snapshot: its exported snapshot is gone, so the rest is read between
   * watermarks (in smaller chunks), or synchronised table by table at a new snapshot.
   */
  async resume(record: SnapshotRecord): Promise<void> {
    let tables = record.tables;
    // A blocking snapshot is read again at a new snapshot, its unfinished tables whole, before streaming.
    if (this.snapshotter && record.kind !== 'blocking') {
      const described = await this.describe(record.tables.map((t) => t.oid));
      const chunkRows = this.#options.source.incrementalSnapshotChunkRows;
      tables = record.tables.map((t) => {
        const table = described.get(t.oid);
        return table ? splitRemaining(t, table, chunkRows) : { ...t, chunks: t.chunks.map((c) => ({ ...c, done: true })) };
      });
    }
    this.#progress = new SnapshotProgress({ ...record, status: record.status === 'paused' ? 'paused' : 'running', tables }, this.#options.state);
    await this.#progress.save();
    this.#rebind();
    if (record.status === 'paused') this.#runner.pause();
    this.#options.logger.info(
      { snapshot: record.id, chunks: this.#progress.pendingChunks().length },
      record.kind === 'blocking'
        ? 'resuming the interrupted blocking snapshot: its unfinished tables are read again, whole, before streaming'
        : this.snapshotter
          ? 'resuming the interrupted snapshot between watermarks'
          : 'resuming the interrupted snapshot: its unfinished tables are copied again',
    );
  }

  /**
   * A load goes on at a new exported snapshot: tables whose chunks are all done keep them; the
   * `restarted` tables (described as of that snapshot) are planned again from the start, whole (an
   * execute-snapshot condition is not kept: a table a target holds is copied whole, to stay exact).
   */
  async restartLoad(record: SnapshotRecord, restarted: ReadonlyMap<number, SnapshotTable>): Promise<void> {
    const chunkRows = this.#options.source.snapshotChunkRows;
    const tables = record.tables.map((t) => {
      const table = restarted.get(t.oid);
      return table ? tableRecord(table, chunkRows, undefined) : t;
    });
    this.#progress = new SnapshotProgress({ ...record, status: 'running', tables }, this.#options.state);
    await this.#progress.save();
    this.#rebind();
  }

  /**
   * Records every captured table as known (streaming without a snapshot), except `fresh` ones: those
   * are forgotten, even under a known name (a table dropped and created again), so table discovery
   * snapshots them.
   */
  async markAllKnown(fresh: readonly SourceTable[] = []): Promise<void> {
    const freshOids = new Set(fresh.map((t) => t.oid));
    const freshNames = new Set(fresh.map((t) => `${t.schema}.${t.table}`));
    const names = (await this.capturedTables()).filter((t) => !freshOids.has(t.oid)).map((t) => `${t.schema}.${t.table}`);
    await this.#options.state.update((state) => ({ ...state, knownTables: union(state.knownTables, names).filter((name) => !freshNames.has(name)) }));
  }

  /** Records tables as known without snapshotting them. */
  async markKnown(tables: readonly SourceTable[]): Promise<void> {
    const names = tables.map((t) => `${t.schema}.${t.table}`);
    await this.#options.state.update((state) => ({ ...state, knownTables: union(state.knownTables, names) }));
  }

  /**
   * Captured tables not known yet. A table of the current snapshot record is not new whether its
   * chunks are pending or done: its completion and its being known are one state update, which a
   * look racing with it could see half of, and snapshot the table a second time.
   */
  async newTables(): Promise<SourceTable[]> {
    const planned = new Set(this.progress.record.tables.map((table) => table.oid));
    const known = new Set((await this.#options.state.read()).knownTables ?? []);
    return (await this.capturedTables()).filter((t) => !known.has(`${t.schema}.${t.table}`) && !planned.has(t.oid));
  }

  /** Adds tables to the incremental snapshot. */
  async snapshotTables(tables: readonly SourceTable[], conditions: ReadonlyMap<number, string> = new Map()): Promise<void> {
    if (tables.length === 0) return;
    const described = await this.describe(tables.map((t) => t.oid));
    const chunkRows = this.#options.source.incrementalSnapshotChunkRows;
    const records: SnapshotTableRecord[] = [...described.values()].map((table) => tableRecord(table, chunkRows, conditions.get(table.info.oid)));
    if (this.progress.record.status === 'done' || this.progress.record.status === 'stopped') {
      this.#progress = new SnapshotProgress({ ...emptyRecord('incremental', 'running'), tables: [] }, this.#options.state);
      this.#rebind();
    }
    await this.progress.addTables(records);
    this.#options.logger.info({ tables: records.map((r) => `${r.schema}.${r.table}`) }, this.tableSync ? 'table copy queued' : 'incremental snapshot queued');
    this.#runner.wake();
    // Added to a blocking snapshot not finished yet: read with it.
    this.blocking?.wake();
  }

  async executeSnapshot(request: SnapshotRequest): Promise<void> {
    const captured = await this.capturedTables();
    const chosen = captured.filter((t) => request.dataCollections.some((pattern) => anchoredPattern(pattern).test(`${t.schema}.${t.table}`)));
    if (chosen.length === 0) {
      throw new PgcdcError('CONFIG_INVALID', `no captured table matches ${request.dataCollections.join(', ')}`, { hint: 'name tables as schema.table; only tables the stream captures can be snapshotted' });
    }
    const conditions = new Map<number, string>();
    for (const table of chosen) {
      for (const [pattern, condition] of request.conditions) {
        if (!anchoredPattern(pattern).test(`${table.schema}.${table.table}`)) continue;
        await this.#checkCondition(table, condition);
        conditions.set(table.oid, condition);
      }
    }
    if (this.tableSync && conditions.size > 0) {
      this.#options.logger.warn({ tables: chosen.map((t) => `${t.schema}.${t.table}`) }, 'additional-conditions do not apply to a target that holds the tables: each table is copied again whole, to stay equal to the source');
    }
    // Into a target that holds the tables every execute-snapshot is a table synchronisation, which blocks already.
    if (request.blocking && this.blocking) await this.#planBlocking(chosen, conditions);
    else await this.snapshotTables(chosen, conditions);
  }

  /**
   * Plans a blocking snapshot of `tables`; the stream stops at the end of the signal's transaction
   * (being received now) for it. Refused while another snapshot is unfinished (stop it first): a
   * blocking snapshot's tables are read whole at one position, the others' chunk by chunk.
   */
  async #planBlocking(tables: readonly SourceTable[], conditions: ReadonlyMap<number, string>): Promise<void> {
    const current = this.progress.record;
    if ((current.status === 'running' || current.status === 'paused') && !this.progress.complete) {
      throw new PgcdcError('CONFIG_INVALID', `a ${current.kind} snapshot is not finished (${this.progress.pendingChunks().length} chunks left)`, {
        hint: 'wait for it to finish, or send stop-snapshot first, then execute-snapshot again',
      });
    }
    const described = await this.describe(tables.map((t) => t.oid));
    const chunkRows = this.#options.source.snapshotChunkRows;
    const records = [...described.values()].map((table) => tableRecord(table, chunkRows, conditions.get(table.info.oid)));
    this.#progress = new SnapshotProgress({ ...emptyRecord('blocking', 'running'), tables: records }, this.#options.state);
    await this.#progress.save();
    this.#rebind();
    this.#options.logger.info({ tables: records.map((r) => `${r.schema}.${r.table}`) }, 'blocking snapshot queued: streaming stops at the end of this transaction');
    this.blocking?.wake();
  }

  /**
   * Refuses an additional condition that is not one boolean expression the server can plan for
   * the table (checked with the extended protocol, which runs a single statement).
   */
  async #checkCondition(table: SourceTable, condition: string): Promise<void> {
    if (condition.includes(';')) {
      throw new PgcdcError('CONFIG_INVALID', `the condition for ${table.schema}.${table.table} contains ";"`, { hint: 'give one boolean SQL expression over the table columns' });
    }
    try {
      await this.#options.catalog.query(`EXPLAIN SELECT 1 FROM ${qualifiedName(table)} WHERE $1::int IS NULL AND (${condition})`, [null]);
    } catch (error) {
      const server = (error as { cause?: { message?: unknown } }).cause?.message;
      const reason = typeof server === 'string' ? server : (error as Error).message;
      throw new PgcdcError('CONFIG_INVALID', `the condition for ${table.schema}.${table.table} is not valid SQL for it: ${reason}`, {
        hint: 'give a boolean SQL expression over the table columns',
      });
    }
  }

  async stopSnapshot(dataCollections: readonly string[]): Promise<void> {
    const names = this.progress.record.tables.map((t) => `${t.schema}.${t.table}`).filter((name) => dataCollections.length === 0 || dataCollections.some((p) => anchoredPattern(p).test(name)));
    // No table named: nothing to stop (an empty list would stop them all).
    if (dataCollections.length > 0 && names.length === 0) {
      this.#options.logger.info({ dataCollections }, 'stop-snapshot names no table of the snapshot; nothing stopped');
      return;
    }
    await this.progress.stopTables(names);
    if (this.progress.complete) await this.progress.setStatus('stopped');
    this.#options.logger.info({ tables: names }, 'snapshot stopped');
  }

  async pauseSnapshot(): Promise<void> {
    this.#runner.pause();
    await this.progress.setStatus('paused');
  }

  async resumeSnapshot(): Promise<void> {
    await this.progress.setStatus('running');
    this.#runner.resume();
  }

  /** The snapshotter reads the current progress. */
  #rebind(): void {
    if (this.progress.record.kind !== 'blocking') return this.snapshotter?.useProgress(this.progress);
    this.#idle ??= new SnapshotProgress(emptyRecord('incremental', 'done'), this.#options.state);
    this.snapshotter?.useProgress(this.#idle);
  }
}

function emptyRecord(kind: SnapshotRecord['kind'], status: SnapshotRecord['status']): SnapshotRecord {
  return { id: crypto.randomUUID(), kind, status, startedAt: new Date().toISOString(), finishedAt: undefined, tables: [] };
}

function union(names: readonly string[] | undefined, more: readonly string[]): string[] {
  return [...new Set([...(names ?? []), ...more])];
}
