/**
 * Why one send of a delivery failed, as the generic delivery machinery needs to know it: whether
 * trying again may help, and whether the failure is about what was sent (the event: set aside by
 * the dead-letter policy) or about the target itself (unreachable, misconfigured: the stream fails,
 * nothing is set aside).
 */

/** `event`: this event (or group) failed; `target`: the target cannot take anything. */
export type FailureScope = 'event' | 'target';

export class DeliveryFailure extends Error {
  readonly retryable: boolean;
  readonly scope: FailureScope;
  /** How to fix it, when the failure is about the target. */
  readonly hint: string | undefined;

  constructor(message: string, options: { retryable: boolean; scope: FailureScope; hint?: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryFailure';
    this.retryable = options.retryable;
    this.scope = options.scope;
    this.hint = options.hint;
  }
}

/** Anything a send threw, as a DeliveryFailure (an unexpected error is about the target and final). */
export function asDeliveryFailure(error: unknown): DeliveryFailure {
  if (error instanceof DeliveryFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DeliveryFailure(message, { retryable: false, scope: 'target', cause: error });
}
