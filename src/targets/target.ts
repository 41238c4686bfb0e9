/**
 * The contract every target implements. The pipeline calls `write` with one batch at a time, in
 * commit order; a write resolves only when the target has durably accepted every event in the
 * batch, and only then is the source acknowledged. Delivery is at least once: after a crash the
 * unacknowledged tail is delivered again, so targets must tolerate seeing it twice.
 *
 * Targets that keep a copy of the source's tables (Postgres) also create those tables before any of
 * their events (`prepareTables`) and may load the initial snapshot themselves (`snapshotLoader`).
 */
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import type { EventBatch, TableInfo } from '../events/stream-event.js';
import type { Lsn } from '../source/lsn.js';
import type { CopyFormat } from '../snapshot/snapshot-plan.js';
import type { CopyDataHandler } from '../source/wire/wire-connection.js';

export interface Target {
  /** Prepares the target (opens files, connects); called once before the first write. */
  open(): Promise<void>;
  /**
   * Writes a batch; resolves when it is durable, rejects (with a PgcdcError) when it cannot be. A
   * target that makes writes durable a little later (the Postgres target's asynchronous commits)
   * resolves with `durable` instead: the next batch may be written meanwhile.
   */
  write(batch: EventBatch): Promise<void | WrittenBatch>;
  /** Releases resources; pending writes have already settled. */
  close(): Promise<void>;
  /**
   * Makes the target ready for captured tables before any of their events: creates what is
   * missing from the source's catalogs (read with `source`), checks what exists. The tables of
   * `loading` are about to be bulk-loaded by `snapshotLoader` at a snapshot whose consistent point
   * is `loading.position`: they are emptied, and that position recorded for them.
   */
  prepareTables?(source: CatalogQuery, tables: readonly number[], loading: TableLoad | undefined): Promise<void>;
  /** Loads the initial snapshot straight from the source's COPY output instead of as read events. */
  readonly snapshotLoader?: SnapshotLoader;
  /** Brings the target's sequences to the source's values (cut-over); returns how many were set. */
  syncSequences?(source: CatalogQuery): Promise<number>;
  /** Asks the delivery queue to let batches fill up (targets that send events in groups). */
  readonly batching?: TargetBatching;
}

/** Tables (source oids) about to be loaded at a snapshot whose consistent point is `position`. */
export interface TableLoad {
  readonly tables: readonly number[];
  readonly position: Lsn;
}

/**
 * A batch is held back until it has `events` events or its first event has waited `lingerMs`
 * (Kafka's linger): fewer, fuller requests when events trickle in.
 */
export interface TargetBatching {
  readonly events: number;
  readonly lingerMs: number;
}

/** A batch the target accepted and will make durable. */
export interface WrittenBatch {
  /** Settles once the batch is durable (rejects if it cannot become so). */
  readonly durable: Promise<void>;
}

/** Where a chunk of a snapshot is, to record it done on the target in the same transaction. */
export interface ChunkKey {
  /** The snapshot's id (from the state store). */
  readonly snapshot: string;
  readonly table: TableInfo;
  readonly fromPage: number;
  readonly toPage: number | null;
}

/** Bulk-loads the initial snapshot, chunk by chunk, exactly once. */
export interface SnapshotLoader {
  /** `fromPage`s of the chunks of snapshot `snapshot` already loaded, by `schema.table`. */
  loadedChunks(snapshot: string): Promise<ReadonlyMap<string, ReadonlySet<number>>>;
  /** A connection loading chunks one at a time (one per snapshot worker). */
  openWorker(): Promise<SnapshotLoadWorker>;
  /**
   * Empties tables whose load starts (again) at a new snapshot whose consistent point is
   * `position`, shaped as they were at it (their changes committed before it are in that snapshot,
   * and are skipped); `source` reads the source's catalog inside that snapshot. Creates those the
   * target lacks.
   */
  restartTables(source: CatalogQuery, tables: readonly number[], position: Lsn): Promise<void>;
  /** After the load (or before resuming one): restores what was deferred (indexes, constraints). */
  finishLoad(): Promise<void>;
}

export interface SnapshotLoadWorker {
  /**
   * Loads one chunk: `copyOut` streams the source's COPY rows, in the format asked for, into the
   * handler it is given; the rows and the chunk's record are committed together. Resolves with
   * the number of rows.
   */
  loadChunk(chunk: ChunkKey, copyOut: (onRow: CopyDataHandler, format: CopyFormat) => Promise<number>, onRow: () => void): Promise<number>;
  close(): Promise<void>;
}
