/**
 * Settings shared by the targets that write Debezium's records (Kafka and the message brokers):
 * the prefix of destinations, routing rules, the JsonConverter envelope, Debezium's context headers
 * and the transaction metadata destination; and how they become ChangeRecordSettings.
 */
import { z } from 'zod';
import { DEFAULT_DESTINATION_TEMPLATE, unknownPlaceholders } from '../targets/records/destination-template.js';
import { regexSchema } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import type { ChangeRecordSettings } from './stream-config.js';

const topicRouteSchema = z
  .strictObject({
    regex: regexSchema.describe('Regular expression over `schema.table` (anchored, as Java\'s `matches`).'),
    topic: z.string().min(1).describe('The destination of matching tables; `$1`, `$2` … are the groups of the expression.'),
  })
  .describe('One routing rule (Debezium\'s ByLogicalTableRouter, `topic.regex` → `topic.replacement`).');

/** The fields of ChangeRecordSettings in a target's settings object (spread into its schema). */
export const changeRecordSettingsShape = {
  topicPrefix: z.string().min(1).optional().describe("First part of every destination (Debezium's `topic.prefix`): `<prefix>.<schema>.<table>`; also `source.name` in events.").meta({ defaultText: 'metadata.name' }),
  topicRouting: z.array(topicRouteSchema).default([]).describe('Routing rules, the first matching one wins; tables no rule matches go to `<prefix>.<schema>.<table>`.'),
  extendedHeaders: z
    .boolean()
    .default(false)
    .describe(
      "Debezium's context headers on change events and their tombstones (`__debezium.context.connectorLogicalName`, `taskId`, `connectorName`, `runId`; Debezium's `extended.headers.enabled`, true there). Off by default: encoding four headers per record halves the Kafka client's throughput. The `__debezium.oldkey`/`newkey` headers of primary-key changes are always written.",
    ),
  schemasEnable: z
    .boolean()
    .default(true)
    .describe("Keys and values in Kafka Connect's JsonConverter shape `{\"schema\":…,\"payload\":…}` (`schemas.enable=true`, Connect's default); false: the payload alone."),
  transactionTopic: z.string().min(1).optional().describe('Destination of the transaction metadata records (`spec.source.postgres.provideTransactionMetadata`).').meta({ defaultText: '<prefix>.transaction' }),
};

type ChangeRecordSettingsInput = z.output<z.ZodObject<typeof changeRecordSettingsShape>>;

/** The ChangeRecordSettings of valid settings of stream `streamName`. */
export function buildChangeRecordSettings(settings: ChangeRecordSettingsInput, streamName: string): ChangeRecordSettings {
  const topicPrefix = settings.topicPrefix ?? streamName;
  return {
    topicPrefix,
    topicRouting: settings.topicRouting,
    schemasEnable: settings.schemasEnable,
    extendedHeaders: settings.extendedHeaders,
    transactionTopic: settings.transactionTopic ?? `${topicPrefix}.transaction`,
  };
}

/**
 * Checks a destination template (a broker's subject, stream key or routing key) found at `at`:
 * false after adding a problem for a placeholder other than `{prefix}`, `{schema}`, `{table}`.
 */
export function checkDestinationTemplate(template: string, at: ConfigPath, problems: ConfigProblems): boolean {
  const unknown = unknownPlaceholders(template);
  if (unknown.length === 0) return true;
  problems.add(at, `has the placeholder {${unknown[0]}}, which is not one of {prefix}, {schema}, {table}`, { hint: `write it with {prefix}, {schema} and {table} only, e.g. ${DEFAULT_DESTINATION_TEMPLATE}` });
  return false;
}
