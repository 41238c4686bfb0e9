/**
 * A webhook subscription (pgstream's model): a URL that wants the change events of a schema and
 * table (empty: every schema or table) for some operations (none listed: every operation), and
 * the event type names a subscription request may use.
 */

/** Operations an event type names: Debezium's `op` values, and `schema` for schema changes (`captureDdl`). */
export const WEBHOOK_OPERATIONS = ['c', 'u', 'd', 't', 'r', 'schema'] as const;
export type WebhookOperation = (typeof WEBHOOK_OPERATIONS)[number];

/**
 * Event type names a subscription request may use, and the operations each stands for: Debezium's
 * ops, and pgstream's wal2json actions (`I` is an inserted row, snapshot reads included).
 */
export const EVENT_TYPE_OPERATIONS: Readonly<Record<string, readonly WebhookOperation[]>> = {
  c: ['c'],
  u: ['u'],
  d: ['d'],
  t: ['t'],
  r: ['r'],
  schema: ['schema'],
  I: ['c', 'r'],
  U: ['u'],
  D: ['d'],
  T: ['t'],
};

/** One subscription, as stored. */
export interface WebhookSubscription {
  /** Where the events are sent (http or https). */
  readonly url: string;
  /** The schema whose events are wanted; `''` for every schema. */
  readonly schema: string;
  /** The table whose events are wanted; `''` for every table. */
  readonly table: string;
  /** The operations wanted; empty for every operation. */
  readonly eventTypes: readonly WebhookOperation[];
  readonly createdAt: Date;
}

/** What identifies a subscription: at most one per URL, schema and table (a new one replaces it). */
export type SubscriptionKey = Pick<WebhookSubscription, 'url' | 'schema' | 'table'>;

/** A subscription as the HTTP API shows it (pgstream's field names). */
export interface SubscriptionJson {
  readonly url: string;
  readonly schema: string;
  readonly table: string;
  readonly event_types: readonly WebhookOperation[];
  readonly created_at: string;
}

export function subscriptionJson(subscription: WebhookSubscription): SubscriptionJson {
  return {
    url: subscription.url,
    schema: subscription.schema,
    table: subscription.table,
    event_types: subscription.eventTypes,
    created_at: subscription.createdAt.toISOString(),
  };
}

/** Whether `subscription` wants an event of `op` on `schema.table`. */
export function subscriptionWants(subscription: WebhookSubscription, schema: string, table: string, op: string): boolean {
  return (
    (subscription.schema === '' || subscription.schema === schema) &&
    (subscription.table === '' || subscription.table === table) &&
    (subscription.eventTypes.length === 0 || (subscription.eventTypes as readonly string[]).includes(op))
  );
}
