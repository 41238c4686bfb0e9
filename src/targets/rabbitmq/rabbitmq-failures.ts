/**
 * What went wrong talking to RabbitMQ, as the delivery layer needs it: amqplib's errors (socket
 * errors, refused logins, channels closed by the server with a reply code) turned into one
 * DeliveryFailure line saying what happened and how to fix it, retryable or not, about the target
 * or about one message.
 */
import { DeliveryFailure } from '../delivery/delivery-failure.js';

const SETTINGS = 'spec.target.rabbitmq';
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/** Where the broker is, for messages (`host:port` and vhost, no credentials). */
export interface BrokerName {
  readonly address: string;
  readonly vhost: string;
}

export function brokerName(url: string): BrokerName {
  const parsed = new URL(url);
  const port = parsed.port === '' ? (parsed.protocol === 'amqps:' ? '5671' : '5672') : parsed.port;
  const vhost = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
  return { address: `${parsed.hostname}:${port}`, vhost };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The failure of connecting (and logging in, opening the confirm channel). A login refused by a
 * broker that accepted it earlier in this run is retried: a broker restarting after a crash refuses
 * logins for a moment while it boots; a login refused from the start is a configuration error.
 */
export function connectFailure(error: unknown, broker: BrokerName, user: string, loggedInBefore: boolean): DeliveryFailure {
  const text = messageOf(error);
  const code = (error as { code?: unknown }).code;
  if (/ACCESS.REFUSED|403/.test(text)) {
    return new DeliveryFailure(`RabbitMQ at ${broker.address} refused the login of user "${user}" (ACCESS_REFUSED${loggedInBefore ? ', after accepting it earlier in this run' : ''})`, {
      retryable: loggedInBefore,
      scope: 'target',
      hint: `check the user and password (${SETTINGS}.username/password, or the URL's) and the user's permissions on vhost "${broker.vhost}"`,
      cause: error,
    });
  }
  if (/NOT.ALLOWED|530/.test(text)) {
    return new DeliveryFailure(`RabbitMQ at ${broker.address} does not let user "${user}" open vhost "${broker.vhost}" (${text})`, {
      retryable: false,
      scope: 'target',
      hint: `create the vhost or grant the user access to it (rabbitmqctl set_permissions -p ${broker.vhost} ${user} ".*" ".*" ".*"), or fix the vhost in ${SETTINGS}.url`,
      cause: error,
    });
  }
  if (typeof code === 'string' && (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('DEPTH_ZERO') || code.startsWith('SELF_SIGNED') || code.startsWith('UNABLE_TO'))) {
    return new DeliveryFailure(`the TLS connection to RabbitMQ at ${broker.address} failed: ${text}`, {
      retryable: false,
      scope: 'target',
      hint: `give the broker's CA in ${SETTINGS}.tls.caCertificate (or set tls.skipHostnameVerification for a certificate naming another host)`,
      cause: error,
    });
  }
  const network = typeof code === 'string' && NETWORK_CODES.has(code);
  return new DeliveryFailure(`RabbitMQ at ${broker.address} cannot be reached (${network ? code : text})`, {
    retryable: true,
    scope: 'target',
    hint: `check ${SETTINGS}.url and that the broker runs and listens there`,
    cause: error,
  });
}

/** The failure of declaring or checking the exchange and queue (a channel closed by the server). */
export function topologyFailure(error: unknown, what: string, declare: boolean): DeliveryFailure {
  const text = messageOf(error);
  const code = (error as { code?: unknown }).code;
  if (code === 404) {
    return new DeliveryFailure(`RabbitMQ ${what} does not exist`, {
      retryable: false,
      scope: 'target',
      hint: declare ? 'check the name' : `create it, or set ${SETTINGS}.exchange.declare: true to declare it at start`,
      cause: error,
    });
  }
  if (code === 406) {
    return new DeliveryFailure(`RabbitMQ ${what} exists with other settings (${serverText(text)})`, {
      retryable: false,
      scope: 'target',
      hint: `make ${SETTINGS} declare it as it exists (type, durable, arguments), or delete it`,
      cause: error,
    });
  }
  if (code === 403) {
    return new DeliveryFailure(`RabbitMQ refused access to ${what} (${serverText(text)})`, {
      retryable: false,
      scope: 'target',
      hint: "grant the user configure and write permissions on the vhost (rabbitmqctl set_permissions)",
      cause: error,
    });
  }
  return channelLost(error);
}

/** A channel or connection lost while messages were unconfirmed: retried on a new one. */
export function channelLost(error: unknown): DeliveryFailure {
  return new DeliveryFailure(`the RabbitMQ channel closed before the broker confirmed every message (${serverText(messageOf(error))})`, {
    retryable: true,
    scope: 'target',
    hint: 'check the broker (its log says why it closed the channel or the connection)',
    cause: error,
  });
}

/**
 * The failure of a group whose channel the server closed with `error`: a message over the
 * broker's size limit fails on its own (not retried), a missing exchange or a refused write stops
 * the stream, anything else is retried.
 */
export function publishFailure(error: unknown, largestBody: number, exchange: string): DeliveryFailure {
  const text = messageOf(error);
  const code = (error as { code?: unknown }).code;
  const size = /message size (\d+) is larger than (?:configured )?max size (\d+)/.exec(text);
  if (code === 406 && size) {
    const max = Number(size[2]);
    if (largestBody > max) {
      return new DeliveryFailure(`the message is ${largestBody} bytes, more than the broker's max_message_size of ${max}`, {
        retryable: false,
        scope: 'event',
        cause: error,
        hint: "raise the broker's max_message_size (rabbitmq.conf) and spec.target.rabbitmq.maxMessageBytes",
      });
    }
    return channelLost(error); // another lane's message closed the channel
  }
  if (code === 404) {
    return new DeliveryFailure(`RabbitMQ exchange "${exchange}" does not exist (${serverText(text)})`, {
      retryable: false,
      scope: 'target',
      hint: `create it, or set ${SETTINGS}.exchange.declare: true`,
      cause: error,
    });
  }
  if (code === 403) {
    return new DeliveryFailure(`RabbitMQ refused to let the user publish to exchange "${exchange}" (${serverText(text)})`, {
      retryable: false,
      scope: 'target',
      hint: 'grant the user write permission on the exchange (rabbitmqctl set_permissions)',
      cause: error,
    });
  }
  return channelLost(error);
}

/** The server's own words out of amqplib's `Channel closed by server: 404 (NOT-FOUND) with message "…"`. */
function serverText(text: string): string {
  const quoted = /with message "(.*)"/.exec(text);
  return quoted ? quoted[1]! : text;
}
