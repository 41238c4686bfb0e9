/**
 * Every SGStream example of the StackGres "creating streams" guide (kept as written in
 * fixtures/stackgres-guide-examples.yaml): as written, those with an SGCluster target must load
 * into exactly the expected StreamConfig with a Postgres target, the others into their CloudEvent
 * or PgLambda target; with a File or Stdout target substituted, each must load into
 * exactly the expected StreamConfig.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { ConnectionConfig, PostgresTargetConfig, SourceConfig, StreamConfig } from '../../src/config/stream-config.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

const GUIDE = new URL('./fixtures/stackgres-guide-examples.yaml', import.meta.url);
const BLOCKS = readFileSync(GUIDE, 'utf8').split('# ---- example\n').slice(1);

/** The example holding `kind: SGStream` and `name: <name>` (and `marker` when two share a name). */
function example(name: string, marker = ''): string {
  const found = BLOCKS.filter((block) => block.includes('kind: SGStream') && block.includes(`  name: ${name}\n`) && block.includes(marker));
  expect(found, `example ${name} ${marker}`).toHaveLength(1);
  return found[0];
}

/** The example with `spec.target` replaced (other documents of the file kept). */
function withTarget(yaml: string, target: Record<string, unknown>, keepOtherSections = false): string {
  return parseAllDocuments(yaml)
    .map((document) => {
      if (document.get('kind') === 'SGStream') {
        if (keepOtherSections) for (const [key, value] of Object.entries(target)) document.setIn(['spec', 'target', key], value);
        else document.setIn(['spec', 'target'], document.createNode(target));
      }
      return String(document);
    })
    .join('');
}

const CWD = '/work/streams';
const CLUSTER_URL = 'postgres://replicator:cluster-pw@source-cluster.db.internal:5433/postgres?sslmode=require';
const TARGET_CLUSTER_URL = 'postgresql://migrator:target-pw@target-cluster.db.internal/postgres?sslmode=verify-full&connect_timeout=5';
const ENV = {
  PGCDC_CLUSTER_SOURCE_CLUSTER: CLUSTER_URL,
  PGCDC_CLUSTER_TARGET_CLUSTER: TARGET_CLUSTER_URL,
  TOKEN: 'token-1',
};
const FILE_TARGET = { type: 'File', file: { path: 'changes.jsonl' } };
const STDOUT_TARGET = { type: 'Stdout' };

function clusterConnection(name: string, overrides: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return {
    host: 'source-cluster.db.internal',
    port: 5433,
    database: 'postgres',
    user: 'replicator',
    password: 'cluster-pw',
    sslMode: 'require',
    sslRootCert: undefined,
    sslCert: undefined,
    sslKey: undefined,
    applicationName: `pgcdc-${name}`,
    connectTimeoutMs: 10_000,
    ...overrides,
  };
}

/** The Postgres target an SGCluster target `target-cluster` becomes, pgcdc's defaults for every setting. */
function targetCluster(name: string, overrides: Partial<ConnectionConfig> = {}): PostgresTargetConfig {
  return {
    type: 'Postgres',
    connection: {
      host: 'target-cluster.db.internal',
      port: 5432,
      database: 'postgres',
      user: 'migrator',
      password: 'target-pw',
      sslMode: 'verify-full',
      sslRootCert: undefined,
      sslCert: undefined,
      sslKey: undefined,
      applicationName: `pgcdc-${name}-target`,
      connectTimeoutMs: 5000,
      ...overrides,
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
  };
}

function expectedConfig(name: string, connection: ConnectionConfig, options: Partial<SourceConfig> & Partial<StreamConfig> = {}): StreamConfig {
  const { target, maxRetries, warnings, ...source } = options;
  return {
    name,
    source: {
      connection,
      includes: [],
      excludes: [],
      snapshotMode: 'initial',
      slotName: `pgcdc_${name.replaceAll('-', '_')}`,
      publicationName: `pgcdc_${name.replaceAll('-', '_')}`,
      publicationAutocreateMode: 'filtered',
      publishViaPartitionRoot: false,
      slotDropOnStop: false,
      tombstonesOnDelete: true,
      unavailableValuePlaceholder: '__debezium_unavailable_value',
      provideTransactionMetadata: false,
      skippedOperations: [],
      messagePrefixIncludeList: [],
      messagePrefixExcludeList: [],
      streamInProgressTransactions: true,
      statusIntervalMs: 10_000,
      heartbeatIntervalMs: 0,
      slotMaxRetries: 6,
      slotRetryDelayMs: 10_000,
      snapshotParallelism: 4,
      snapshotChunkRows: 100_000,
      incrementalSnapshotChunkRows: 10_000,
      snapshotIncludes: [],
      signalTable: 'pgcdc.signals',
      tableDiscoveryIntervalMs: 10_000,
      skipDropReplicationSlotAndPublicationOnTombstone: false,
      columnMasks: { maskWithChars: [], hash: [], truncateToChars: [] },
      messageKeyColumns: [],
      rowFilters: {},
      captureDdl: false,
      ...source,
    },
    target: target ?? { type: 'File', path: '/work/streams/changes.jsonl', format: 'value' },
    maxRetries: maxRetries ?? -1,
    stateDir: `/work/streams/.pgcdc/${name}`,
    apiVersion: 'stackgres.io/v1alpha1',
    warnings: warnings ?? [],
  };
}

async function rejection(promise: Promise<unknown>): Promise<PgcdcError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  return error as PgcdcError;
}

describe('SGStream examples of the StackGres guide', () => {
  let secrets: string;
  beforeAll(async () => {
    secrets = await mkdtemp(path.join(tmpdir(), 'pgcdc-secrets-'));
    await mkdir(path.join(secrets, 'external-pg-credentials'));
    await writeFile(path.join(secrets, 'external-pg-credentials', 'username'), 'cdc_user\n');
    await writeFile(path.join(secrets, 'external-pg-credentials', 'password'), 'secure_password\n');
  });
  afterAll(() => rm(secrets, { recursive: true, force: true }));
  const load = (yaml: string, fileName = 'stream.yaml') => parseStreamConfig(yaml, { fileName, cwd: CWD, env: ENV, secretsDir: secrets });

  it('events-stream as written: a CloudEvent target with the http settings of the document', async () => {
    const config = await load(example('events-stream'));
    expect(config.target).toStrictEqual({
      type: 'CloudEvent',
      mode: 'structured',
      url: 'https://events.example.com/webhook',
      headers: { Authorization: `Bearer ${ENV.TOKEN}` },
      connectTimeoutMs: 5000,
      readTimeoutMs: 30_000,
      retryLimit: 5,
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
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: undefined } },
    });
    expect(config.warnings).toStrictEqual([]);
  });

  it('lambda-stream script: | as written: a PgLambda target running the inline script, the knative keys warned about', async () => {
    const config = await load(example('lambda-stream', 'script: |'));
    // pgcdc's defaults for every other setting (see test/function-target/pglambda-target.test.ts).
    expect(config.target).toMatchObject({ type: 'PgLambda', origin: 'spec.target.pgLambda.script', retryLimit: undefined });
    expect((config.target as { script: string }).script).toContain("response.end('OK');");
    expect(config.warnings).toStrictEqual([
      'spec.target.pgLambda.knative.http.connectTimeout is accepted but not applied by pgcdc (pgcdc runs the script itself, not as a Knative Service)',
      'spec.target.pgLambda.knative.http.readTimeout is accepted but not applied by pgcdc (pgcdc runs the script itself, not as a Knative Service)',
    ]);
  });

  it('lambda-stream scriptFrom as written: the script from the ConfigMap document beside it, before PGCDC_CONFIGMAP_*', async () => {
    const script = "const data = event.data;\n// Your processing logic here\nresponse.writeHead(200);\nresponse.end('OK');";
    const config = await parseStreamConfig(example('lambda-stream', 'scriptFrom'), { fileName: 'stream.yaml', cwd: CWD, env: { ...ENV, PGCDC_CONFIGMAP_LAMBDA_SCRIPT_HANDLER_JS: 'response.end();' } });
    expect(config.target).toMatchObject({ type: 'PgLambda', script, origin: 'key "handler.js" of ConfigMap "lambda-script"' });
    expect(config.warnings).toStrictEqual([]);
  });

  it('migration-stream as written: SGCluster to SGCluster, the database of each from the document', async () => {
    const config = await load(example('migration-stream'));
    expect(config).toStrictEqual(
      expectedConfig('migration-stream', clusterConnection('migration-stream', { database: 'myapp' }), {
        target: targetCluster('migration-stream', { database: 'myapp' }),
      }),
    );
  });

  it('external-migration as written: Postgres source from secret files into the target cluster', async () => {
    const config = await load(example('external-migration'));
    expect(config.source.connection).toMatchObject({ host: 'external-postgres.example.com', user: 'cdc_user', password: 'secure_password' });
    expect(config.target).toStrictEqual(targetCluster('external-migration'));
    expect(config.warnings).toStrictEqual([]);
  });

  it('custom-auth-stream as written: the target cluster with credentials from the Secret document beside it', async () => {
    const config = await load(example('custom-auth-stream'));
    expect(config).toStrictEqual(
      expectedConfig('custom-auth-stream', clusterConnection('custom-auth-stream', { user: 'stream_user', password: 'stream_password' }), {
        target: targetCluster('custom-auth-stream', { user: 'stream_user', password: 'stream_password' }),
      }),
    );
  });

  it('one-time-migration as written: snapshot only into the target cluster', async () => {
    const config = await load(example('one-time-migration'));
    expect(config).toStrictEqual(
      expectedConfig('one-time-migration', clusterConnection('one-time-migration'), { snapshotMode: 'initial_only', maxRetries: 3, target: targetCluster('one-time-migration') }),
    );
  });

  it('an SGCluster target whose PGCDC_CLUSTER_* variable is unset is a SECRET_NOT_FOUND error at its name', async () => {
    const { PGCDC_CLUSTER_TARGET_CLUSTER: _target, ...withoutTarget } = ENV;
    const error = await rejection(parseStreamConfig(example('migration-stream'), { fileName: 'stream.yaml', cwd: CWD, env: withoutTarget }));
    expect(error.code).toBe('SECRET_NOT_FOUND');
    expect(error.message).toBe(
      'stream.yaml:14: spec.target.sgCluster.name refers to SGCluster "target-cluster", whose URL pgcdc reads from the environment variable PGCDC_CLUSTER_TARGET_CLUSTER, which is not set',
    );
    expect(error.hint).toBe('export PGCDC_CLUSTER_TARGET_CLUSTER=postgres://postgres:password@target-cluster:5432/postgres');
  });

  it('migration-stream: SGCluster source, database from the document', async () => {
    const config = await load(withTarget(example('migration-stream'), FILE_TARGET));
    expect(config).toStrictEqual(expectedConfig('migration-stream', clusterConnection('migration-stream', { database: 'myapp' })));
  });

  it('events-stream: includes, and a warning for the CloudEvent section kept beside a File target', async () => {
    const config = await load(withTarget(example('events-stream'), FILE_TARGET, true));
    expect(config).toStrictEqual(
      expectedConfig('events-stream', clusterConnection('events-stream', { database: 'orders' }), {
        includes: ['public\\.orders', 'public\\.order_items'],
        warnings: ['spec.target.cloudEvent is accepted but not applied by pgcdc (spec.target.type is File)'],
      }),
    );
  });

  it('events-stream: the ${TOKEN} of its header must be set', async () => {
    const { TOKEN: _token, ...withoutToken } = ENV;
    const error = await rejection(parseStreamConfig(example('events-stream'), { fileName: 'events.yaml', cwd: CWD, env: withoutToken }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      'events.yaml:22: spec.target.cloudEvent.http.headers.Authorization uses ${TOKEN}, but the environment variable TOKEN is not set; expected it set, or a default: ${TOKEN:-value}',
    );
  });

  it('external-migration: Postgres source with credentials from the secrets directory', async () => {
    const config = await load(withTarget(example('external-migration'), STDOUT_TARGET));
    expect(config).toStrictEqual(
      expectedConfig(
        'external-migration',
        {
          host: 'external-postgres.example.com',
          port: 5432,
          database: 'production',
          user: 'cdc_user',
          password: 'secure_password',
          sslMode: 'prefer',
          sslRootCert: undefined,
          sslCert: undefined,
          sslKey: undefined,
          applicationName: 'pgcdc-external-migration',
          connectTimeoutMs: 10_000,
        },
        { target: { type: 'Stdout', format: 'value' } },
      ),
    );
  });

  it('custom-auth-stream: credentials from its Secret document override the cluster URL', async () => {
    const config = await load(withTarget(example('custom-auth-stream'), FILE_TARGET));
    expect(config).toStrictEqual(expectedConfig('custom-auth-stream', clusterConnection('custom-auth-stream', { user: 'stream_user', password: 'stream_password' })));
  });

  it.each(['script: |', 'scriptFrom'])('lambda-stream (%s) loads with a Stdout target', async (marker) => {
    const config = await load(withTarget(example('lambda-stream', marker), { type: 'Stdout', stdout: { format: 'record' } }));
    expect(config).toStrictEqual(expectedConfig('lambda-stream', clusterConnection('lambda-stream'), { target: { type: 'Stdout', format: 'record' } }));
  });

  it('one-time-migration: snapshotMode from debeziumProperties and maxRetries', async () => {
    const config = await load(withTarget(example('one-time-migration'), FILE_TARGET));
    expect(config).toStrictEqual(expectedConfig('one-time-migration', clusterConnection('one-time-migration'), { snapshotMode: 'initial_only', maxRetries: 3 }));
  });

  it.each([
    ['includes', ['public\\.users', 'public\\.orders', 'inventory\\..*']],
    ['excludes', ['public\\.audit_logs', 'temp\\..*']],
  ])('the %s filter snippet works inside a complete document', async (filter, patterns) => {
    const snippet = BLOCKS.find((block) => block.startsWith('spec:') && block.includes(`      ${filter}:`));
    expect(snippet).toBeDefined();
    const yaml = `apiVersion: stackgres.io/v1alpha1\nkind: SGStream\nmetadata:\n  name: filtered\n${snippet}  target:\n    type: Stdout\n`;
    const config = await load(yaml);
    expect(config).toStrictEqual(expectedConfig('filtered', clusterConnection('filtered'), { [filter]: patterns, target: { type: 'Stdout', format: 'value' } }));
  });
});
