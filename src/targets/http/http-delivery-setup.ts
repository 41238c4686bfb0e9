/**
 * What a target that POSTs events over HTTP builds from its HttpDeliveryConfig (CloudEvent,
 * Webhook): the HttpEndpoint options of one URL, the dead-letter store (a file, by default in the
 * state directory, or a table that must not be in the source database), and the ReliableDelivery
 * with its retry policy and dead-letter policy.
 */
import path from 'node:path';
import type { HttpDeliveryConfig, StreamConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import { DeadLetterFile } from '../delivery/dead-letter-file.js';
import type { DeadLetterStore } from '../delivery/dead-letter-store.js';
import { DeadLetterTable } from '../delivery/dead-letter-table.js';
import type { DispatchLimits } from '../delivery/ordered-dispatch.js';
import { ReliableDelivery } from '../delivery/reliable-delivery.js';
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

/** The dead-letter store of the settings (at `settingsPath`, for messages); undefined with the stop policy. */
export function deadLetterStore(config: HttpDeliveryConfig, stream: StreamConfig, settingsPath: string): DeadLetterStore | undefined {
  if (config.deadLetter.policy === 'stop') return undefined;
  const store = config.deadLetter.store;
  if (store.kind === 'file') return new DeadLetterFile(store.path ?? path.join(stream.stateDir, 'dead-letters.ndjson'));
  const source = stream.source.connection;
  if (store.connection.host === source.host && store.connection.port === source.port && store.connection.database === source.database) {
    throw new PgcdcError('CONFIG_INVALID', `${settingsPath}.deadLetter.table.url is the source database ${source.database}: dead letters written there would be captured and sent again`, {
      hint: 'put the dead-letter table in another database, or use deadLetter.file',
    });
  }
  return new DeadLetterTable({ connection: store.connection, table: store.table, stream: stream.name });
}

/** The reliable delivery of the settings: `store` from deadLetterStore, `itemName` what an event is called in messages. */
export function httpReliableDelivery(
  config: HttpDeliveryConfig,
  store: DeadLetterStore | undefined,
  grouping: Pick<DispatchLimits, 'maxGroupItems' | 'maxGroupBytes'>,
  context: { readonly logger: Logger; readonly itemName: string; readonly settingsPath: string },
): ReliableDelivery {
  return new ReliableDelivery({
    limits: { concurrency: config.concurrency, ...grouping },
    retry: sgStreamRetryPolicy(config.retryLimit, config.retryBackoffDelaySeconds),
    maxItemBytes: config.maxEventBytes,
    deadLetter: store ? { policy: 'dead-letter', store } : { policy: 'stop' },
    logger: context.logger,
    itemName: context.itemName,
    policySetting: `${context.settingsPath}.deadLetter.policy`,
  });
}

/** Header names in lower case (as HTTP/1.1 senders and the content-type override expect). */
export function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
