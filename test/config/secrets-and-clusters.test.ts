import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterEnvName } from '../../src/config/cluster-resolver.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { secretEnvName } from '../../src/config/secret-resolver.js';
import { failure } from '../support/expected-failures.js';

function postgresSource(extra = ''): string {
  return `apiVersion: stackgres.io/v1alpha1
kind: SGStream
metadata:
  name: ext
spec:
  source:
    type: Postgres
    postgres:
      host: pg.example.com
      username:
        name: db-creds
        key: user
      password:
        name: db-creds
        key: password
${extra}  target:
    type: Stdout
`;
}

function clusterSource(sgCluster: string): string {
  return `apiVersion: stackgres.io/v1alpha1
kind: SGStream
metadata:
  name: from-cluster
spec:
  source:
    type: SGCluster
    sgCluster:
${sgCluster}  target:
    type: Stdout
`;
}

describe('secret references', () => {
  let secrets: string;
  beforeAll(async () => {
    secrets = await mkdtemp(path.join(tmpdir(), 'pgcdc-secrets-'));
    await mkdir(path.join(secrets, 'db-creds'));
    await writeFile(path.join(secrets, 'db-creds', 'user'), 'from_file\n');
    await writeFile(path.join(secrets, 'db-creds', 'password'), 'pass word\n\n');
  });
  afterAll(() => rm(secrets, { recursive: true, force: true }));

  it('name their environment variables after the reference', () => {
    expect(secretEnvName({ name: 'external-pg-credentials', key: 'password' })).toBe('PGCDC_SECRET_EXTERNAL_PG_CREDENTIALS_PASSWORD');
    expect(secretEnvName({ name: 'db.creds', key: 'tls.key' })).toBe('PGCDC_SECRET_DB_CREDS_TLS_KEY');
  });

  it('are read from <dir>/<name>/<key> with one trailing newline removed', async () => {
    const config = await parseStreamConfig(postgresSource(), { secretsDir: secrets, env: {}, cwd: '/tmp' });
    expect(config.source.connection).toStrictEqual({
      host: 'pg.example.com',
      port: 5432,
      database: 'postgres',
      user: 'from_file',
      password: 'pass word\n',
      sslMode: 'prefer',
      sslRootCert: undefined,
      sslCert: undefined,
      sslKey: undefined,
      applicationName: 'pgcdc-ext',
      connectTimeoutMs: 10_000,
    });
  });

  it('resolve a relative secrets directory against cwd', async () => {
    const config = await parseStreamConfig(postgresSource(), { secretsDir: path.basename(secrets), env: {}, cwd: path.dirname(secrets) });
    expect(config.source.connection.user).toBe('from_file');
  });

  it('fall back to PGCDC_SECRET_* when the file is missing or no directory is given', async () => {
    const env = { PGCDC_SECRET_DB_CREDS_USER: 'from_env', PGCDC_SECRET_DB_CREDS_PASSWORD: 'env-pw', PGCDC_SECRET_DB_CREDS_OTHER: 'other' };
    const withoutDir = await parseStreamConfig(postgresSource(), { env, cwd: '/tmp' });
    expect([withoutDir.source.connection.user, withoutDir.source.connection.password]).toStrictEqual(['from_env', 'env-pw']);
    const mixed = await parseStreamConfig(postgresSource().replace('key: password', 'key: other'), { secretsDir: secrets, env, cwd: '/tmp' });
    expect([mixed.source.connection.user, mixed.source.connection.password]).toStrictEqual(['from_file', 'other']);
  });

  it('that cannot be found are SECRET_NOT_FOUND errors naming the reference, the file and the variable', async () => {
    const withDir = await failure(parseStreamConfig(postgresSource(), { fileName: 'ext.yaml', secretsDir: '/nonexistent/secrets', env: {}, cwd: '/tmp' }));
    expect(withDir.code).toBe('SECRET_NOT_FOUND');
    expect(withDir.message.split('\n')).toStrictEqual([
      'ext.yaml:10: spec.source.postgres.username refers to key "user" of secret "db-creds", which cannot be found: neither the file /nonexistent/secrets/db-creds/user exists nor the environment variable PGCDC_SECRET_DB_CREDS_USER is set',
      'ext.yaml:13: spec.source.postgres.password refers to key "password" of secret "db-creds", which cannot be found: neither the file /nonexistent/secrets/db-creds/password exists nor the environment variable PGCDC_SECRET_DB_CREDS_PASSWORD is set',
    ]);
    expect(withDir.hint).toBe('create /nonexistent/secrets/db-creds/user (or mount the Secret there), or set PGCDC_SECRET_DB_CREDS_USER');
    const withoutDir = await failure(parseStreamConfig(postgresSource(), { fileName: 'ext.yaml', env: { PGCDC_SECRET_DB_CREDS_USER: 'u' }, cwd: '/tmp' }));
    expect(withoutDir.message).toBe(
      'ext.yaml:13: spec.source.postgres.password refers to key "password" of secret "db-creds", which cannot be found: no secrets directory was given, and the environment variable PGCDC_SECRET_DB_CREDS_PASSWORD is not set',
    );
    expect(withoutDir.hint).toBe('set PGCDC_SECRET_DB_CREDS_PASSWORD, or give a secrets directory holding db-creds/password');
  });

  it('list configuration problems before unresolved secrets, under the code of the first', async () => {
    const error = await failure(
      parseStreamConfig(postgresSource().replace('    type: Stdout\n', '    type: PgLambda\n    pgLambda:\n      scriptFrom: {file: missing.js}\n'), { fileName: 'ext.yaml', env: {}, cwd: '/tmp' }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toStrictEqual([
      'ext.yaml:19: spec.target.pgLambda.scriptFrom.file is "missing.js" (/tmp/missing.js), which does not exist; expected a readable file holding the script',
      'ext.yaml:10: spec.source.postgres.username refers to key "user" of secret "db-creds", which cannot be found: no secrets directory was given, and the environment variable PGCDC_SECRET_DB_CREDS_USER is not set',
      'ext.yaml:13: spec.source.postgres.password refers to key "password" of secret "db-creds", which cannot be found: no secrets directory was given, and the environment variable PGCDC_SECRET_DB_CREDS_PASSWORD is not set',
    ]);
  });

  it('must be safe file names', async () => {
    const error = await failure(parseStreamConfig(postgresSource().replace('name: db-creds\n        key: user', 'name: ../etc\n        key: passwd'), { env: {}, cwd: '/tmp' }));
    expect(error.message).toBe('line 11: spec.source.postgres.username.name is "../etc"; expected a Secret name: lowercase letters, digits, "-" and "."');
  });
});

describe('SGCluster sources', () => {
  it('name their environment variable after the cluster', () => {
    expect(clusterEnvName('source-cluster')).toBe('PGCDC_CLUSTER_SOURCE_CLUSTER');
    expect(clusterEnvName('pg.main')).toBe('PGCDC_CLUSTER_PG_MAIN');
  });

  it('connect to the URL of PGCDC_CLUSTER_<NAME>', async () => {
    const config = await parseStreamConfig(clusterSource('      name: main-db\n'), {
      env: { PGCDC_CLUSTER_MAIN_DB: 'postgresql://owner:owner-pw@main-db.svc:5433/appdb?sslmode=verify-full&connect_timeout=3' },
      cwd: '/tmp',
    });
    expect(config.source.connection).toStrictEqual({
      host: 'main-db.svc',
      port: 5433,
      database: 'appdb',
      user: 'owner',
      password: 'owner-pw',
      sslMode: 'verify-full',
      sslRootCert: undefined,
      sslCert: undefined,
      sslKey: undefined,
      applicationName: 'pgcdc-from-cluster',
      connectTimeoutMs: 3000,
    });
  });

  it('default database and user to postgres when neither document nor URL names them', async () => {
    const config = await parseStreamConfig(clusterSource('      name: main-db\n'), { env: { PGCDC_CLUSTER_MAIN_DB: 'postgres://main-db.svc' }, cwd: '/tmp' });
    expect([config.source.connection.database, config.source.connection.user, config.source.connection.password]).toStrictEqual(['postgres', 'postgres', undefined]);
  });

  it('let database and secret credentials of the document override the URL', async () => {
    const config = await parseStreamConfig(
      clusterSource('      name: main-db\n      database: orders\n      username: {name: creds, key: username}\n      password: {name: creds, key: password}\n'),
      {
        env: {
          PGCDC_CLUSTER_MAIN_DB: 'postgres://owner:owner-pw@main-db.svc/appdb',
          PGCDC_SECRET_CREDS_USERNAME: 'stream_user',
          PGCDC_SECRET_CREDS_PASSWORD: 'stream_pw',
        },
        cwd: '/tmp',
      },
    );
    expect([config.source.connection.database, config.source.connection.user, config.source.connection.password]).toStrictEqual(['orders', 'stream_user', 'stream_pw']);
  });

  it('with the variable unset are SECRET_NOT_FOUND errors', async () => {
    const error = await failure(parseStreamConfig(clusterSource('      name: source-cluster\n'), { fileName: 'c.yaml', env: {}, cwd: '/tmp' }));
    expect(error.code).toBe('SECRET_NOT_FOUND');
    expect(error.message).toBe(
      'c.yaml:9: spec.source.sgCluster.name refers to SGCluster "source-cluster", whose URL pgcdc reads from the environment variable PGCDC_CLUSTER_SOURCE_CLUSTER, which is not set',
    );
    expect(error.hint).toBe('export PGCDC_CLUSTER_SOURCE_CLUSTER=postgres://postgres:password@source-cluster:5432/postgres');
  });

  it('with an invalid URL are CONFIG_INVALID errors that hide the password', async () => {
    const error = await failure(
      parseStreamConfig(clusterSource('      name: source-cluster\n'), { fileName: 'c.yaml', env: { PGCDC_CLUSTER_SOURCE_CLUSTER: 'mysql://root:topsecret@db/x' }, cwd: '/tmp' }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      'c.yaml:9: spec.source.sgCluster.name refers to SGCluster "source-cluster", but the environment variable PGCDC_CLUSTER_SOURCE_CLUSTER is "mysql://root:***@db/x"; expected a postgres:// or postgresql:// URL, e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require',
    );
    expect(error.message).not.toContain('topsecret');
  });
});
