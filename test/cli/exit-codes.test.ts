/**
 * The exit codes of the command line, which `pgcdc --help` and the README list: 0 success, 1 an
 * error, 2 a usage or spec error, 130 a second SIGINT while stopping, 128+N the PgLambda child
 * killed by signal N. Each through the real CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli, startCli, type CliResult } from '../support/cli.js';
import { cloudEventStream } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, targetStream, tempDir } from '../support/stream-fixtures.js';

let counter = 0;

/** A usage error: commander's message, no pgcdc error line, exit 2. */
function expectUsageError(result: CliResult, message: string): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr.split('\n')[0]).toBe(message);
  expect(result.stderr.split('\n').filter((line) => line.startsWith('pgcdc: error['))).toEqual([]);
}

/** Process ids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // pid (comm) state ppid …: the command name may hold spaces and parentheses.
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // it ended meanwhile
      }
    })
    .map(Number);
}

describe('exit codes', () => {
  const server = useTestServer();

  const slotActive = async (url: string, slot: string): Promise<boolean> =>
    (await sql(url, 'select active from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.active === true;

  it('--help lists them; --help and --version exit 0', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    const section = help.stdout.slice(help.stdout.indexOf('\nExit codes:\n'));
    for (const code of ['0', '1', '2', '130', '128+N']) expect(section).toMatch(new RegExp(`\\n  ${code.replace('+', '\\+')} +\\S`));
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('0: validate passes, run --stop-at now ends', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const { specFile } = await fileStream({ url });
    expect((await runCli(['validate', '-c', specFile])).code).toBe(0);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
  });

  it('1: an error, on one line with its fix', async () => {
    const url = await createDatabase(server());
    const { specFile } = await fileStream({ url, target: { path: path.join(tempDir(), 'no', 'such', 'dir', 'out.ndjson') } });
    const result = await runCli(['validate', '-c', specFile]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/^pgcdc: error\[TARGET_FAILED\] cannot write .* \(fix: /);
  });

  it('2: usage errors (commander) and specs that cannot be read or are invalid', async () => {
    expect((await runCli([])).code).toBe(2);
    expectUsageError(await runCli(['bogus']), "error: unknown command 'bogus'");
    expectUsageError(await runCli(['run', '-c', 'stream.yaml', '--bogus']), "error: unknown option '--bogus'");
    expectUsageError(await runCli(['validate']), "error: required option '-c, --config <file>' not specified");
    expectUsageError(await runCli(['verify', '-c', 'stream.yaml', '--parallel', '0']), `error: option '--parallel <n>' argument '0' is invalid. expected a whole number ≥ 1, got "0"`);

    const missing = await runCli(['validate', '-c', path.join(tempDir(), 'missing.yaml')]);
    expect(missing.code).toBe(2);
    expect(errorLine(missing)).toMatch(/^pgcdc: error\[CONFIG_UNREADABLE\] /);
    const invalid = path.join(tempDir(), 'invalid.yaml');
    fs.writeFileSync(invalid, 'apiVersion: pgcdc/v1\nkind: Stream\nmetadata: {name: x}\nspec: {source: {type: Postgres}, target: {type: Carrier}}\n');
    const result = await runCli(['validate', '-c', invalid]);
    expect(result.code).toBe(2);
    expect(errorLine(result)).toMatch(/^pgcdc: error\[CONFIG_INVALID\] /);
  });

  it('0 after a SIGINT once the stream delivered what it received; 130 on a second SIGINT while it waits', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const receiver = await CloudEventReceiver.start();
    try {
      const { specFile, config } = await cloudEventStream({ url, receiverUrl: receiver.url, maxRetries: -1 });
      for (const secondSignal of [false, true]) {
        receiver.hold();
        const before = receiver.requests.length;
        const run = startCli(['run', '-c', specFile]);
        await waitFor(async () => ((await slotActive(url, config.source.slotName)) ? true : undefined), 30_000, 'the stream to start');
        await sql(url, 'insert into items values ($1)', [++counter]);
        await waitFor(() => (receiver.requests.length > before ? true : undefined), 30_000, 'an event held by the receiver');
        run.child.kill('SIGINT');
        await waitFor(() => (run.output().stderr.includes('stopping: delivering what was received') ? true : undefined), 10_000, 'the stream to start stopping');
        if (secondSignal) {
          run.child.kill('SIGINT');
        } else {
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect(run.child.exitCode, 'still delivering the held event').toBe(null);
          receiver.release();
        }
        const result = await run.finished();
        expect(result.code, result.stderr).toBe(secondSignal ? 130 : 0);
        if (secondSignal) expect(result.stderr).toContain('second signal: exiting without waiting');
        receiver.dropHeld();
      }
    } finally {
      await receiver.stop();
    }
  });

  it('128+N: the PgLambda stream process (re-run with --no-node-snapshot) killed by signal N', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const { specFile, config } = await targetStream({ url, target: { type: 'PgLambda', pgLambda: { script: 'response.end();' } }, name: `exit${process.pid}x${++counter}`, dir: tempDir() });
    const run = startCli(['run', '-c', specFile]);
    await waitFor(async () => ((await slotActive(url, config.source.slotName)) ? true : undefined), 30_000, 'the stream to start');
    const [child] = childrenOf(run.child.pid!);
    expect(child).toBeDefined();
    process.kill(child!, 'SIGKILL');
    const result = await run.finished();
    expect(result.code).toBe(128 + 9);
  });
});
