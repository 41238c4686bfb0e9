/**
 * Webhook target (pgstream's webhook notifier): every change POSTed to each URL subscribed to its
 * schema, table and operation. At open it loads the subscriptions (`SubscriptionStore`, the source
 * database by default; changes made by any process are seen through NOTIFY) and starts the
 * subscription API (`SubscriptionServer`) unless it is turned off. Rendering and matching are
 * webhook-notifications; sending one request is an HttpEndpoint per URL; order per (URL, row),
 * concurrency, retries and dead letters are the generic delivery machinery. A write resolves once
 * every notification of the batch was accepted or durably dead-lettered, so the slot never
 * advances past an undelivered notification; changes nobody subscribed to are acknowledged at once.
 */
import type { StreamConfig, WebhookTargetConfig } from '../../config/stream-config.js';
import type { EventBatch } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import { streamEncoderOptions } from '../../events/debezium-json-encoder.js';
import type { DeadLetterStore } from '../delivery/dead-letter-store.js';
import { DeliveryFailure } from '../delivery/delivery-failure.js';
import type { DeliveryChannel, DeliveryObserver, ReliableDelivery } from '../delivery/reliable-delivery.js';
import { deadLetterSetup } from '../delivery/dead-letter-setup.js';
import { endpointOptions, httpReliableDelivery, lowerCaseKeys } from '../http/http-delivery-setup.js';
import { HttpEndpoint } from '../http/http-endpoint.js';
import type { Target } from '../target.js';
import type { SubscriptionSet } from './subscription-set.js';
import { SubscriptionServer } from './subscription-server.js';
import { SubscriptionStore } from './subscription-store.js';
import { type WebhookNotifications, WebhookRenderer } from './webhook-notifications.js';

const SETTINGS = 'spec.target.webhook';
const CONTENT_TYPE = 'application/json; charset=utf-8';
/** Where a subscriber's URL comes from, for the hints of failures to reach it. */
const SUBSCRIPTION_URL = "the subscription's url (GET /webhooks/subscriptions, or pgcdc.webhook_subscriptions)";

export class WebhookTarget implements Target {
  readonly #config: WebhookTargetConfig;
  readonly #stream: StreamConfig;
  readonly #logger: Logger;
  readonly #renderer: WebhookRenderer;
  readonly #deadLetters: DeadLetterStore | undefined;
  readonly #delivery: ReliableDelivery;
  readonly #headers: Readonly<Record<string, string>>;
  /** One connection pool per subscribed URL, made when first needed. */
  readonly #endpoints = new Map<string, HttpEndpoint>();
  /** The subscriptions the endpoints were last pruned for. */
  #prunedFor: SubscriptionSet | undefined;
  #subscriptions: SubscriptionStore | undefined;
  #server: SubscriptionServer | undefined;

  constructor(config: WebhookTargetConfig, stream: StreamConfig, logger: Logger, observer?: DeliveryObserver) {
    this.#config = config;
    this.#stream = stream;
    this.#logger = logger;
    this.#renderer = new WebhookRenderer({
      ...streamEncoderOptions(stream),
      payload: config.payload,
      subscriptions: { current: () => this.#store().current() },
    });
    const deadLetter = deadLetterSetup(config.deadLetter, stream, SETTINGS);
    this.#deadLetters = deadLetter.store;
    this.#delivery = httpReliableDelivery(config, deadLetter, { maxGroupItems: 1, maxGroupBytes: Number.MAX_SAFE_INTEGER }, { logger, itemName: 'webhook notification', settingsPath: SETTINGS, observer });
    this.#headers = { ...lowerCaseKeys(config.headers), 'content-type': CONTENT_TYPE };
  }

  /** Notifications set aside in the dead-letter store since start. */
  get deadLettered(): number {
    return this.#delivery.deadLettered;
  }

  /** The subscription API's base URL (`http://127.0.0.1:9900`); undefined when it is off or not open. */
  get subscriptionServerUrl(): string | undefined {
    return this.#server?.url;
  }

  async open(): Promise<void> {
    const connection = this.#config.subscriptionDatabase ?? { ...this.#stream.source.connection, applicationName: `pgcdc-${this.#stream.name}-webhooks` };
    this.#subscriptions = await SubscriptionStore.open({
      connection,
      pollIntervalMs: this.#config.subscriptionPollIntervalMs,
      onBackgroundError: (error) => this.#logger.warn({ code: error.code }, `webhook subscriptions: ${error.toLine()}`),
    });
    try {
      const server = this.#config.subscriptionServer;
      if (server !== undefined) {
        this.#server = await SubscriptionServer.start({ store: this.#subscriptions, host: server.host, port: server.port, readTimeoutMs: server.readTimeoutMs, logger: this.#logger });
        this.#logger.info(`webhook subscription API listening on ${this.#server.url}/webhooks/subscribe`);
      }
      await this.#deadLetters?.open();
    } catch (error) {
      await this.close().catch(() => undefined);
      throw error;
    }
    this.#logger.info({ subscriptions: this.#subscriptions.list().length }, 'webhook subscriptions loaded');
  }

  async write(batch: EventBatch): Promise<void> {
    this.#pruneEndpoints();
    const notifications = this.#renderer.render(batch.events);
    if (notifications.count === 0) return;
    await this.#delivery.deliver(notifications, this.#channel(notifications));
  }

  async close(): Promise<void> {
    await this.#server?.close();
    this.#server = undefined;
    await Promise.all([...this.#endpoints.values()].map((endpoint) => endpoint.close()));
    this.#endpoints.clear();
    await this.#subscriptions?.close();
    this.#subscriptions = undefined;
    await this.#deadLetters?.close();
  }

  #store(): SubscriptionStore {
    if (this.#subscriptions === undefined) throw new Error('the webhook target is used before open()');
    return this.#subscriptions;
  }

  #channel(notifications: WebhookNotifications): DeliveryChannel {
    const endpoints = notifications.urls.map((url) => this.#endpoint(url));
    return {
      send: async (group, signal) => {
        const index = group[0]!;
        try {
          await endpoints[notifications.urlIndex(index)]!.post(notifications.body(index), this.#headers, signal);
        } catch (error) {
          throw aboutTheSubscriber(error);
        }
      },
      describe: (index) => ({ id: notifications.id(index), event: notifications.body(index) }),
    };
  }

  #endpoint(url: string): HttpEndpoint {
    let endpoint = this.#endpoints.get(url);
    if (endpoint === undefined) {
      endpoint = new HttpEndpoint(endpointOptions(this.#config, url, 'the webhook subscriber', { url: SUBSCRIPTION_URL, caCertificate: `${SETTINGS}.http.caCertificate` }));
      this.#endpoints.set(url, endpoint);
    }
    return endpoint;
  }

  /** Closes the pools of URLs no longer subscribed (between writes: none is in use). */
  #pruneEndpoints(): void {
    const current = this.#store().current();
    if (current === this.#prunedFor) return;
    this.#prunedFor = current;
    const subscribed = new Set(current.subscriptions.map((subscription) => subscription.url));
    for (const [url, endpoint] of this.#endpoints) {
      if (subscribed.has(url)) continue;
      this.#endpoints.delete(url);
      void endpoint.close();
    }
  }
}

/**
 * A subscriber that cannot be reached fails its notifications, not the whole target: they are
 * retried, then dead-lettered like any other, and the other subscribers are still served.
 */
function aboutTheSubscriber(error: unknown): unknown {
  if (!(error instanceof DeliveryFailure) || error.scope === 'event') return error;
  return new DeliveryFailure(error.message, { retryable: error.retryable, scope: 'event', cause: error });
}
