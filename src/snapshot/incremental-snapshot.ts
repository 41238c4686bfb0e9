/**
 * Incremental snapshots with watermarks (the DBLog method Debezium uses), run while the stream
 * goes on: for each chunk, a low watermark is committed into the WAL, the chunk is read, a high
 * watermark is committed. Rows the stream changes between the two watermarks are dropped from the
 * chunk (the stream carries their newer value); at the high watermark the rest is emitted as read
 * events, in stream order, so a consumer never sees an older value after a newer one. Also used to
 * resume an interrupted initial snapshot and to snapshot new tables.
 */
import crypto from 'node:crypto';
import type { ConnectionConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import type { RowEvent, TableInfo, TransactionInfo } from '../events/stream-event.js';
import { columnBounds } from '../events/tuple-json.js';
import type { Logger } from '../logging/logger.js';
import { sleepUnlessAborted, unlessAborted } from '../pipeline/abortable-waits.js';
import { EVENT_OVERHEAD, type DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { Lsn } from '../source/lsn.js';
import { SOURCE_SESSION_SETTINGS, sessionOptionsParameter } from '../source/session-settings.js';
import { quoteLiteral } from '../source/sql-quoting.js';
import { WireConnection } from '../source/wire/wire-connection.js';
import { CopyRowDecoder } from './copy-row-decoder.js';
import { chunkCopySql, type SnapshotTable } from './snapshot-plan.js';
import type { SnapshotProgress } from './snapshot-progress.js';

/** Prefix of watermark messages; they are never delivered to targets. */
export const WATERMARK_PREFIX = 'pgcdc.watermark';


/** Reads describing a chunk's table at read time (its shape may have changed since planning). */
export type DescribeTables = (oids: readonly number[]) => Promise<Map<number, SnapshotTable>>;

export interface IncrementalSnapshotOptions {
  readonly connection: ConnectionConfig;
  readonly progress: SnapshotProgress;
  readonly describe: DescribeTables;
  readonly queue: DeliveryQueue;
  readonly logger: Logger;
}

/** One chunk between its watermarks. */
interface Window {
  readonly token: string;
  readonly table: TableInfo;
  /** The low watermark has been seen in the stream. */
  open: boolean;
  /** Identities of rows the stream changed while the window was open. */
  readonly seen: Set<string>;
  truncated: boolean;
  rows: { tuple: TupleRef; size: number }[] | undefined;
  finished: (emitted: number) => void;
}

export class IncrementalSnapshotter {
  readonly #options: IncrementalSnapshotOptions;
  /** Distinguishes this process's watermarks from those of earlier runs still in the WAL. */
  readonly #nonce = crypto.randomBytes(6).toString('hex');
  #sequence = 0;
  #window: Window | undefined;
  #paused = false;
  #wake: (() => void) | undefined;
  #progress: SnapshotProgress;

  constructor(options: IncrementalSnapshotOptions) {
    this.#options = options;
    this.#progress = options.progress;
  }

  /** Works from now on through `progress` (a new snapshot plan). */
  useProgress(progress: SnapshotProgress): void {
    this.#progress = progress;
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

  /** Wakes the loop after chunks were added. */
  wake(): void {
    this.#wake?.();
  }

  /** Called for every decoded row event: records rows of the chunk's table changed inside the window. */
  observe(event: RowEvent): void {
    const window = this.#window;
    if (window === undefined || !window.open || event.table.oid !== window.table.oid) return;
    if (event.before) window.seen.add(identity(event.table, event.before));
    if (event.after) window.seen.add(identity(event.table, event.after));
  }

  /** A truncate of the chunk's table inside the window voids the whole chunk. */
  observeTruncate(oid: number): void {
    const window = this.#window;
    if (window !== undefined && window.open && window.table.oid === oid) window.truncated = true;
  }

  /** A watermark message decoded in the stream (in transaction `txn` at `lsn`). */
  onWatermark(content: string, txn: TransactionInfo, lsn: Lsn): void | Promise<void> {
    const window = this.#window;
    if (window === undefined) return undefined;
    if (content === `${window.token}:low`) {
      window.open = true;
      return undefined;
    }
    if (content !== `${window.token}:high` || !window.open) return undefined;
    this.#window = undefined;
    const reads = window.truncated ? [] : (window.rows ?? []).filter((row) => !window.seen.has(identity(window.table, row.tuple)));
    let pending: Promise<void> | undefined;
    for (const row of reads) {
      pending =
        this.#options.queue.push({ kind: 'row', op: 'r', table: window.table, lsn, txn, before: null, after: row.tuple, snapshot: 'incremental' }, row.size + EVENT_OVERHEAD) ??
        pending;
    }
    window.finished(reads.length);
    return pending;
  }

  /**
   * Reads chunks until `signal` aborts; waits (idle) when there is nothing to do. A failure (the
   * source restarting, say) is logged and the chunk is read again after a pause: nothing of it was
   * recorded.
   */
  async run(signal: AbortSignal, onIdle?: () => void): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#readChunks(signal, onIdle);
      } catch (error) {
        this.#window = undefined;
        this.#options.logger.warn({ error: (error as Error).message }, 'incremental snapshot interrupted; retrying in 5 s');
        await sleepUnlessAborted(5000, signal);
      }
    }
  }

  async #readChunks(signal: AbortSignal, onIdle?: () => void): Promise<void> {
    const { logger } = this.#options;
    const connection = await WireConnection.connect(this.#options.connection, { parameters: { options: sessionOptionsParameter(SOURCE_SESSION_SETTINGS) } });
    const decoder = new CopyRowDecoder();
    try {
      while (!signal.aborted) {
        const progress = this.#progress;
        const next = this.#paused ? undefined : progress.pendingChunks()[0];
        if (next === undefined) {
          if (!this.#paused && progress.record.status === 'running' && progress.complete) {
            await progress.setStatus('done');
            logger.info({ snapshot: progress.record.id }, 'incremental snapshot complete');
          }
          onIdle?.();
          await unlessAborted(new Promise<void>((resolve) => (this.#wake = resolve)), signal);
          this.#wake = undefined;
          continue;
        }
        const { table: record, index } = next;
        const table = (await this.#options.describe([record.oid])).get(record.oid);
        if (!table) {
          logger.error({ table: `${record.schema}.${record.table}` }, 'the table disappeared during the snapshot; it is skipped');
          await progress.tableSkipped(record.oid);
          continue;
        }
        let emitted: number | undefined;
        try {
          emitted = await this.#chunk(connection, decoder, table.info, record.chunks[index]!, record.condition, signal);
        } catch (error) {
          // The server refuses to read this table (privileges, a bad condition): skip it, do not retry.
          if (!(error instanceof PgcdcError) || (error.code !== 'QUERY_FAILED' && error.code !== 'PERMISSION_DENIED') || connection.closed) throw error;
          this.#window = undefined;
          logger.error({ table: `${record.schema}.${record.table}`, error: error.message }, 'the table cannot be snapshotted; it is skipped');
          await progress.tableSkipped(record.oid);
          continue;
        }
        if (emitted === undefined) return;
        await this.#options.queue.whenDurable();
        await progress.chunkDone(record.oid, index, emitted);
      }
    } finally {
      this.#window = undefined;
      await connection.close().catch(() => undefined);
    }
  }

  /** One chunk between watermarks; resolves with the rows emitted, or undefined when aborted. */
  async #chunk(connection: WireConnection, decoder: CopyRowDecoder, table: TableInfo, chunk: { fromPage: number; toPage: number | null }, condition: string | undefined, signal: AbortSignal): Promise<number | undefined> {
    const token = `${this.#nonce}:${++this.#sequence}`;
    let finished!: (emitted: number) => void;
    const done = new Promise<number>((resolve) => (finished = resolve));
    const window: Window = { token, table, open: false, seen: new Set(), truncated: false, rows: undefined, finished };
    this.#window = window;
    await emitWatermark(connection, `${token}:low`);
    const rows: { tuple: TupleRef; size: number }[] = [];
    const columns = table.columns.length;
    await connection.copyOut(chunkCopySql(table, { ...chunk, done: false }, condition), (buf, start, end) => {
      this.#progress.rowRead(table.oid);
      rows.push({ tuple: decoder.decode(buf, start, end, columns), size: end - start });
    });
    window.rows = rows;
    await emitWatermark(connection, `${token}:high`);
    return unlessAborted(done, signal);
  }
}

/** Commits a watermark into the WAL. */
async function emitWatermark(connection: WireConnection, content: string): Promise<void> {
  await connection.query(`SELECT pg_logical_emit_message(true, ${quoteLiteral(WATERMARK_PREFIX)}, ${quoteLiteral(content)})`);
}

/**
 * A row's identity within its table: its key columns (primary key, else replica identity index),
 * or the whole row for tables with neither (REPLICA IDENTITY FULL).
 */
function identity(table: TableInfo, tuple: TupleRef): string {
  const keys = table.keyColumns;
  let text = '';
  if (keys.length > 0) {
    for (let k = 0; k < keys.length; k++) text += columnIdentity(tuple, keys[k]!);
    return text;
  }
  const count = tuple.buf.readUInt16BE(tuple.offset);
  for (let i = 0; i < count; i++) text += columnIdentity(tuple, i);
  return text;
}

function columnIdentity(tuple: TupleRef, index: number): string {
  const bounds = columnBounds(tuple, index);
  return `${String.fromCharCode(bounds.kind)}${tuple.buf.toString('latin1', bounds.start, bounds.end)}\u0000`;
}
