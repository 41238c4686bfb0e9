/**
 * The byte-bounded queue between the source and the target. Events gather into a batch; one batch
 * at a time is written (everything that arrived while the previous write ran goes into the next,
 * so slow, durable writes are amortised like a group commit). When the queue holds more than
 * `maxBytes`, `push` returns a promise and the source stops reading until there is room.
 * After each durable write the checkpointer completes the positions the batch carried. A target
 * that makes writes durable later (asynchronous commit) hands back a promise for it: the next batch
 * is written meanwhile, and batches complete in order as they become durable. A target
 * that sends events in groups may ask for a linger: a short batch waits a little for more events.
 */
import { PgcdcError, asPgcdcError } from '../errors/pgcdc-error.js';
import type { StreamEvent } from '../events/stream-event.js';
import type { Lsn } from '../source/lsn.js';
import type { Target, TargetBatching } from '../targets/target.js';
import type { Checkpointer } from './checkpointer.js';

/** What an event weighs in the queue beyond its row bytes: its objects and their share of buffers. */
export const EVENT_OVERHEAD = 160;

export interface DeliveryQueueOptions {
  /** Pause the source when this many bytes of events are waiting. */
  readonly maxBytes: number;
  /** Largest batch handed to the target at once. */
  readonly maxBatchBytes: number;
  /** Called after each durable batch (metrics, latency). */
  readonly onDelivered?: (events: readonly StreamEvent[]) => void;
  /** Called after each durable batch with its queued bytes and the seconds from its write to durable. */
  readonly onBatchDurable?: (events: readonly StreamEvent[], bytes: number, writeSeconds: number) => void;
  /** Hold a batch back until it has this many events or its first event waited this long. */
  readonly linger?: TargetBatching;
}

interface Batch {
  events: StreamEvent[];
  bytes: number;
  /** When its first event arrived (performance.now()), for the linger. */
  startedAt: number;
  /** When it was handed to the target (performance.now()). */
  writtenAt: number;
  /** Highest checkpoint position registered in this batch, or -1. */
  position: Lsn;
  /** Called once this batch (and everything before it) is durable. */
  callbacks: DurableCallback[];
  /** Written, and durable (false while a target's asynchronous durability is pending). */
  durable: boolean;
}

interface DurableCallback {
  readonly durable: () => void;
  /** Called instead when the batch is dropped (a reset after a retryable failure). */
  readonly dropped: (() => void) | undefined;
}

export class DeliveryQueue {
  readonly #target: Target;
  readonly #checkpointer: Checkpointer;
  readonly #options: DeliveryQueueOptions;
  #open: Batch = newBatch();
  readonly #sealed: Batch[] = [];
  /** Batches written whose durability is pending, in order. */
  readonly #written: Batch[] = [];
  #queuedBytes = 0;
  #writing = false;
  /** The write loop running or last run (reset waits for it). */
  #loop: Promise<void> | undefined;
  #scheduled = false;
  /** The wake-up of a lingering batch. */
  #lingerTimer: NodeJS.Timeout | undefined;
  #failure: PgcdcError | undefined;
  #roomWaiters: (() => void)[] = [];
  #drainWaiters: { resolve: () => void; reject: (error: PgcdcError) => void }[] = [];
  #failureListeners: ((error: PgcdcError) => void)[] = [];

  constructor(target: Target, checkpointer: Checkpointer, options: DeliveryQueueOptions) {
    this.#target = target;
    this.#checkpointer = checkpointer;
    this.#options = options;
  }

  /** Bytes of events waiting or being written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** The bound on queued bytes (a push beyond it waits for room). */
  get maxBytes(): number {
    return this.#options.maxBytes;
  }

  /** True when nothing is waiting, being written or waiting to be durable. */
  get idle(): boolean {
    return (
      !this.#writing &&
      this.#sealed.length === 0 &&
      this.#written.length === 0 &&
      this.#open.events.length === 0 &&
      this.#open.callbacks.length === 0 &&
      this.#open.position < 0
    );
  }

  /**
   * Adds an event weighing `bytes`. `position`, when given, is registered with the checkpointer and
   * completed once this event is durable. Returns a promise when the caller should wait for room.
   */
  push(event: StreamEvent, bytes: number, position?: Lsn): Promise<void> | undefined {
    if (this.#failure) throw this.#failure;
    const batch = this.#open;
    if (batch.events.length === 0) batch.startedAt = performance.now();
    batch.events.push(event);
    batch.bytes += bytes;
    this.#queuedBytes += bytes;
    if (position !== undefined) {
      this.#checkpointer.register(position);
      batch.position = position;
    }
    if (batch.bytes >= this.#options.maxBatchBytes) this.#seal();
    this.#schedule();
    if (this.#queuedBytes < this.#options.maxBytes) return undefined;
    return new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Registers a position with no event (nothing to write, but it must wait for what is queued). */
  pushPosition(position: Lsn): void {
    if (this.#failure) throw this.#failure;
    this.#checkpointer.register(position);
    this.#open.position = position;
    this.#schedule();
  }

  /**
   * Calls `callback` once everything pushed so far is durable (snapshot progress is recorded this
   * way: only for rows the target has made durable). Never called if the target fails; `dropped`
   * is called instead if the queue is reset.
   */
  afterDurable(callback: () => void, dropped?: () => void): void {
    if (this.#failure) return;
    if (this.idle) {
      queueMicrotask(callback);
      return;
    }
    this.#open.callbacks.push({ durable: callback, dropped });
    this.#schedule();
  }

  /** Resolves once everything pushed so far is durable; rejects if it is dropped by a reset or the target fails. */
  whenDurable(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.afterDurable(resolve, () => reject(this.#failure ?? new PgcdcError('TARGET_UNREACHABLE', 'the target failed before these events were durable; they are delivered again')));
    });
  }

  /**
   * After a retryable target failure: waits for a write in progress to settle, forgets every
   * event not yet durable (the stream restarts from the acknowledged position, so they come
   * again) and accepts events again.
   */
  async reset(): Promise<void> {
    // A failure can arrive (a batch's durability failed) while the next batch is being written.
    await this.#loop;
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#sealed.length = 0;
    this.#written.length = 0;
    this.#open = newBatch();
    this.#queuedBytes = 0;
    this.#failure = undefined;
    for (const waiter of this.#roomWaiters.splice(0)) waiter();
  }

  /** Resolves once everything pushed so far is durable; rejects if the target failed. */
  drain(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.idle) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** Calls `listener` once if the target fails. */
  onFailure(listener: (error: PgcdcError) => void): void {
    if (this.#failure) listener(this.#failure);
    else this.#failureListeners.push(listener);
  }

  #seal(): void {
    if (this.#open.events.length === 0 && this.#open.position < 0 && this.#open.callbacks.length === 0) return;
    this.#sealed.push(this.#open);
    this.#open = newBatch();
  }

  #schedule(): void {
    if (this.#writing) return;
    const linger = this.#lingerLeft();
    if (linger > 0) {
      this.#lingerTimer ??= setTimeout(() => {
        this.#lingerTimer = undefined;
        this.#schedule();
      }, linger);
      return;
    }
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Let the source decode everything that already arrived before the batch is cut.
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#writing) this.#loop = this.#writeLoop();
    });
  }

  /** Milliseconds the open batch should still wait for more events (0: write it now). */
  #lingerLeft(): number {
    const linger = this.#options.linger;
    const open = this.#open;
    if (linger === undefined || this.#sealed.length > 0 || open.events.length === 0 || open.events.length >= linger.events) return 0;
    return Math.max(0, Math.ceil(linger.lingerMs - (performance.now() - open.startedAt)));
  }

  async #writeLoop(): Promise<void> {
    if (this.#writing || this.#failure) return;
    this.#writing = true;
    let lingering = false;
    try {
      for (;;) {
        if (this.#failure) return; // a batch written before failed to become durable: nothing more is written
        if (this.#sealed.length === 0) {
          if (this.#lingerLeft() > 0) {
            lingering = true;
            break;
          }
          this.#seal();
        }
        const batch = this.#sealed[0];
        if (!batch) break;
        batch.writtenAt = performance.now();
        const written = batch.events.length > 0 ? await this.#target.write({ events: batch.events }) : undefined;
        if (this.#failure) {
          // An earlier batch failed to become durable meanwhile: this one is dropped with it.
          written?.durable.catch(() => undefined);
          return;
        }
        this.#sealed.shift();
        this.#written.push(batch);
        if (written) {
          written.durable.then(
            () => this.#durable(batch),
            (error: unknown) => this.#fail(asPgcdcError(error, 'TARGET_FAILED')),
          );
        } else this.#durable(batch);
      }
    } catch (error) {
      this.#fail(asPgcdcError(error, 'TARGET_FAILED'));
      return;
    } finally {
      this.#writing = false;
    }
    if (lingering) {
      this.#schedule();
      return;
    }
    this.#resolveDrainWaiters();
  }

  /** A written batch is durable: batches complete in order, each once it and all before it are. */
  #durable(batch: Batch): void {
    if (this.#failure || !this.#written.includes(batch)) return; // dropped by a failure or a reset
    batch.durable = true;
    while (this.#written[0]?.durable) {
      const done = this.#written.shift()!;
      this.#queuedBytes -= done.bytes;
      if (done.position >= 0) this.#checkpointer.complete(done.position);
      this.#options.onDelivered?.(done.events);
      this.#options.onBatchDurable?.(done.events, done.bytes, (performance.now() - done.writtenAt) / 1000);
      for (const callback of done.callbacks) callback.durable();
    }
    this.#wakeRoomWaiters();
    this.#resolveDrainWaiters();
  }

  #resolveDrainWaiters(): void {
    if (this.idle) for (const waiter of this.#drainWaiters.splice(0)) waiter.resolve();
  }

  #wakeRoomWaiters(): void {
    if (this.#queuedBytes >= this.#options.maxBytes / 2 && this.#queuedBytes >= this.#options.maxBytes - this.#options.maxBatchBytes) return;
    for (const waiter of this.#roomWaiters.splice(0)) waiter();
  }

  #fail(error: PgcdcError): void {
    this.#failure = error;
    for (const batch of [...this.#written, ...this.#sealed, this.#open]) for (const callback of batch.callbacks.splice(0)) callback.dropped?.();
    for (const waiter of this.#drainWaiters.splice(0)) waiter.reject(error);
    for (const listener of this.#failureListeners.splice(0)) listener(error);
    // Wake the source so it notices the failure instead of waiting for room forever.
    for (const waiter of this.#roomWaiters.splice(0)) waiter();
  }
}

function newBatch(): Batch {
  return { events: [], bytes: 0, startedAt: 0, writtenAt: 0, position: -1, callbacks: [], durable: false };
}
