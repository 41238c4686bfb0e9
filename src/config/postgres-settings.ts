/**
 * The `Postgres` target's settings (`spec.target.postgres`): their schema with pgcdc's defaults,
 * and how valid settings become a PostgresTargetConfig (the URL read as the source's is).
 */
import { z } from 'zod';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { connectionFromUrl, connectionUrlSchema } from './connection-url-setting.js';
import { CONFLICT_POLICIES, ERROR_POLICIES, type PostgresTargetConfig } from './stream-config.js';
import type { TargetSettingsContext } from './target-types.js';

/** The settings of a Postgres target besides its connection. */
export type PostgresTargetOptions = Omit<PostgresTargetConfig, 'type' | 'connection'>;

/** The settings besides `url`, with their defaults and documentation. */
export const postgresTargetOptionsShape = {
  conflictPolicy: z
    .enum(CONFLICT_POLICIES)
    .default('update')
    .describe('An inserted row whose key already exists on the target: overwrite it (`update`), keep the existing row (`skip`) or stop the stream (`fail`).'),
  createTables: z.boolean().default(true).describe("Create missing schemas, types, sequences and tables on the target from the source's catalogs."),
  replicateDdl: z.boolean().default(true).describe('Apply to the target the DDL captured on the source.'),
  deferIndexes: z
    .boolean()
    .default(true)
    .describe('During the initial load, create indexes and constraints after the data is copied, which makes the load faster.'),
  deleteEnabled: z.boolean().default(true).describe('Apply deletes; when false, rows deleted on the source stay on the target.'),
  truncateEnabled: z.boolean().default(true).describe('Apply truncates; when false, tables truncated on the source keep their rows on the target.'),
  rowErrorPolicy: z
    .enum(ERROR_POLICIES)
    .default('fail')
    .describe('A row the target rejects (a constraint or type error): stop the stream (`fail`), or log it and go on without it (`skip`).'),
  ddlErrorPolicy: z
    .enum(ERROR_POLICIES)
    .default('fail')
    .describe('A DDL statement the target cannot apply: stop the stream (`fail`), or log it and go on without it (`skip`).'),
  synchronousCommit: z
    .boolean()
    .default(false)
    .describe(
      "Commit each target transaction with the target's own synchronous_commit (set it when the target has synchronous standbys that must hold a change before the source forgets it). By default pgcdc commits asynchronously and acknowledges the source only once the target's WAL is flushed past the commit, as native logical replication does: just as safe on a single server, and much faster.",
    ),
};

/** The defaults of every setting besides the connection. */
export const POSTGRES_TARGET_DEFAULTS: PostgresTargetOptions = z.strictObject(postgresTargetOptionsShape).parse({});

/** `spec.target.postgres`. */
export const postgresTargetSettingsSchema = z
  .strictObject({
    url: connectionUrlSchema.describe(
      'Where to write: `postgres://user:password@host:port/database?sslmode=…`, with the same query parameters and defaults as `spec.source.postgres.url`, except that `application_name` defaults to `pgcdc-<metadata.name>-target`.',
    ),
    ...postgresTargetOptionsShape,
  })
  .describe(
    'Settings of the `Postgres` target: another PostgreSQL kept in sync (a zero-downtime migration): the snapshot is loaded with COPY, then changes are applied in source transaction order, exactly once. Required when the type is `Postgres`.',
  );

export type PostgresTargetSettings = z.output<typeof postgresTargetSettingsSchema>;

/** The application_name a target connection has unless its URL says otherwise. */
export function targetApplicationName(streamName: string): string {
  return `pgcdc-${streamName}-target`;
}

/**
 * The PostgresTargetConfig of valid settings found at `at` (`spec.target.postgres`), or undefined
 * after adding a problem at its `url` (a certificate file that cannot be read).
 */
export async function buildPostgresTarget(
  settings: PostgresTargetSettings,
  at: ConfigPath,
  context: TargetSettingsContext,
  problems: ConfigProblems,
): Promise<PostgresTargetConfig | undefined> {
  const { url, ...options } = settings;
  const connection = await connectionFromUrl(url, [...at, 'url'], targetApplicationName(context.streamName), context.cwd, problems);
  return connection && { type: 'Postgres', connection, ...options };
}
