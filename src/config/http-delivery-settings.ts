/**
 * Settings every target that POSTs events over HTTP shares (CloudEvent, Webhook): the http
 * binding's timeouts, retries, TLS, success statuses and concurrency (SGStream's fields and
 * pgcdc's) and the largest event sent; and how valid settings (with the dead-letter settings, see
 * dead-letter-settings.ts) become the HttpDeliveryConfig part of a target's config.
 */
import { z } from 'zod';
import { durationTextSchema, parseDurationMs, stringMapSchema } from './common-schemas.js';
import { type ConfigPath, type ConfigProblems, describeValue } from './config-issues.js';
import { readPemFile } from './connection-url.js';
import { CERTIFICATE_FILE_HINT } from './connection-url-setting.js';
import { buildDeadLetter, type DeadLetterSettings } from './dead-letter-settings.js';
import { type HttpDeliveryConfig, SUCCESS_STATUS_RULES } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

export const httpUrlSchema = z
  .url({ protocol: /^https?$/, error: (issue) => `is ${describeValue(issue.input)}; expected an http:// or https:// URL` })
  .meta({ expected: 'an http:// or https:// URL' });

/** SGStream's http settings but the URL. */
const sgStreamDeliveryShape = {
  headers: stringMapSchema.optional().describe('Headers added to every request, e.g. `Authorization: "Bearer ${TOKEN}"`.'),
  connectTimeout: durationTextSchema.optional().describe('Longest wait for a connection (and TLS handshake); `0` waits for ever.').meta({ defaultText: '10s' }),
  readTimeout: durationTextSchema
    .optional()
    .describe('Longest wait for the response (its headers, then each part of its body); `0` waits for ever. A timeout is retried.')
    .meta({ defaultText: '30s' }),
  retryLimit: z
    .int()
    .min(0)
    .optional()
    .describe('Retries of an event that failed (5xx, 408, 429, timeouts, lost connections); unset retries for ever. What still fails goes by `deadLetter.policy`.'),
  retryBackoffDelay: z
    .int()
    .min(0)
    .default(60)
    .describe('Longest wait between retries, in seconds; the first waits a tenth of it, each next one twice as long.'),
  skipHostnameVerification: z.boolean().optional().describe("Accept an https certificate whose names do not match the URL's host (the chain is still checked)."),
};

/** The http binding's settings as the SGStream CRD defines them (PgLambda's `knative.http` has them too). */
export const sgStreamHttpShape = {
  url: httpUrlSchema.describe('Where the events are POSTed.'),
  ...sgStreamDeliveryShape,
};

/** pgcdc's http settings on top of SGStream's. */
const pgcdcHttpShape = {
  caCertificate: z.string().min(1).optional().describe("PEM file of the CA that signed the receiver's certificate (besides the system's), relative to the stream file's directory."),
  successStatus: z
    .union([z.enum(SUCCESS_STATUS_RULES), z.literal(200)])
    .default('2xx')
    .describe('Response statuses that count as delivered: `2xx` (any) or `200` (exactly 200, as StackGres). Other 2xx, 408, 429 and 5xx are retried.')
    .meta({ expected: '"2xx" or 200' }),
  retryClientErrors: z.boolean().default(false).describe('Retry 4xx and 3xx responses (other than 408 and 429) instead of treating the event as failed for good.'),
  concurrency: z.int().min(1).max(256).default(8).describe('Requests in flight at most; events of one row are never in flight together, so they arrive in order.'),
};

/** Every http setting but the URL: for targets whose URLs come from elsewhere (webhook subscriptions). */
export const httpDeliveryShape = { ...sgStreamDeliveryShape, ...pgcdcHttpShape };

/** Every http setting, the URL included (the CloudEvent target's `http`). */
export const httpEndpointShape = { ...sgStreamHttpShape, ...pgcdcHttpShape };

export const maxEventBytesSchema = z
  .int()
  .min(1024)
  .default(1_048_576)
  .describe('Events larger than this (in their JSON form) are not sent: they fail at once and go by `deadLetter.policy`.');

type HttpDeliverySettings = z.output<z.ZodObject<typeof httpDeliveryShape>>;

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_READ_TIMEOUT_MS = 30_000;

/**
 * The HttpDeliveryConfig of valid settings: `http` found at `httpAt`, the dead-letter settings at
 * `deadLetterAt`; undefined after adding problems (a CA file that cannot be read, two stores).
 */
export async function buildHttpDelivery(
  settings: { readonly http: HttpDeliverySettings; readonly deadLetter: DeadLetterSettings; readonly maxEventBytes: number },
  at: { readonly http: ConfigPath; readonly deadLetter: ConfigPath },
  context: TargetSettingsContext,
  problems: ConfigProblems,
): Promise<HttpDeliveryConfig | undefined> {
  const { http, deadLetter } = settings;
  const [caCertificate, deadLetterConfig] = await Promise.all([
    readPemSetting(http.caCertificate, [...at.http, 'caCertificate'], context.cwd, problems),
    buildDeadLetter(deadLetter, at.deadLetter, context, problems),
  ]);
  if (caCertificate === null || deadLetterConfig === undefined) return undefined;
  return {
    headers: http.headers ?? {},
    connectTimeoutMs: http.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : parseDurationMs(http.connectTimeout)!,
    readTimeoutMs: http.readTimeout === undefined ? DEFAULT_READ_TIMEOUT_MS : parseDurationMs(http.readTimeout)!,
    retryLimit: http.retryLimit,
    retryBackoffDelaySeconds: http.retryBackoffDelay,
    skipHostnameVerification: http.skipHostnameVerification ?? false,
    caCertificate,
    successStatus: http.successStatus === 200 ? '200' : http.successStatus,
    retryClientErrors: http.retryClientErrors,
    concurrency: http.concurrency,
    maxEventBytes: settings.maxEventBytes,
    deadLetter: deadLetterConfig,
  };
}

/** The PEM text of a certificate or key file setting; undefined when none is given, null after a problem. */
export async function readPemSetting(file: string | undefined, at: ConfigPath, cwd: string, problems: ConfigProblems): Promise<string | undefined | null> {
  if (file === undefined) return undefined;
  const pem = await readPemFile(file, cwd);
  if ('text' in pem) return pem.text;
  problems.add(at, `is ${JSON.stringify(file)}, ${pem.problem}`, { hint: CERTIFICATE_FILE_HINT });
  return null;
}
