/**
 * CloudEvent target: every change as a CloudEvent 1.0 POSTed to an HTTP receiver, in structured,
 * binary or batched content mode. Rendering is cloudevent-records; sending one request is
 * HttpEndpoint; order per row key, concurrency, retries and dead letters are the generic delivery
 * machinery (targets/delivery). A write resolves once every event of the batch was accepted by
 * the receiver or durably set aside, so the slot never advances past an undelivered event.
 */
import type { CloudEventTargetConfig, StreamConfig } from '../../config/stream-config.js';
import type { EventBatch } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import { deadLetterSetup } from '../delivery/dead-letter-setup.js';
import type { DeadLetterStore } from '../delivery/dead-letter-store.js';
import type { DeliveryChannel, DeliveryObserver, ReliableDelivery } from '../delivery/reliable-delivery.js';
import { HttpEndpoint, type HttpEndpointOptions } from '../http/http-endpoint.js';
import { endpointOptions, httpReliableDelivery, lowerCaseKeys } from '../http/http-delivery-setup.js';
import type { Target, TargetBatching } from '../target.js';
import { type CloudEventBatch, CloudEventRenderer } from './cloudevent-records.js';

const SETTINGS = 'spec.target.cloudEvent';
const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';
const OPEN_BRACKET = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE_BRACKET = Buffer.from(']');

/** Before the source is touched: the receiver can be reached (TCP, and TLS for https). */
export async function checkCloudEventReceiver(config: CloudEventTargetConfig): Promise<void> {
  const endpoint = new HttpEndpoint(receiverEndpointOptions(config));
  try {
    await endpoint.probe();
  } finally {
    await endpoint.close();
  }
}

function receiverEndpointOptions(config: CloudEventTargetConfig): HttpEndpointOptions {
  return endpointOptions(config, config.url, 'the CloudEvent receiver', { url: `${SETTINGS}.http.url`, caCertificate: `${SETTINGS}.http.caCertificate` });
}

export class CloudEventTarget implements Target {
  readonly batching: TargetBatching | undefined;
  readonly #config: CloudEventTargetConfig;
  readonly #renderer: CloudEventRenderer;
  readonly #endpoint: HttpEndpoint;
  readonly #store: DeadLetterStore | undefined;
  readonly #delivery: ReliableDelivery;
  /** Headers of every structured or batched request (user headers, then the content type). */
  readonly #headers: Readonly<Record<string, string>>;

  constructor(config: CloudEventTargetConfig, stream: StreamConfig, logger: Logger, observer?: DeliveryObserver) {
    this.#config = config;
    const batched = config.mode === 'batched';
    this.batching = batched && config.lingerMs > 0 ? { events: config.batchSize, lingerMs: config.lingerMs } : undefined;
    this.#renderer = CloudEventRenderer.forStream(stream, config.mode !== 'binary');
    this.#endpoint = new HttpEndpoint(receiverEndpointOptions(config));
    const deadLetter = deadLetterSetup(config.deadLetter, stream, SETTINGS);
    this.#store = deadLetter.store;
    this.#delivery = httpReliableDelivery(
      config,
      deadLetter,
      { maxGroupItems: batched ? config.batchSize : 1, maxGroupBytes: batched ? config.batchMaxBytes : Number.MAX_SAFE_INTEGER },
      { logger, itemName: 'CloudEvent', settingsPath: SETTINGS, observer },
    );
    this.#headers = { ...lowerCaseKeys(config.headers), 'content-type': batched ? BATCH_CONTENT_TYPE : STRUCTURED_CONTENT_TYPE };
  }

  /** Events set aside in the dead-letter store since start. */
  get deadLettered(): number {
    return this.#delivery.deadLettered;
  }

  async open(): Promise<void> {
    await this.#endpoint.probe();
    await this.#store?.open();
  }

  async write(batch: EventBatch): Promise<void> {
    const records = this.#renderer.render(batch.events);
    if (records.count === 0) return;
    await this.#delivery.deliver(records, this.#channel(records));
  }

  async close(): Promise<void> {
    await this.#endpoint.close();
    await this.#store?.close();
  }

  #channel(records: CloudEventBatch): DeliveryChannel {
    const endpoint = this.#endpoint;
    switch (this.#config.mode) {
      case 'structured':
        return {
          send: (group, signal) => endpoint.post(records.record(group[0]!), this.#headers, signal, records.destination(group[0]!)),
          describe: (index) => ({ id: records.id(index), event: records.record(index) }),
        };
      case 'batched':
        return {
          send: (group, signal) => postBatches(endpoint, records, group, this.#headers, signal),
          describe: (index) => ({ id: records.id(index), event: records.record(index) }),
        };
      case 'binary':
        return {
          send: (group, signal) => endpoint.post(records.record(group[0]!), this.#binaryHeaders(records, group[0]!), signal, records.destination(group[0]!)),
          describe: (index) => ({ id: records.id(index), event: structuredFromBinary(records, index) }),
        };
    }
  }

  /** Binary mode: every attribute as a `ce-` header (percent-encoded), `datacontenttype` as the content type. */
  #binaryHeaders(records: CloudEventBatch, index: number): Record<string, string> {
    const headers: Record<string, string> = lowerCaseKeys(this.#config.headers);
    for (const [name, value] of records.attributes(index)) {
      if (name === 'datacontenttype') headers['content-type'] = value;
      else headers[`ce-${name}`] = percentEncodeHeaderValue(value);
    }
    return headers;
  }
}

/**
 * Batched mode: one request per run of consecutive events with the same destination (a
 * transform's; usually the whole group, to the URL), in order.
 */
async function postBatches(endpoint: HttpEndpoint, records: CloudEventBatch, group: readonly number[], headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<void> {
  let start = 0;
  while (start < group.length) {
    const destination = records.destination(group[start]!);
    let end = start + 1;
    while (end < group.length && records.destination(group[end]!) === destination) end++;
    await endpoint.post(batchBody(records, start === 0 && end === group.length ? group : group.slice(start, end)), headers, signal, destination);
    start = end;
  }
}

/** `[e1,e2,…]`: the batch format's JSON array. */
function batchBody(records: CloudEventBatch, group: readonly number[]): Buffer {
  const parts: Buffer[] = [OPEN_BRACKET];
  for (let i = 0; i < group.length; i++) {
    if (i > 0) parts.push(COMMA);
    parts.push(records.record(group[i]!));
  }
  parts.push(CLOSE_BRACKET);
  return Buffer.concat(parts);
}

/** A binary-mode record as the whole CloudEvent (structured JSON), for a dead letter. */
function structuredFromBinary(records: CloudEventBatch, index: number): Buffer {
  const attributes = records.attributes(index).map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`);
  return Buffer.concat([Buffer.from(`{${attributes.join(',')},"data":`, 'utf8'), records.record(index), Buffer.from('}')]);
}

/**
 * A header value as the CloudEvents HTTP binding wants it: space, `"`, `%` and every byte outside
 * printable ASCII percent-encoded as UTF-8.
 */
export function percentEncodeHeaderValue(value: string): string {
  if (/^[\x21\x23-\x24\x26-\x7e]*$/.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
