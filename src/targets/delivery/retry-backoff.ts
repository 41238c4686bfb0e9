/**
 * Retries of one send with exponential backoff: the first retry waits `initialDelayMs`, each next
 * one twice as long up to `maxDelayMs`, until the send succeeds, fails for good (not retryable),
 * the retry limit is reached, or the caller aborts.
 */
import { asDeliveryFailure, type DeliveryFailure } from './delivery-failure.js';

export interface RetryPolicy {
  /** Retries after the first attempt; undefined retries for ever. */
  readonly limit: number | undefined;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * SGStream's `retryLimit` and `retryBackoffDelay` (seconds): the first delay is 10% of the
 * maximum, then it doubles up to the maximum.
 */
export function sgStreamRetryPolicy(retryLimit: number | undefined, retryBackoffDelaySeconds: number): RetryPolicy {
  const maxDelayMs = retryBackoffDelaySeconds * 1000;
  return { limit: retryLimit, initialDelayMs: maxDelayMs / 10, maxDelayMs };
}

/** The delay before retry number `retry` (1 for the first retry). */
export function retryDelayMs(policy: RetryPolicy, retry: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(retry - 1, 30));
}

export type RetryOutcome =
  | { readonly delivered: true; readonly attempts: number }
  | { readonly delivered: false; readonly attempts: number; readonly failure: DeliveryFailure };

/** Called before each retry's wait (to log it). */
export type RetryListener = (failure: DeliveryFailure, attempt: number, delayMs: number) => void;

/** Runs `send` until it succeeds or the policy gives up; never throws. */
export async function sendWithRetries(send: () => Promise<void>, policy: RetryPolicy, signal: AbortSignal, onRetry?: RetryListener): Promise<RetryOutcome> {
  for (let attempt = 1; ; attempt++) {
    let failure: DeliveryFailure;
    try {
      await send();
      return { delivered: true, attempts: attempt };
    } catch (error) {
      failure = asDeliveryFailure(error);
    }
    const exhausted = policy.limit !== undefined && attempt > policy.limit;
    if (!failure.retryable || exhausted || signal.aborted) return { delivered: false, attempts: attempt, failure };
    const delay = retryDelayMs(policy, attempt);
    onRetry?.(failure, attempt, delay);
    if (!(await sleep(delay, signal))) return { delivered: false, attempts: attempt, failure };
  }
}

/** Waits `ms`; resolves false when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
