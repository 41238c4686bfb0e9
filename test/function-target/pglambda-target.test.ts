/**
 * The `pgLambda` target settings: the schema's rules and defaults, and where the script is read
 * from (inline, a file, a ConfigMap or a Secret, each from a directory or the environment), with
 * the problem and fix when it cannot be read.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configMapEnvName } from '../../src/config/config-map-resolver.js';
import { ConfigProblems } from '../../src/config/config-issues.js';
import { buildPgLambdaTarget, type PgLambdaBuildContext, type PgLambdaTargetConfig, pgLambdaTargetSettingsSchema } from '../../src/config/pglambda-settings.js';
import { validateWithSchema } from '../../src/config/schema-validation.js';

const AT = ['spec', 'target', 'pgLambda'];
const SCRIPT = "response.end('OK');";
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pgcdc-pglambda-'));
  await mkdir(path.join(dir, 'scripts'));
  await writeFile(path.join(dir, 'scripts', 'handler.js'), SCRIPT);
  for (const [folder, name, key] of [['configmaps', 'lambda-script', 'handler.js'], ['secrets', 'lambda-secret', 'handler.js'], ['secrets', 'shared-script', 'main.js']]) {
    await mkdir(path.join(dir, folder, name), { recursive: true });
    await writeFile(path.join(dir, folder, name, key), `${SCRIPT} // ${folder}/${name}\n`);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function issuesOf(settings: unknown): string[] {
  const validation = validateWithSchema(pgLambdaTargetSettingsSchema, settings);
  return validation.ok ? [] : validation.issues.map((issue) => issue.text);
}

async function build(settings: unknown, context: Partial<PgLambdaBuildContext> = {}): Promise<{ target?: PgLambdaTargetConfig; problems: ConfigProblems }> {
  const validation = validateWithSchema(pgLambdaTargetSettingsSchema, settings);
  if (!validation.ok) throw new Error(validation.issues.map((issue) => issue.text).join('\n'));
  const problems = new ConfigProblems();
  const target = await buildPgLambdaTarget(validation.data, AT, { cwd: dir, env: {}, secretsDir: undefined, streamName: 'lambda', ...context }, problems);
  return { target, problems };
}

describe('pgLambda settings', () => {
  it('default to javascript, 128 MB and 5 s, retries for ever backing off up to 60 s, dead letters in the state directory', async () => {
    expect((await build({ script: SCRIPT })).target).toEqual({
      type: 'PgLambda',
      script: SCRIPT,
      origin: 'spec.target.pgLambda.script',
      memoryLimitMb: 128,
      timeoutMs: 5000,
      retryLimit: undefined,
      retryBackoffDelaySeconds: 60,
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: undefined } },
    });
  });

  it("apply knative.http's retryLimit and retryBackoffDelay, warn about every other knative key, and take deadLetter", async () => {
    const { target, problems } = await build({
      script: SCRIPT,
      knative: { annotations: { a: 'b' }, labels: { c: 'd' }, http: { url: 'http://fn.default.svc', connectTimeout: '1s', retryLimit: 3, retryBackoffDelay: 2 } },
      deadLetter: { policy: 'stop', file: 'letters.ndjson' },
    });
    expect(target).toMatchObject({ retryLimit: 3, retryBackoffDelaySeconds: 2, deadLetter: { policy: 'stop', store: { kind: 'file', path: path.join(dir, 'letters.ndjson') } } });
    const reason = 'is accepted but not applied by pgcdc (pgcdc runs the script itself, not as a Knative Service)';
    expect(problems.warningsInOrder({ fileName: undefined, lineOf: () => undefined })).toEqual(
      ['annotations', 'labels', 'http.url', 'http.connectTimeout'].map((key) => `spec.target.pgLambda.knative.${key} ${reason}`),
    );
  });

  it('need exactly one of script and scriptFrom', () => {
    expect(issuesOf({})).toEqual(['(document root) has neither script nor scriptFrom; expected one of them']);
    expect(issuesOf({ script: SCRIPT, scriptFrom: { file: 'a.js' } })).toEqual(['scriptFrom is given together with script; expected only one of script and scriptFrom']);
    expect(issuesOf({ scriptFrom: {} })).toEqual(['scriptFrom has none of file, configMapKeyRef and secretKeyRef; expected exactly one of them']);
    expect(issuesOf({ scriptFrom: { file: 'a.js', configMapKeyRef: { name: 'a', key: 'b' } } })).toEqual(['scriptFrom has 2 of file, configMapKeyRef and secretKeyRef; expected exactly one of them']);
  });

  it('reject other script types, a memory limit under 8 MB and unknown keys', () => {
    expect(issuesOf({ script: SCRIPT, scriptType: 'python' })).toHaveLength(1);
    expect(issuesOf({ script: SCRIPT, memoryLimitMb: 4 })).toEqual([expect.stringMatching(/^memoryLimitMb /)]);
    expect(issuesOf({ script: SCRIPT, timeoutMs: 0 })).toEqual([expect.stringMatching(/^timeoutMs /)]);
    expect(issuesOf({ script: SCRIPT, scriptFrom: undefined, runtime: 'node' })).toEqual([expect.stringMatching(/runtime/)]);
  });
});

describe('scriptFrom', () => {
  it("reads a file relative to the stream file's directory", async () => {
    const { target } = await build({ scriptFrom: { file: 'scripts/handler.js' } });
    expect(target).toMatchObject({ script: SCRIPT, origin: path.join(dir, 'scripts', 'handler.js') });
  });

  it('tells a file that does not exist', async () => {
    const { target, problems } = await build({ scriptFrom: { file: 'scripts/missing.js' } });
    expect(target).toBeUndefined();
    expect(problems.issues).toEqual([
      {
        path: [...AT, 'scriptFrom', 'file'],
        text: `spec.target.pgLambda.scriptFrom.file is "scripts/missing.js" (${path.join(dir, 'scripts', 'missing.js')}), which does not exist; expected a readable file holding the script`,
        hint: 'check the path of the script; a relative path is read from the stream file\'s directory',
      },
    ]);
  });

  it('reads a ConfigMap key from the config maps directory', async () => {
    const { target } = await build({ scriptFrom: { configMapKeyRef: { name: 'lambda-script', key: 'handler.js' } } }, { configMapsDir: 'configmaps' });
    expect(target).toMatchObject({ script: `${SCRIPT} // configmaps/lambda-script`, origin: 'key "handler.js" of ConfigMap "lambda-script"' });
  });

  it('reads a ConfigMap key from the secrets directory when no config maps directory is given', async () => {
    const { target } = await build({ scriptFrom: { configMapKeyRef: { name: 'shared-script', key: 'main.js' } } }, { secretsDir: 'secrets' });
    expect(target?.script).toBe(`${SCRIPT} // secrets/shared-script`);
  });

  it('reads a ConfigMap key from PGCDC_CONFIGMAP_<NAME>_<KEY>', async () => {
    const ref = { name: 'lambda-script', key: 'handler.js' };
    expect(configMapEnvName(ref)).toBe('PGCDC_CONFIGMAP_LAMBDA_SCRIPT_HANDLER_JS');
    const { target } = await build({ scriptFrom: { configMapKeyRef: ref } }, { env: { PGCDC_CONFIGMAP_LAMBDA_SCRIPT_HANDLER_JS: 'response.end("env");' } });
    expect(target?.script).toBe('response.end("env");');
  });

  it('tells a ConfigMap key that cannot be found, with the file and the variable tried', async () => {
    const { target, problems } = await build({ scriptFrom: { configMapKeyRef: { name: 'lambda-script', key: 'other.js' } } }, { configMapsDir: 'configmaps' });
    expect(target).toBeUndefined();
    const file = path.join(dir, 'configmaps', 'lambda-script', 'other.js');
    expect(problems.issues).toEqual([
      {
        path: [...AT, 'scriptFrom', 'configMapKeyRef'],
        text: `spec.target.pgLambda.scriptFrom.configMapKeyRef refers to key "other.js" of ConfigMap "lambda-script", which cannot be found: neither the file ${file} exists nor the environment variable PGCDC_CONFIGMAP_LAMBDA_SCRIPT_OTHER_JS is set`,
        code: 'SECRET_NOT_FOUND',
        hint: `create ${file} (or mount the ConfigMap there), or set PGCDC_CONFIGMAP_LAMBDA_SCRIPT_OTHER_JS`,
      },
    ]);
  });

  it('tells a ConfigMap key with no directory and no variable', async () => {
    const { problems } = await build({ scriptFrom: { configMapKeyRef: { name: 'lambda-script', key: 'handler.js' } } });
    expect(problems.issues[0]?.hint).toBe('set PGCDC_CONFIGMAP_LAMBDA_SCRIPT_HANDLER_JS, or give a config maps directory (or secrets directory) holding lambda-script/handler.js');
  });

  it('reads a Secret key as secrets are read', async () => {
    const { target } = await build({ scriptFrom: { secretKeyRef: { name: 'lambda-secret', key: 'handler.js' } } }, { secretsDir: 'secrets' });
    expect(target).toMatchObject({ script: `${SCRIPT} // secrets/lambda-secret`, origin: 'key "handler.js" of secret "lambda-secret"' });
    const { problems } = await build({ scriptFrom: { secretKeyRef: { name: 'lambda-secret', key: 'handler.js' } } });
    expect(problems.issues[0]?.text).toBe(
      'spec.target.pgLambda.scriptFrom.secretKeyRef refers to key "handler.js" of secret "lambda-secret", which cannot be found: no secrets directory was given, and the environment variable PGCDC_SECRET_LAMBDA_SECRET_HANDLER_JS is not set',
    );
  });
});
