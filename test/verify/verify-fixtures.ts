/**
 * Fixtures of the verify tests: a source and a target database on the test server, and a stream
 * spec (`spec.target.type: Postgres`) from one to the other, written to a file and parsed with
 * `parseStreamConfig`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { StreamConfig } from '../../src/config/stream-config.js';
import type { EmbeddedPostgresServer } from '../../src/embedded/embedded-postgres-server.js';
import { createDatabase, sql } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';

let counter = 0;

export interface VerifyDatabases {
  readonly sourceUrl: string;
  readonly targetUrl: string;
}

/** Two fresh databases; `schema` (SQL) is run on both, `data` too when given. */
export async function sourceAndTarget(server: EmbeddedPostgresServer, schema: string, data = ''): Promise<VerifyDatabases> {
  const sourceUrl = await createDatabase(server, 'src');
  const targetUrl = await createDatabase(server, 'tgt');
  for (const url of [sourceUrl, targetUrl]) {
    await sql(url, schema);
    if (data !== '') await sql(url, data);
  }
  return { sourceUrl, targetUrl };
}

/** The spec file of a stream from `sourceUrl` to the PostgreSQL at `targetUrl`, and its StreamConfig. */
export async function postgresStreamFile(
  sourceUrl: string,
  targetUrl: string,
  source: Record<string, unknown> = {},
): Promise<{ readonly config: StreamConfig; readonly specFile: string }> {
  const dir = tempDir('pgcdc-verify-');
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name: `verify${process.pid}x${++counter}` },
    spec: {
      source: { type: 'Postgres', postgres: { url: sourceUrl, ...source } },
      target: { type: 'Postgres', postgres: { url: targetUrl } },
      stateDir: path.join(dir, 'state'),
    },
  };
  const specFile = path.join(dir, 'stream.yaml');
  const text = JSON.stringify(spec, null, 2); // JSON is YAML
  fs.writeFileSync(specFile, text);
  return { config: await parseStreamConfig(text, { fileName: specFile }), specFile };
}

/** The StreamConfig of a stream from `sourceUrl` to the PostgreSQL at `targetUrl`. */
export async function postgresStream(sourceUrl: string, targetUrl: string, source: Record<string, unknown> = {}): Promise<StreamConfig> {
  return (await postgresStreamFile(sourceUrl, targetUrl, source)).config;
}
