/**
 * The NATS JetStream target's bad input and failures, through the `pgcdc` command line against a
 * real nats-server with users and a small max_payload: a wrong password, an unreachable server, a
 * subject no stream captures and a message over max_payload each stop the run with ONE line naming
 * the problem and the fix, and the slot (pg_replication_slots, independent of pgcdc) is not
 * acknowledged past what the server stored; what was stored before is there (read back by the
 * test's own client). With the dead-letter policy the message too large is set aside in the file
 * and the changes after it are delivered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli, type CliResult } from '../support/cli.js';
import { recordedChanges } from '../support/change-oracles.js';
import { useNatsServer } from '../support/nats-server.js';
import { confirmedAtMost, createDatabase, sql, useTestServer, walPosition } from '../support/postgres.js';
import { freeLoopbackPort } from '../support/server-process.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const LOGIN = { user: 'alice', pass: 'alice-secret' };
const SERVER_CONFIG = `max_payload: 65536
authorization { users = [ { user: alice, password: alice-secret } ] }`;

const run = (specFile: string, args: readonly string[] = []) => runCli(['run', '-c', specFile, '--stop-at', 'now', ...args], {}, 180_000);

/** The run failed with exactly one error line, matching `pattern`. */
function expectOneLine(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stderr.slice(-3000)).not.toBe(0);
  expect(errorLine(result)).toMatch(pattern);
}

describe('NATS JetStream target failures', () => {
  const server = useTestServer();
  const nats = useNatsServer(SERVER_CONFIG);

  /** A database with `items`, a stream spec (secrets in a directory) whose slot exists. */
  async function deliveredStream(name: string, settings: Record<string, unknown>, password = 'alice-secret') {
    const url = await createDatabase(server(), 'nats_bad');
    await sql(url, 'create table items (id int primary key, note text)');
    const dir = tempDir();
    const secretsDir = path.join(dir, 'secrets');
    const writePassword = (value: string) => {
      fs.mkdirSync(path.join(secretsDir, 'nats-login'), { recursive: true });
      fs.writeFileSync(path.join(secretsDir, 'nats-login', 'password'), value);
    };
    writePassword(password);
    const spec = (extra: Record<string, unknown> = {}) =>
      targetStream({
        url,
        name,
        dir,
        maxRetries: -1, // retry forever: bad input must stop the run all the same
        source: { includes: ['public\\.items'] },
        load: { secretsDir },
        target: {
          type: 'NatsJetStream',
          natsJetStream: { servers: nats().url, schemasEnable: false, credentials: { user: 'alice', password: { name: 'nats-login', key: 'password' } }, stream: { create: true }, retryLimit: 1, retryBackoffDelay: 1, ...settings, ...extra },
        },
      });
    const { specFile } = await spec();
    const args = ['--secrets-dir', secretsDir];
    return { url, specFile, args, spec, writePassword };
  }

  it('stops on a wrong password with one line, acknowledging nothing, and delivers once it is right', async () => {
    const { url, specFile, args, writePassword } = await deliveredStream('fa', {});
    expect((await run(specFile, args)).code).toBe(0); // slot and stream
    const before = await walPosition(url);
    await sql(url, "insert into items values (1, 'a')");
    writePassword('not-alices-password');
    expectOneLine(await run(specFile, args), /^pgcdc: error\[TARGET_FAILED\] the NATS server nats:\/\/127\.0\.0\.1:\d+ refused pgcdc's credentials \(.*Authorization Violation.*\) \(fix: fix spec\.target\.natsJetStream\.credentials .*\)$/i);
    expect(await confirmedAtMost(url, before)).toBe(true);
    writePassword('alice-secret');
    const delivered = await run(specFile, args);
    expect(delivered.code, delivered.stderr.slice(-3000)).toBe(0);
    expect(recordedChanges(await nats().readStream('fa', LOGIN))).toEqual([{ op: 'c', id: 1 }]);
  });

  it('stops with one line when no server answers', async () => {
    const url = await createDatabase(server(), 'nats_bad');
    await sql(url, 'create table items (id int primary key, note text)');
    const port = await freeLoopbackPort();
    const { specFile } = await targetStream({ url, name: 'fu', dir: tempDir(), target: { type: 'NatsJetStream', natsJetStream: { servers: `127.0.0.1:${port}` } } });
    expectOneLine(await run(specFile), new RegExp(`^pgcdc: error\\[TARGET_UNREACHABLE\\] cannot reach the NATS server nats://127\\.0\\.0\\.1:${port} \\(.*\\) \\(fix: start the server, or fix spec\\.target\\.natsJetStream\\.servers\\)$`));
  });

  it('stops with one line naming the subject when no stream captures it, acknowledging nothing past the change', async () => {
    const { url, specFile, args } = await deliveredStream('fn', { stream: { create: false } });
    expect((await run(specFile, args)).code).toBe(0); // the slot
    const before = await walPosition(url);
    await sql(url, "insert into items values (1, 'a')");
    expectOneLine(await run(specFile, args), /^pgcdc: error\[TARGET_FAILED\] no JetStream stream captures subject "fn\.public\.items" \(fix: add "fn\.public\.items" .* or set spec\.target\.natsJetStream\.stream\.create: true\)$/);
    expect(await confirmedAtMost(url, before)).toBe(true);
  });

  it('stops at a message over max_payload with one line naming the subject and size, acknowledging nothing past it', async () => {
    const { url, specFile, args } = await deliveredStream('fl', { deadLetter: { policy: 'stop' } });
    expect((await run(specFile, args)).code).toBe(0);
    await sql(url, "insert into items values (1, 'small')");
    expect((await run(specFile, args)).code).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items values (2, repeat('x', 70000))");
    await sql(url, "insert into items values (3, 'after')");
    expectOneLine(
      await run(specFile, args),
      /^pgcdc: error\[TARGET_FAILED\] the message of \d+ bytes for subject "fl\.public\.items" is larger than the NATS server's max_payload \(65536 bytes\) \(id fl:[^)]*\); nothing from it on is acknowledged \(fix: raise the server's max_payload .*\)$/,
    );
    expect(await confirmedAtMost(url, before)).toBe(true);
    expect(recordedChanges(await nats().readStream('fl', LOGIN))).toEqual([{ op: 'c', id: 1 }]);
  });

  it('sets a message over max_payload aside as a dead letter and delivers the changes after it', async () => {
    const dir = tempDir();
    const letters = path.join(dir, 'letters.ndjson');
    const { url, specFile, args } = await deliveredStream('fd', { deadLetter: { policy: 'dead-letter', file: letters } });
    expect((await run(specFile, args)).code).toBe(0);
    await sql(url, "insert into items values (1, repeat('x', 70000)); insert into items values (2, 'after')");
    const result = await run(specFile, args);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(recordedChanges(await nats().readStream('fd', LOGIN))).toEqual([{ op: 'c', id: 2 }]);
    const stored = fs.readFileSync(letters, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored[0])).toMatch(/max_payload/);
    expect(JSON.stringify(stored[0])).toContain('x'.repeat(1000));
  });
});
