/**
 * Sends one dead letter again the way the stream's target sends events: the same endpoint
 * options (timeouts, TLS, success statuses), headers, content mode and retry policy for
 * CloudEvent and Webhook targets, the same script in its sandbox for PgLambda. The brokers'
 * letters keep the body only (not the subject, routing key, stream key or headers), so they
 * cannot be re-sent faithfully: a clear error says so.
 */
import type { CloudEventTargetConfig, PgLambdaTargetConfig, StreamConfig, TargetConfig, TargetType, WebhookTargetConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { percentEncodeHeaderValue } from '../targets/cloudevent/cloudevent-target.js';
import { DeliveryFailure } from '../targets/delivery/delivery-failure.js';
import { sendWithRetries, sgStreamRetryPolicy } from '../targets/delivery/retry-backoff.js';
import { endpointOptions, lowerCaseKeys } from '../targets/http/http-delivery-setup.js';
import { HttpEndpoint } from '../targets/http/http-endpoint.js';
import type { StoredDeadLetter } from './dead-letter-records.js';

/** Content types as the CloudEvent and Webhook targets send them. */
const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';
const WEBHOOK_CONTENT_TYPE = 'application/json; charset=utf-8';
/** Retries of a re-send when the target retries for ever: a request must end. */
const UNLIMITED_RETRIES_CAP = 3;

type Resend<T extends TargetType> = (target: Extract<TargetConfig, { type: T }>, letter: StoredDeadLetter, logger: Logger) => Promise<void>;

const NO_DEAD_LETTERS = (type: TargetType) => () => Promise.reject(new PgcdcError('CONFIG_INVALID', `a ${type} target sets no event aside, so it has no dead letters to re-send`));
const BODY_ONLY = (type: TargetType, destination: string) => () =>
  Promise.reject(
    new PgcdcError('CONFIG_INVALID', `re-sending a dead letter of a ${type} target is not supported: the letter keeps the message body but not its ${destination}`, {
      hint: 'read the letter (GET …/dead-letters) and publish it yourself; the stream sets aside only messages the server refused for good (too large)',
    }),
  );

const RESENDERS: { readonly [T in TargetType]: Resend<T> } = {
  CloudEvent: resendCloudEvent,
  Webhook: resendWebhook,
  PgLambda: resendPgLambda,
  NatsJetStream: BODY_ONLY('NatsJetStream', 'subject and headers'),
  RedisStreams: BODY_ONLY('RedisStreams', 'stream key and fields'),
  RabbitMQ: BODY_ONLY('RabbitMQ', 'routing key and headers'),
  Stdout: NO_DEAD_LETTERS('Stdout'),
  File: NO_DEAD_LETTERS('File'),
  Postgres: NO_DEAD_LETTERS('Postgres'),
  Kafka: NO_DEAD_LETTERS('Kafka'),
};

/** Sends `letter` again to the stream's target; rejects with a PgcdcError when it still fails. */
export function resendLetter(stream: StreamConfig, letter: StoredDeadLetter, logger: Logger): Promise<void> {
  const resend = RESENDERS[stream.target.type] as Resend<TargetType>;
  return resend(stream.target, letter, logger);
}

async function resendCloudEvent(target: CloudEventTargetConfig, letter: StoredDeadLetter, logger: Logger): Promise<void> {
  const headers = lowerCaseKeys(target.headers);
  let body = letter.event;
  if (target.mode === 'structured') headers['content-type'] = STRUCTURED_CONTENT_TYPE;
  else if (target.mode === 'batched') {
    headers['content-type'] = BATCH_CONTENT_TYPE;
    body = Buffer.concat([Buffer.from('['), letter.event, Buffer.from(']')]);
  } else {
    const binary = binaryFromStructured(letter);
    Object.assign(headers, binary.headers);
    body = binary.data;
  }
  const options = endpointOptions(target, target.url, 'the CloudEvent receiver', { url: 'spec.target.cloudEvent.http.url', caCertificate: 'spec.target.cloudEvent.http.caCertificate' });
  await postWithRetries(new HttpEndpoint(options), body, headers, target, letter, 'CloudEvent', logger);
}

async function resendWebhook(target: WebhookTargetConfig, letter: StoredDeadLetter, logger: Logger): Promise<void> {
  // A webhook letter's id is `<change id>@<subscriber url>`.
  const url = /@(https?:\/\/.*)$/.exec(letter.id)?.[1];
  if (url === undefined) throw new PgcdcError('CONFIG_INVALID', `dead letter ${letter.id} does not name the webhook subscriber it was for`, { hint: 'it was not written by a Webhook target' });
  const options = endpointOptions(target, url, 'the webhook subscriber', { url: "the subscription's url", caCertificate: 'spec.target.webhook.http.caCertificate' });
  await postWithRetries(new HttpEndpoint(options), letter.event, { ...lowerCaseKeys(target.headers), 'content-type': WEBHOOK_CONTENT_TYPE }, target, letter, 'webhook notification', logger);
}

async function resendPgLambda(target: PgLambdaTargetConfig, letter: StoredDeadLetter, logger: Logger): Promise<void> {
  const { openSandbox } = await import('../targets/function/pglambda-target.js');
  const { outcomeError } = await import('../targets/function/script-outcome.js');
  const sandbox = openSandbox(target, (level, message) => logger[level === 'log' ? 'info' : level]({ script: 'pgLambda', id: letter.id }, message));
  try {
    await withRetries(target, letter, 'PgLambda event', logger, async () => {
      const error = outcomeError(await sandbox.invoke(letter.event.toString('utf8')));
      if (error !== undefined) throw new DeliveryFailure(error.message, { retryable: true, scope: 'event', cause: error, ...(error.hint === undefined ? {} : { hint: error.hint }) });
    });
  } finally {
    sandbox.close();
  }
}

async function postWithRetries(
  endpoint: HttpEndpoint,
  body: Buffer,
  headers: Readonly<Record<string, string>>,
  target: CloudEventTargetConfig | WebhookTargetConfig,
  letter: StoredDeadLetter,
  itemName: string,
  logger: Logger,
): Promise<void> {
  try {
    await withRetries(target, letter, itemName, logger, (signal) => endpoint.post(body, headers, signal));
  } finally {
    await endpoint.close();
  }
}

/** Sends with the target's retry policy (bounded when it retries for ever); a final failure is a PgcdcError. */
async function withRetries(
  target: { readonly retryLimit: number | undefined; readonly retryBackoffDelaySeconds: number },
  letter: StoredDeadLetter,
  itemName: string,
  logger: Logger,
  send: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const signal = new AbortController().signal;
  const policy = sgStreamRetryPolicy(target.retryLimit ?? UNLIMITED_RETRIES_CAP, target.retryBackoffDelaySeconds);
  const outcome = await sendWithRetries(() => send(signal), policy, signal, (failure, attempt, delayMs) =>
    logger.warn({ id: letter.id, attempt, retryInMs: Math.round(delayMs), error: failure.message }, `re-sent ${itemName} not delivered; retrying`),
  );
  if (outcome.delivered) return;
  const { failure, attempts } = outcome;
  throw new PgcdcError(failure.retryable || failure.scope === 'target' ? 'TARGET_UNREACHABLE' : 'TARGET_FAILED', `re-sending dead letter ${letter.id} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${failure.message}`, {
    cause: failure,
    hint: failure.hint ?? 'fix the receiver, then re-send it again; the letter stays in the store',
  });
}

/**
 * A binary-mode letter holds the whole CloudEvent (`{<attributes>,"data":<data>}`, as the target
 * writes it): the attributes become `ce-` headers again and the data, cut out as stored, the body.
 */
function binaryFromStructured(letter: StoredDeadLetter): { headers: Record<string, string>; data: Buffer } {
  const parsed = JSON.parse(letter.event.toString('utf8')) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  const attributes: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === 'data') continue;
    attributes.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
    if (name === 'datacontenttype') headers['content-type'] = String(value);
    else headers[`ce-${name}`] = percentEncodeHeaderValue(String(value));
  }
  const head = Buffer.from(`{${attributes.join(',')},"data":`, 'utf8');
  const stored = letter.event.subarray(0, head.length).equals(head) && letter.event[letter.event.length - 1] === 0x7d;
  const data = stored ? letter.event.subarray(head.length, letter.event.length - 1) : Buffer.from(JSON.stringify(parsed.data), 'utf8');
  return { headers, data };
}
