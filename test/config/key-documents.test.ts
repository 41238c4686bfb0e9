/**
 * ConfigMap and Secret documents written in the stream's file, as users keep StackGres examples
 * (test/fixtures/stackgres-*.yaml hold two of the guide's examples as written): references resolve
 * from them before the directories and the environment; a missing key, a bad value or a document
 * given twice is an error naming the document and the key; other documents are warned about.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStreamConfig, parseStreamConfig } from '../../src/config/load-stream-config.js';
import { pgcdcRejection as rejection } from '../support/rejection.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const PGLAMBDA_EXAMPLE = new URL('stackgres-pglambda-configmap.yaml', FIXTURES);
const CREDENTIALS_EXAMPLE = new URL('stackgres-custom-credentials.yaml', FIXTURES);
const CREDENTIALS_TEXT = readFileSync(CREDENTIALS_EXAMPLE, 'utf8');

const CLUSTERS = {
  PGCDC_CLUSTER_SOURCE_CLUSTER: 'postgres://replicator:cluster-pw@source-cluster.db.internal:5433/postgres',
  PGCDC_CLUSTER_TARGET_CLUSTER: 'postgres://migrator:target-pw@target-cluster.db.internal/postgres',
};

/** The credentials example with its Secret's `stringData` replaced by `secretBody` (lines indented as under the Secret). */
function credentialsWithSecret(secretBody: string, metadataExtra = ''): string {
  return CREDENTIALS_TEXT.replace('  name: stream-credentials\ntype: Opaque\nstringData:\n  username: stream_user\n  password: stream_password\n', `  name: stream-credentials\n${metadataExtra}type: Opaque\n${secretBody}`);
}

describe('ConfigMap and Secret documents in the stream file', () => {
  let mounts: string;
  beforeAll(async () => {
    mounts = await mkdtemp(path.join(tmpdir(), 'pgcdc-mounts-'));
    await mkdir(path.join(mounts, 'lambda-script'));
    await writeFile(path.join(mounts, 'lambda-script', 'handler.js'), 'response.end("from the directory");\n');
  });
  afterAll(() => rm(mounts, { recursive: true, force: true }));

  it('the PgLambda "Script from ConfigMap" example as written: the script from its ConfigMap document, before the directory and the variable', async () => {
    const env = { ...CLUSTERS, PGCDC_CONFIGMAP_LAMBDA_SCRIPT_HANDLER_JS: 'response.end("from the environment");' };
    const config = await loadStreamConfig(PGLAMBDA_EXAMPLE.pathname, { env, cwd: '/srv', configMapsDir: mounts });
    expect(config.target).toMatchObject({
      type: 'PgLambda',
      script: "const data = event.data;\n// Your processing logic here\nresponse.writeHead(200);\nresponse.end('OK');",
      origin: 'key "handler.js" of ConfigMap "lambda-script"',
    });
    expect(config.source.connection).toMatchObject({ host: 'source-cluster.db.internal', user: 'replicator', password: 'cluster-pw' });
    expect(config.warnings).toStrictEqual([]);
  });

  it('the "Custom Credentials" example as written: user and password of source and target from its Secret document (stringData)', async () => {
    const env = { ...CLUSTERS, PGCDC_SECRET_STREAM_CREDENTIALS_PASSWORD: 'not-this-one' };
    const config = await loadStreamConfig(CREDENTIALS_EXAMPLE.pathname, { env, cwd: '/srv' });
    expect(config.source.connection).toMatchObject({ host: 'source-cluster.db.internal', port: 5433, user: 'stream_user', password: 'stream_password' });
    expect(config.target).toMatchObject({ type: 'Postgres', connection: { host: 'target-cluster.db.internal', user: 'stream_user', password: 'stream_password' } });
    expect(config.warnings).toStrictEqual([]);
  });

  it('decodes base64 `data` of a Secret; `stringData` wins for a key given in both', async () => {
    const yaml = credentialsWithSecret(
      `data:\n  username: ${Buffer.from('data_user').toString('base64')}\n  password: ${Buffer.from('p@ss:wörd\n').toString('base64')}\nstringData:\n  username: string_user\n`,
    );
    const config = await parseStreamConfig(yaml, { env: CLUSTERS, cwd: '/srv' });
    expect([config.source.connection.user, config.source.connection.password]).toStrictEqual(['string_user', 'p@ss:wörd']);
  });

  it('a key the found Secret lacks is an error naming the document and the key', async () => {
    const yaml = credentialsWithSecret('stringData:\n  username: stream_user\n');
    const error = await rejection(parseStreamConfig(yaml, { fileName: 'stream.yaml', env: { ...CLUSTERS, PGCDC_SECRET_STREAM_CREDENTIALS_PASSWORD: 'pw' }, cwd: '/srv' }));
    expect(error.code).toBe('SECRET_NOT_FOUND');
    expect(error.message.split('\n')).toStrictEqual([
      'stream.yaml:22: spec.source.sgCluster.password refers to key "password" of secret "stream-credentials", which the Secret document at line 2 does not have (its keys: username)',
      'stream.yaml:32: spec.target.sgCluster.password refers to key "password" of secret "stream-credentials", which the Secret document at line 2 does not have (its keys: username)',
    ]);
    expect(error.hint).toBe('add "password" under data or stringData of Secret "stream-credentials" at line 2, or refer to one of its keys');
  });

  it('a key the found ConfigMap lacks is an error naming the document and the key', async () => {
    const yaml = readFileSync(PGLAMBDA_EXAMPLE, 'utf8').replace('key: handler.js', 'key: main.js');
    const error = await rejection(parseStreamConfig(yaml, { fileName: 'lambda.yaml', env: CLUSTERS, cwd: '/srv', configMapsDir: mounts }));
    expect(error.message).toBe(
      'lambda.yaml:27: spec.target.pgLambda.scriptFrom.configMapKeyRef refers to key "main.js" of ConfigMap "lambda-script", which the ConfigMap document at line 2 does not have (its keys: handler.js)',
    );
  });

  it('a Secret value under data that is not base64, or not a string, is an error that does not show it', async () => {
    const notBase64 = await rejection(parseStreamConfig(credentialsWithSecret('data:\n  username: c3RyZWFtX3VzZXI=\n  password: secure_password!\n'), { env: CLUSTERS, cwd: '/srv' }));
    expect(notBase64.message).toContain('refers to key "password" of secret "stream-credentials", whose data.password in the Secret document at line 2 is not base64');
    expect(notBase64.hint).toBe('write the value base64-encoded under data, or as plain text under stringData');
    const notString = await rejection(parseStreamConfig(credentialsWithSecret('stringData:\n  username: stream_user\n  password: 123456\n'), { env: CLUSTERS, cwd: '/srv' }));
    expect(notString.message).toContain('whose stringData.password in the Secret document at line 2 is a number; expected a string');
    expect(notString.message).not.toContain('123456');
  });

  it('matches the namespace when both documents give one', async () => {
    const elsewhere = credentialsWithSecret('stringData:\n  username: stream_user\n  password: stream_password\n', '  namespace: other\n').replace(
      '  name: custom-auth-stream\n',
      '  name: custom-auth-stream\n  namespace: streams\n',
    );
    const fromEnv = await parseStreamConfig(elsewhere, { env: { ...CLUSTERS, PGCDC_SECRET_STREAM_CREDENTIALS_USERNAME: 'env_user', PGCDC_SECRET_STREAM_CREDENTIALS_PASSWORD: 'env_pw' }, cwd: '/srv' });
    expect([fromEnv.source.connection.user, fromEnv.source.connection.password]).toStrictEqual(['env_user', 'env_pw']);
    const same = await parseStreamConfig(elsewhere.replace('namespace: other', 'namespace: streams'), { env: CLUSTERS, cwd: '/srv' });
    expect(same.source.connection.user).toBe('stream_user');
  });

  it('two Secrets of the same name are an error', async () => {
    const twice = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: stream-credentials\nstringData:\n  username: other\n---\n${CREDENTIALS_TEXT}`;
    const error = await rejection(parseStreamConfig(twice, { env: CLUSTERS, cwd: '/srv' }));
    expect(error.message).toContain('refers to key "username" of secret "stream-credentials", which the file defines more than once (the Secret documents at lines 1, 9)');
  });

  it('other kinds of documents are still ignored with a warning', async () => {
    const yaml = `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n${CREDENTIALS_TEXT}`;
    const config = await parseStreamConfig(yaml, { env: CLUSTERS, cwd: '/srv' });
    expect(config.warnings).toStrictEqual(['the document at line 1 (v1 Service web) is ignored']);
    expect(config.source.connection.user).toBe('stream_user');
  });
});
