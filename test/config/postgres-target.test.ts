/**
 * The Postgres target: native `spec.target.type: Postgres` (defaults, every key, URL problems at
 * spec.target.postgres.url), and SGStream `spec.target.type: SGCluster` mapped onto it (cluster
 * URL, secrets, each CRD option and JDBC sink property, warnings and errors).
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { redactConfig } from '../../src/config/redact-config.js';
import { APPLIED_JDBC_SINK_PROPERTIES, UNAPPLIED_SGCLUSTER_TARGET_KEYS } from '../../src/config/sgcluster-target.js';
import { jdbcSinkPropertiesSchema, sgClusterTargetSchema } from '../../src/config/sgstream-target-schemas.js';
import type { ConnectionConfig, PostgresTargetConfig } from '../../src/config/stream-config.js';
import { failure } from '../support/expected-failures.js';

const CWD = '/srv/pgcdc';
const URL_HINT = 'write the URL like postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require';
const CERTIFICATE_HINT = "give the path of a readable PEM file, relative to the stream file's directory";

/** A native stream to a Postgres target; `postgres` is the body of spec.target.postgres (indented by 6), from line 13. */
function nativeDoc(postgres: string): string {
  return `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: orders
spec:
  source:
    type: Postgres
    postgres:
      url: postgres://app:s3cret@source.example.com/shop
  target:
    type: Postgres
    postgres:
${postgres}`;
}

/** An SGStream from SGCluster source-cluster to SGCluster target-cluster; `extra` continues spec.target.sgCluster (indented by 6) from line 14. */
function sgStreamDoc(extra = '', target = '    type: SGCluster\n    sgCluster:\n      name: target-cluster\n'): string {
  return `apiVersion: stackgres.io/v1alpha1
kind: SGStream
metadata:
  name: migration
spec:
  source:
    type: SGCluster
    sgCluster:
      name: source-cluster
  target:
${target}${extra}`;
}

const SG_ENV = {
  PGCDC_CLUSTER_SOURCE_CLUSTER: 'postgres://replicator:source-pw@source.internal/app',
  PGCDC_CLUSTER_TARGET_CLUSTER: 'postgres://owner:owner-pw@target.internal:6432/appdb?sslmode=require',
};

/** pgcdc's defaults for every Postgres target setting besides the connection. */
const DEFAULT_OPTIONS: Omit<PostgresTargetConfig, 'type' | 'connection'> = {
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

/** The connection of SG_ENV's target cluster, as the stream `migration` makes it. */
function targetClusterConnection(overrides: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return {
    host: 'target.internal',
    port: 6432,
    database: 'appdb',
    user: 'owner',
    password: 'owner-pw',
    sslMode: 'require',
    sslRootCert: undefined,
    sslCert: undefined,
    sslKey: undefined,
    applicationName: 'pgcdc-migration-target',
    connectTimeoutMs: 10_000,
    ...overrides,
  };
}

const loadNative = (yaml: string, env: NodeJS.ProcessEnv = {}, cwd = CWD) => parseStreamConfig(yaml, { fileName: 'pg.yaml', env, cwd });
const loadSg = (yaml: string, env: NodeJS.ProcessEnv = SG_ENV, secretsDir?: string) => parseStreamConfig(yaml, { fileName: 'sg.yaml', env, cwd: CWD, secretsDir });

describe('native Postgres targets', () => {
  it('fill every default: application_name pgcdc-<name>-target, database the user, user postgres', async () => {
    const config = await loadNative(nativeDoc('      url: postgres://migrator:t4rget@target.example.com/shop_v2\n'));
    expect(config.target).toStrictEqual({
      type: 'Postgres',
      connection: {
        host: 'target.example.com',
        port: 5432,
        database: 'shop_v2',
        user: 'migrator',
        password: 't4rget',
        sslMode: 'prefer',
        sslRootCert: undefined,
        sslCert: undefined,
        sslKey: undefined,
        applicationName: 'pgcdc-orders-target',
        connectTimeoutMs: 10_000,
      },
      ...DEFAULT_OPTIONS,
    });
    expect(config.source.connection.applicationName).toBe('pgcdc-orders');
    expect(config.warnings).toStrictEqual([]);
    const bare = await loadNative(nativeDoc('      url: postgres://target.example.com\n'));
    expect(bare.target.type === 'Postgres' && [bare.target.connection.user, bare.target.connection.database, bare.target.connection.password]).toStrictEqual([
      'postgres',
      'postgres',
      undefined,
    ]);
    const userOnly = await loadNative(nativeDoc('      url: postgres://alice@target.example.com\n'));
    expect(userOnly.target.type === 'Postgres' && [userOnly.target.connection.user, userOnly.target.connection.database]).toStrictEqual(['alice', 'alice']);
  });

  describe('with every key set', () => {
    let dir: string;
    const CA = '-----BEGIN CERTIFICATE-----\nTARGET CA\n-----END CERTIFICATE-----\n';
    const CERT = '-----BEGIN CERTIFICATE-----\nTARGET CLIENT\n-----END CERTIFICATE-----\n';
    const KEY = '-----BEGIN PRIVATE KEY-----\nTARGET KEY\n-----END PRIVATE KEY-----\n';
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'pgcdc-target-'));
      await mkdir(path.join(dir, 'tls'));
      await writeFile(path.join(dir, 'tls', 'ca.pem'), CA);
      await writeFile(path.join(dir, 'tls', 'client.pem'), CERT);
      await writeFile(path.join(dir, 'tls', 'client.key'), KEY);
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('reads them all, certificates (relative to cwd) and ${VAR} included', async () => {
      const yaml = nativeDoc(`      url: postgresql://mig%40corp:\${TARGET_PASSWORD}@[::1]:6543/shop%20v2?sslmode=verify-full&sslrootcert=tls/ca.pem&sslcert=tls/client.pem&sslkey=tls/client.key&application_name=orders-sink&connect_timeout=3
      conflictPolicy: skip
      createTables: false
      replicateDdl: false
      deferIndexes: false
      deleteEnabled: false
      truncateEnabled: false
      rowErrorPolicy: skip
      ddlErrorPolicy: skip
      synchronousCommit: true
`);
      const config = await loadNative(yaml, { TARGET_PASSWORD: 'p%40ss%2Fw0rd' }, dir);
      expect(config.target).toStrictEqual({
        type: 'Postgres',
        connection: {
          host: '::1',
          port: 6543,
          database: 'shop v2',
          user: 'mig@corp',
          password: 'p@ss/w0rd',
          sslMode: 'verify-full',
          sslRootCert: CA,
          sslCert: CERT,
          sslKey: KEY,
          applicationName: 'orders-sink',
          connectTimeoutMs: 3000,
        },
        conflictPolicy: 'skip',
        createTables: false,
        replicateDdl: false,
        deferIndexes: false,
        deleteEnabled: false,
        truncateEnabled: false,
        rowErrorPolicy: 'skip',
        ddlErrorPolicy: 'skip',
        synchronousCommit: true,
      });
      expect(config.warnings).toStrictEqual([]);
    });

    it('are redacted for logs: the target password and key hidden', async () => {
      const config = await loadNative(nativeDoc('      url: postgres://migrator:t4rget@target.example.com/shop?sslmode=require&sslkey=tls/client.key\n'), {}, dir);
      const redacted = JSON.stringify(redactConfig(config));
      expect(redacted).not.toContain('t4rget');
      expect(redacted).not.toContain('TARGET KEY');
      expect((redactConfig(config) as { target: { connection: { password: string; sslKey: string } } }).target.connection).toMatchObject({ password: '***', sslKey: '***' });
    });
  });

  it('report URL problems at spec.target.postgres.url as for the source, without the password', async () => {
    const scheme = await failure(loadNative(nativeDoc('      url: mysql://root:hunter2@db/shop\n')));
    expect(scheme.code).toBe('CONFIG_INVALID');
    expect(scheme.message).toBe(
      'pg.yaml:13: spec.target.postgres.url is "mysql://root:***@db/shop"; expected a postgres:// or postgresql:// URL, e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require',
    );
    expect(scheme.hint).toBe(URL_HINT);
    const parameters = await failure(loadNative(nativeDoc('      url: postgres://u:hunter2@db/shop?sslmod=require&sslmode=requir&connect_timeout=0\n')));
    expect(parameters.message.split('\n')).toStrictEqual([
      'pg.yaml:13: spec.target.postgres.url has the query parameter "sslmod", which pgcdc does not support; did you mean sslmode? (supported: sslmode, sslrootcert, sslcert, sslkey, application_name, connect_timeout, host, port, user, password)',
      'pg.yaml:13: spec.target.postgres.url has sslmode=requir; expected one of: disable, allow, prefer, require, verify-ca, verify-full (did you mean require?)',
      'pg.yaml:13: spec.target.postgres.url has connect_timeout=0; expected a whole number of seconds ≥ 1',
    ]);
    expect(parameters.message).not.toContain('hunter2');
    const unparsable = await failure(loadNative(nativeDoc('      url: postgres://u:hunter2@db:99x/shop\n')));
    expect(unparsable.message).toBe(
      'pg.yaml:13: spec.target.postgres.url is "postgres://u:***@db:99x/shop", which cannot be parsed as a URL; expected e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require (percent-encode the user name and password: @ as %40, # as %23, / as %2F, ? as %3F: p@ss#w/rd? is written p%40ss%23w%2Frd%3F)',
    );
  });

  it('report unreadable certificate files of both URLs at their own keys', async () => {
    const yaml = nativeDoc('      url: postgres://u:hunter2@db/shop?sslmode=verify-ca&sslrootcert=/nonexistent/target-ca.pem\n').replace(
      'source.example.com/shop',
      'source.example.com/shop?sslcert=/nonexistent/source.pem',
    );
    const error = await failure(loadNative(yaml));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toStrictEqual([
      "pg.yaml:9: spec.source.postgres.url has sslcert=/nonexistent/source.pem, which cannot be read (ENOENT: no such file or directory, open '/nonexistent/source.pem'); expected a readable PEM file",
      "pg.yaml:13: spec.target.postgres.url has sslrootcert=/nonexistent/target-ca.pem, which cannot be read (ENOENT: no such file or directory, open '/nonexistent/target-ca.pem'); expected a readable PEM file",
    ]);
    expect(error.hint).toBe(CERTIFICATE_HINT);
    expect(error.message).not.toContain('hunter2');
  });

  it('need the section and its url, and check each setting', async () => {
    const noSection = await failure(loadNative(nativeDoc('').slice(0, -'    postgres:\n'.length)));
    expect(noSection.message).toBe('pg.yaml:10: spec.target.postgres is missing; expected a map, required when the target type is Postgres');
    const bad = await failure(loadNative(nativeDoc('      conflictPolicy: upsert\n      createTables: "no"\n      rowErrorPolicy: skipp\n      batchSize: 10\n')));
    expect(bad.message.split('\n')).toStrictEqual([
      'pg.yaml:12: spec.target.postgres.url is missing; expected a postgres:// or postgresql:// URL, e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require',
      'pg.yaml:13: spec.target.postgres.conflictPolicy is "upsert"; expected one of: update, skip, fail',
      'pg.yaml:14: spec.target.postgres.createTables is "no" (a string); expected true or false',
      'pg.yaml:15: spec.target.postgres.rowErrorPolicy is "skipp"; expected one of: fail, skip (did you mean skip?)',
      'pg.yaml:16: spec.target.postgres.batchSize is not a known key; known keys: url, conflictPolicy, createTables, replicateDdl, deferIndexes, deleteEnabled, truncateEnabled, rowErrorPolicy, ddlErrorPolicy, synchronousCommit',
    ]);
  });

  it('warn about the sections of other target types', async () => {
    const config = await loadNative(`${nativeDoc('      url: postgres://target.example.com/shop\n')}    file:\n      path: unused.jsonl\n`);
    expect(config.target.type).toBe('Postgres');
    expect(config.warnings).toStrictEqual(['spec.target.file is accepted but not applied by pgcdc (spec.target.type is Postgres)']);
  });
});

describe('SGStream SGCluster targets', () => {
  let secrets: string;
  beforeAll(async () => {
    secrets = await mkdtemp(path.join(tmpdir(), 'pgcdc-target-secrets-'));
    await mkdir(path.join(secrets, 'target-creds'));
    await writeFile(path.join(secrets, 'target-creds', 'username'), 'sink_user\n');
    await writeFile(path.join(secrets, 'target-creds', 'password'), 'sink_pw\n');
  });
  afterAll(() => rm(secrets, { recursive: true, force: true }));

  it('connect to PGCDC_CLUSTER_<NAME>, with pgcdc defaults for every setting', async () => {
    const config = await loadSg(sgStreamDoc());
    expect(config.target).toStrictEqual({ type: 'Postgres', connection: targetClusterConnection(), ...DEFAULT_OPTIONS });
    expect(config.source.connection).toMatchObject({ host: 'source.internal', database: 'app', user: 'replicator', applicationName: 'pgcdc-migration' });
    expect(config.warnings).toStrictEqual([]);
  });

  it('take database and credentials of the document (secrets directory) over the URL', async () => {
    const extra = '      database: orders\n      username: {name: target-creds, key: username}\n      password: {name: target-creds, key: password}\n';
    const config = await loadSg(sgStreamDoc(extra), SG_ENV, secrets);
    expect(config.target).toStrictEqual({
      type: 'Postgres',
      connection: targetClusterConnection({ database: 'orders', user: 'sink_user', password: 'sink_pw' }),
      ...DEFAULT_OPTIONS,
    });
  });

  it('default database and user to postgres when neither the document nor the URL names them', async () => {
    const config = await loadSg(sgStreamDoc(), { ...SG_ENV, PGCDC_CLUSTER_TARGET_CLUSTER: 'postgres://target.internal' });
    expect(config.target.type === 'Postgres' && config.target.connection).toStrictEqual(
      targetClusterConnection({ port: 5432, database: 'postgres', user: 'postgres', password: undefined, sslMode: 'prefer' }),
    );
  });

  it.each([
    ['skipDdlImport: true', '      skipDdlImport: true\n', { createTables: false, replicateDdl: false }],
    ['skipDdlImport: false', '      skipDdlImport: false\n', {}],
    ['skipDropIndexesAndConstraints: true', '      skipDropIndexesAndConstraints: true\n', { deferIndexes: false }],
    ['skipDropIndexesAndConstraints: false', '      skipDropIndexesAndConstraints: false\n', {}],
    ['insertMode: insert', '      debeziumProperties: {insertMode: insert}\n', { conflictPolicy: 'fail' }],
    ['insertMode: upsert', '      debeziumProperties: {insertMode: upsert}\n', { conflictPolicy: 'update' }],
    ['insertMode: update', '      debeziumProperties: {insertMode: update}\n', { conflictPolicy: 'update' }],
    ['deleteEnabled: false', '      debeziumProperties: {deleteEnabled: false}\n', { deleteEnabled: false }],
    ['truncateEnabled: false', '      debeziumProperties: {truncateEnabled: false}\n', { truncateEnabled: false }],
    ['schemaEvolution: none', '      debeziumProperties: {schemaEvolution: none}\n', { createTables: false, replicateDdl: false }],
    ['schemaEvolution: basic', '      debeziumProperties: {schemaEvolution: basic}\n', {}],
    [
      'every applied key at once',
      '      skipDdlImport: true\n      skipDropIndexesAndConstraints: true\n      debeziumProperties:\n        insertMode: insert\n        deleteEnabled: false\n        truncateEnabled: false\n        schemaEvolution: none\n',
      { conflictPolicy: 'fail', createTables: false, replicateDdl: false, deferIndexes: false, deleteEnabled: false, truncateEnabled: false },
    ],
  ] as const)('map %s', async (_name, extra, options) => {
    const config = await loadSg(sgStreamDoc(extra));
    expect(config.target).toStrictEqual({ type: 'Postgres', connection: targetClusterConnection(), ...DEFAULT_OPTIONS, ...options });
    expect(config.warnings).toStrictEqual([]);
  });

  it.each([
    [
      'skipDdlImport: true over schemaEvolution: basic',
      '      skipDdlImport: true\n      debeziumProperties: {schemaEvolution: basic}\n',
      'spec.target.sgCluster.debeziumProperties.schemaEvolution is overridden by spec.target.sgCluster.skipDdlImport, which turns off createTables and replicateDdl',
    ],
    [
      'schemaEvolution: none over skipDdlImport: false',
      '      skipDdlImport: false\n      debeziumProperties: {schemaEvolution: none}\n',
      'spec.target.sgCluster.skipDdlImport is overridden by spec.target.sgCluster.debeziumProperties.schemaEvolution, which turns off createTables and replicateDdl',
    ],
  ])('let the key turning schema changes off win: %s', async (_name, extra, warning) => {
    const config = await loadSg(sgStreamDoc(extra));
    expect(config.target).toStrictEqual({ type: 'Postgres', connection: targetClusterConnection(), ...DEFAULT_OPTIONS, createTables: false, replicateDdl: false });
    expect(config.warnings).toStrictEqual([warning]);
  });

  it('accept the options pgcdc does not apply, with a warning naming each, in document order', async () => {
    const extra = `      skipRestoreIndexesAfterSnapshot: true
      ddlImportRoleSkipFilter: "postgres|replicator"
      skipDropPrimaryKeys: false
      debeziumProperties:
        insertMode: insert
        connectionUrlParameters: reWriteBatchedInserts=true
        detectInsertMode: false
        removePlaceholders: true
        connectionPoolMin_size: 1
        connectionPoolMax_size: 8
        connectionPoolAcquire_increment: 2
        connectionPoolTimeout: 60
        connectionRestartOnErrors: true
        useTimeZone: Europe/Paris
        deleteEnabled: true
        primaryKeyMode: record_key
        primaryKeyFields: [id]
        quoteIdentifiers: false
        collectionNameFormat: "$\${topic}"
        dialectPostgresPostgisSchema: gis
        dialectSqlserverIdentityInsert: false
        batchSize: 1000
        useReductionBuffer: true
        flushMaxRetries: 3
        flushRetryDelayMs: 500
        columnNamingStrategy: com.example.Columns
        collectionNamingStrategy: com.example.Tables
`;
    const config = await loadSg(sgStreamDoc(extra));
    expect(config.target).toStrictEqual({ type: 'Postgres', connection: targetClusterConnection(), ...DEFAULT_OPTIONS, conflictPolicy: 'fail' });
    const properties = [
      'connectionUrlParameters',
      'detectInsertMode',
      'removePlaceholders',
      'connectionPoolMin_size',
      'connectionPoolMax_size',
      'connectionPoolAcquire_increment',
      'connectionPoolTimeout',
      'connectionRestartOnErrors',
      'useTimeZone',
      'primaryKeyMode',
      'primaryKeyFields',
      'quoteIdentifiers',
      'collectionNameFormat',
      'dialectPostgresPostgisSchema',
      'dialectSqlserverIdentityInsert',
      'batchSize',
      'useReductionBuffer',
      'flushMaxRetries',
      'flushRetryDelayMs',
      'columnNamingStrategy',
      'collectionNamingStrategy',
    ];
    expect(config.warnings).toStrictEqual([
      'spec.target.sgCluster.skipRestoreIndexesAfterSnapshot is accepted but not applied by pgcdc',
      'spec.target.sgCluster.ddlImportRoleSkipFilter is accepted but not applied by pgcdc',
      'spec.target.sgCluster.skipDropPrimaryKeys is accepted but not applied by pgcdc',
      ...properties.map((property) => `spec.target.sgCluster.debeziumProperties.${property} is accepted but not applied by pgcdc`),
    ]);
  });

  it('reject insertMode and schemaEvolution values the JDBC sink does not have, listing the allowed ones', async () => {
    const error = await failure(loadSg(sgStreamDoc('      debeziumProperties:\n        insertMode: merge\n        schemaEvolution: advanced\n')));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toStrictEqual([
      'sg.yaml:15: spec.target.sgCluster.debeziumProperties.insertMode is "merge"; expected one of: insert, upsert, update',
      'sg.yaml:16: spec.target.sgCluster.debeziumProperties.schemaEvolution is "advanced"; expected one of: none, basic',
    ]);
    const nearly = await failure(loadSg(sgStreamDoc('      debeziumProperties: {insertMode: UPSERT}\n')));
    expect(nearly.message).toBe('sg.yaml:14: spec.target.sgCluster.debeziumProperties.insertMode is "UPSERT"; expected one of: insert, upsert, update (did you mean upsert?)');
  });

  it('report an unset or invalid cluster variable and missing secrets at the target keys', async () => {
    const unset = await failure(loadSg(sgStreamDoc(), { PGCDC_CLUSTER_SOURCE_CLUSTER: SG_ENV.PGCDC_CLUSTER_SOURCE_CLUSTER }));
    expect(unset.code).toBe('SECRET_NOT_FOUND');
    expect(unset.message).toBe(
      'sg.yaml:13: spec.target.sgCluster.name refers to SGCluster "target-cluster", whose URL pgcdc reads from the environment variable PGCDC_CLUSTER_TARGET_CLUSTER, which is not set',
    );
    expect(unset.hint).toBe('export PGCDC_CLUSTER_TARGET_CLUSTER=postgres://postgres:password@target-cluster:5432/postgres');

    const invalid = await failure(loadSg(sgStreamDoc(), { ...SG_ENV, PGCDC_CLUSTER_TARGET_CLUSTER: 'postgres://owner:topsecret@target.internal/appdb?sslmode=strict' }));
    expect(invalid.code).toBe('CONFIG_INVALID');
    expect(invalid.message).toBe(
      'sg.yaml:13: spec.target.sgCluster.name refers to SGCluster "target-cluster", but the environment variable PGCDC_CLUSTER_TARGET_CLUSTER has sslmode=strict; expected one of: disable, allow, prefer, require, verify-ca, verify-full',
    );
    expect(invalid.message).not.toContain('topsecret');

    const secret = await failure(loadSg(sgStreamDoc('      password: {name: target-creds, key: missing}\n'), SG_ENV, secrets));
    expect(secret.code).toBe('SECRET_NOT_FOUND');
    expect(secret.message).toBe(
      `sg.yaml:14: spec.target.sgCluster.password refers to key "missing" of secret "target-creds", which cannot be found: neither the file ${path.join(secrets, 'target-creds', 'missing')} exists nor the environment variable PGCDC_SECRET_TARGET_CREDS_MISSING is set`,
    );
  });

  it('warn about the sections of other target types kept beside it', async () => {
    const config = await loadSg(`${sgStreamDoc()}    file:\n      path: unused.jsonl\n    cloudEvent:\n      http: {url: https://events.example.com}\n`);
    expect(config.target.type).toBe('Postgres');
    expect(config.warnings).toStrictEqual([
      'spec.target.file is accepted but not applied by pgcdc (spec.target.type is SGCluster)',
      'spec.target.cloudEvent is accepted but not applied by pgcdc (spec.target.type is SGCluster)',
    ]);
  });

  it('need the pgLambda section of a PgLambda target, even beside an sgCluster section', async () => {
    const error = await failure(loadSg(sgStreamDoc('', '    type: PgLambda\n    sgCluster:\n      name: target-cluster\n')));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe('sg.yaml:10: spec.target.pgLambda is missing; expected a map, required when the target type is PgLambda');
  });

  it('also take the native postgres section (type: Postgres), its URL problems at spec.target.postgres.url', async () => {
    const target = '    type: Postgres\n    postgres:\n      url: postgres://owner:owner-pw@target.internal:6432/appdb?sslmode=require\n      rowErrorPolicy: skip\n';
    const config = await loadSg(sgStreamDoc('', target));
    expect(config.target).toStrictEqual({ type: 'Postgres', connection: targetClusterConnection(), ...DEFAULT_OPTIONS, rowErrorPolicy: 'skip' });
    const error = await failure(loadSg(sgStreamDoc('', target.replace('postgres://owner:owner-pw@', 'http://owner:owner-pw@'))));
    expect(error.message).toBe(
      'sg.yaml:13: spec.target.postgres.url is "http://owner:***@target.internal:6432/appdb?sslmode=require"; expected a postgres:// or postgresql:// URL, e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require',
    );
  });
});

describe('docs/configuration.md', () => {
  const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const section = docs.slice(docs.indexOf('### SGCluster targets'), docs.indexOf('## Errors'));

  it('maps every key of spec.target.sgCluster and every JDBC sink property in the SGCluster targets table', () => {
    expect(section.startsWith('### SGCluster targets')).toBe(true);
    const rows = section.split('\n').filter((line) => line.startsWith('| '));
    const firstCells = rows.map((row) => row.split(' | ')[0]);
    const keys = Object.keys(sgClusterTargetSchema.shape).filter((key) => key !== 'debeziumProperties');
    expect(keys).toHaveLength(9);
    for (const key of keys) expect(firstCells.some((cell) => cell.includes(`\`${key}`)), key).toBe(true);
    const properties = Object.keys(jdbcSinkPropertiesSchema.shape);
    expect(properties).toHaveLength(25);
    for (const property of properties) {
      expect(firstCells.some((cell) => cell.includes(`\`${property}\``) || cell.includes(`\`debeziumProperties.${property}`)), property).toBe(true);
    }
    for (const key of UNAPPLIED_SGCLUSTER_TARGET_KEYS) expect(rows).toContain(`| \`${key}\` | accepted, not applied (a warning) |`);
    for (const property of APPLIED_JDBC_SINK_PROPERTIES) expect(rows.some((row) => row.startsWith(`| \`debeziumProperties.${property}\``)), property).toBe(true);
  });
});
