/**
 * Sends standby status updates: `flush` is always the checkpointer's confirmed position (what the
 * target has durably accepted), never more. Updates go out periodically (keeping the walsender's
 * timeout at bay even while reading is paused, and asking for a keepalive so that an idle or fully
 * filtered slot advances), soon after the confirmed position advances, and at once when the server
 * asks for a reply.
 */
import type { Checkpointer } from '../pipeline/checkpointer.js';
import type { Lsn } from './lsn.js';
import type { ReplicationSession } from './replication-session.js';

/** Least time between two updates caused by the confirmed position moving. */
const ADVANCE_THROTTLE_MS = 200;

export class StandbyStatusReporter {
  readonly #session: ReplicationSession;
  readonly #checkpointer: Checkpointer;
  readonly #intervalMs: number;
  #received: Lsn = 0;
  #lastSent = 0;
  #timer: NodeJS.Timeout | undefined;
  #pendingAdvance: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(session: ReplicationSession, checkpointer: Checkpointer, intervalMs: number) {
    this.#session = session;
    this.#checkpointer = checkpointer;
    this.#intervalMs = intervalMs;
  }

  /** Records the end of what has been received (reported as `write`). */
  received(lsn: Lsn): void {
    if (lsn > this.#received) this.#received = lsn;
  }

  start(): void {
    // Asking for a reply makes the server send its position, so an idle slot advances too.
    this.#timer = setInterval(() => this.send(true), this.#intervalMs);
    this.#timer.unref();
    this.#unsubscribe = this.#checkpointer.onAdvance(() => this.#onAdvance());
  }

  /** Sends an update now; with `replyRequested` the server answers with a keepalive. */
  send(replyRequested = false): void {
    const flushed = this.#checkpointer.confirmed;
    this.#lastSent = Date.now();
    this.#session.sendStatus(Math.max(this.#received, flushed), flushed, replyRequested);
  }

  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#pendingAdvance);
    this.#pendingAdvance = undefined;
    this.#unsubscribe?.();
  }

  #onAdvance(): void {
    if (this.#pendingAdvance) return;
    const wait = Math.max(0, this.#lastSent + ADVANCE_THROTTLE_MS - Date.now());
    this.#pendingAdvance = setTimeout(() => {
      this.#pendingAdvance = undefined;
      this.send();
    }, wait);
    this.#pendingAdvance.unref();
  }
}
