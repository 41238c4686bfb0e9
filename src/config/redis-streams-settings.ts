/**
 * The `RedisStreams` target's settings (`spec.target.redisStreams`): the server (URL, ACL user,
 * password secret, TLS PEM files), stream key template, trimming, field layout, exactly once and
 * its position key, batching, dead letters; and how valid settings become a RedisStreamsTargetConfig.
 */
import { DEFAULT_DESTINATION_TEMPLATE } from '../targets/records/destination-template.js';
import { z } from 'zod';
import { buildClientTls, type ClientTls, clientTlsSchema } from './client-tls-settings.js';
import { buildChangeRecordSettings, changeRecordSettingsShape, checkDestinationTemplate } from './change-record-settings.js';
import { durationTextSchema, parseDurationMs, secretKeyRefSchema } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import type { ConfigMapSources } from './config-map-resolver.js';
import { buildDeadLetter, deadLetterSchema } from './dead-letter-settings.js';
import { resolveSecret } from './secret-resolver.js';
import type { ChangeRecordSettings, DeadLetterConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

export const REDIS_FIELD_LAYOUTS = ['keyValue', 'columns'] as const;
export type RedisFieldLayout = (typeof REDIS_FIELD_LAYOUTS)[number];

/** Change events written to Redis Streams. */
export interface RedisStreamsTargetConfig extends ChangeRecordSettings {
  readonly type: 'RedisStreams';
  /** `redis://` or `rediss://` URL, credentials taken out (they are in username/password). */
  readonly host: string;
  readonly port: number;
  readonly database: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: ClientTls | undefined;
  /** Template of a table's stream key: `{prefix}`, `{schema}`, `{table}`. */
  readonly streamKey: string;
  readonly maxLen: number | undefined;
  readonly fieldLayout: RedisFieldLayout;
  /** What a null key or a tombstone's value is written as (Debezium Server's `null.key`/`null.value`). */
  readonly nullKey: string;
  readonly nullValue: string;
  /** Exactly once: the key holding the stream's position, written in each batch's MULTI/EXEC. */
  readonly exactlyOnce: { readonly positionKey: string } | undefined;
  /** Largest number of entries in one MULTI/EXEC (and of events the queue gathers for one write). */
  readonly batchSize: number;
  readonly lingerMs: number;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Fields larger than this are not sent (the server's `proto-max-bulk-len` when it is smaller). */
  readonly maxEntryBytes: number;
  readonly deadLetter: DeadLetterConfig;
  /** Redis Cluster: the nodes to ask for the cluster's layout first; every key gets the hash tag `{<topicPrefix>}`. */
  readonly cluster: { readonly nodes: readonly { readonly host: string; readonly port: number }[] } | undefined;
}

const tlsSchema = clientTlsSchema('TLS options (the connection uses TLS when the URL is `rediss://` or this is given).');

const urlSchema = z
  .string()
  .regex(/^rediss?:\/\/[^\s]+$/, 'is not a redis:// or rediss:// URL')
  .describe('The Redis server: `redis://[user[:password]@]host[:port][/db]`, `rediss://` for TLS (Debezium Server\'s `redis.address`).')
  .meta({ expected: 'a redis:// or rediss:// URL' });

/** `spec.target.redisStreams`. */
export const redisStreamsTargetSettingsSchema = z
  .strictObject({
    url: urlSchema,
    username: z.union([z.string().min(1), secretKeyRefSchema]).optional().describe("ACL user (Redis 6+): the name, or a Secret reference `{name, key}`; instead of the URL's user."),
    password: secretKeyRefSchema.optional().describe("Secret reference `{name, key}` holding the password (of the ACL user, or `requirepass`); instead of the URL's password."),
    tls: tlsSchema.optional(),
    ...changeRecordSettingsShape,
    streamKey: z
      .string()
      .min(1)
      .default(DEFAULT_DESTINATION_TEMPLATE)
      .describe('Stream key of a table\'s changes: `{prefix}` (topicPrefix), `{schema}` and `{table}` are replaced. Routing rules win over it; logical messages and transaction records keep `<prefix>.message` and the transaction topic.'),
    maxLen: z.int().min(1).optional().describe('Trim each stream to about this many entries (`XADD … MAXLEN ~ n`); unset: never trimmed.'),
    fieldLayout: z
      .enum(REDIS_FIELD_LAYOUTS)
      .default('keyValue')
      .describe('Fields of an entry: `keyValue`: `key` and `value` (the record\'s key and Debezium value, as Debezium Server\'s redis sink in its extended format); `columns`: one field per column of the row (after image, before image for deletes) and `op`. The pgcdc-* metadata fields are added in both.'),
    nullKey: z.string().default('default').describe("What a record without a key writes in the `key` field (Debezium Server's `null.key`)."),
    nullValue: z.string().default('default').describe("What a tombstone writes in the `value` field (Debezium Server's `null.value`); its `pgcdc-op` field is `tombstone`."),
    exactlyOnce: z
      .boolean()
      .default(true)
      .describe('Each batch\'s XADDs and the position reached go in one MULTI/EXEC; after a crash the position is read back and the changes Redis holds are not written again. Needs AOF (`appendonly yes`, `appendfsync always` or `everysec`) to survive a Redis crash too.'),
    positionKey: z.string().min(1).optional().describe('Key holding the stream\'s position (exactly once), JSON `{"lsn","events"}`.').meta({ defaultText: 'pgcdc:position:<metadata.name>' }),
    batchSize: z.int().min(1).default(5000).describe('Largest number of entries in one MULTI/EXEC; a bigger batch goes in several, each with its position.'),
    linger: durationTextSchema.default('5ms').describe('How long events wait for a fuller batch.'),
    requestTimeout: durationTextSchema.default('30s').describe('How long a command may wait for its reply; then the connection is dropped and the batch retried (the position tells what landed).'),
    connectTimeout: durationTextSchema.default('10s').describe('How long connecting (and the TLS handshake) may take.'),
    maxEntryBytes: z
      .int()
      .min(1024)
      .default(536_870_912)
      .describe("Largest field (key or value) sent; a larger one fails at once and goes by `deadLetter.policy`. The server's `proto-max-bulk-len` is used when it is smaller and readable (CONFIG GET)."),
    deadLetter: deadLetterSchema,
    cluster: z
      .strictObject({
        nodes: z
          .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'is not host:port'))
          .min(1)
          .describe('Nodes (`host:port`) to read the cluster\'s layout from (the URL\'s credentials and TLS apply to every node).'),
      })
      .optional()
      .describe('Write to a Redis Cluster: every key of the stream (stream keys and position key) gets the hash tag `{<topicPrefix>}`, so they share one slot and each script run stays exactly once.'),
  })
  .describe('Settings of the `RedisStreams` target: change events appended to Redis Streams (XADD), exactly once by default. Required when the type is `RedisStreams`.');

export type RedisStreamsTargetSettings = z.output<typeof redisStreamsTargetSettingsSchema>;

/** The RedisStreamsTargetConfig of valid settings found at `at`, or undefined after adding problems there. */
export async function buildRedisStreamsTarget(
  settings: RedisStreamsTargetSettings,
  at: ConfigPath,
  context: TargetSettingsContext & ConfigMapSources,
  problems: ConfigProblems,
): Promise<RedisStreamsTargetConfig | undefined> {
  let url: URL;
  try {
    url = new URL(settings.url);
  } catch {
    problems.add([...at, 'url'], `is ${JSON.stringify(settings.url)}, which is not a URL`, { hint: 'write it as redis://host:6379, rediss://user@host:6380/0' });
    return undefined;
  }
  const database = url.pathname === '' || url.pathname === '/' ? 0 : Number(url.pathname.slice(1));
  if (!Number.isInteger(database) || database < 0 || url.hostname === '') {
    problems.add([...at, 'url'], `is ${JSON.stringify(settings.url)}, whose ${url.hostname === '' ? 'host is missing' : 'database is not a number'}`, { hint: 'write it as redis://host:6379/0' });
    return undefined;
  }
  const [username, password, tls, deadLetter] = await Promise.all([
    typeof settings.username === 'object' ? resolveSecret(settings.username, [...at, 'username'], context, problems) : Promise.resolve(settings.username ?? (url.username === '' ? undefined : decodeURIComponent(url.username))),
    settings.password ? resolveSecret(settings.password, [...at, 'password'], context, problems) : Promise.resolve(url.password === '' ? undefined : decodeURIComponent(url.password)),
    buildTls(settings.tls, url.protocol === 'rediss:', [...at, 'tls'], context.cwd, problems),
    buildDeadLetter(settings.deadLetter, [...at, 'deadLetter'], context, problems),
  ]);
  if ((typeof settings.username === 'object' && username === undefined) || (settings.password && password === undefined) || tls === null || deadLetter === undefined) return undefined;
  if (!checkDestinationTemplate(settings.streamKey, [...at, 'streamKey'], problems)) return undefined;
  if (settings.cluster && database !== 0) {
    problems.add([...at, 'url'], `selects database ${database}, but a Redis Cluster has database 0 only`, { hint: 'remove the /<db> from the URL' });
    return undefined;
  }
  const records = buildChangeRecordSettings(settings, context.streamName);
  return {
    type: 'RedisStreams',
    ...records,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 6379 : Number(url.port),
    database,
    username,
    password,
    tls,
    streamKey: settings.streamKey,
    maxLen: settings.maxLen,
    fieldLayout: settings.fieldLayout,
    nullKey: settings.nullKey,
    nullValue: settings.nullValue,
    exactlyOnce: settings.exactlyOnce ? { positionKey: settings.positionKey ?? `pgcdc:position:${context.streamName}` } : undefined,
    batchSize: settings.batchSize,
    lingerMs: parseDurationMs(settings.linger)!,
    requestTimeoutMs: parseDurationMs(settings.requestTimeout)!,
    connectTimeoutMs: parseDurationMs(settings.connectTimeout)!,
    maxEntryBytes: settings.maxEntryBytes,
    deadLetter,
    cluster: settings.cluster && {
      nodes: settings.cluster.nodes.map((node) => {
        const at = node.lastIndexOf(':');
        return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
      }),
    },
  };
}

/** The TLS options (PEM files read), undefined without TLS, null after a problem. */
async function buildTls(tls: RedisStreamsTargetSettings['tls'], rediss: boolean, at: ConfigPath, cwd: string, problems: ConfigProblems): Promise<ClientTls | undefined | null> {
  if (tls === undefined) return rediss ? { caCertificate: undefined, certificate: undefined, key: undefined, skipHostnameVerification: false } : undefined;
  return buildClientTls(tls, at, cwd, problems);
}
