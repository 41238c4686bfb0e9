/**
 * The RabbitMQ target's connection to the broker (amqplib): one connection and one confirm channel,
 * opened again after either is lost; the exchange (and queue) declared or checked on each new
 * channel; groups of messages published in order and settled once the broker confirmed each of
 * them (basic.ack), with returned (unroutable) messages, nacks, a closed channel and a confirm
 * timeout turned into DeliveryFailures (rabbitmq-failures).
 */
import amqp from 'amqplib';
import type { RabbitMQTargetConfig } from '../../config/rabbitmq-settings.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import { DeliveryFailure } from '../delivery/delivery-failure.js';
import { type BrokerName, brokerName, channelLost, connectFailure, publishFailure, topologyFailure } from './rabbitmq-failures.js';
import type { RabbitMQMessageBatch } from './rabbitmq-messages.js';

/** One confirm channel and what happened to it. */
interface ChannelState {
  readonly channel: amqp.ConfirmChannel;
  closed: boolean;
  /** Why the server closed it (a channel error with its reply code). */
  error: unknown;
  /** Message ids the broker returned (mandatory and routed to no queue), with their routing keys. */
  readonly returned: Map<string, string>;
  /** Resolves on the channel's next `drain` (or close), while its write buffer is full. */
  drained: Promise<void> | undefined;
}

export class RabbitMQPublisher {
  readonly #config: RabbitMQTargetConfig;
  readonly #logger: Logger;
  readonly #broker: BrokerName;
  readonly #user: string;
  readonly #connectionName: string;
  /** False for a check before start: what `declare` would create is left alone. */
  readonly #mayDeclare: boolean;
  #connection: amqp.ChannelModel | undefined;
  /** A login succeeded in this run (a later refusal is then retried: the broker may be booting). */
  #loggedIn = false;
  #connectionError: unknown;
  #state: ChannelState | undefined;
  #opening: Promise<ChannelState> | undefined;

  constructor(config: RabbitMQTargetConfig, connectionName: string, logger: Logger, mayDeclare = true) {
    this.#mayDeclare = mayDeclare;
    this.#config = config;
    this.#logger = logger;
    this.#broker = brokerName(config.url);
    this.#user = config.username ?? (decodeURIComponent(new URL(config.url).username) || 'guest');
    this.#connectionName = connectionName;
  }

  /** Connects, logs in, opens the confirm channel and declares or checks the exchange and queue. */
  async connect(): Promise<void> {
    try {
      await this.#openChannel();
    } catch (error) {
      throw asPgcdcError(error);
    }
  }

  /**
   * Publishes the messages `group` of `batch` in order; resolves once the broker confirmed every
   * one of them; throws a DeliveryFailure otherwise.
   */
  async publish(batch: RabbitMQMessageBatch, group: readonly number[]): Promise<void> {
    const state = await this.#openChannel();
    const { channel } = state;
    const exchange = this.#config.exchange.name;
    let largest = 0;
    for (let i = 0; i < group.length; i++) largest = Math.max(largest, batch.bytesOf(group[i]!));

    let pending = group.length;
    let firstError: unknown;
    let settle!: () => void;
    const confirmed = new Promise<void>((resolve) => (settle = resolve));
    const onConfirm = (error: unknown): void => {
      if (error != null && firstError === undefined) firstError = error;
      if (--pending === 0) settle();
    };
    for (let i = 0; i < group.length; i++) {
      const index = group[i]!;
      let flowing: boolean;
      try {
        if (state.closed) throw new Error('channel closed');
        flowing = channel.publish(exchange, batch.routingKey(index), batch.body(index), batch.options(index), onConfirm);
      } catch (error) {
        // Not published (the channel is closed, or a header table too large for amqplib).
        firstError ??= error;
        pending -= group.length - i;
        if (pending === 0) settle();
        break;
      }
      if (!flowing) await this.#drained(state);
    }
    await this.#confirmedWithin(confirmed, state);
    if (firstError !== undefined) throw this.#publishFailure(state, firstError, largest);
    if (state.returned.size > 0) {
      for (const index of group) {
        const id = batch.messageId(index);
        const routingKey = state.returned.get(id);
        if (routingKey === undefined) continue;
        state.returned.delete(id);
        throw new DeliveryFailure(`no queue is bound to exchange "${exchange}" for routing key "${routingKey}" (the broker returned the message)`, { retryable: false, scope: 'event' });
      }
    }
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    this.#state = undefined;
    await connection?.close().catch(() => undefined);
  }

  /** Waits for `confirmed`, at most the confirm timeout; a timeout gives the channel up (late confirms are ignored). */
  async #confirmedWithin(confirmed: Promise<void>, state: ChannelState): Promise<void> {
    const timeoutMs = this.#config.confirmTimeoutMs;
    if (timeoutMs <= 0) return confirmed;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
    const late = await Promise.race([confirmed.then(() => false), timedOut]);
    clearTimeout(timer);
    if (!late) return;
    this.#discard(state);
    throw new DeliveryFailure(`RabbitMQ at ${this.#broker.address} did not confirm the messages within ${timeoutMs / 1000} s`, {
      retryable: true,
      scope: 'target',
      hint: 'check the broker (a memory or disk alarm blocks publishers), or raise spec.target.rabbitmq.confirmTimeout',
    });
  }

  #publishFailure(state: ChannelState, error: unknown, largest: number): DeliveryFailure {
    if (error instanceof Error && error.message === 'message nacked') {
      return new DeliveryFailure('the broker refused the message (basic.nack: a queue over its length limit with overflow reject-publish, or an internal error)', {
        retryable: true,
        scope: 'event',
      });
    }
    if (error instanceof RangeError) return new DeliveryFailure(`the message cannot be encoded: ${error.message}`, { retryable: false, scope: 'event', cause: error });
    this.#discard(state);
    if (state.error !== undefined) return publishFailure(state.error, largest, this.#config.exchange.name);
    return channelLost(this.#connectionError ?? error);
  }

  /** Gives `state`'s channel up: the next publish opens another. */
  #discard(state: ChannelState): void {
    if (state.closed) return;
    state.closed = true;
    state.channel.close().catch(() => undefined);
  }

  #drained(state: ChannelState): Promise<void> {
    state.drained ??= new Promise<void>((resolve) => {
      const done = (): void => {
        state.channel.off('drain', done);
        state.channel.off('close', done);
        state.drained = undefined;
        resolve();
      };
      state.channel.on('drain', done);
      state.channel.on('close', done);
    });
    return state.drained;
  }

  /** The open channel, or a new one (on a new connection when the last one was lost). */
  #openChannel(): Promise<ChannelState> {
    if (this.#state !== undefined && !this.#state.closed) return Promise.resolve(this.#state);
    this.#opening ??= this.#newChannel().finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  async #newChannel(): Promise<ChannelState> {
    const connection = this.#connection ?? (await this.#connect());
    let channel: amqp.ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch (error) {
      this.#dropConnection(connection);
      throw channelLost(this.#connectionError ?? error);
    }
    const state: ChannelState = { channel, closed: false, error: undefined, returned: new Map(), drained: undefined };
    channel.on('error', (error: unknown) => {
      state.error = error;
      this.#logger.warn({ err: error }, 'RabbitMQ closed the channel');
    });
    channel.on('close', () => {
      state.closed = true;
    });
    channel.on('return', (message: amqp.Message) => {
      state.returned.set(String(message.properties.messageId), message.fields.routingKey);
    });
    await this.#declare(channel, state);
    this.#state = state;
    return state;
  }

  /** Declares (or checks) the exchange and the queue on a new channel. */
  async #declare(channel: amqp.ConfirmChannel, state: ChannelState): Promise<void> {
    const { exchange, queue } = this.#config;
    let what = `exchange "${exchange.name}" in vhost "${this.#broker.vhost}"`;
    try {
      if (exchange.name !== '') {
        if (!exchange.declare) await channel.checkExchange(exchange.name);
        else if (this.#mayDeclare) await channel.assertExchange(exchange.name, exchange.type, { durable: exchange.durable });
      }
      if (queue !== undefined && (this.#mayDeclare || !queue.declare)) {
        what = `queue "${queue.name}" in vhost "${this.#broker.vhost}"`;
        if (queue.declare) await channel.assertQueue(queue.name, { durable: queue.durable, arguments: queue.arguments });
        else await channel.checkQueue(queue.name);
        what = `binding of queue "${queue.name}" to exchange "${exchange.name}"`;
        if (this.#mayDeclare) await channel.bindQueue(queue.name, exchange.name, queue.bindingKey);
      }
    } catch (error) {
      state.closed = true;
      channel.close().catch(() => undefined);
      throw topologyFailure(state.error ?? error, what, exchange.declare);
    }
  }

  async #connect(): Promise<amqp.ChannelModel> {
    const config = this.#config;
    const url = new URL(config.url);
    // PLAIN credentials given as text (amqplib would decode the URL's with `unescape`, which
    // garbles UTF-8), the URL's percent-decoded; RabbitMQ's default guest user when none.
    const username = config.username ?? (decodeURIComponent(url.username) || 'guest');
    const password = config.password ?? (url.username === '' && url.password === '' ? 'guest' : decodeURIComponent(url.password));
    url.username = '';
    url.password = '';
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(config.heartbeatSeconds));
    const tls = config.tls;
    const socketOptions: amqp.SocketOptions = {
      noDelay: true,
      credentials: amqp.credentials.plain(username, password),
      clientProperties: { connection_name: this.#connectionName, product: 'pgcdc' },
      ...(config.connectTimeoutMs > 0 ? { timeout: config.connectTimeoutMs } : {}),
      ...(tls?.caCertificate === undefined ? {} : { ca: [tls.caCertificate] }),
      ...(tls?.certificate === undefined ? {} : { cert: tls.certificate, key: tls.key }),
      ...(tls?.skipHostnameVerification ? { checkServerIdentity: () => undefined } : {}),
    };
    let connection: amqp.ChannelModel;
    try {
      connection = await amqp.connect(url.toString(), socketOptions);
    } catch (error) {
      throw connectFailure(error, this.#broker, this.#user, this.#loggedIn);
    }
    this.#loggedIn = true;
    this.#connectionError = undefined;
    connection.on('error', (error: unknown) => {
      this.#connectionError = error;
      this.#logger.warn({ err: error, broker: this.#broker.address }, 'RabbitMQ connection failed');
    });
    connection.on('close', () => this.#dropConnection(connection));
    connection.on('blocked', (reason: string) => this.#logger.warn({ broker: this.#broker.address, reason }, 'RabbitMQ blocks publishing (resource alarm)'));
    connection.on('unblocked', () => this.#logger.info({ broker: this.#broker.address }, 'RabbitMQ publishing unblocked'));
    this.#connection = connection;
    return connection;
  }

  #dropConnection(connection: amqp.ChannelModel): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    if (this.#state !== undefined) this.#state.closed = true;
    connection.close().catch(() => undefined);
  }
}

/** A failure of connecting as the one-line PgcdcError that stops (or restarts) the stream. */
export function asPgcdcError(error: unknown): PgcdcError {
  if (error instanceof PgcdcError) return error;
  if (error instanceof DeliveryFailure) {
    return new PgcdcError(error.retryable ? 'TARGET_UNREACHABLE' : 'TARGET_FAILED', error.message, { cause: error, ...(error.hint === undefined ? {} : { hint: error.hint }) });
  }
  return new PgcdcError('TARGET_FAILED', `RabbitMQ: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
