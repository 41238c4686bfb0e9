/**
 * Webhook subscriptions kept in PostgreSQL (`pgcdc.webhook_subscriptions`, created when missing)
 * and cached in memory for the stream: the cache is reloaded when the table changes (LISTEN on a
 * channel the table's trigger NOTIFYs, so a subscription added by any process is used within
 * moments) and every `pollIntervalMs` as a fallback, which also restores a lost LISTEN connection.
 */
import pg from 'pg';
import { pgClientConfig } from '../../config/connection-url.js';
import type { ConnectionConfig } from '../../config/stream-config.js';
import { asPgcdcError, PgcdcError } from '../../errors/pgcdc-error.js';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { SubscriptionSet, type SubscriptionSource } from './subscription-set.js';
import { deleteSubscription, ensureSubscriptionTable, selectSubscriptions, SUBSCRIPTIONS_CHANNEL, upsertSubscription } from './subscription-table.js';
import type { SubscriptionKey, WebhookOperation, WebhookSubscription } from './webhook-subscription.js';

/** Default interval of the fallback reload. */
export const DEFAULT_POLL_INTERVAL_MS = 30_000;

export interface SubscriptionStoreOptions {
  /** The database holding the `pgcdc` schema. */
  readonly connection: ConnectionConfig;
  /** Reload interval when no notification came (and LISTEN reconnect attempts); default 30 s. */
  readonly pollIntervalMs?: number;
  /** Told when a background reload or the LISTEN connection fails (the cache keeps its last content). */
  readonly onBackgroundError?: (error: PgcdcError) => void;
}

/**
 * The subscriptions, from PostgreSQL, cached.
 *
 * @example
 * const store = await SubscriptionStore.open({ connection, onBackgroundError: (error) => logger.warn(error.toLine()) });
 * await store.subscribe({ url: 'https://hooks.example.com/orders', schema: 'public', table: 'orders' }, ['c', 'u']);
 * matchingSubscriptions(store, 'public', 'orders', 'c'); // ['https://hooks.example.com/orders']
 * await store.close();
 */
export class SubscriptionStore implements SubscriptionSource {
  readonly #connection: CatalogConnection;
  readonly #config: ConnectionConfig;
  readonly #onBackgroundError: (error: PgcdcError) => void;
  readonly #pollTimer: NodeJS.Timeout;
  #listener: pg.Client | undefined;
  #current = new SubscriptionSet([]);
  #loading: Promise<void> | undefined;
  #reloadAfterLoading: Promise<void> | undefined;
  #closed = false;

  private constructor(connection: CatalogConnection, options: SubscriptionStoreOptions) {
    this.#connection = connection;
    this.#config = options.connection;
    this.#onBackgroundError = options.onBackgroundError ?? (() => undefined);
    this.#pollTimer = setInterval(() => this.#poll(), options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.#pollTimer.unref();
  }

  /**
   * Connects, creates the table when missing, starts listening for changes and loads the cache.
   *
   * @throws PgcdcError when the database cannot be reached or the table cannot be created
   */
  static async open(options: SubscriptionStoreOptions): Promise<SubscriptionStore> {
    const connection = await CatalogConnection.open(options.connection);
    let store: SubscriptionStore | undefined;
    try {
      await ensureSubscriptionTable(connection);
      store = new SubscriptionStore(connection, options);
      await store.#listen();
      await store.refresh();
      return store;
    } catch (error) {
      if (store) await store.close();
      else await connection.close();
      throw error;
    }
  }

  /** The cached subscriptions. */
  current(): SubscriptionSet {
    return this.#current;
  }

  /** The cached subscriptions, oldest first. */
  list(): readonly WebhookSubscription[] {
    return this.#current.subscriptions;
  }

  /** Adds a subscription (replacing the event types of one with the same key) and reloads the cache. */
  async subscribe(key: SubscriptionKey, eventTypes: readonly WebhookOperation[]): Promise<WebhookSubscription> {
    const stored = await upsertSubscription(this.#connection, key, eventTypes);
    await this.refresh();
    return stored;
  }

  /** Removes a subscription and reloads the cache; false when there was none. */
  async unsubscribe(key: SubscriptionKey): Promise<boolean> {
    const deleted = await deleteSubscription(this.#connection, key);
    await this.refresh();
    return deleted;
  }

  /** Reloads the cache; resolves once a load that started after this call has finished. */
  refresh(): Promise<void> {
    if (this.#loading === undefined) return this.#startLoad();
    this.#reloadAfterLoading ??= this.#loading
      .catch(() => undefined)
      .then(() => {
        this.#reloadAfterLoading = undefined;
        return this.#startLoad();
      });
    return this.#reloadAfterLoading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#pollTimer);
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.all([listener?.end().catch(() => undefined), this.#loading?.catch(() => undefined)]);
    await this.#connection.close();
  }

  #startLoad(): Promise<void> {
    const loading = selectSubscriptions(this.#connection).then((subscriptions) => {
      if (!this.#closed) this.#current = new SubscriptionSet(subscriptions);
    });
    const settled = loading.finally(() => {
      if (this.#loading === settled) this.#loading = undefined;
    });
    this.#loading = settled;
    return settled;
  }

  /** A reload in the background, its failure reported. */
  #reloadInBackground(): void {
    if (this.#closed) return;
    this.refresh().catch((error: unknown) => this.#onBackgroundError(asPgcdcError(error, 'QUERY_FAILED')));
  }

  #poll(): void {
    if (this.#listener === undefined) {
      this.#listen().catch((error: unknown) => this.#onBackgroundError(asPgcdcError(error)));
    }
    this.#reloadInBackground();
  }

  async #listen(): Promise<void> {
    const { host, port, database } = this.#config;
    const listener = new pg.Client(pgClientConfig(this.#config));
    const lost = (): void => {
      if (this.#listener !== listener) return;
      this.#listener = undefined;
      listener.end().catch(() => undefined);
      if (!this.#closed) {
        this.#onBackgroundError(
          new PgcdcError('CONNECTION_LOST', `the connection listening for webhook subscription changes on ${host}:${port}/${database} was lost`, {
            hint: `pgcdc reconnects at the next reload (every poll interval); until then, subscription changes are seen only then`,
          }),
        );
      }
    };
    listener.on('error', lost);
    listener.on('end', lost);
    listener.on('notification', () => this.#reloadInBackground());
    try {
      await listener.connect();
      await listener.query(`LISTEN ${SUBSCRIPTIONS_CHANNEL}`);
    } catch (error) {
      await listener.end().catch(() => undefined);
      throw new PgcdcError('CONNECTION_LOST', `cannot listen for webhook subscription changes on ${host}:${port}/${database}: ${(error as Error).message}`, {
        cause: error,
        hint: 'check that the subscription database accepts connections from pgcdc',
      });
    }
    if (this.#closed) {
      await listener.end().catch(() => undefined);
      return;
    }
    this.#listener = listener;
    // Changes made while the listener was away are read now.
    this.#reloadInBackground();
  }
}
