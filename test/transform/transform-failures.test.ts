/**
 * What happens when a transform function fails: with the default `stop` policy the stream stops at
 * the event (named, with the function's error) and the slot is not acknowledged past it; with
 * `dead-letter` the event is stored as the function saw it and the rest delivered. Throwing, bad
 * results, the time limit and the memory limit; refused specs (Postgres target, syntax errors).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { checkTarget } from '../../src/targets/create-target.js';
import { silentLogger } from '../../src/logging/logger.js';
import { currentWal, slotPosition } from '../support/event-capture.js';
import { failure } from '../support/expected-failures.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';
import { startTransformCapture, transformDocument } from './transform-fixtures.js';

const THROW_ON_TWO = `(event) => { if (event.after && event.after.id === 2) throw new Error('no twos here'); return event; }`;

describe('transform failures', () => {
  const server = useTestServer();

  it('stops at the event the function throws for, naming it, without acknowledging it', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const capture = await startTransformCapture(url, { script: THROW_ON_TWO });
    const { confirmedFlush: before } = await slotPosition(url, capture.config.source.slotName);
    await sql(url, 'insert into t values (1)');
    const wal = await currentWal(url);
    await sql(url, 'insert into t values (2)');
    const error = await failure(capture.events());
    expect(error.code).toBe('TRANSFORM_FAILED');
    expect(error.message).toMatch(/failed for the c event of public\.t at LSN [0-9A-F]+\/[0-9A-F]+: Error: no twos here/);
    const { confirmedFlush } = await slotPosition(url, capture.config.source.slotName);
    expect(confirmedFlush).toBeGreaterThanOrEqual(before);
    // Not acknowledged past the failing event: its transaction was written after `wal`.
    expect(confirmedFlush).toBeLessThanOrEqual(wal);
  });

  it('dead-letters events the function throws for or answers wrongly, and delivers the others', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const script = `(event) => event.after.id === 2 ? (() => { throw new TypeError('bad two'); })() : event.after.id === 3 ? 42 : event.after.id === 4 ? { op: 'x' } : event`;
    const capture = await startTransformCapture(url, { script, deadLetter: { policy: 'dead-letter' } });
    await sql(url, 'insert into t select generate_series(1, 5)');
    const events = await capture.events();
    expect(events.map((event) => event.after.id)).toStrictEqual([1, 5]);
    const letters = fs
      .readFileSync(path.join(capture.dir, 'state', 'dead-letters.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(letters.map((letter) => JSON.parse(typeof letter.event === 'string' ? letter.event : JSON.stringify(letter.event)).after.id)).toStrictEqual([2, 3, 4]);
    expect(letters.map((letter) => letter.error)).toStrictEqual([
      expect.stringContaining('TypeError: bad two'),
      expect.stringContaining('the function returned number'),
      expect.stringContaining('op is "x"'),
    ]);
    expect(letters.every((letter) => String(letter.id).startsWith('transform:'))).toBe(true);
    expect(capture.deadLettered()).toBe(3);
  });

  it('stops a function that runs past its time limit, or dead-letters only the slow event', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const script = `(event) => { if (event.after.id === 2) for (;;) {} return event; }`;
    const stopping = await startTransformCapture(url, { script, timeoutMs: 200 });
    const letting = await startTransformCapture(url, { script, timeoutMs: 200, deadLetter: { policy: 'dead-letter' } });
    await sql(url, 'insert into t values (1), (2), (3)');
    const error = await failure(stopping.events());
    expect(error.message).toMatch(/took longer than 200 ms for a batch of 3 events/);
    expect((await letting.events()).map((event) => event.after.id)).toStrictEqual([1, 3]);
    const letter = JSON.parse(fs.readFileSync(path.join(letting.dir, 'state', 'dead-letters.ndjson'), 'utf8').trim());
    expect(letter.error).toMatch(/took longer than 200 ms for this event/);
  });

  it('stops a function that goes over its memory limit, or dead-letters that event and goes on in a fresh sandbox', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const script = `const kept = []; (event) => { if (event.after.id === 2) for (;;) kept.push(new Array(1e5).fill(event)); return event; }`;
    const stopping = await startTransformCapture(url, { script, memoryLimitMb: 16 });
    const letting = await startTransformCapture(url, { script, memoryLimitMb: 16, deadLetter: { policy: 'dead-letter' } });
    await sql(url, 'insert into t values (1), (2), (3)');
    const error = await failure(stopping.events());
    expect(error.message).toMatch(/went over its memory limit of 16 MB/);
    expect((await letting.events()).map((event) => event.after.id)).toStrictEqual([1, 3]);
  });

  it('refuses a transform for a Postgres target, and a function that does not compile before touching the source', async () => {
    const url = await createDatabase(server());
    const dir = tempDir('pgcdc-transform-');
    const postgres = transformDocument(url, { dropColumns: ['public\\.t\\.x'] }, { dir, target: { type: 'Postgres', postgres: { url } } });
    await expect(parseStreamConfig(postgres, { cwd: dir })).rejects.toThrow(/spec\.transform is not applied by a Postgres target, which copies rows as they are/);
    const broken = await parseStreamConfig(transformDocument(url, { script: '(event) => {\n  return event.;\n}' }, { dir }), { cwd: dir });
    const compileError = await failure(checkTarget(broken, silentLogger()));
    expect(compileError.code).toBe('CONFIG_INVALID');
    expect(compileError.message).toMatch(/the transform function \(spec\.transform\.script\) does not compile: line 2, column \d+: Unexpected token/);
    const noFunction = await parseStreamConfig(transformDocument(url, { script: '42' }, { dir }), { cwd: dir });
    expect((await failure(checkTarget(noFunction, silentLogger()))).message).toMatch(/gives no function/);
    fs.writeFileSync(path.join(dir, 'fn.js'), 'function transform(event) { return event; }\n');
    const fromFile = await parseStreamConfig(transformDocument(url, { scriptFrom: { file: 'fn.js' } }, { dir }), { cwd: dir });
    expect(fromFile.transform?.script?.source).toContain('function transform');
    await checkTarget(fromFile, silentLogger());
    await expect(parseStreamConfig(transformDocument(url, { scriptFrom: { file: 'missing.js' } }, { dir }), { cwd: dir })).rejects.toThrow(/scriptFrom\.file is "missing\.js".*which does not exist/);
  });
});
