/**
 * Pushes the initial snapshot's read events (`op: "r"`) into the delivery queue, marked as Debezium
 * marks them: `first`, then `true`, and `last` on the very last. One event is held back so that the
 * last can be marked; work that must wait until events are durable waits for the held one too.
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import type { SnapshotMarker, TableInfo, TransactionInfo } from '../events/stream-event.js';
import type { DeliveryQueue } from '../pipeline/delivery-queue.js';
import type { Lsn } from '../source/lsn.js';

/** Weight of an event beyond its row bytes. */
const EVENT_OVERHEAD = 64;

interface HeldRead {
  readonly table: TableInfo;
  readonly tuple: TupleRef;
  readonly size: number;
}

export class SnapshotEmitter {
  readonly #queue: DeliveryQueue;
  readonly #txn: TransactionInfo;
  readonly #lsn: Lsn;
  #held: HeldRead | undefined;
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
    const held = this.#held;
    this.#held = { table, tuple, size };
    return held ? this.#emit(held, this.#emitted === 0 ? 'first' : 'true') : undefined;
  }

  /** Calls `callback` once every read pushed so far (the held one included) is durable. */
  afterDurable(callback: () => void): void {
    if (this.#held) this.#waiting.push(callback);
    else this.#queue.afterDurable(callback);
  }

  /** Pushes the held read as the last one. */
  finish(): Promise<void> | undefined {
    const held = this.#held;
    this.#held = undefined;
    return held ? this.#emit(held, 'last') : undefined;
  }

  #emit(read: HeldRead, snapshot: SnapshotMarker): Promise<void> | undefined {
    this.#emitted++;
    const pending = this.#queue.push(
      { kind: 'row', op: 'r', table: read.table, lsn: this.#lsn, txn: this.#txn, before: null, after: read.tuple, snapshot },
      read.size + EVENT_OVERHEAD,
    );
    for (const callback of this.#waiting.splice(0)) this.#queue.afterDurable(callback);
    return pending;
  }
}
