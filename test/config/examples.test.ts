import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStreamConfig } from '../../src/config/load-stream-config.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

describe('examples/', () => {
  let secrets: string;
  beforeAll(async () => {
    secrets = await mkdtemp(path.join(tmpdir(), 'pgcdc-example-secrets-'));
    await mkdir(path.join(secrets, 'external-pg-credentials'));
    await writeFile(path.join(secrets, 'external-pg-credentials', 'username'), 'cdc_user\n');
    await writeFile(path.join(secrets, 'external-pg-credentials', 'password'), 'secure_password\n');
  });
  afterAll(() => rm(secrets, { recursive: true, force: true }));

  it('stdout.yaml streams to standard output without a snapshot', async () => {
    const config = await loadStreamConfig(path.join(EXAMPLES, 'stdout.yaml'), { env: {}, cwd: '/srv' });
    expect(config.source.connection).toMatchObject({ host: 'localhost', port: 5432, user: 'postgres', database: 'postgres', password: undefined });
    expect([config.source.snapshotMode, config.target, config.warnings]).toStrictEqual(['no_data', { type: 'Stdout', format: 'value' }, []]);
  });

  it('file.yaml writes records of two tables to a file', async () => {
    const config = await loadStreamConfig(path.join(EXAMPLES, 'file.yaml'), { env: { PGPASSWORD: 'pw' }, cwd: '/srv' });
    expect(config.source.connection).toMatchObject({ host: 'localhost', user: 'cdc_user', password: 'pw', database: 'shop', applicationName: 'orders-to-file' });
    expect(config.source.includes).toStrictEqual(['public\\.orders', 'public\\.order_items']);
    expect([config.source.skippedOperations, config.source.statusIntervalMs, config.maxRetries]).toStrictEqual([['t'], 5000, 10]);
    expect(config.target).toStrictEqual({ type: 'File', path: '/srv/orders.jsonl', format: 'record' });
    expect(config.stateDir).toBe('/srv/.pgcdc/orders-to-file');
  });

  it('sgstream-postgres.yaml reads its credentials from the secrets directory', async () => {
    const config = await loadStreamConfig(path.join(EXAMPLES, 'sgstream-postgres.yaml'), { env: {}, cwd: '/srv', secretsDir: secrets });
    expect(config.source.connection).toMatchObject({ host: 'external-postgres.example.com', database: 'production', user: 'cdc_user', password: 'secure_password' });
    expect([config.source.slotName, config.source.publicationName, config.source.excludes]).toStrictEqual(['external_migration', 'pgcdc_external_migration', ['public\\.audit_logs']]);
    expect(config.target).toStrictEqual({ type: 'File', path: '/srv/external-migration.jsonl', format: 'value' });
    expect(config.warnings).toStrictEqual([]);
  });
});
