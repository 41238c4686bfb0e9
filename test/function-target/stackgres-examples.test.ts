/**
 * The PgLambda examples of the StackGres "creating streams" guide (kept as written in
 * test/config/fixtures/stackgres-guide-examples.yaml) run unchanged: their `pgLambda` section is
 * read with pgcdc's schema, the ConfigMap script is read from a mounted ConfigMap directory, and
 * each script answers 200 "OK" for an insert, an update and a delete, logging what it logs.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigProblems } from '../../src/config/config-issues.js';
import { buildPgLambdaTarget, type PgLambdaTargetConfig, pgLambdaTargetSettingsSchema } from '../../src/config/pglambda-settings.js';
import { validateWithSchema } from '../../src/config/schema-validation.js';
import { ScriptSandbox } from '../../src/targets/function/script-sandbox.js';
import { DELETE, INSERT, UPDATE } from './sandbox-events.js';

const GUIDE = new URL('../config/fixtures/stackgres-guide-examples.yaml', import.meta.url);
const DOCUMENTS = readFileSync(GUIDE, 'utf8')
  .split('# ---- example\n')
  .flatMap((block) => parseAllDocuments(block).map((document) => document.toJS() as Record<string, any>));

const PGLAMBDA_STREAMS = DOCUMENTS.filter((document) => document.kind === 'SGStream' && document.spec.target.type === 'PgLambda');
const CONFIG_MAPS = DOCUMENTS.filter((document) => document.kind === 'ConfigMap');

const AT = ['spec', 'target', 'pgLambda'];
let configMapsDir: string;

beforeAll(async () => {
  configMapsDir = await mkdtemp(path.join(tmpdir(), 'pgcdc-configmaps-'));
  // Laid out as Kubernetes mounts ConfigMaps: <dir>/<name>/<key>.
  for (const configMap of CONFIG_MAPS) {
    await mkdir(path.join(configMapsDir, configMap.metadata.name));
    for (const [key, value] of Object.entries(configMap.data as Record<string, string>)) await writeFile(path.join(configMapsDir, configMap.metadata.name, key), value);
  }
});

afterAll(async () => {
  await rm(configMapsDir, { recursive: true, force: true });
});

/** The example's target, read and built as pgcdc does for spec.target.pgLambda. */
async function buildExample(stream: Record<string, any>): Promise<{ target: PgLambdaTargetConfig; warnings: string[] }> {
  const validation = validateWithSchema(pgLambdaTargetSettingsSchema, stream.spec.target.pgLambda);
  if (!validation.ok) throw new Error(validation.issues.map((issue) => issue.text).join('\n'));
  const problems = new ConfigProblems();
  const target = await buildPgLambdaTarget(validation.data, AT, { cwd: '/work/streams', env: {}, secretsDir: undefined, configMapsDir, streamName: 'lambda-stream' }, problems);
  expect(problems.issues).toEqual([]);
  if (target === undefined) throw new Error('no target');
  return { target, warnings: problems.warningsInOrder({ fileName: undefined, lineOf: () => undefined }) };
}

/** Runs the example's script for each event; what it answered and logged. */
async function run(target: PgLambdaTargetConfig, events: Record<string, unknown>[]) {
  const logged: string[] = [];
  const sandbox = ScriptSandbox.open({ ...target, onConsole: (level, line) => logged.push(`${level}: ${line}`) });
  try {
    const answers = [];
    for (const event of events) answers.push(await sandbox.invoke(event));
    return { answers, logged };
  } finally {
    sandbox.close();
  }
}

const OK = { kind: 'answer', ok: true, status: 200, statusMessage: 'OK', headers: {}, body: 'OK', ended: true };

describe('the StackGres guide PgLambda examples', () => {
  it('are the two expected', () => {
    expect(PGLAMBDA_STREAMS.map((stream) => Object.keys(stream.spec.target.pgLambda).sort())).toEqual([
      ['knative', 'script', 'scriptType'],
      ['scriptFrom', 'scriptType'],
    ]);
  });

  it('inline script: logs each change as the guide describes and answers OK', async () => {
    const { target, warnings } = await buildExample(PGLAMBDA_STREAMS[0]);
    expect(target).toMatchObject({ type: 'PgLambda', origin: 'spec.target.pgLambda.script', memoryLimitMb: 128, timeoutMs: 5000 });
    expect(target.script).toBe(PGLAMBDA_STREAMS[0].spec.target.pgLambda.script);
    expect(warnings).toEqual(
      ['connectTimeout', 'readTimeout'].map((key) => `spec.target.pgLambda.knative.http.${key} is accepted but not applied by pgcdc (pgcdc runs the script itself, not as a Knative Service)`),
    );

    const { answers, logged } = await run(target, [INSERT, UPDATE, DELETE]);
    expect(answers).toEqual([OK, OK, OK]);
    expect(logged).toEqual([
      `log: Received change: ${JSON.stringify(INSERT.data)}`,
      "log: New record inserted: { id: 1, name: 'Ada', tags: [ 'vip' ] }",
      `log: Received change: ${JSON.stringify(UPDATE.data)}`,
      "log: Record updated: { id: 1, name: 'Ada' } -> { id: 1, name: 'Ada Lovelace' }",
      `log: Received change: ${JSON.stringify(DELETE.data)}`,
      "log: Record deleted: { id: 1, name: 'Ada Lovelace' }",
    ]);
  });

  it('script from the ConfigMap lambda-script: read from the mounted ConfigMap, answers OK', async () => {
    const { target, warnings } = await buildExample(PGLAMBDA_STREAMS[1]);
    expect(target).toMatchObject({ type: 'PgLambda', origin: 'key "handler.js" of ConfigMap "lambda-script"' });
    expect(target.script).toBe(CONFIG_MAPS[0].data['handler.js'].replace(/\n$/, ''));
    expect(warnings).toEqual([]);

    const { answers, logged } = await run(target, [INSERT, UPDATE, DELETE]);
    expect(answers).toEqual([OK, OK, OK]);
    expect(logged).toEqual([]);
  });
});
