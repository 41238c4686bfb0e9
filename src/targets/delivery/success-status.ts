/**
 * Which response statuses count as delivered, which are worth retrying and which reject the event
 * for good, for targets whose receivers answer with HTTP-style status codes (CloudEvents,
 * webhooks, functions answering through a response object).
 */
import type { SuccessStatusRule } from '../../config/stream-config.js';

export type StatusVerdict = 'delivered' | 'retry' | 'reject';

/**
 * The verdict on a status: success by the rule; 408, 429 and 5xx are retried, and so is a 2xx the
 * rule does not accept (as StackGres does); other 4xx and 3xx reject the event unless
 * `retryClientErrors` is set.
 */
export function judgeStatus(status: number, rule: SuccessStatusRule, retryClientErrors: boolean): StatusVerdict {
  if (rule === '2xx' ? status >= 200 && status < 300 : status === 200) return 'delivered';
  if (status >= 500 || status === 408 || status === 429 || (status >= 200 && status < 300)) return 'retry';
  return retryClientErrors ? 'retry' : 'reject';
}
