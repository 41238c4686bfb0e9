/**
 * The `NatsJetStream` target's settings (`spec.target.natsJetStream`): servers, credentials (user and
 * password, token, NKey seed or creds file) and TLS, the subject template, the JetStream stream
 * (created when asked, else checked), publishing (timeout, in-flight window, retries) and dead
 * letters; and how valid settings become a NatsJetStreamTargetConfig.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_DESTINATION_TEMPLATE } from '../targets/records/destination-template.js';
import { z } from 'zod';
import { buildClientTls, type ClientTls, clientTlsSchema } from './client-tls-settings.js';
import { buildChangeRecordSettings, changeRecordSettingsShape, checkDestinationTemplate } from './change-record-settings.js';
import { durationTextSchema, parseDurationMs, parseServerList, secretKeyRefSchema, serverListSchema } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import type { ConfigMapSources } from './config-map-resolver.js';
import { buildDeadLetter, deadLetterSchema } from './dead-letter-settings.js';
import { resolveSecret } from './secret-resolver.js';
import type { ChangeRecordSettings, DeadLetterConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

export const NATS_RETENTIONS = ['limits', 'interest', 'workqueue'] as const;
export const NATS_STORAGES = ['file', 'memory'] as const;

/** Change events written to NATS JetStream. */
export interface NatsJetStreamTargetConfig extends ChangeRecordSettings {
  readonly type: 'NatsJetStream';
  /** `nats://host:port` (or `tls://`) URLs. */
  readonly servers: readonly string[];
  readonly credentials: NatsCredentials | undefined;
  readonly tls: ClientTls | undefined;
  /** Subject of a table's records, with `{prefix}`, `{schema}`, `{table}`. */
  readonly subject: string;
  readonly stream: NatsStreamConfig;
  readonly publishTimeoutMs: number;
  /** Messages published and not yet acknowledged at most. */
  readonly maxPending: number;
  /** Retries of a batch after a retryable failure (lost connection, timeout) before the write fails. */
  readonly retryLimit: number;
  readonly retryBackoffDelaySeconds: number;
  /** Headers added to every message. */
  readonly headers: Readonly<Record<string, string>>;
  readonly deadLetter: DeadLetterConfig;
  /** Prefix of every `Nats-Msg-Id` (the pgcdc stream's name). */
  readonly msgIdPrefix: string;
}

export type NatsCredentials =
  | { readonly kind: 'password'; readonly user: string; readonly password: string }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'nkey'; readonly seed: string }
  | { readonly kind: 'creds'; readonly creds: string; readonly file: string };

export interface NatsStreamConfig {
  /** Undefined: not created; found from each subject. */
  readonly name: string | undefined;
  readonly create: boolean;
  readonly subjects: readonly string[];
  readonly retention: (typeof NATS_RETENTIONS)[number];
  readonly storage: (typeof NATS_STORAGES)[number];
  readonly replicas: number;
  readonly duplicateWindowMs: number;
  /** -1: no limit. */
  readonly maxBytes: number;
  /** 0: no limit. */
  readonly maxAgeMs: number;
}

const SERVER_URL = /^(nats|tls):\/\/[^\s/,]+$/;
const HOST_PORT = /^[^\s:/,]+:\d{1,5}$/;
const STREAM_NAME = /^[^\s.*>/\\]+$/;

const credentialsSchema = z
  .strictObject({
    user: z.union([z.string().min(1), secretKeyRefSchema]).optional().describe('User name (with `password`): the name itself, or a Secret reference `{name, key}`.'),
    password: secretKeyRefSchema.optional().describe('Secret reference `{name, key}` holding the password of `user`.'),
    token: secretKeyRefSchema.optional().describe('Secret reference `{name, key}` holding an authentication token (the server\'s `authorization.token`).'),
    nkeySeed: secretKeyRefSchema.optional().describe('Secret reference `{name, key}` holding an NKey user seed (`SU…`), for servers with `nkey` users.'),
    credsFile: z.string().min(1).optional().describe('A `.creds` file (user JWT and NKey seed, as `nsc` writes it), relative to the stream file\'s directory.'),
  })
  .describe('How pgcdc authenticates to the servers: one of user + password, token, nkeySeed or credsFile.');

const tlsSchema = clientTlsSchema('Connect over TLS (also implied by `tls://` server URLs).');

const streamSchema = z
  .strictObject({
    name: z
      .string()
      .regex(STREAM_NAME, 'is not a JetStream stream name (no spaces, ".", "*", ">", "/" or "\\")')
      .optional()
      .describe('The JetStream stream. When pgcdc does not create it, it may be left out: each subject must then be captured by some stream.')
      .meta({ defaultText: '<topicPrefix> with "." as "_" when created' }),
    create: z.boolean().default(false).describe("Create the stream when missing (and add the subjects below to an existing one); when false, pgcdc checks each subject is captured by a stream and stops with the subject named otherwise. Debezium Server's `create-stream`."),
    subjects: z.array(z.string().min(1)).min(1).optional().describe('Subjects of a created stream.').meta({ defaultText: '["<topicPrefix>", "<topicPrefix>.>"]' }),
    retention: z.enum(NATS_RETENTIONS).default('limits').describe('Retention policy of a created stream.'),
    storage: z.enum(NATS_STORAGES).default('file').describe('Storage of a created stream (`memory` loses messages when the server stops).'),
    replicas: z.int().min(1).max(5).default(1).describe('Replicas of a created stream (a clustered JetStream).'),
    duplicateWindow: durationTextSchema
      .default('2m')
      .describe("The created stream's duplicate window: JetStream drops a message whose `Nats-Msg-Id` it saw within it. Exactly once holds within it: make it longer than the longest outage plus restart of pgcdc."),
    maxBytes: z.int().min(-1).default(-1).describe('Largest size of a created stream in bytes; -1: no limit.'),
    maxAge: durationTextSchema.default('0').describe('Oldest message a created stream keeps; 0: no limit.'),
  })
  .describe('The JetStream stream that stores the messages.');

/** `spec.target.natsJetStream`. */
export const natsJetStreamTargetSettingsSchema = z
  .strictObject({
    servers: serverListSchema.describe('Servers to connect to: `nats://host:port` (or `tls://host:port`) URLs, as a list or comma-separated. Debezium Server\'s `url`.'),
    credentials: credentialsSchema.optional(),
    tls: tlsSchema.optional(),
    ...changeRecordSettingsShape,
    subject: z
      .string()
      .min(1)
      .default(DEFAULT_DESTINATION_TEMPLATE)
      .describe('Subject of a table\'s changes, with placeholders `{prefix}` (topicPrefix), `{schema}` and `{table}`; routing rules come first. Transaction and logical-message records go to `<prefix>.transaction` and `<prefix>.message`.'),
    stream: streamSchema.default({ create: false, retention: 'limits', storage: 'file', replicas: 1, duplicateWindow: '2m', maxBytes: -1, maxAge: '0' }).meta({ defaultText: 'the defaults below' }),
    publishTimeout: durationTextSchema.default('10s').describe('Longest wait for the next PubAck while messages are in flight; then the connection counts as lost and the batch is published again from its first unacknowledged message.'),
    maxPending: z.int().min(1).max(65_536).default(2048).describe('Messages published and not yet acknowledged at most (the in-flight window).'),
    retryLimit: z.int().min(0).default(5).describe('Retries of a batch after a lost connection, a timeout or a temporarily unavailable stream, before the write fails (the stream then reconnects as `spec.maxRetries` says).'),
    retryBackoffDelay: z.int().min(0).default(10).describe('Longest wait between retries, in seconds; the first waits a tenth of it, each next one twice as long.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Headers added to every message.'),
    deadLetter: deadLetterSchema.describe('Where messages JetStream refuses for good (larger than the server\'s `max_payload` or the stream\'s `max_msg_size`) go; `policy: stop` stops the stream at such a message.'),
  })
  .describe('Settings of the `NatsJetStream` target: change events written to NATS JetStream (Debezium\'s records, one message per change, PubAck awaited, `Nats-Msg-Id` from the position). Required when the type is `NatsJetStream`.');

export type NatsJetStreamTargetSettings = z.output<typeof natsJetStreamTargetSettingsSchema>;

/** The NatsJetStreamTargetConfig of valid settings found at `at`, or undefined after adding problems there. */
export async function buildNatsJetStreamTarget(
  settings: NatsJetStreamTargetSettings,
  at: ConfigPath,
  context: TargetSettingsContext & ConfigMapSources,
  problems: ConfigProblems,
): Promise<NatsJetStreamTargetConfig | undefined> {
  let ok = true;
  const servers: string[] = [];
  for (const entry of parseServerList(settings.servers)) {
    if (SERVER_URL.test(entry)) servers.push(entry);
    else if (HOST_PORT.test(entry)) servers.push(`nats://${entry}`);
    else {
      problems.add([...at, 'servers'], `has ${JSON.stringify(entry)}, which is not a nats://host:port URL`, { hint: 'write each server as nats://host:port (tls://host:port for TLS), e.g. nats://localhost:4222' });
      ok = false;
    }
  }
  if (!checkDestinationTemplate(settings.subject, [...at, 'subject'], problems)) ok = false;
  const records = buildChangeRecordSettings(settings, context.streamName);
  const stream = settings.stream;
  const [credentials, tls, deadLetter] = await Promise.all([
    settings.credentials && buildCredentials(settings.credentials, [...at, 'credentials'], context, problems),
    settings.tls && buildClientTls(settings.tls, [...at, 'tls'], context.cwd, problems),
    buildDeadLetter(settings.deadLetter, [...at, 'deadLetter'], context, problems),
  ]);
  if (!ok || credentials === null || tls === null || deadLetter === undefined) return undefined;
  return {
    type: 'NatsJetStream',
    ...records,
    servers,
    credentials,
    tls,
    subject: settings.subject,
    stream: {
      name: stream.name ?? (stream.create ? records.topicPrefix.replace(/[\s.*>/\\]/g, '_') : undefined),
      create: stream.create,
      subjects: stream.subjects ?? [records.topicPrefix, `${records.topicPrefix}.>`],
      retention: stream.retention,
      storage: stream.storage,
      replicas: stream.replicas,
      duplicateWindowMs: parseDurationMs(stream.duplicateWindow) || 120_000,
      maxBytes: stream.maxBytes,
      maxAgeMs: parseDurationMs(stream.maxAge)!,
    },
    publishTimeoutMs: parseDurationMs(settings.publishTimeout) || 10_000,
    maxPending: settings.maxPending,
    retryLimit: settings.retryLimit,
    retryBackoffDelaySeconds: settings.retryBackoffDelay,
    headers: settings.headers,
    deadLetter,
    msgIdPrefix: context.streamName,
  };
}

/** Exactly one way to authenticate, its secrets resolved and its file read; null after a problem. */
async function buildCredentials(
  credentials: NonNullable<NatsJetStreamTargetSettings['credentials']>,
  at: ConfigPath,
  sources: TargetSettingsContext & ConfigMapSources,
  problems: ConfigProblems,
): Promise<NatsCredentials | null> {
  const given = [credentials.user !== undefined || credentials.password !== undefined, credentials.token, credentials.nkeySeed, credentials.credsFile].filter(Boolean).length;
  if (given !== 1) {
    problems.add(at, given === 0 ? 'gives no credentials' : 'gives more than one kind of credentials', { hint: 'give exactly one of user + password, token, nkeySeed or credsFile' });
    return null;
  }
  if (credentials.user !== undefined || credentials.password !== undefined) {
    if (credentials.user === undefined || credentials.password === undefined) {
      problems.add(at, credentials.user === undefined ? 'has a password without a user' : 'has a user without a password', { hint: 'give both user and password' });
      return null;
    }
    const [user, password] = await Promise.all([
      typeof credentials.user === 'string' ? credentials.user : resolveSecret(credentials.user, [...at, 'user'], sources, problems),
      resolveSecret(credentials.password, [...at, 'password'], sources, problems),
    ]);
    return user === undefined || password === undefined ? null : { kind: 'password', user, password };
  }
  if (credentials.token) {
    const token = await resolveSecret(credentials.token, [...at, 'token'], sources, problems);
    return token === undefined ? null : { kind: 'token', token };
  }
  if (credentials.nkeySeed) {
    const seed = (await resolveSecret(credentials.nkeySeed, [...at, 'nkeySeed'], sources, problems))?.trim();
    if (seed === undefined) return null;
    if (!/^SU[A-Z2-7]+$/.test(seed)) {
      problems.add([...at, 'nkeySeed'], 'does not hold an NKey user seed (SU…)', { hint: 'put the user seed nk -gen user printed (it starts with SU) in the secret' });
      return null;
    }
    return { kind: 'nkey', seed };
  }
  const file = path.resolve(sources.cwd, credentials.credsFile!);
  try {
    const creds = await fs.readFile(file, 'utf8');
    if (!creds.includes('BEGIN NATS USER JWT') || !creds.includes('BEGIN USER NKEY SEED')) {
      problems.add([...at, 'credsFile'], `is ${JSON.stringify(credentials.credsFile)}, which holds no user JWT and NKey seed`, { hint: 'give the .creds file nsc generate creds wrote' });
      return null;
    }
    return { kind: 'creds', creds, file };
  } catch (error) {
    problems.add([...at, 'credsFile'], `is ${JSON.stringify(credentials.credsFile)}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { hint: 'give the path of a readable .creds file, relative to the stream file' });
    return null;
  }
}

