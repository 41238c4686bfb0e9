/**
 * Streams with a transform function from the pgcdc binary (`node dist/cli/main.js`, built first):
 * it relaunches itself with --no-node-snapshot for the sandbox, the function's console lines reach
 * the log, a failing function ends the run with one error line naming the event, and `validate`
 * refuses a function that does not compile, naming its line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';
import { transformDocument } from './transform-fixtures.js';

describe('transform functions from the command line', () => {
  const server = useTestServer();

  const streamFile = (url: string, transform: object): { spec: string; out: string } => {
    const dir = tempDir('pgcdc-transform-cli-');
    const spec = path.join(dir, 'stream.yaml');
    fs.writeFileSync(spec, transformDocument(url, transform, { dir }));
    return { spec, out: path.join(dir, 'events.ndjson') };
  };

  it('runs the function in the relaunched process, its console lines in the log', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key, name text)');
    const { spec, out } = streamFile(url, { script: `(event) => { console.log('saw', event.after.id); event.after.name = event.after.name.toUpperCase(); return event; }` });
    expect((await runCli(['run', '-c', spec, '--stop-at', 'now'])).code).toBe(0);
    await sql(url, "insert into t values (1, 'ada'), (2, 'bob')");
    const result = await runCli(['run', '-c', spec, '--stop-at', 'now']);
    expect(result.code).toBe(0);
    const logged = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((line) => line.transform === 'spec.transform.script')
      .map((line) => line.msg);
    expect(logged).toStrictEqual(['saw 1', 'saw 2']);
    const { rows } = await sql(url, 'select jsonb_set(to_jsonb(t), \'{name}\', to_jsonb(upper(name))) as row from t order by id');
    const written = fs.readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line).after);
    expect(written).toStrictEqual(rows.map((row) => row.row));
  });

  it('ends a run with one error line naming the event when the function throws, and validate names a syntax error', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const { spec } = streamFile(url, { script: `(event) => { throw new RangeError('out of range'); }` });
    expect((await runCli(['run', '-c', spec, '--stop-at', 'now'])).code).toBe(0);
    await sql(url, 'insert into t values (1)');
    const failed = await runCli(['run', '-c', spec, '--stop-at', 'now']);
    expect(failed.code).not.toBe(0);
    expect(errorLine(failed)).toMatch(/TRANSFORM_FAILED.*failed for the c event of public\.t at LSN [0-9A-F/]+: RangeError: out of range/);
    const broken = streamFile(url, { script: '(event) =>\n  event +* 2' });
    const refused = await runCli(['validate', '-c', broken.spec]);
    expect(refused.code).not.toBe(0);
    expect(errorLine(refused)).toMatch(/the transform function \(spec\.transform\.script\) does not compile: line 2, column \d+/);
  });
});
