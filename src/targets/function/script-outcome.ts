/**
 * What running the PgLambda script for one event gave: the answer it wrote to `response`, or why
 * it gave none (it threw, ran out of time or memory, or waits forever); and the error a delivery
 * layer retries and dead-letters on when the outcome is not a success.
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';

/** The script answered: what it wrote to `response`. */
export interface ScriptAnswer {
  readonly kind: 'answer';
  /** True for a status from 200 to 299, as an HTTP binding would judge it. */
  readonly ok: boolean;
  readonly status: number;
  /** The status message given to `writeHead`, else the standard one (when known). */
  readonly statusMessage: string | undefined;
  /** Header names in lower case; several values of one header joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** Everything written, decoded as UTF-8 when written as bytes. */
  readonly body: string;
  /** False when the script finished without calling `response.end()`: its answer is what it wrote (200 when it set nothing). */
  readonly ended: boolean;
}

/** Why the script gave no answer. */
export type ScriptFailureReason = 'threw' | 'timeout' | 'memory' | 'stalled';

/** The script gave no answer; `error` says why, with a fix. */
export interface ScriptFailure {
  readonly kind: 'failure';
  readonly ok: false;
  readonly reason: ScriptFailureReason;
  readonly error: PgcdcError;
}

export type ScriptOutcome = ScriptAnswer | ScriptFailure;

/** Longest part of a body quoted in an error message. */
const QUOTED_BODY_LENGTH = 200;

/**
 * The error to retry (then dead-letter) on, or undefined when the script succeeded.
 *
 * @example
 * const outcome = await sandbox.invoke(event);
 * const error = outcomeError(outcome);
 * if (error !== undefined) throw error; // the delivery layer retries, then dead-letters
 */
export function outcomeError(outcome: ScriptOutcome): PgcdcError | undefined {
  if (outcome.kind === 'failure') return outcome.error;
  if (outcome.ok) return undefined;
  const body = outcome.body.length > QUOTED_BODY_LENGTH ? `${outcome.body.slice(0, QUOTED_BODY_LENGTH)}...` : outcome.body;
  const status = outcome.statusMessage === undefined ? String(outcome.status) : `${outcome.status} ${outcome.statusMessage}`;
  return new PgcdcError('TARGET_FAILED', `the PgLambda script answered ${status}${body === '' ? '' : `: ${JSON.stringify(body)}`}`, {
    hint: 'the script answers a status outside 200-299 for this event; fix the script or the data it rejects',
  });
}
