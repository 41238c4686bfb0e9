/**
 * The progress of the running snapshot: its plan and which chunks are durable at the target, kept
 * in memory and persisted in the stream's state (a chunk is recorded only once every row of it is
 * durable, so a restart redoes exactly the chunks not recorded; a table a blocking snapshot read
 * completely is recorded, in the same update, as covering its changes before the snapshot). Also the figures shown while it
 * runs and by `pgcdc status`: rows done of estimated, rows/s, ETA per table.
 */
import type { SnapshotRecord, SnapshotStatus, SnapshotTableRecord, StateStore } from '../state/state-store.js';

/** Figures of one table, for display. */
export interface TableProgress {
  readonly name: string;
  readonly rowsDone: number;
  readonly estimatedRows: number;
  readonly chunksDone: number;
  readonly chunks: number;
  /** Rows per second since the snapshot (re)started, or undefined before any row. */
  readonly rowsPerSecond: number | undefined;
  /** Seconds left at that rate, or undefined when unknown. */
  readonly etaSeconds: number | undefined;
}

/**
 * Whether `estimatedRows` (PostgreSQL's reltuples when the snapshot was planned) tells how many
 * rows a table has, `rowsDone` of them copied: not for a table never analyzed (no estimate, 0) nor
 * when more rows were copied than estimated.
 */
export function hasRowEstimate(rowsDone: number, estimatedRows: number): boolean {
  return estimatedRows > 0 && estimatedRows >= rowsDone;
}

export class SnapshotProgress {
  #record: SnapshotRecord;
  readonly #state: StateStore;
  readonly #started = Date.now();
  /** Rows read (not necessarily durable yet) per table since this process started. */
  readonly #rowsRead = new Map<number, number>();

  constructor(record: SnapshotRecord, state: StateStore) {
    this.#record = record;
    this.#state = state;
  }

  get record(): SnapshotRecord {
    return this.#record;
  }

  /** Persists the whole record (a new plan, or a status change). */
  async save(): Promise<void> {
    const record = this.#record;
    await this.#state.update((state) => ({ ...state, snapshot: record }));
  }

  /** Counts a row read from a table. */
  rowRead(oid: number): void {
    this.#rowsRead.set(oid, (this.#rowsRead.get(oid) ?? 0) + 1);
  }

  /** Records a durable chunk with its row count; the table's name joins the known tables when it is complete. */
  async chunkDone(oid: number, chunkIndex: number, rows: number): Promise<void> {
    this.#record = updateTable(this.#record, oid, (table) => ({
      ...table,
      rowsDone: table.rowsDone + rows,
      chunks: table.chunks.map((chunk, i) => (i === chunkIndex ? { ...chunk, done: true } : chunk)),
    }));
    const table = this.#record.tables.find((t) => t.oid === oid);
    const complete = table !== undefined && table.chunks.every((chunk) => chunk.done);
    // A table a blocking snapshot read completely: its changes before the snapshot's position are in its rows.
    const covered = complete && table.position !== undefined ? table.position : undefined;
    const record = this.#record;
    await this.#state.update((state) => ({
      ...state,
      snapshot: record,
      knownTables: complete ? addName(state.knownTables, `${table!.schema}.${table!.table}`) : state.knownTables,
      ...(covered !== undefined ? { snapshotCoverage: { ...state.snapshotCoverage, [String(oid)]: covered } } : {}),
    }));
  }

  /** Plans the tables again (same OIDs), from the start: a blocking snapshot reads them whole at a new position. */
  async restartTables(tables: readonly SnapshotTableRecord[]): Promise<void> {
    const fresh = new Map(tables.map((t) => [t.oid, t]));
    this.#record = { ...this.#record, tables: this.#record.tables.map((t) => fresh.get(t.oid) ?? t) };
    for (const oid of fresh.keys()) this.#rowsRead.delete(oid);
    await this.save();
  }

  /** Marks every chunk of a table done without rows (the table disappeared). */
  async tableSkipped(oid: number): Promise<void> {
    this.#record = updateTable(this.#record, oid, (table) => ({ ...table, chunks: table.chunks.map((chunk) => ({ ...chunk, done: true })) }));
    await this.save();
  }

  /** Adds tables to the plan (a new execute-snapshot signal, or new tables). */
  async addTables(tables: readonly SnapshotTableRecord[]): Promise<void> {
    const known = new Set(this.#record.tables.filter((t) => t.chunks.some((c) => !c.done)).map((t) => t.oid));
    const added = tables.filter((t) => !known.has(t.oid));
    const status = this.#record.status === 'paused' ? 'paused' : 'running';
    this.#record = { ...this.#record, status, finishedAt: undefined, tables: [...this.#record.tables.filter((t) => !added.some((a) => a.oid === t.oid)), ...added] };
    await this.save();
  }

  /** Drops the chunks not done of the named tables (all tables when `names` is empty). */
  async stopTables(names: readonly string[]): Promise<void> {
    const stops = (t: SnapshotTableRecord): boolean => names.length === 0 || names.includes(`${t.schema}.${t.table}`);
    // A stopped table's rows are not a whole snapshot: it loses its position (see chunkDone).
    this.#record = { ...this.#record, tables: this.#record.tables.map((t) => (stops(t) && t.chunks.some((c) => !c.done) ? { ...t, chunks: t.chunks.filter((c) => c.done), position: undefined } : t)) };
    await this.save();
  }

  /** Sets the status; an initial snapshot that is done is remembered as done for good. */
  async setStatus(status: SnapshotStatus): Promise<void> {
    this.#record = { ...this.#record, status, finishedAt: status === 'done' || status === 'stopped' ? new Date().toISOString() : undefined };
    const record = this.#record;
    const initialDone = record.kind === 'initial' && status === 'done';
    await this.#state.update((state) => ({ ...state, snapshot: record, ...(initialDone ? { initialSnapshotDone: true } : {}) }));
  }

  /** Every chunk not done, in plan order. */
  pendingChunks(): { table: SnapshotTableRecord; index: number }[] {
    const pending: { table: SnapshotTableRecord; index: number }[] = [];
    for (const table of this.#record.tables) {
      table.chunks.forEach((chunk, index) => {
        if (!chunk.done) pending.push({ table, index });
      });
    }
    return pending;
  }

  /** True when every chunk is done. */
  get complete(): boolean {
    return this.#record.tables.every((table) => table.chunks.every((chunk) => chunk.done));
  }

  /** Figures per table. */
  figures(now = Date.now()): TableProgress[] {
    const seconds = Math.max(0.001, (now - this.#started) / 1000);
    return this.#record.tables.map((table) => {
      const read = this.#rowsRead.get(table.oid) ?? 0;
      const rowsDone = Math.max(table.rowsDone, read);
      const rate = read > 0 ? read / seconds : undefined;
      const left = hasRowEstimate(rowsDone, table.estimatedRows) ? table.estimatedRows - rowsDone : undefined;
      return {
        name: `${table.schema}.${table.table}`,
        rowsDone,
        estimatedRows: table.estimatedRows,
        chunksDone: table.chunks.filter((c) => c.done).length,
        chunks: table.chunks.length,
        rowsPerSecond: rate,
        etaSeconds: rate === undefined || left === undefined ? undefined : left / rate,
      };
    });
  }
}

function updateTable(record: SnapshotRecord, oid: number, change: (table: SnapshotTableRecord) => SnapshotTableRecord): SnapshotRecord {
  return { ...record, tables: record.tables.map((table) => (table.oid === oid ? change(table) : table)) };
}

function addName(names: readonly string[] | undefined, name: string): string[] {
  const list = [...(names ?? [])];
  if (!list.includes(name)) list.push(name);
  return list;
}
