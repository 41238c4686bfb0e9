/**
 * The `deadLetter` settings of targets that deliver events one by one (CloudEvent, PgLambda): the
 * policy for an event that still fails (set it aside, or stop), where it is set aside (an NDJSON
 * file or a PostgreSQL table), and how valid settings become a DeadLetterConfig.
 */
import path from 'node:path';
import { z } from 'zod';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { connectionFromUrl, connectionUrlSchema } from './connection-url-setting.js';
import { DEAD_LETTER_POLICIES, type DeadLetterConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

/** `deadLetter` of a target section. */
export const deadLetterSchema = z
  .strictObject({
    policy: z
      .enum(DEAD_LETTER_POLICIES)
      .default('dead-letter')
      .describe(
        'An event that still fails after its retries (or fails for good at once, e.g. rejected with a 4xx or too large): `dead-letter` stores it with the error and goes on; `stop` stops the stream (it is sent again on the next run).',
      ),
    file: z.string().min(1).optional().describe('NDJSON file dead letters are appended to (fsynced), relative to the stream file\'s directory.').meta({ defaultText: '<stateDir>/dead-letters.ndjson' }),
    table: z
      .strictObject({
        url: connectionUrlSchema.describe('The PostgreSQL database of the table (not the source database: its rows would be captured).'),
        name: z.string().min(1).default('pgcdc_dead_letters').describe('The table (`name` or `schema.name`), created if missing.'),
      })
      .optional()
      .describe('Store dead letters in a PostgreSQL table instead of a file: one row per event, keyed by stream and event id.'),
  })
  .default({ policy: 'dead-letter' })
  .describe('Where events that cannot be delivered go.');

export type DeadLetterSettings = z.output<typeof deadLetterSchema>;

/** The DeadLetterConfig of valid settings found at `at`, or undefined after adding a problem there. */
export async function buildDeadLetter(
  deadLetter: DeadLetterSettings,
  at: ConfigPath,
  context: TargetSettingsContext,
  problems: ConfigProblems,
): Promise<DeadLetterConfig | undefined> {
  const { policy, file, table } = deadLetter;
  if (table === undefined) return { policy, store: { kind: 'file', path: file === undefined ? undefined : path.resolve(context.cwd, file) } };
  if (file !== undefined) {
    problems.add([...at, 'table'], 'is given together with file; expected only one of file and table');
    return undefined;
  }
  const connection = await connectionFromUrl(table.url, [...at, 'table', 'url'], `pgcdc-${context.streamName}-dead-letters`, context.cwd, problems);
  return connection && { policy, store: { kind: 'table', connection, table: table.name } };
}
