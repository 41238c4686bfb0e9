/**
 * The `CloudEvent` target's settings (`spec.target.cloudEvent`): SGStream's fields as the CRD has
 * them (`format`, `binding`, `http.url`, `headers`, timeouts, retries), plus pgcdc's (content mode,
 * batching, concurrency, success statuses, dead letters), and how valid settings become a
 * CloudEventTargetConfig.
 */
import { z } from 'zod';
import { durationTextSchema, parseDurationMs } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { deadLetterSchema } from './dead-letter-settings.js';
import { buildHttpDelivery, httpEndpointShape, maxEventBytesSchema } from './http-delivery-settings.js';
import { CLOUDEVENT_MODES, type CloudEventTargetConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

/** `spec.target.cloudEvent.http`: SGStream's settings and pgcdc's. */
const cloudEventHttpSchema = z.strictObject(httpEndpointShape).describe('The http binding: where and how the events are sent.');

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
    maxEventBytes: maxEventBytesSchema,
    deadLetter: deadLetterSchema,
  })
  .describe('Settings of the `CloudEvent` target: CloudEvents 1.0 POSTed to an HTTP endpoint, as SGStream sends them. Required when the type is `CloudEvent`.');

export type CloudEventTargetSettings = z.output<typeof cloudEventTargetSettingsSchema>;

/** The CloudEventTargetConfig of valid settings found at `at`, or undefined after adding problems there. */
export async function buildCloudEventTarget(
  settings: CloudEventTargetSettings,
  at: ConfigPath,
  context: TargetSettingsContext,
  problems: ConfigProblems,
): Promise<CloudEventTargetConfig | undefined> {
  const { http } = settings;
  if (http === undefined) {
    problems.add([...at, 'http'], 'is missing; expected a map with the url events are sent to, required when the target type is CloudEvent');
    return undefined;
  }
  const delivery = await buildHttpDelivery({ http, deadLetter: settings.deadLetter, maxEventBytes: settings.maxEventBytes }, { http: [...at, 'http'], deadLetter: [...at, 'deadLetter'] }, context, problems);
  if (delivery === undefined) return undefined;
  return {
    type: 'CloudEvent',
    mode: settings.mode,
    url: http.url,
    ...delivery,
    batchSize: settings.batchSize,
    batchMaxBytes: settings.batchMaxBytes,
    lingerMs: parseDurationMs(settings.linger)!,
  };
}
