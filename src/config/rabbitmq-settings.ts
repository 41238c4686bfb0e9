/**
 * The `RabbitMQ` target's settings (`spec.target.rabbitmq`): the AMQP 0-9-1 URL and credentials
 * (secret references, TLS PEM files), the exchange and routing key template, an optional queue to
 * declare and bind, publishing (persistent, mandatory, confirms), retries and dead letters; and how
 * valid settings become a RabbitMQTargetConfig.
 */
import { DEFAULT_DESTINATION_TEMPLATE } from '../targets/records/destination-template.js';
import { z } from 'zod';
import { buildClientTls, type ClientTls, clientTlsSchema } from './client-tls-settings.js';
import { buildChangeRecordSettings, changeRecordSettingsShape, checkDestinationTemplate } from './change-record-settings.js';
import { durationTextSchema, parseDurationMs, secretKeyRefSchema } from './common-schemas.js';
import { type ConfigPath, type ConfigProblems, describeValue } from './config-issues.js';
import type { ConfigMapSources } from './config-map-resolver.js';
import { buildDeadLetter, deadLetterSchema } from './dead-letter-settings.js';
import { resolveSecret } from './secret-resolver.js';
import type { ChangeRecordSettings, DeadLetterConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

export const RABBITMQ_EXCHANGE_TYPES = ['topic', 'direct', 'fanout', 'headers'] as const;

/** Change events written to RabbitMQ. */
export interface RabbitMQTargetConfig extends ChangeRecordSettings {
  readonly type: 'RabbitMQ';
  /** amqp:// or amqps:// URL (its credentials replaced by `username`/`password` when given). */
  readonly url: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: ClientTls | undefined;
  readonly exchange: { readonly name: string; readonly type: (typeof RABBITMQ_EXCHANGE_TYPES)[number]; readonly durable: boolean; readonly declare: boolean };
  /** Routing key of a table's records, with `{prefix}`, `{schema}`, `{table}`. */
  readonly routingKey: string;
  readonly queue: { readonly name: string; readonly declare: boolean; readonly bindingKey: string; readonly durable: boolean; readonly arguments: Readonly<Record<string, string | number | boolean>> } | undefined;
  readonly persistent: boolean;
  readonly mandatory: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly connectTimeoutMs: number;
  readonly heartbeatSeconds: number;
  /** Longest wait for the broker's confirm of a published group. */
  readonly confirmTimeoutMs: number;
  /** Messages published and not yet confirmed, at most (over all lanes). */
  readonly maxUnconfirmed: number;
  /** Lanes publishing at the same time (each row key on one lane). */
  readonly concurrency: number;
  readonly maxMessageBytes: number;
  readonly retryLimit: number | undefined;
  readonly retryBackoffDelaySeconds: number;
  readonly deadLetter: DeadLetterConfig;
}

const tlsSchema = clientTlsSchema('TLS options of an `amqps://` URL.');

const exchangeSchema = z
  .strictObject({
    name: z.string().optional().describe('Exchange the messages are published to; `""` is the default exchange (the routing key names a queue).').meta({ defaultText: '<topicPrefix>' }),
    type: z.enum(RABBITMQ_EXCHANGE_TYPES).default('topic').describe('Type of a declared exchange.'),
    durable: z.boolean().default(true).describe('A declared exchange survives a broker restart.'),
    declare: z.boolean().default(false).describe('Declare the exchange at start (created when missing; an existing one must have the same type and durability); when false it must exist.'),
  })
  .describe('The exchange messages are published to.');

const queueSchema = z
  .strictObject({
    name: z.string().min(1).describe('Queue to declare and bind to the exchange.'),
    declare: z.boolean().default(true).describe('Declare the queue at start (created when missing).'),
    bindingKey: z.string().default('#').describe('Binding key of the queue on the exchange (`#`: every message of a topic exchange).'),
    durable: z.boolean().default(true).describe('A declared queue survives a broker restart (needed for persistent messages to survive it).'),
    arguments: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}).describe('Arguments of a declared queue, e.g. `{x-queue-type: quorum}`.'),
  })
  .describe('A queue declared and bound to the exchange at start. Queues are otherwise left to the user.');


/** `spec.target.rabbitmq`. */
export const rabbitmqTargetSettingsSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^amqps?:\/\//, { error: (issue) => `is ${describeValue(issue.input)}; expected an amqp:// or amqps:// URL` })
      .describe('The broker: `amqp://[user:password@]host[:port][/vhost]`, or `amqps://` for TLS.')
      .meta({ expected: 'an amqp:// or amqps:// URL' }),
    username: z.union([z.string().min(1), secretKeyRefSchema]).optional().describe("User name (replaces the URL's): the name itself, or a Secret reference `{name, key}`."),
    password: secretKeyRefSchema.optional().describe("Secret reference `{name, key}` holding the password (replaces the URL's)."),
    tls: tlsSchema.optional(),
    ...changeRecordSettingsShape,
    exchange: exchangeSchema.default({ type: 'topic', durable: true, declare: false }).meta({ defaultText: 'the defaults below' }),
    routingKey: z
      .string()
      .default(DEFAULT_DESTINATION_TEMPLATE)
      .describe("Routing key of a table's change events: `{prefix}`, `{schema}` and `{table}` are replaced (routing rules apply after it); other records keep Debezium's destinations (`<prefix>.transaction`, `<prefix>.message`)."),
    queue: queueSchema.optional(),
    persistent: z.boolean().default(true).describe('Persistent messages (delivery mode 2): a durable queue keeps them across a broker restart.'),
    mandatory: z
      .boolean()
      .default(true)
      .describe('Publish as mandatory: a message no queue takes is returned by the broker and fails (it goes by `deadLetter.policy`) instead of being dropped silently.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Headers added to every message.'),
    connectTimeout: durationTextSchema.default('10s').describe('Longest wait for the connection and login.'),
    heartbeat: z.int().min(0).default(30).describe('AMQP heartbeat in seconds (0: none): a dead connection is noticed within about twice this.'),
    confirmTimeout: durationTextSchema.default('30s').describe("Longest wait for the broker's publisher confirms of a group; a timeout is retried."),
    maxUnconfirmed: z.int().min(1).default(8192).describe('Messages published and not yet confirmed, at most (the in-flight window, over all lanes).'),
    concurrency: z.int().min(1).max(64).default(4).describe('Lanes publishing at the same time; the changes of one row key always go through one lane, in order.'),
    maxMessageBytes: z
      .int()
      .min(1024)
      .default(134_217_728)
      .describe("Messages larger than this are not published: they fail at once and go by `deadLetter.policy`. Keep it at most the broker's `max_message_size` (128 MiB by default)."),
    retryLimit: z.int().min(0).optional().describe('Retries of a group that failed (connection lost, nack, confirm timeout); unset retries for ever. What still fails goes by `deadLetter.policy`, or stops the stream when the broker cannot be reached.'),
    retryBackoffDelay: z.int().min(0).default(60).describe('Longest wait between retries, in seconds; the first waits a tenth of it, each next one twice as long.'),
    deadLetter: deadLetterSchema,
  })
  .describe('Settings of the `RabbitMQ` target: change events published to a RabbitMQ exchange (AMQP 0-9-1) with publisher confirms. Required when the type is `RabbitMQ`.');

export type RabbitMQTargetSettings = z.output<typeof rabbitmqTargetSettingsSchema>;

/** The RabbitMQTargetConfig of valid settings found at `at`, or undefined after adding problems there. */
export async function buildRabbitMQTarget(
  settings: RabbitMQTargetSettings,
  at: ConfigPath,
  context: TargetSettingsContext & ConfigMapSources,
  problems: ConfigProblems,
): Promise<RabbitMQTargetConfig | undefined> {
  let ok = true;
  if (!checkDestinationTemplate(settings.routingKey, [...at, 'routingKey'], problems)) ok = false;
  if (settings.tls !== undefined && !settings.url.startsWith('amqps://')) {
    problems.add([...at, 'tls'], 'is given but the url is not amqps://', { hint: 'use an amqps:// URL (TLS), or remove tls' });
    ok = false;
  }
  if (settings.queue !== undefined && settings.exchange.name === '') {
    problems.add([...at, 'queue'], 'cannot be bound to the default exchange ("")', { hint: 'name an exchange, or publish to the default exchange with a routingKey naming the queue' });
    ok = false;
  }
  const [username, password, tls, deadLetter] = await Promise.all([
    settings.username === undefined || typeof settings.username === 'string' ? settings.username : resolveSecret(settings.username, [...at, 'username'], context, problems),
    settings.password === undefined ? undefined : resolveSecret(settings.password, [...at, 'password'], context, problems),
    settings.tls && buildClientTls(settings.tls, [...at, 'tls'], context.cwd, problems),
    buildDeadLetter(settings.deadLetter, [...at, 'deadLetter'], context, problems),
  ]);
  if ((settings.username !== undefined && username === undefined) || (settings.password !== undefined && password === undefined)) ok = false;
  if (!ok || tls === null || deadLetter === undefined) return undefined;
  const records = buildChangeRecordSettings(settings, context.streamName);
  return {
    type: 'RabbitMQ',
    ...records,
    url: settings.url,
    username,
    password,
    tls,
    exchange: { name: settings.exchange.name ?? records.topicPrefix, type: settings.exchange.type, durable: settings.exchange.durable, declare: settings.exchange.declare },
    routingKey: settings.routingKey,
    queue: settings.queue,
    persistent: settings.persistent,
    mandatory: settings.mandatory,
    headers: settings.headers,
    connectTimeoutMs: parseDurationMs(settings.connectTimeout) ?? 0,
    heartbeatSeconds: settings.heartbeat,
    confirmTimeoutMs: parseDurationMs(settings.confirmTimeout) ?? 0,
    maxUnconfirmed: settings.maxUnconfirmed,
    concurrency: settings.concurrency,
    maxMessageBytes: settings.maxMessageBytes,
    retryLimit: settings.retryLimit,
    retryBackoffDelaySeconds: settings.retryBackoffDelay,
    deadLetter,
  };
}

