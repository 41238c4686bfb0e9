/**
 * The SQL of the webhook subscription table `pgcdc.webhook_subscriptions`: creating it (with a
 * statement trigger that NOTIFYs every change), and reading and writing its rows.
 */
import type { CatalogConnection } from '../../source/catalog-connection.js';
import type { SubscriptionKey, WebhookOperation, WebhookSubscription } from './webhook-subscription.js';

/** The channel every change of the table is notified on. */
export const SUBSCRIPTIONS_CHANNEL = 'pgcdc_webhook_subscriptions';

const TABLE = 'pgcdc.webhook_subscriptions';
const COLUMNS = 'url, "schema", "table", event_types, created_at';

/**
 * Creates the schema, table, function and trigger when missing. Several pgcdc processes may start
 * together: an advisory lock makes them take turns.
 */
export async function ensureSubscriptionTable(connection: CatalogConnection): Promise<void> {
  await connection.query('BEGIN');
  try {
    await connection.query("SELECT pg_advisory_xact_lock(hashtext('pgcdc.webhook_subscriptions'))");
    await connection.query('CREATE SCHEMA IF NOT EXISTS pgcdc');
    await connection.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      url text NOT NULL,
      "schema" text NOT NULL DEFAULT '',
      "table" text NOT NULL DEFAULT '',
      event_types text[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (url, "schema", "table")
    )`);
    const { rows } = await connection.query(
      "SELECT 1 FROM pg_trigger WHERE tgrelid = 'pgcdc.webhook_subscriptions'::regclass AND tgname = 'webhook_subscriptions_notify'",
    );
    if (rows.length === 0) {
      await connection.query(`CREATE OR REPLACE FUNCTION pgcdc.webhook_subscriptions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('${SUBSCRIPTIONS_CHANNEL}', '');
          RETURN NULL;
        END
      $$`);
      await connection.query(`CREATE TRIGGER webhook_subscriptions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION pgcdc.webhook_subscriptions_notify()`);
    }
    await connection.query('COMMIT');
  } catch (error) {
    await connection.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

interface SubscriptionRow {
  url: string;
  schema: string;
  table: string;
  event_types: WebhookOperation[];
  created_at: Date;
}

function subscriptionOf(row: SubscriptionRow): WebhookSubscription {
  return { url: row.url, schema: row.schema, table: row.table, eventTypes: row.event_types, createdAt: row.created_at };
}

/** Every subscription, oldest first. */
export async function selectSubscriptions(connection: CatalogConnection): Promise<WebhookSubscription[]> {
  const { rows } = await connection.query<SubscriptionRow>(`SELECT ${COLUMNS} FROM ${TABLE} ORDER BY created_at, url, "schema", "table"`);
  return rows.map(subscriptionOf);
}

/** Adds a subscription, or replaces the event types of the one with the same URL, schema and table. */
export async function upsertSubscription(connection: CatalogConnection, key: SubscriptionKey, eventTypes: readonly WebhookOperation[]): Promise<WebhookSubscription> {
  const { rows } = await connection.query<SubscriptionRow>(
    `INSERT INTO ${TABLE} (url, "schema", "table", event_types) VALUES ($1, $2, $3, $4)
     ON CONFLICT (url, "schema", "table") DO UPDATE SET event_types = EXCLUDED.event_types
     RETURNING ${COLUMNS}`,
    [key.url, key.schema, key.table, eventTypes],
  );
  return subscriptionOf(rows[0]!);
}

/** Removes a subscription; false when there was none. */
export async function deleteSubscription(connection: CatalogConnection, key: SubscriptionKey): Promise<boolean> {
  const { rowCount } = await connection.query(`DELETE FROM ${TABLE} WHERE url = $1 AND "schema" = $2 AND "table" = $3`, [key.url, key.schema, key.table]);
  return (rowCount ?? 0) > 0;
}
