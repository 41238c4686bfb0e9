import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStreamConfig } from '../../src/config/load-stream-config.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

// Relative paths in a stream file are read from the file's directory, whatever the current one (cwd).
describe('examples/', () => {
  let secrets: string;
  beforeAll(async () => {
    secrets = await mkdtemp(path.join(tmpdir(), 'pgcdc-example-secrets-'));
    await mkdir(path.join(secrets, 'external-pg-credentials'));
    await writeFile(path.join(secrets, 'external-pg-credentials', 'username'), 'cdc_user\n');
    await writeFile(path.join(secrets, 'external-pg-credentials', 'password'), 'secure_password\n');
    for (const side of ['source', 'target']) {
      await mkdir(path.join(secrets, `${side}-credentials`));
      await writeFile(path.join(secrets, `${side}-credentials`, 'username'), `${side}_user\n`);
      await writeFile(path.join(secrets, `${side}-credentials`, 'password'), `${side}_pw\n`);
    }
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
    expect(config.target).toStrictEqual({ type: 'File', path: path.join(EXAMPLES, 'orders.jsonl'), format: 'record' });
    expect(config.stateDir).toBe(path.join(EXAMPLES, '.pgcdc/orders-to-file'));
  });

  it('sgstream-postgres.yaml reads its credentials from the secrets directory', async () => {
    const config = await loadStreamConfig(path.join(EXAMPLES, 'sgstream-postgres.yaml'), { env: {}, cwd: '/srv', secretsDir: secrets });
    expect(config.source.connection).toMatchObject({ host: 'external-postgres.example.com', database: 'production', user: 'cdc_user', password: 'secure_password' });
    expect([config.source.slotName, config.source.publicationName, config.source.excludes]).toStrictEqual(['external_migration', 'pgcdc_external_migration', ['public\\.audit_logs']]);
    expect(config.target).toStrictEqual({ type: 'File', path: path.join(EXAMPLES, 'external-migration.jsonl'), format: 'value' });
    expect(config.warnings).toStrictEqual([]);
  });

  it('postgres-target.yaml migrates into another PostgreSQL with every target setting at its default', async () => {
    const env = { SOURCE_PASSWORD: 'src', TARGET_PASSWORD: 'p%40ss', TARGET_HOST: 'new-db.internal' };
    const config = await loadStreamConfig(path.join(EXAMPLES, 'postgres-target.yaml'), { env, cwd: '/srv' });
    expect(config.source.connection).toMatchObject({ host: 'localhost', user: 'cdc_user', password: 'src', database: 'shop', applicationName: 'pgcdc-shop-migration' });
    expect(config.target).toStrictEqual({
      type: 'Postgres',
      connection: {
        host: 'new-db.internal',
        port: 5433,
        database: 'shop',
        user: 'migrator',
        password: 'p@ss',
        sslMode: 'prefer',
        sslRootCert: undefined,
        sslCert: undefined,
        sslKey: undefined,
        applicationName: 'pgcdc-shop-migration-target',
        connectTimeoutMs: 10_000,
      },
      conflictPolicy: 'update',
      createTables: true,
      replicateDdl: true,
      deferIndexes: true,
      deleteEnabled: true,
      truncateEnabled: true,
      rowErrorPolicy: 'fail',
      ddlErrorPolicy: 'fail',
      synchronousCommit: false,
    });
    expect(config.warnings).toStrictEqual([]);
  });

  it('pglambda.yaml runs its script from a ConfigMap, with the knative retries and a dead-letter file', async () => {
    const configMaps = await mkdtemp(path.join(tmpdir(), 'pgcdc-example-configmaps-'));
    await mkdir(path.join(configMaps, 'orders-lambda'));
    await writeFile(path.join(configMaps, 'orders-lambda', 'handler.js'), 'response.writeHead(200);\nresponse.end();\n');
    const env = { PGCDC_CLUSTER_SHOP: 'postgres://cdc_user:pw@shop.db.internal:5432/postgres' };
    const config = await loadStreamConfig(path.join(EXAMPLES, 'pglambda.yaml'), { env, cwd: '/srv', configMapsDir: configMaps });
    await rm(configMaps, { recursive: true, force: true });
    expect(config.source.connection).toMatchObject({ host: 'shop.db.internal', database: 'shop', user: 'cdc_user' });
    expect(config.target).toStrictEqual({
      type: 'PgLambda',
      script: 'response.writeHead(200);\nresponse.end();',
      origin: 'key "handler.js" of ConfigMap "orders-lambda"',
      memoryLimitMb: 64,
      timeoutMs: 2000,
      retryLimit: 5,
      retryBackoffDelaySeconds: 30,
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: path.join(EXAMPLES, 'orders-lambda.dead-letters.ndjson') } },
    });
    expect(config.warnings).toStrictEqual([]);
  });

  it('cloudevent.yaml sends batched CloudEvents with a dead-letter file', async () => {
    const config = await loadStreamConfig(path.join(EXAMPLES, 'cloudevent.yaml'), { env: { PGPASSWORD: 'pw', EVENTS_TOKEN: 't0k' }, cwd: '/srv' });
    expect(config.target).toStrictEqual({
      type: 'CloudEvent',
      mode: 'batched',
      url: 'https://events.example.com/cdc',
      headers: { Authorization: 'Bearer t0k' },
      connectTimeoutMs: 5000,
      readTimeoutMs: 30_000,
      retryLimit: 10,
      retryBackoffDelaySeconds: 60,
      skipHostnameVerification: false,
      caCertificate: undefined,
      successStatus: '2xx',
      retryClientErrors: false,
      concurrency: 8,
      batchSize: 500,
      batchMaxBytes: 1_048_576,
      lingerMs: 5,
      maxEventBytes: 1_048_576,
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: path.join(EXAMPLES, 'shop-events.dead-letters.ndjson') } },
    });
    expect(config.warnings).toStrictEqual([]);
  });

  it('webhook.yaml notifies subscribers in pgstream envelopes, the subscription API on the loopback', async () => {
    const config = await loadStreamConfig(path.join(EXAMPLES, 'webhook.yaml'), { env: { PGPASSWORD: 'pw', HOOKS_TOKEN: 't0k' }, cwd: '/srv' });
    expect(config.target).toStrictEqual({
      type: 'Webhook',
      payload: 'pgstream',
      subscriptionServer: { host: '127.0.0.1', port: 9900, readTimeoutMs: 5000 },
      subscriptionDatabase: undefined,
      subscriptionPollIntervalMs: 30_000,
      headers: { Authorization: 'Bearer t0k' },
      connectTimeoutMs: 5000,
      readTimeoutMs: 10_000,
      retryLimit: 10,
      retryBackoffDelaySeconds: 60,
      skipHostnameVerification: false,
      caCertificate: undefined,
      successStatus: '2xx',
      retryClientErrors: false,
      concurrency: 16,
      maxEventBytes: 1_048_576,
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: path.join(EXAMPLES, 'shop-hooks.dead-letters.ndjson') } },
    });
    expect(config.warnings).toStrictEqual([]);
  });

  it('sgstream-sgcluster.yaml migrates between SGClusters with credentials from the secrets directory', async () => {
    const env = {
      PGCDC_CLUSTER_SOURCE_CLUSTER: 'postgres://source-cluster.example.com:5432/postgres?sslmode=require',
      PGCDC_CLUSTER_TARGET_CLUSTER: 'postgres://target-cluster.example.com:5432/postgres?sslmode=require',
    };
    const config = await loadStreamConfig(path.join(EXAMPLES, 'sgstream-sgcluster.yaml'), { env, cwd: '/srv', secretsDir: secrets });
    expect(config.source.connection).toMatchObject({ host: 'source-cluster.example.com', database: 'myapp', user: 'source_user', password: 'source_pw', sslMode: 'require' });
    expect(config.target).toStrictEqual({
      type: 'Postgres',
      connection: {
        host: 'target-cluster.example.com',
        port: 5432,
        database: 'myapp',
        user: 'target_user',
        password: 'target_pw',
        sslMode: 'require',
        sslRootCert: undefined,
        sslCert: undefined,
        sslKey: undefined,
        applicationName: 'pgcdc-migration-stream-target',
        connectTimeoutMs: 10_000,
      },
      conflictPolicy: 'update',
      createTables: true,
      replicateDdl: true,
      deferIndexes: true,
      deleteEnabled: true,
      truncateEnabled: false,
      rowErrorPolicy: 'fail',
      ddlErrorPolicy: 'fail',
      synchronousCommit: false,
    });
    expect(config.warnings).toStrictEqual([]);
  });
});
