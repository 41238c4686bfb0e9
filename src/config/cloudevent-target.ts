/**
 * The `CloudEvent` target's settings (`spec.target.cloudEvent`): SGStream's fields as the CRD has
 * them (`format`, `binding`, `http.url`, `headers`, timeouts, retries), plus pgcdc's (content mode,
 * batching, concurrency, success statuses, dead letters), and how valid settings become a
 * CloudEventTargetConfig.
 */
import { z } from 'zod';
import { durationTextSchema, parseDurationMs, stringMapSchema } from './common-schemas.js';
import { type ConfigPath, type ConfigProblems, describeValue } from './config-issues.js';
import { readPemFile } from './connection-url.js';
import { CERTIFICATE_FILE_HINT } from './connection-url-setting.js';
import { buildDeadLetter, deadLetterSchema } from './dead-letter-settings.js';
import { CLOUDEVENT_MODES, type CloudEventTargetConfig, SUCCESS_STATUS_RULES } from './stream-config.js';

const httpUrlSchema = z
  .url({ protocol: /^https?$/, error: (issue) => `is ${describeValue(issue.input)}; expected an http:// or https:// URL` })
  .meta({ expected: 'an http:// or https:// URL' });

/** The http binding's settings as the SGStream CRD defines them (PgLambda's `knative.http` has them too). */
export const sgStreamHttpShape = {
  url: httpUrlSchema.describe('Where the events are POSTed.'),
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

/** `spec.target.cloudEvent.http`: SGStream's settings and pgcdc's. */
const cloudEventHttpSchema = z
  .strictObject({
    ...sgStreamHttpShape,
    caCertificate: z.string().min(1).optional().describe("PEM file of the CA that signed the receiver's certificate (besides the system's), relative to the current directory."),
    successStatus: z
      .union([z.enum(SUCCESS_STATUS_RULES), z.literal(200)])
      .default('2xx')
      .describe('Response statuses that count as delivered: `2xx` (any) or `200` (exactly 200, as StackGres). Other 2xx, 408, 429 and 5xx are retried.')
      .meta({ expected: '"2xx" or 200' }),
    retryClientErrors: z.boolean().default(false).describe('Retry 4xx and 3xx responses (other than 408 and 429) instead of treating the event as failed for good.'),
    concurrency: z.int().min(1).max(256).default(8).describe('Requests in flight at most; events of one row are never in flight together, so they arrive in order.'),
  })
  .describe('The http binding: where and how the events are sent.');

/** `spec.target.cloudEvent`. */
export const cloudEventTargetSettingsSchema = z
  .strictObject({
    format: z.enum(['json']).default('json').describe('The CloudEvents format; `json` is the only one.'),
    binding: z.enum(['http']).default('http').describe('The CloudEvents binding; `http` is the only one.'),
    http: cloudEventHttpSchema.optional(),
    mode: z
      .enum(CLOUDEVENT_MODES)
      .default('structured')
      .describe(
        'HTTP content mode: `structured` (one `application/cloudevents+json` event per request), `binary` (the data as the body, attributes as `ce-` headers) or `batched` (a JSON array, `application/cloudevents-batch+json`).',
      ),
    batchSize: z.int().min(1).max(100_000).default(500).describe('Batched mode: events per request at most.'),
    batchMaxBytes: z.int().min(1024).default(1_048_576).describe('Batched mode: bytes per request at most (a larger event is sent alone).'),
    linger: durationTextSchema
      .meta({ expected: 'a duration such as 5ms or 1s, or 0 for none' })
      .default('5ms')
      .describe('Batched mode: how long the first event waits for more before a request shorter than `batchSize` is sent.'),
    maxEventBytes: z.int().min(1024).default(1_048_576).describe('Events larger than this (in their JSON form) are not sent: they fail at once and go by `deadLetter.policy`.'),
    deadLetter: deadLetterSchema,
  })
  .describe('Settings of the `CloudEvent` target: CloudEvents 1.0 POSTed to an HTTP endpoint, as SGStream sends them. Required when the type is `CloudEvent`.');

export type CloudEventTargetSettings = z.output<typeof cloudEventTargetSettingsSchema>;

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_READ_TIMEOUT_MS = 30_000;

/** The CloudEventTargetConfig of valid settings found at `at`, or undefined after adding problems there. */
export async function buildCloudEventTarget(
  settings: CloudEventTargetSettings,
  at: ConfigPath,
  context: { readonly cwd: string; readonly streamName: string },
  problems: ConfigProblems,
): Promise<CloudEventTargetConfig | undefined> {
  const { http, deadLetter } = settings;
  if (http === undefined) {
    problems.add([...at, 'http'], 'is missing; expected a map with the url events are sent to, required when the target type is CloudEvent');
    return undefined;
  }
  const [caCertificate, deadLetterConfig] = await Promise.all([readCaCertificate(http.caCertificate, [...at, 'http', 'caCertificate'], context.cwd, problems), buildDeadLetter(deadLetter, [...at, 'deadLetter'], context, problems)]);
  if (caCertificate === null || deadLetterConfig === undefined) return undefined;
  return {
    type: 'CloudEvent',
    mode: settings.mode,
    url: http.url,
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
    batchSize: settings.batchSize,
    batchMaxBytes: settings.batchMaxBytes,
    lingerMs: parseDurationMs(settings.linger)!,
    maxEventBytes: settings.maxEventBytes,
    deadLetter: deadLetterConfig,
  };
}

/** The PEM text of the CA file; undefined when none is given, null after a problem. */
async function readCaCertificate(file: string | undefined, at: ConfigPath, cwd: string, problems: ConfigProblems): Promise<string | undefined | null> {
  if (file === undefined) return undefined;
  const pem = await readPemFile(file, cwd);
  if ('text' in pem) return pem.text;
  problems.add(at, `is ${JSON.stringify(file)}, ${pem.problem}`, { hint: CERTIFICATE_FILE_HINT });
  return null;
}
