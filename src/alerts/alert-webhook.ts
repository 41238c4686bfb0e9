/**
 * POSTs alert notifications as JSON to the stream's alert webhook, one at a time and in order
 * (a `resolved` never overtakes its `firing`), each within a timeout. A failure is logged and
 * dropped: an alert receiver that is down never stops or slows a stream.
 */
import type { AlertsConfig } from '../config/alert-settings.js';
import type { Logger } from '../logging/logger.js';

/** The body of an alert notification. */
export interface AlertNotification {
  readonly stream: string;
  readonly alert: string;
  readonly status: 'firing' | 'resolved';
  readonly value: number | null;
  readonly threshold: number;
  /** ISO 8601. */
  readonly at: string;
}

export class AlertWebhook {
  readonly #config: NonNullable<AlertsConfig['webhook']>;
  readonly #logger: Logger;
  #sending: Promise<void> = Promise.resolve();

  constructor(config: NonNullable<AlertsConfig['webhook']>, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
  }

  /** Queues a notification behind those not sent yet. */
  send(notification: AlertNotification): void {
    this.#sending = this.#sending.then(() => this.#post(notification));
  }

  /** Resolves once every queued notification was sent or given up. */
  idle(): Promise<void> {
    return this.#sending;
  }

  async #post(notification: AlertNotification): Promise<void> {
    const { url, headers, timeoutMs } = this.#config;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(notification),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the receiver answered ${response.status} ${response.statusText}`);
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      this.#logger.warn({ stream: notification.stream, alert: notification.alert, status: notification.status, error: reason }, `alert webhook not told: ${reason}`);
    }
  }
}
