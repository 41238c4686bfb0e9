/**
 * The `Webhook` target's settings (`spec.target.webhook`), after pgstream's webhook notifier: the
 * subscription server (pgstream's `/webhooks/subscribe` API), where subscriptions are stored, the
 * request body, and the HTTP delivery settings the CloudEvent target has too (timeouts, retries,
 * concurrency, success statuses, dead letters); and how valid settings become a WebhookTargetConfig.
 */
import { z } from 'zod';
import { durationTextSchema, listenAddressSchema, parseDurationMs, parseListenAddress } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { connectionFromUrl, connectionUrlSchema } from './connection-url-setting.js';
import { deadLetterSchema } from './dead-letter-settings.js';
import { buildHttpDelivery, httpDeliveryShape, maxEventBytesSchema } from './http-delivery-settings.js';
import { WEBHOOK_PAYLOADS, type WebhookTargetConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

const subscriptionServerSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve the subscription API; `false` when subscriptions are managed with SQL in `pgcdc.webhook_subscriptions` only.'),
    listenAddress: listenAddressSchema
      .default('127.0.0.1:9900')
      .describe('Where the API listens (it has no authentication: keep it on the loopback or a private network); `:9900` listens on every interface.'),
    readTimeout: durationTextSchema.default('5s').describe('Longest time to receive a whole subscription request.'),
  })
  .describe(
    'The subscription API (pgstream\'s): `POST /webhooks/subscribe` and `POST /webhooks/unsubscribe` with `{"url", "schema", "table", "event_types"}`, `GET /webhooks/subscriptions`.',
  );

const subscriptionStoreSchema = z
  .strictObject({
    url: connectionUrlSchema
      .optional()
      .describe('The PostgreSQL database holding `pgcdc.webhook_subscriptions` (created if missing).')
      .meta({ defaultText: 'the source database' }),
    pollInterval: durationTextSchema
      .default('30s')
      .describe('How often subscriptions are read again when no change was notified (changes are normally seen at once, through LISTEN/NOTIFY).'),
  })
  .describe('Where the subscriptions are stored.');

/** Shortest fallback reload interval (each reload is a query). */
const MIN_POLL_INTERVAL_MS = 1000;

/** `spec.target.webhook`. */
export const webhookTargetSettingsSchema = z
  .strictObject({
    payload: z
      .enum(WEBHOOK_PAYLOADS)
      .default('pgstream')
      .describe('Request body: `pgstream` wraps the Debezium change event as pgstream does its events, `{"Data": <event>}`; `debezium` sends the change event alone.'),
    subscriptionServer: subscriptionServerSchema.default({ enabled: true, listenAddress: '127.0.0.1:9900', readTimeout: '5s' }).meta({ defaultText: 'the defaults below' }),
    subscriptionStore: subscriptionStoreSchema.default({ pollInterval: '30s' }).meta({ defaultText: 'the defaults below' }),
    http: z
      .strictObject(httpDeliveryShape)
      .default({ retryBackoffDelay: 60, successStatus: '2xx', retryClientErrors: false, concurrency: 8 })
      .meta({ defaultText: 'the defaults below' })
      .describe("How notifications are POSTed to the subscribers' URLs: one event per request, in order per subscriber and row."),
    maxEventBytes: maxEventBytesSchema,
    deadLetter: deadLetterSchema,
  })
  .describe(
    "Settings of the `Webhook` target: each change POSTed to the URLs subscribed to its table and operation (pgstream's webhook notifier), subscriptions kept in `pgcdc.webhook_subscriptions`.",
  );

export type WebhookTargetSettings = z.output<typeof webhookTargetSettingsSchema>;

/** The WebhookTargetConfig of valid settings found at `at`, or undefined after adding problems there. */
export async function buildWebhookTarget(
  settings: WebhookTargetSettings,
  at: ConfigPath,
  context: TargetSettingsContext,
  problems: ConfigProblems,
): Promise<WebhookTargetConfig | undefined> {
  const { subscriptionServer: server, subscriptionStore: store } = settings;
  const [delivery, subscriptionDatabase] = await Promise.all([
    buildHttpDelivery(settings, { http: [...at, 'http'], deadLetter: [...at, 'deadLetter'] }, context, problems),
    store.url === undefined
      ? undefined
      : connectionFromUrl(store.url, [...at, 'subscriptionStore', 'url'], `pgcdc-${context.streamName}-webhooks`, context.cwd, problems).then((connection) => connection ?? null),
  ]);
  const pollIntervalMs = parseDurationMs(store.pollInterval)!;
  if (pollIntervalMs < MIN_POLL_INTERVAL_MS) {
    problems.add([...at, 'subscriptionStore', 'pollInterval'], `is ${JSON.stringify(store.pollInterval)}; expected a duration of at least 1s, e.g. 30s`);
    return undefined;
  }
  if (delivery === undefined || subscriptionDatabase === null) return undefined;
  const address = parseListenAddress(server.listenAddress)!;
  return {
    type: 'Webhook',
    payload: settings.payload,
    subscriptionServer: server.enabled ? { host: address.host, port: address.port, readTimeoutMs: parseDurationMs(server.readTimeout)! } : undefined,
    subscriptionDatabase,
    subscriptionPollIntervalMs: pollIntervalMs,
    ...delivery,
  };
}
