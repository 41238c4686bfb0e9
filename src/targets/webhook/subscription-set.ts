/**
 * An immutable set of webhook subscriptions and the question a webhook target asks for each event:
 * which URLs want it. Answers are remembered per schema, table and operation, so an event costs a
 * map lookup once its table has been seen.
 */
import { subscriptionWants, type WebhookSubscription } from './webhook-subscription.js';

export class SubscriptionSet {
  readonly subscriptions: readonly WebhookSubscription[];
  readonly #answers = new Map<string, readonly string[]>();

  constructor(subscriptions: readonly WebhookSubscription[]) {
    this.subscriptions = subscriptions;
  }

  /** The URLs (each once, in subscription order) that want an event of `op` on `schema.table`. */
  urlsFor(schema: string, table: string, op: string): readonly string[] {
    const key = `${op}\u0000${schema}\u0000${table}`;
    let urls = this.#answers.get(key);
    if (urls === undefined) {
      urls = [...new Set(this.subscriptions.filter((subscription) => subscriptionWants(subscription, schema, table, op)).map((subscription) => subscription.url))];
      this.#answers.set(key, urls);
    }
    return urls;
  }
}

/** Anything holding the current subscriptions (a SubscriptionStore). */
export interface SubscriptionSource {
  current(): SubscriptionSet;
}

/**
 * The URLs an event of operation `op` (Debezium's: c, u, d, t, r) on `schema.table` is sent to,
 * by the subscriptions `source` holds now.
 *
 * @example
 * for (const url of matchingSubscriptions(store, 'public', 'orders', 'c')) send(url, cloudEventJson);
 */
export function matchingSubscriptions(source: SubscriptionSource, schema: string, table: string, op: string): readonly string[] {
  return source.current().urlsFor(schema, table, op);
}
