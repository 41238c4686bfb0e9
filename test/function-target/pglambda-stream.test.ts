/**
 * The PgLambda target end to end, against a real source: snapshot reads and changes reach the
 * script in commit order as the CloudEvents StackGres hands its functions; a script that throws or
 * answers 500 is retried, then dead-lettered or stops the stream with nothing acknowledged past it;
 * a script that loops is stopped at its time limit; a script that does not compile fails
 * `pgcdc validate` and `pgcdc run` at start; the `pgcdc` binary runs the sandbox (relaunched with
 * --no-node-snapshot). Scripts report what they saw with console.log, read from the log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { errorLine, runCli, startCli } from '../support/cli.js';
import { currentWal, slotPosition } from '../support/event-capture.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { pgcdcRejection } from '../support/rejection.js';
import { readEvents, targetStream, tempDir } from '../support/stream-fixtures.js';

/** Logs the whole event, then answers 200. */
const RECORDING_SCRIPT = 'console.log(JSON.stringify(event));\nresponse.writeHead(200);\nresponse.end();';

let counter = 0;

interface LambdaStreamOptions {
  readonly url: string;
  readonly script: string;
  /** Keys of spec.target.pgLambda besides script. */
  readonly pgLambda?: Record<string, unknown>;
  readonly source?: Record<string, unknown>;
  /** Reuse the stream (name, state) of an earlier call. */
  readonly like?: { readonly name: string; readonly dir: string };
}

async function lambdaStream(options: LambdaStreamOptions): Promise<{ config: StreamConfig; specFile: string; name: string; dir: string }> {
  const name = options.like?.name ?? `lambda${process.pid}x${++counter}`;
  const dir = options.like?.dir ?? tempDir('pgcdc-lambda-');
  const target = { type: 'PgLambda', pgLambda: { script: options.script, knative: { http: { retryBackoffDelay: 0 } }, ...options.pgLambda } };
  const built = await targetStream({ url: options.url, name, dir, target, ...(options.source ? { source: options.source } : {}) });
  return { ...built, name };
}

/** What the script logged (its console lines, parsed as JSON when they are). */
function scriptLines(lines: Record<string, unknown>[]): any[] {
  return lines.filter((line) => line.script === 'pgLambda').map((line) => JSON.parse(line.msg as string));
}

describe('PgLambda target', () => {
  const server = useTestServer();

  async function itemsDatabase(): Promise<string> {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, n int, note text)');
    return url;
  }

  it('hands the script snapshot reads, then inserts, updates and deletes in commit order, as StackGres CloudEvents', async () => {
    const url = await itemsDatabase();
    await sql(url, "insert into items values (1, 10, 'one'), (2, 20, 'two')");
    const { config, name } = await lambdaStream({ url, script: RECORDING_SCRIPT, source: { snapshotMode: 'initial' } });
    const first = capturedLogger();
    await runStream(config, { logger: first.logger, stopAt: 'now' });
    const reads = scriptLines(first.lines());
    expect(reads.map((event) => [event.data.op, event.data.after]).sort((a, b) => a[1].id - b[1].id)).toEqual([
      ['r', { id: 1, n: 10, note: 'one' }],
      ['r', { id: 2, n: 20, note: 'two' }],
    ]);

    await sql(url, "insert into items values (3, 30, 'three')");
    await sql(url, 'begin; update items set n = 11 where id = 1; delete from items where id = 2; commit');
    await sql(url, "update items set note = 'third' where id = 3");
    const second = capturedLogger();
    await runStream(config, { logger: second.logger, stopAt: 'now' });
    const events = scriptLines(second.lines());
    expect(events.map((event) => [event.data.op, event.data.before, event.data.after])).toEqual([
      ['c', null, { id: 3, n: 30, note: 'three' }],
      ['u', null, { id: 1, n: 11, note: 'one' }],
      ['d', { id: 2 }, null],
      ['u', null, { id: 3, n: 30, note: 'third' }],
    ]);
    // Replaying what the script saw gives the source's rows.
    const replayed = new Map<number, unknown>();
    for (const event of [...reads, ...events]) {
      if (event.data.op === 'd') replayed.delete(event.data.before.id);
      else replayed.set(event.data.after.id, event.data.after);
    }
    const { rows } = await sql(url, 'select id, n, note from items order by id');
    expect([...replayed.entries()].sort(([a], [b]) => a - b).map(([, row]) => row)).toEqual(rows);
    const [insert] = events;
    expect(insert).toMatchObject({
      specversion: '1.0',
      type: 'io.debezium.connector.postgresql.DataChangeEvent',
      source: `/debezium/postgresql/${name}`,
      datacontenttype: 'application/json',
      iodebeziumop: 'c',
      iodebeziumtable: 'items',
    });
    expect(insert.data.source).toMatchObject({ connector: 'postgresql', name, schema: 'public', table: 'items', snapshot: 'false' });
    // The script's console lines carry the event's id and position.
    const logged = second.lines().filter((line) => line.script === 'pgLambda');
    expect(logged.map((line) => line.id)).toEqual(events.map((event) => event.id));
    expect(logged.every((line) => /^[0-9A-F]+\/[0-9A-F]+$/.test(line.lsn as string))).toBe(true);
  });

  it('retries a script that throws or answers 500, then sets the event aside in the dead-letter file', async () => {
    const url = await itemsDatabase();
    const script = [
      "console.log(JSON.stringify({ id: event.data.after.id, note: event.data.after.note }));",
      "if (event.data.after.note === 'throw') throw new Error('cannot take row ' + event.data.after.id);",
      "if (event.data.after.note === '500') { response.writeHead(500); response.end('try later'); return; }",
      'response.writeHead(200);',
      'response.end();',
    ].join('\n');
    const { config } = await lambdaStream({ url, script, pgLambda: { knative: { http: { retryLimit: 2, retryBackoffDelay: 0 } } } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (1, 0, 'ok'), (2, 0, 'throw'), (3, 0, '500'), (4, 0, 'ok')");
    const captured = capturedLogger();
    await runStream(config, { logger: captured.logger, stopAt: 'now' });
    // Three attempts for each failing event, in order, the next event only after them.
    expect(scriptLines(captured.lines()).map((seen) => seen.id)).toEqual([1, 2, 2, 2, 3, 3, 3, 4]);
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters.map((letter) => [letter.event.data.after, letter.attempts, letter.error])).toEqual([
      [{ id: 2, n: 0, note: 'throw' }, 3, 'the PgLambda script threw Error: cannot take row 2 at line 2, column 46'],
      [{ id: 3, n: 0, note: '500' }, 3, 'the PgLambda script answered 500 Internal Server Error: "try later"'],
    ]);
    expect(letters.every((letter) => letter.id === letter.event.id)).toBe(true);
  });

  it('with deadLetter.policy stop, stops at the failing event with nothing acknowledged past it; a fixed script delivers it', async () => {
    const url = await itemsDatabase();
    const failing = "if (event.data.after.note === 'bad') throw new Error('bad row');\nconsole.log(JSON.stringify(event.data.after));\nresponse.end();";
    const stop = { deadLetter: { policy: 'stop' }, knative: { http: { retryLimit: 1, retryBackoffDelay: 0 } } };
    const broken = await lambdaStream({ url, script: failing, pgLambda: stop });
    await runStream(broken.config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (1, 0, 'before')");
    const beforeBad = await currentWal(url);
    await sql(url, "insert into items values (2, 0, 'bad')");
    await sql(url, "insert into items values (3, 0, 'after')");
    const captured = capturedLogger();
    const error = await pgcdcRejection(runStream(broken.config, { logger: captured.logger, stopAt: 'now' }));
    expect(error.code).toBe('TARGET_FAILED');
    expect(error.message).toMatch(/^PgLambda event \S+ failed after 2 attempts: the PgLambda script threw Error: bad row at line 1, column \d+$/);
    expect(error.hint).toContain('spec.target.pgLambda.deadLetter.policy: dead-letter');
    expect(scriptLines(captured.lines())).toEqual([{ id: 1, n: 0, note: 'before' }]);
    expect((await slotPosition(url, broken.config.source.slotName)).confirmedFlush).toBeLessThanOrEqual(beforeBad);

    const fixed = await lambdaStream({ url, script: 'console.log(JSON.stringify(event.data.after));\nresponse.end();', pgLambda: stop, like: broken });
    const rerun = capturedLogger();
    await runStream(fixed.config, { logger: rerun.logger, stopAt: 'now' });
    expect(scriptLines(rerun.lines()).filter((row) => row.id !== 1)).toEqual([
      { id: 2, n: 0, note: 'bad' },
      { id: 3, n: 0, note: 'after' },
    ]);
  });

  it('stops a script that loops forever at its time limit, and goes on with the next event', async () => {
    const url = await itemsDatabase();
    const script = "if (event.data.after.note === 'loop') { while (true) {} }\nconsole.log(JSON.stringify(event.data.after.id));\nresponse.end();";
    const { config } = await lambdaStream({ url, script, pgLambda: { timeoutMs: 200, knative: { http: { retryLimit: 0 } } } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (1, 0, 'loop'), (2, 0, 'ok')");
    const captured = capturedLogger();
    const started = Date.now();
    await runStream(config, { logger: captured.logger, stopAt: 'now' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(scriptLines(captured.lines())).toEqual([2]);
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters.map((letter) => [letter.event.data.after.id, letter.attempts, letter.error])).toEqual([
      [1, 1, 'the PgLambda script ran longer than its time limit of 200 ms and was stopped'],
    ]);
  });

  it('rejects a script that does not compile in pgcdc validate and run, with its line, before touching the source', async () => {
    const url = await itemsDatabase();
    const { specFile, config } = await lambdaStream({ url, script: 'const data = event.data;\nif (data.op === "c" {\n  response.end();\n}' });
    for (const command of ['validate', 'run']) {
      const result = await runCli([command, '-c', specFile]);
      expect(result.code).not.toBe(0);
      expect(errorLine(result)).toBe(
        'pgcdc: error[CONFIG_INVALID] the PgLambda script (spec.target.pgLambda.script) does not compile: line 2, column 21: Unexpected token \'{\' (fix: fix the script at line 2; it runs as the body of an async function with event, response and request in scope)',
      );
    }
    const { rows } = await sql(url, 'select count(*)::int as slots from pg_replication_slots where slot_name = $1', [config.source.slotName]);
    expect(rows[0].slots).toBe(0);
  });

  /** A PgLambda stream whose script logs `row <id>`, read from a ConfigMap directory; the `run` arguments. */
  async function cliStream(url: string, stopAt: string[]): Promise<{ args: string[]; slot: string }> {
    const dir = tempDir('pgcdc-lambda-cli-');
    const configMaps = path.join(dir, 'configmaps');
    fs.mkdirSync(path.join(configMaps, 'lambda-script'), { recursive: true });
    fs.writeFileSync(path.join(configMaps, 'lambda-script', 'handler.js'), 'console.log("row " + event.data.after.id);\nresponse.end();\n');
    const { specFile, config } = await targetStream({
      url,
      name: `lambdacli${process.pid}x${++counter}`,
      dir,
      target: { type: 'PgLambda', pgLambda: { scriptFrom: { configMapKeyRef: { name: 'lambda-script', key: 'handler.js' } } } },
      load: { configMapsDir: configMaps },
    });
    return { args: ['run', '-c', specFile, '--config-maps-dir', configMaps, ...stopAt], slot: config.source.slotName };
  }

  const scriptOutput = (stderr: string): unknown[] =>
    stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((line) => line.script === 'pgLambda')
      .map((line) => line.msg);

  const slotActive = async (url: string, slot: string): Promise<boolean> =>
    (await sql(url, 'select active from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.active === true;

  it('runs from the pgcdc binary, which relaunches itself with --no-node-snapshot, the script read from --config-maps-dir', async () => {
    const url = await itemsDatabase();
    const { args } = await cliStream(url, ['--stop-at', 'now']);
    expect((await runCli(args)).code).toBe(0);
    await sql(url, 'insert into items values (1, 0, null), (2, 0, null)');
    const result = await runCli(args);
    expect(result.code).toBe(0);
    expect(scriptOutput(result.stderr)).toEqual(['row 1', 'row 2']);
  });

  it('the relaunched pgcdc stops gracefully on a SIGTERM to its launcher, and dies with a launcher killed with SIGKILL', async () => {
    const url = await itemsDatabase();
    const { args, slot } = await cliStream(url, []);
    const graceful = startCli(args);
    await waitFor(async () => ((await slotActive(url, slot)) ? true : undefined), 30_000, 'the stream to start');
    await sql(url, 'insert into items values (1, 0, null)');
    await waitFor(() => (scriptOutput(graceful.output().stderr).length === 1 ? true : undefined), 30_000, 'the script to run');
    graceful.child.kill('SIGTERM');
    const stopped = await graceful.finished();
    expect(stopped.code).toBe(0);
    expect(scriptOutput(stopped.stderr)).toEqual(['row 1']);

    const killed = startCli(args);
    await waitFor(async () => ((await slotActive(url, slot)) ? true : undefined), 30_000, 'the stream to start again');
    killed.child.kill('SIGKILL');
    await killed.finished();
    await waitFor(async () => ((await slotActive(url, slot)) ? undefined : true), 10_000, 'the relaunched process to die and release the slot');
  });
});
