/**
 * `spec.alerts` of native streams: per-stream thresholds (lag in bytes and seconds, retained WAL,
 * dead letters per minute, a failed stream), how long a threshold must stay crossed, how often the
 * figures are evaluated, and the webhook told when an alert fires or resolves; and how valid
 * settings become an AlertsConfig.
 */
import { z } from 'zod';
import { durationTextSchema, parseDurationMs, stringMapSchema } from './common-schemas.js';
import { httpUrlSchema } from './http-delivery-settings.js';

/** The alerts pgcdc knows, as named in the spec, the metric label and the webhook body. */
export const ALERT_NAMES = ['lagBytes', 'lagSeconds', 'retainedWalBytes', 'deadLettersPerMinute', 'failed'] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

const positiveDurationSchema = durationTextSchema.refine((text) => parseDurationMs(text) !== 0, { error: 'is 0; expected a duration above 0 such as 10s' });

export const alertsSchema = z
  .strictObject({
    lagBytes: z.number().min(0).optional().describe("Fires when the source server's current WAL position is more than this many bytes past the slot's confirmed position."),
    lagSeconds: z.number().min(0).optional().describe('Fires when the last delivered change was committed more than this many seconds ago while changes are pending.'),
    retainedWalBytes: z.number().min(0).optional().describe("Fires when the slot holds more than this many bytes of WAL (current WAL position minus the slot's restart_lsn)."),
    deadLettersPerMinute: z.number().min(0).optional().describe('Fires when more than this many events were set aside as dead letters over the last minute.'),
    failed: z.boolean().default(false).describe('Fires when the stream failed for good (`pgcdc serve` gave up on it); resolves when it runs again.'),
    for: durationTextSchema.default('0').describe('How long a threshold must stay crossed before the alert fires, e.g. `1m`; `0` fires at the first evaluation that sees it crossed.'),
    evaluationInterval: positiveDurationSchema.default('10s').describe('How often the thresholds are checked.'),
    webhook: z
      .strictObject({
        url: httpUrlSchema.describe('Where a JSON alert `{stream, alert, status: "firing"|"resolved", value, threshold, at}` is POSTed.'),
        headers: stringMapSchema.optional().describe('Headers added to every request, e.g. `Authorization: "Bearer ${TOKEN}"`.'),
        timeout: positiveDurationSchema.default('5s').describe('Longest wait for the receiver; a failure is logged and the stream goes on.'),
      })
      .optional()
      .describe('A receiver told of every alert that fires or resolves.'),
  })
  .optional()
  .describe('Alerts on this stream: each threshold given is checked by `pgcdc serve`; crossing one logs a warning, sets `pgcdc_alert_active` and POSTs to the webhook.');

export type AlertsSettings = z.output<typeof alertsSchema>;

/** The alerts of a stream, ready to evaluate. */
export interface AlertsConfig {
  /** Thresholds given (`failed`: 1 when asked for). */
  readonly thresholds: Readonly<Partial<Record<AlertName, number>>>;
  readonly forMs: number;
  readonly evaluationIntervalMs: number;
  readonly webhook: { readonly url: string; readonly headers: Readonly<Record<string, string>>; readonly timeoutMs: number } | undefined;
}

/** The AlertsConfig of valid settings; undefined when none are given. */
export function buildAlerts(settings: AlertsSettings): AlertsConfig | undefined {
  if (settings === undefined) return undefined;
  const thresholds: Partial<Record<AlertName, number>> = {};
  for (const name of ALERT_NAMES) {
    const value = settings[name];
    if (name === 'failed') {
      if (value === true) thresholds.failed = 1;
    } else if (typeof value === 'number') thresholds[name] = value;
  }
  const { webhook } = settings;
  return {
    thresholds,
    forMs: parseDurationMs(settings.for) ?? 0,
    evaluationIntervalMs: parseDurationMs(settings.evaluationInterval) ?? 10_000,
    webhook: webhook && { url: webhook.url, headers: webhook.headers ?? {}, timeoutMs: parseDurationMs(webhook.timeout) ?? 5000 },
  };
}
