/**
 * What a target that POSTs events over HTTP builds from its HttpDeliveryConfig (CloudEvent,
 * Webhook): the HttpEndpoint options of one URL, and the ReliableDelivery with its retry policy and
 * dead-letter handling (from dead-letter-setup).
 */
import type { HttpDeliveryConfig } from '../../config/stream-config.js';
import type { Logger } from '../../logging/logger.js';
import type { DeadLetterSetup } from '../delivery/dead-letter-setup.js';
import type { DispatchLimits } from '../delivery/ordered-dispatch.js';
import { type DeliveryObserver, ReliableDelivery } from '../delivery/reliable-delivery.js';
import { sgStreamRetryPolicy } from '../delivery/retry-backoff.js';
import type { HttpEndpointOptions } from './http-endpoint.js';

/** The HttpEndpoint options of `url`: `name` says what it is, `settings` where its URL and CA are set. */
export function endpointOptions(config: HttpDeliveryConfig, url: string, name: string, settings: HttpEndpointOptions['settings']): HttpEndpointOptions {
  return {
    url,
    connectTimeoutMs: config.connectTimeoutMs,
    readTimeoutMs: config.readTimeoutMs,
    connections: config.concurrency,
    successStatus: config.successStatus,
    retryClientErrors: config.retryClientErrors,
    caCertificate: config.caCertificate,
    skipHostnameVerification: config.skipHostnameVerification,
    name,
    settings,
  };
}

/** The reliable delivery of the settings: `deadLetter` from deadLetterSetup, `itemName` what an event is called in messages. */
export function httpReliableDelivery(
  config: HttpDeliveryConfig,
  deadLetter: DeadLetterSetup,
  grouping: Pick<DispatchLimits, 'maxGroupItems' | 'maxGroupBytes'>,
  context: { readonly logger: Logger; readonly itemName: string; readonly settingsPath: string; readonly observer?: DeliveryObserver | undefined },
): ReliableDelivery {
  return new ReliableDelivery({
    limits: { concurrency: config.concurrency, ...grouping },
    retry: sgStreamRetryPolicy(config.retryLimit, config.retryBackoffDelaySeconds),
    maxItemBytes: config.maxEventBytes,
    deadLetter: deadLetter.handling,
    logger: context.logger,
    itemName: context.itemName,
    policySetting: `${context.settingsPath}.deadLetter.policy`,
    observer: context.observer,
  });
}

/** Header names in lower case (as HTTP/1.1 senders and the content-type override expect). */
export function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
