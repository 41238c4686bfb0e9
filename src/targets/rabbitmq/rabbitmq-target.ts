/**
 * The `RabbitMQ` target: each batch becomes Debezium's records (`records/change-records`, routing
 * keys from the template), then AMQP messages (`rabbitmq-messages`) published to the exchange with
 * publisher confirms (`rabbitmq-publisher`), through the generic delivery layer: each row key on
 * one lane (its changes in order), lanes in parallel, retries with backoff, dead letters or stop. A
 * write resolves only once the broker confirmed every message of the batch (or its dead letter is
 * durable), so the source is never acknowledged past what RabbitMQ holds. At least once: a
 * retried group may publish a message twice, with the same message-id.
 */
import type { RabbitMQTargetConfig } from '../../config/rabbitmq-settings.js';
import type { StreamConfig } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { streamEncoderOptions } from '../../events/debezium-json-encoder.js';
import type { EventBatch } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import { deadLetterSetup } from '../delivery/dead-letter-setup.js';
import type { DeadLetterStore } from '../delivery/dead-letter-store.js';
import { type DeliveryChannel, type DeliveryObserver, ReliableDelivery } from '../delivery/reliable-delivery.js';
import { sgStreamRetryPolicy } from '../delivery/retry-backoff.js';
import { ChangeRecordBuilder } from '../records/change-records.js';
import { destinationTemplate } from '../records/destination-template.js';
import { RecordMetadataReader } from '../records/record-metadata.js';
import type { Target } from '../target.js';
import { RabbitMQMessageBuilder, type RabbitMQMessageBatch } from './rabbitmq-messages.js';
import { RabbitMQPublisher } from './rabbitmq-publisher.js';

const SETTINGS = 'spec.target.rabbitmq';

export class RabbitMQTarget implements Target {
  readonly #records: ChangeRecordBuilder;
  readonly #messages: RabbitMQMessageBuilder;
  readonly #publisher: RabbitMQPublisher;
  readonly #delivery: ReliableDelivery;
  readonly #store: DeadLetterStore | undefined;
  /** The batch's record values (message bodies are slices of it): kept until the batch is confirmed. */
  readonly #writer = new JsonWriter();

  constructor(config: RabbitMQTargetConfig, stream: StreamConfig, logger: Logger, observer?: DeliveryObserver) {
    this.#records = new ChangeRecordBuilder(config, streamEncoderOptions(stream), stream.source.tombstonesOnDelete, destinationTemplate(config.routingKey, config.topicPrefix));
    this.#messages = new RabbitMQMessageBuilder(config, stream.name, new RecordMetadataReader());
    this.#publisher = new RabbitMQPublisher(config, `pgcdc-${stream.name}`, logger);
    const deadLetter = deadLetterSetup(config.deadLetter, stream, SETTINGS);
    this.#store = deadLetter.store;
    this.#delivery = new ReliableDelivery({
      limits: { concurrency: config.concurrency, maxGroupItems: Math.max(1, Math.ceil(config.maxUnconfirmed / config.concurrency)), maxGroupBytes: Number.MAX_SAFE_INTEGER },
      retry: sgStreamRetryPolicy(config.retryLimit, config.retryBackoffDelaySeconds),
      maxItemBytes: config.maxMessageBytes,
      deadLetter: deadLetter.handling,
      logger,
      itemName: 'RabbitMQ message',
      policySetting: `${SETTINGS}.deadLetter.policy`,
      observer,
    });
  }

  /** Messages set aside in the dead-letter store since start. */
  get deadLettered(): number {
    return this.#delivery.deadLettered;
  }

  async open(): Promise<void> {
    await this.#publisher.connect();
    await this.#store?.open();
  }

  async write(batch: EventBatch): Promise<void> {
    try {
      const records = this.#records.build(batch.events, this.#writer);
      if (records.length === 0) return;
      const messages = this.#messages.build(records);
      await this.#delivery.deliver(messages, this.#channel(messages));
    } finally {
      this.#writer.recycle();
    }
  }

  async close(): Promise<void> {
    await this.#publisher.close();
    await this.#store?.close();
  }

  #channel(batch: RabbitMQMessageBatch): DeliveryChannel {
    return {
      send: (group) => this.#publisher.publish(batch, group),
      describe: (index) => ({ id: batch.messageId(index), event: batch.body(index) }),
    };
  }
}

/** Checks, before the source is touched, that the broker answers, accepts the login and has (or takes) the exchange and queue. */
export async function checkRabbitMQTarget(config: RabbitMQTargetConfig, logger: Logger): Promise<void> {
  const publisher = new RabbitMQPublisher(config, 'pgcdc-check', logger, false);
  try {
    await publisher.connect();
  } finally {
    await publisher.close();
  }
}
