/**
 * Stream specs with a Postgres target for tests, and comparing source and target tables.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { sql } from './postgres.js';
import { tempDir } from './stream-fixtures.js';

let counter = 0;

export interface PostgresStreamOptions {
  readonly sourceUrl: string;
  readonly targetUrl: string;
  readonly name?: string;
  readonly dir?: string;
  /** Extra settings under spec.source.postgres. */
  readonly source?: Record<string, unknown>;
  /** Extra settings under spec.target.postgres. */
  readonly target?: Record<string, unknown>;
  readonly maxRetries?: number;
}

/** Writes a native stream spec with a Postgres target and returns it parsed, with its file. */
export async function postgresStream(options: PostgresStreamOptions): Promise<{ config: StreamConfig; specFile: string; dir: string }> {
  const dir = options.dir ?? tempDir();
  const name = options.name ?? `p${process.pid}x${++counter}`;
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name },
    spec: {
      source: { type: 'Postgres', postgres: { url: options.sourceUrl, snapshotMode: 'never', ...options.source } },
      target: { type: 'Postgres', postgres: { url: options.targetUrl, ...options.target } },
      maxRetries: options.maxRetries ?? 5,
      stateDir: path.join(dir, 'state'),
    },
  };
  const specFile = path.join(dir, 'stream.yaml');
  const text = JSON.stringify(spec, null, 2);
  fs.writeFileSync(specFile, text);
  return { config: await parseStreamConfig(text, { fileName: specFile }), specFile, dir };
}

/** Every row of a table as text, ordered by the whole row: equal on both sides when the tables match. */
export async function tableText(url: string, table: string): Promise<string[]> {
  const { rows } = await sql(url, `select t::text as row from ${table} t order by t::text collate "C"`);
  return rows.map((row) => row.row as string);
}
