/**
 * Delivers a batch reliably through a channel that sends one group of items: per-key order and
 * bounded concurrency (ordered-dispatch), retries with backoff (retry-backoff), and for an item
 * that still fails, the dead-letter policy: set it aside durably and go on, or stop the stream.
 * `deliver` resolves only when every item is delivered or durably set aside, so the source is never
 * acknowledged past an undelivered event. Technology-free: the channel is the only part that knows
 * how to send (HTTP for CloudEvents and webhooks, a function call for PgLambda).
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import type { DeadLetter, DeadLetterStore } from './dead-letter-store.js';
import { DeliveryFailure } from './delivery-failure.js';
import { dispatchInOrder, type DispatchItems, type DispatchLimits } from './ordered-dispatch.js';
import { sendWithRetries, type RetryPolicy } from './retry-backoff.js';
import { counted } from '../../text/counts.js';

/** How the items of one batch are sent; throws DeliveryFailure. */
export interface DeliveryChannel {
  /** Sends items (one, or several as one request) in their order. */
  send(group: readonly number[], signal: AbortSignal): Promise<void>;
  /** Item `index` as a dead letter's id and event JSON (the slow path). */
  describe(index: number): { readonly id: string; readonly event: Buffer };
}

/** Told of retries and dead letters as they happen (`pgcdc serve`'s metrics: a StreamObserver fits). */
export interface DeliveryObserver {
  retried?(): void;
  deadLettered?(count: number): void;
}

/** Where items that still fail go: a store (and the stream goes on), or nowhere (the stream stops). */
export type DeadLetterHandling = { readonly policy: 'stop' } | { readonly policy: 'dead-letter'; readonly store: DeadLetterStore };

export interface ReliableDeliveryOptions {
  readonly limits: DispatchLimits;
  readonly retry: RetryPolicy;
  /** Items larger than this are never sent: they fail at once (dead letter or stop). */
  readonly maxItemBytes: number;
  readonly deadLetter: DeadLetterHandling;
  readonly logger: Logger;
  /** What an item is, for messages: `CloudEvent`, `webhook`. */
  readonly itemName: string;
  /** The setting that changes the dead-letter policy, for hints: `spec.target.cloudEvent.deadLetter.policy`. */
  readonly policySetting: string;
  readonly observer?: DeliveryObserver | undefined;
}

export class ReliableDelivery {
  readonly #options: ReliableDeliveryOptions;
  #deadLettered = 0;

  constructor(options: ReliableDeliveryOptions) {
    this.#options = options;
  }

  /** Items set aside in the dead-letter store since start. */
  get deadLettered(): number {
    return this.#deadLettered;
  }

  /** Settles every item of `items`; rejects with a PgcdcError when the stream must stop or restart. */
  deliver(items: DispatchItems, channel: DeliveryChannel): Promise<void> {
    return dispatchInOrder(items, this.#options.limits, (group, signal) => this.#deliverGroup(items, channel, group, signal));
  }

  /** Sends a group in order; an oversized item in it fails on its own, between the others. */
  async #deliverGroup(items: DispatchItems, channel: DeliveryChannel, group: readonly number[], signal: AbortSignal): Promise<void> {
    const max = this.#options.maxItemBytes;
    let run: number[] = [];
    for (const index of group) {
      const bytes = items.bytesOf(index);
      if (bytes <= max) {
        run.push(index);
        continue;
      }
      if (run.length > 0) await this.#send(channel, run, signal);
      run = [];
      const failure = new DeliveryFailure(`the ${this.#options.itemName} is ${bytes} bytes, more than the ${max} allowed`, { retryable: false, scope: 'event' });
      await this.#settleFailed(channel, [index], failure, 0);
    }
    if (run.length > 0) await this.#send(channel, run, signal);
  }

  /**
   * Sends with retries. A group rejected for good is split in halves and each sent again, so one
   * bad item does not take its neighbours down; what still fails is settled by the policy.
   */
  async #send(channel: DeliveryChannel, group: readonly number[], signal: AbortSignal): Promise<void> {
    const outcome = await sendWithRetries(() => channel.send(group, signal), this.#options.retry, signal, (failure, attempt, delayMs) => {
      this.#options.observer?.retried?.();
      this.#options.logger.warn(
        { id: channel.describe(group[0]!).id, events: group.length, attempt, retryInMs: Math.round(delayMs), error: failure.message },
        `${this.#options.itemName} not delivered; retrying`,
      );
    });
    if (outcome.delivered) return;
    const { failure, attempts } = outcome;
    if (signal.aborted) throw failure; // another lane failed first; its error is the one reported
    if (failure.scope === 'target') {
      throw new PgcdcError(failure.retryable ? 'TARGET_UNREACHABLE' : 'TARGET_FAILED', `${failure.message} (after ${counted(attempts, 'attempt')})`, {
        cause: failure,
        ...(failure.hint === undefined ? {} : { hint: failure.hint }),
      });
    }
    if (!failure.retryable && group.length > 1) {
      const half = Math.ceil(group.length / 2);
      await this.#send(channel, group.slice(0, half), signal);
      await this.#send(channel, group.slice(half), signal);
      return;
    }
    await this.#settleFailed(channel, group, failure, attempts);
  }

  async #settleFailed(channel: DeliveryChannel, group: readonly number[], failure: DeliveryFailure, attempts: number): Promise<void> {
    const { deadLetter, itemName, policySetting, logger } = this.#options;
    const first = channel.describe(group[0]!).id;
    const tried = attempts === 0 ? 'was not sent' : `failed after ${counted(attempts, 'attempt')}`;
    if (deadLetter.policy === 'stop') {
      throw new PgcdcError('TARGET_FAILED', `${itemName} ${first}${group.length > 1 ? ` and ${group.length - 1} more` : ''} ${tried}: ${failure.message}`, {
        cause: failure,
        hint: `${failure.hint ?? 'fix the receiver'} (the event is sent again on the next run), or set ${policySetting}: dead-letter to set such events aside and go on`,
      });
    }
    const failedAt = new Date();
    const letters: DeadLetter[] = group.map((index) => ({ ...channel.describe(index), error: failure.message, attempts, failedAt }));
    await deadLetter.store.add(letters);
    this.#deadLettered += letters.length;
    this.#options.observer?.deadLettered?.(letters.length);
    logger.warn({ id: first, events: letters.length, attempts, error: failure.message, deadLetters: deadLetter.store.description }, `${itemName} ${tried}; set aside as a dead letter`);
  }
}
