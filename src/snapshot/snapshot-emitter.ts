/**
 * Pushes the initial snapshot's read events (`op: "r"`) into the delivery queue, marked as Debezium
 * marks them: `first`, then `true`, and `last` on the very last. One event is held back so that the
 * last can be marked; work that must wait until events are durable waits for the held one too.
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import type { SnapshotMarker, TableInfo, TransactionInfo } from '../events/stream-event.js';
import { EVENT_OVERHEAD, type DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { Lsn } from '../source/lsn.js';


export class SnapshotEmitter {
  readonly #queue: DeliveryQueue;
  readonly #txn: TransactionInfo;
  readonly #lsn: Lsn;
  /** The read held back (its three parts, to avoid an object per row). */
  #heldTable: TableInfo | undefined;
  #heldTuple: TupleRef | undefined;
  #heldSize = 0;
  #emitted = 0;
  /** Callbacks waiting for the held event to be pushed before they wait for durability. */
  #waiting: (() => void)[] = [];

  constructor(queue: DeliveryQueue, txn: TransactionInfo, lsn: Lsn) {
    this.#queue = queue;
    this.#txn = txn;
    this.#lsn = lsn;
  }

  /** Number of read events pushed so far. */
  get emitted(): number {
    return this.#emitted;
  }

  /** Adds a read; returns a promise when the source should wait for room. */
  push(table: TableInfo, tuple: TupleRef, size: number): Promise<void> | undefined {
    const heldTable = this.#heldTable;
    const heldTuple = this.#heldTuple;
    const heldSize = this.#heldSize;
    this.#heldTable = table;
    this.#heldTuple = tuple;
    this.#heldSize = size;
    return heldTable ? this.#emit(heldTable, heldTuple!, heldSize, this.#emitted === 0 ? 'first' : 'true') : undefined;
  }

  /** Calls `callback` once every read pushed so far (the held one included) is durable. */
  afterDurable(callback: () => void): void {
    if (this.#heldTable) this.#waiting.push(callback);
    else this.#queue.afterDurable(callback);
  }

  /** Pushes the held read as the last one. */
  finish(): Promise<void> | undefined {
    const table = this.#heldTable;
    const tuple = this.#heldTuple;
    this.#heldTable = undefined;
    this.#heldTuple = undefined;
    return table ? this.#emit(table, tuple!, this.#heldSize, 'last') : undefined;
  }

  #emit(table: TableInfo, tuple: TupleRef, size: number, snapshot: SnapshotMarker): Promise<void> | undefined {
    this.#emitted++;
    const pending = this.#queue.push({ kind: 'row', op: 'r', table, lsn: this.#lsn, txn: this.#txn, before: null, after: tuple, snapshot }, size + EVENT_OVERHEAD);
    for (const callback of this.#waiting.splice(0)) this.#queue.afterDurable(callback);
    return pending;
  }
}
