/**
 * Decides the position reported to the server as flushed: the highest position with nothing
 * unacknowledged below it. Positions are registered in stream order when their unit (a committed
 * transaction, a non-transactional message) enters the delivery queue and completed once the
 * target has made it durable. When nothing is pending, keepalive positions let an idle or fully
 * filtered slot advance.
 */
import type { Lsn } from '../source/lsn.js';

export class Checkpointer {
  #confirmed: Lsn;
  /** Registered positions not yet durable, in stream order. */
  readonly #pending: Lsn[] = [];
  #pendingHead = 0;
  #transactionOpen = false;
  readonly #listeners = new Set<(confirmed: Lsn) => void>();

  constructor(initial: Lsn) {
    this.#confirmed = initial;
  }

  /** The position the target has durably accepted everything up to. */
  get confirmed(): Lsn {
    return this.#confirmed;
  }

  /** Number of registered positions not yet durable. */
  get pendingCount(): number {
    return this.#pending.length - this.#pendingHead;
  }

  /** Set while a transaction's changes are being received (between Begin and Commit). */
  set transactionOpen(open: boolean) {
    this.#transactionOpen = open;
  }

  /** Registers a position that will become confirmable once `complete` reaches it. */
  register(lsn: Lsn): void {
    this.#pending.push(lsn);
  }

  /** Marks every registered position up to and including `lsn` as durable. */
  complete(lsn: Lsn): void {
    let advanced = this.#confirmed;
    while (this.#pendingHead < this.#pending.length && this.#pending[this.#pendingHead]! <= lsn) {
      advanced = Math.max(advanced, this.#pending[this.#pendingHead]!);
      this.#pendingHead++;
    }
    if (this.#pendingHead > 1024 && this.#pendingHead * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#pendingHead);
      this.#pendingHead = 0;
    }
    this.#advance(advanced);
  }

  /**
   * A keepalive said the server has sent everything before `walEnd`: if nothing is pending and no
   * transaction is half received, everything before it is delivered.
   */
  idle(walEnd: Lsn): void {
    if (this.pendingCount === 0 && !this.#transactionOpen) this.#advance(walEnd);
  }

  /** Forgets pending positions (after a reconnect they will be streamed again). */
  resetPending(): void {
    this.#pending.length = 0;
    this.#pendingHead = 0;
    this.#transactionOpen = false;
  }

  /** Calls `listener` whenever the confirmed position moves forward. Returns an unsubscribe function. */
  onAdvance(listener: (confirmed: Lsn) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #advance(lsn: Lsn): void {
    if (lsn <= this.#confirmed) return;
    this.#confirmed = lsn;
    for (const listener of this.#listeners) listener(lsn);
  }
}
