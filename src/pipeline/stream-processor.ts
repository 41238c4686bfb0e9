/**
 * Turns the replication stream into events: decodes each pgoutput message, keeps transactions
 * together, applies filters and skipped operations, turns captured DDL into schema-change events,
 * spills streamed in-progress transactions to disk and replays them at commit, and pushes events
 * (with the positions to acknowledge) into the delivery queue. Any promise it returns pauses
 * reading until it settles.
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { PgoutputDecoder } from '../decoding/pgoutput-decoder.js';
import type { PgoutputMessage, TupleRef } from '../decoding/pgoutput-messages.js';
import type { RelationRegistry } from '../decoding/relation-registry.js';
import type { RowEvent, TableInfo, TransactionInfo } from '../events/stream-event.js';
import type { Lsn } from '../source/lsn.js';
import type { ReplicationHandlers } from '../source/replication-session.js';
import type { SkippableOperation } from '../config/stream-config.js';
import { columnBounds, keyChanged } from '../events/tuple-json.js';
import { WATERMARK_PREFIX } from '../snapshot/incremental-snapshot.js';
import { DDL_MESSAGE_PREFIX, parseDdlMessage } from '../ddl/ddl-message.js';
import { anchoredPattern, type ChangeFilter } from './change-filter.js';
import { schemaChangeEvents } from './schema-change-events.js';
import type { Checkpointer } from './checkpointer.js';
import { EVENT_OVERHEAD, type DeliveryQueue } from './delivery-queue.js';
import type { StreamedTransactionSpill } from './streamed-transaction-spill.js';


/** Prefix of pgcdc's own marker messages (e.g. for --stop-at): never delivered. */
export const MARKER_MESSAGE_PREFIX = 'pgcdc.marker';

const STREAM_START = 0x53; // S
const STREAM_STOP = 0x45; // E
const STREAM_COMMIT = 0x63; // c
const STREAM_ABORT = 0x41; // A

export interface StreamProcessorOptions {
  readonly skippedOperations: readonly SkippableOperation[];
  readonly messagePrefixIncludeList: readonly string[];
  readonly messagePrefixExcludeList: readonly string[];
}

/** Counters for status and metrics. */
export interface StreamCounters {
  transactions: number;
  events: number;
  filtered: number;
  streamedTransactions: number;
}

export interface StreamProcessorParts {
  readonly decoder: PgoutputDecoder;
  readonly registry: RelationRegistry;
  readonly queue: DeliveryQueue;
  readonly checkpointer: Checkpointer;
  readonly spill: StreamedTransactionSpill;
  /** Shared across reconnects. */
  readonly counters: StreamCounters;
  /** Sees every row and truncate, and the watermark messages of incremental snapshots. */
  readonly snapshotter?: SnapshotObserver;
  /** Changes a blocking snapshot's rows already hold: dropped (see snapshot/snapshot-coverage). */
  readonly snapshotCoverage?: { covers(oid: number, commitLsn: Lsn): boolean };
  /** Message prefixes the target needs whatever the message filters say (the Postgres target's DDL). */
  readonly requiredMessagePrefixes?: readonly string[];
  /** Set (the stream's table filters) when `pgcdc.ddl` messages become schema-change events (`captureDdl`). */
  readonly schemaChanges?: ChangeFilter;
  /** Acts on rows inserted into the signal table. */
  readonly onSignal?: (id: string, type: string, data: string | null, at: { readonly txn: TransactionInfo; readonly lsn: Lsn }) => Promise<void>;
}

/** What the incremental snapshot needs from the stream. */
export interface SnapshotObserver {
  observe(event: RowEvent): void;
  observeTruncate(oid: number): void;
  onWatermark(content: string, txn: TransactionInfo, lsn: Lsn): void | Promise<void>;
}

/** Fresh counters. */
export function newStreamCounters(): StreamCounters {
  return { transactions: 0, events: 0, filtered: 0, streamedTransactions: 0 };
}

export class StreamProcessor implements ReplicationHandlers {
  readonly #parts: StreamProcessorParts;
  readonly #skip: ReadonlySet<string>;
  readonly #messageIncludes: readonly RegExp[];
  readonly #messageExcludes: readonly RegExp[];
  #txn: TransactionInfo | undefined;
  #previousCommitLsn: Lsn = 0;
  /** Top-level xid of the streamed block being received, if any. */
  #streamXid: number | undefined;
  #stopped = false;
  /** Set by stopAtTransactionEnd: resolves it once the current transaction is handed over. */
  #atBoundary: (() => void) | undefined;
  /** What stopAtTransactionEnd returns while it waits (one promise for every caller). */
  #boundary: Promise<void> | undefined;
  /** Called after each keepalive (after the checkpointer saw it). */
  onKeepaliveSeen: ((walEnd: Lsn, replyRequested: boolean) => void) | undefined;
  /** Called with the end of each received message. */
  onReceived: ((lsn: Lsn) => void) | undefined;
  readonly counters: StreamCounters;

  constructor(parts: StreamProcessorParts, options: StreamProcessorOptions) {
    this.#parts = parts;
    this.counters = parts.counters;
    this.#skip = new Set(options.skippedOperations);
    // Debezium's message.prefix.include/exclude.list: regular expressions matching the whole prefix.
    this.#messageIncludes = options.messagePrefixIncludeList.map(anchoredPattern);
    this.#messageExcludes = options.messagePrefixExcludeList.map(anchoredPattern);
  }

  /** Ignores everything from now on (graceful stop): nothing more is delivered or confirmed. */
  stop(): void {
    this.#stopped = true;
    this.#atBoundary?.();
  }

  /**
   * Stops at the next transaction boundary: at once between transactions, else right after the
   * current transaction's Commit was handed to the queue. Resolves once stopped (every caller:
   * tables to synchronise and a graceful stop may both ask).
   */
  stopAtTransactionEnd(): Promise<void> {
    if (this.#stopped || (this.#txn === undefined && this.#streamXid === undefined)) {
      this.stop();
      return Promise.resolve();
    }
    return (this.#boundary ??= new Promise((resolve) => (this.#atBoundary = resolve)));
  }

  onMessage(lsn: Lsn, buf: Buffer, start: number, end: number): void | Promise<void> {
    if (this.#stopped) return undefined;
    if (lsn > 0) this.onReceived?.(lsn);
    const tag = buf[start];
    if (this.#streamXid !== undefined && tag !== STREAM_START && tag !== STREAM_STOP && tag !== STREAM_COMMIT && tag !== STREAM_ABORT) {
      return this.#parts.spill.append(this.#streamXid, lsn, buf, start, end);
    }
    return this.#handle(this.#parts.decoder.decode(buf, start, end), lsn, end - start);
  }

  onKeepalive(walEnd: Lsn, replyRequested: boolean): void {
    if (this.#stopped) return;
    this.onReceived?.(walEnd);
    this.#parts.checkpointer.idle(walEnd);
    this.onKeepaliveSeen?.(walEnd, replyRequested);
  }

  #handle(message: PgoutputMessage, lsn: Lsn, size: number): void | Promise<void> {
    const { queue, checkpointer } = this.#parts;
    switch (message.tag) {
      case 'begin':
        this.#txn = { xid: message.xid, commitLsn: message.finalLsn, commitTimeMicros: message.commitTimeMicros, previousCommitLsn: this.#previousCommitLsn, origin: undefined };
        checkpointer.transactionOpen = true;
        return queue.push({ kind: 'begin', txn: this.#txn }, EVENT_OVERHEAD);
      case 'commit':
        return this.#commit(this.#requireTxn('Commit'), message.endLsn);
      case 'origin':
        if (this.#txn) this.#txn.origin = message.name;
        return undefined;
      case 'relation':
        // Also inside a replayed streamed transaction: once it commits, the server counts the
        // relations it sent there as known, so they become the current description.
        return this.#parts.registry.register(message).then(() => undefined);
      case 'type':
        return undefined; // types are read from the catalog when their relation is described
      case 'insert':
        return this.#row('c', message.relationOid, lsn, null, message.newTuple, size);
      case 'update':
        return this.#row('u', message.relationOid, lsn, message.oldTuple, message.newTuple, size);
      case 'delete':
        return this.#row('d', message.relationOid, lsn, message.oldTuple, null, size);
      case 'truncate':
        return this.#truncate(message.relationOids, message.cascade, message.restartIdentity, lsn);
      case 'message':
        return this.#logicalMessage(message.transactional, message.prefix, message.content, message.lsn, size);
      case 'stream_start':
        this.#streamXid = message.xid;
        return this.#parts.spill.startSegment(message.xid, message.firstSegment);
      case 'stream_stop':
        this.#streamXid = undefined;
        if (this.#atBoundary && this.#txn === undefined) this.stop();
        return undefined;
      case 'stream_commit':
        return this.#replayStreamed(message.xid, message.commitLsn, message.endLsn, message.commitTimeMicros);
      case 'stream_abort':
        return this.#parts.spill.abort(message.xid, message.subXid);
      case 'begin_prepare':
      case 'prepare':
      case 'stream_prepare':
      case 'commit_prepared':
      case 'rollback_prepared':
        throw new PgcdcError('PROTOCOL', `received a two-phase message (${message.tag}) although two-phase decoding was not requested`, {
          hint: 'the slot was created with TWO_PHASE by another tool; give this stream its own slot',
        });
    }
  }

  #row(op: RowEvent['op'], relationOid: number, lsn: Lsn, before: RowEvent['before'], after: RowEvent['after'], size: number): void | Promise<void> {
    const table = this.#table(relationOid);
    const txn = this.#requireTxn('a change');
    const event: RowEvent = { kind: 'row', op, table, lsn, txn, before, after };
    this.#parts.snapshotter?.observe(event);
    if (table.isSignalTable) return op === 'c' && after ? this.#signal(after, txn, lsn) : undefined;
    if (!table.included || (this.#skip.has(op) && !this.#keyChangeKept(event)) || this.#parts.snapshotCoverage?.covers(relationOid, txn.commitLsn) === true) {
      this.counters.filtered++;
      return undefined;
    }
    this.counters.events++;
    return this.#parts.queue.push(event, size + EVENT_OVERHEAD);
  }

  /** A row inserted into the signal table (id, type, data). */
  #signal(row: TupleRef, txn: TransactionInfo, lsn: Lsn): Promise<void> | undefined {
    const text = (index: number): string | null => {
      const bounds = columnBounds(row, index);
      return bounds.kind === 0x74 ? row.buf.toString('utf8', bounds.start, bounds.end) : null;
    };
    return this.#parts.onSignal?.(text(0) ?? '', text(1) ?? '', text(2), { txn, lsn });
  }

  /** A primary-key change is a delete and a create for Debezium: skipping `u` does not drop it. */
  #keyChangeKept(event: RowEvent): boolean {
    return event.op === 'u' && event.before !== null && !(this.#skip.has('d') && this.#skip.has('c')) && keyChanged(event);
  }

  #truncate(relationOids: readonly number[], cascade: boolean, restartIdentity: boolean, lsn: Lsn): void | Promise<void> {
    const txn = this.#requireTxn('Truncate');
    let pending: Promise<void> | undefined;
    for (const oid of relationOids) {
      this.#parts.snapshotter?.observeTruncate(oid);
      const table = this.#table(oid);
      if (!table.included || this.#skip.has('t') || this.#parts.snapshotCoverage?.covers(oid, txn.commitLsn) === true) {
        this.counters.filtered++;
        continue;
      }
      this.counters.events++;
      pending = this.#parts.queue.push({ kind: 'truncate', table, lsn, txn, cascade, restartIdentity }, EVENT_OVERHEAD) ?? pending;
    }
    return pending;
  }

  #logicalMessage(transactional: boolean, prefix: string, content: Buffer, lsn: Lsn, size: number): void | Promise<void> {
    if (prefix === WATERMARK_PREFIX && transactional) return this.#parts.snapshotter?.onWatermark(content.toString('utf8'), this.#requireTxn('a watermark'), lsn);
    const include = this.#messageIncludes;
    // pgcdc's DDL messages are internal: passed on only when the include list names them.
    const wanted =
      prefix !== MARKER_MESSAGE_PREFIX &&
      ((((include.length === 0 && prefix !== DDL_MESSAGE_PREFIX) || include.some((re) => re.test(prefix))) && !this.#messageExcludes.some((re) => re.test(prefix))) ||
        this.#parts.requiredMessagePrefixes?.includes(prefix) === true);
    if (transactional) {
      const txn = this.#requireTxn('a transactional message');
      const schemaChanges = prefix === DDL_MESSAGE_PREFIX ? this.#schemaChanges(content, txn, lsn) : undefined;
      if (!wanted) return schemaChanges;
      if (schemaChanges) return schemaChanges.then(() => this.#pushMessage(txn, prefix, content, lsn, size));
      return this.#pushMessage(txn, prefix, content, lsn, size);
    }
    if (!wanted) return undefined;
    this.counters.events++;
    // A non-transactional message is its own unit: acknowledge its position once it is durable.
    return this.#parts.queue.push({ kind: 'message', lsn, txn: null, prefix, content }, size + EVENT_OVERHEAD, lsn);
  }

  #pushMessage(txn: TransactionInfo, prefix: string, content: Buffer, lsn: Lsn, size: number): void | Promise<void> {
    this.counters.events++;
    return this.#parts.queue.push({ kind: 'message', lsn, txn, prefix, content }, size + EVENT_OVERHEAD);
  }

  /** Pushes the schema-change events of a DDL message, in order (a promise while the queue is full). */
  #schemaChanges(content: Buffer, txn: TransactionInfo, lsn: Lsn): Promise<void> | undefined {
    const filter = this.#parts.schemaChanges;
    if (filter === undefined) return undefined;
    let pending: Promise<void> | undefined;
    for (const event of schemaChangeEvents(parseDdlMessage(content.toString('utf8')), filter, txn, lsn)) {
      this.counters.events++;
      pending = this.#parts.queue.push(event, content.length + EVENT_OVERHEAD) ?? pending;
    }
    return pending;
  }

  #commit(txn: TransactionInfo, endLsn: Lsn): void | Promise<void> {
    this.#txn = undefined;
    // Debezium's `sequence` starts with the previous commit's position: the end of its record.
    this.#previousCommitLsn = endLsn;
    this.#parts.checkpointer.transactionOpen = false;
    this.counters.transactions++;
    const pushed = this.#parts.queue.push({ kind: 'commit', txn, endLsn }, EVENT_OVERHEAD, endLsn);
    if (this.#atBoundary && this.#streamXid === undefined) this.stop();
    return pushed;
  }

  async #replayStreamed(xid: number, commitLsn: Lsn, endLsn: Lsn, commitTimeMicros: number): Promise<void> {
    const { spill, decoder, queue } = this.#parts;
    const txn: TransactionInfo = { xid, commitLsn, commitTimeMicros, previousCommitLsn: this.#previousCommitLsn, origin: undefined };
    this.#txn = txn;
    this.counters.streamedTransactions++;
    await queue.push({ kind: 'begin', txn }, EVENT_OVERHEAD);
    await spill.replay(xid, (lsn, buf, start, end, aborted) => {
      if (this.#stopped) return undefined; // nothing more is delivered (see stop)
      const message = decoder.decode(buf, start, end, true);
      if ('xid' in message && message.xid !== undefined && message.xid !== xid && aborted.has(message.xid)) return undefined;
      return this.#handle(message, lsn, end - start);
    });
    if (this.#stopped) return;
    await this.#commit(txn, endLsn);
  }

  #table(oid: number): TableInfo {
    const table = this.#parts.registry.get(oid);
    if (!table) throw new PgcdcError('PROTOCOL', `a change refers to relation ${oid} before its Relation message`);
    return table;
  }

  #requireTxn(what: string): TransactionInfo {
    if (!this.#txn) throw new PgcdcError('PROTOCOL', `received ${what} outside a transaction`);
    return this.#txn;
  }
}
