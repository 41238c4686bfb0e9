/**
 * A connection URL as a document setting (`spec.source.postgres.url`, `spec.target.postgres.url`):
 * its schema, which reports each thing wrong with the URL at its key, and how the accepted URL
 * becomes a ConnectionConfig, certificate files read and their problems reported at the same key.
 */
import { z } from 'zod';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { CONNECTION_URL_EXAMPLE, connectionConfigFromParts, parseConnectionUrl } from './connection-url.js';
import type { ConnectionConfig } from './stream-config.js';

/** The hint of a URL naming a certificate file that cannot be read. */
export const CERTIFICATE_FILE_HINT = 'give the path of a readable PEM file, relative to the stream file\'s directory';

/** The user of a URL that names none; the database defaults to the user. */
const DEFAULT_URL_USER = 'postgres';

/** A connection URL; each thing wrong with it is its own problem, the password never shown. */
export const connectionUrlSchema = z
  .string()
  .superRefine((url, ctx) => {
    const parsed = parseConnectionUrl(url);
    if ('problems' in parsed) {
      for (const problem of parsed.problems) {
        ctx.addIssue({ code: 'custom', message: problem, input: '(connection URL)', params: { hint: `write the URL like ${CONNECTION_URL_EXAMPLE}` } });
      }
    }
  })
  .meta({ expected: `a postgres:// or postgresql:// URL, e.g. ${CONNECTION_URL_EXAMPLE}` });

/**
 * The ConnectionConfig of a URL the schema accepted, found at `at`: user `postgres` and database
 * the user when the URL names none, `applicationName` unless it has `application_name`. Undefined
 * after adding a problem at `at` for each certificate file that cannot be read.
 *
 * @example
 * await connectionFromUrl('postgres://app@db/shop', ['spec', 'target', 'postgres', 'url'], 'pgcdc-orders-target', cwd, problems);
 * // { host: 'db', port: 5432, database: 'shop', user: 'app', applicationName: 'pgcdc-orders-target', … }
 */
export async function connectionFromUrl(
  url: string,
  at: ConfigPath,
  applicationName: string,
  cwd: string,
  problems: ConfigProblems,
): Promise<ConnectionConfig | undefined> {
  const parsed = parseConnectionUrl(url);
  if (!('parts' in parsed)) return undefined; // the schema has reported it
  const user = parsed.parts.user ?? DEFAULT_URL_USER;
  const result = await connectionConfigFromParts(parsed.parts, { user, database: user, applicationName }, cwd);
  if ('config' in result) return result.config;
  for (const problem of result.problems) problems.add(at, problem, { hint: CERTIFICATE_FILE_HINT });
  return undefined;
}
