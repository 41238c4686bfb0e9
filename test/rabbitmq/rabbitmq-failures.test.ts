/**
 * The RabbitMQ target on bad input, against a real broker (max_message_size 4096) and the `pgcdc`
 * command line: a refused login, an unreachable broker, a missing exchange and a message over the
 * broker's size limit each stop the run with one line saying what is wrong and how to fix it, and
 * the slot is not acknowledged past the failing change (the oracle: pg_replication_slots, the
 * source's change log and rows); once fixed, the next run delivers everything. Also TLS: publishing
 * over amqps:// with the broker's CA, one line when the CA is not trusted. A login refused after
 * the broker accepted it in this run (as while a broker boots after a crash) is retried instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliResult, errorLine, runCli, startCli } from '../support/cli.js';
import { CHANGE_LOG_SQL, changesPerKey, ITEMS_ONLY, loggedChanges, rebuild, recordedChanges, sourceTable } from '../support/change-oracles.js';
import { confirmedAtMost, createDatabase, sql, useTestServer, waitFor, walPosition } from '../support/postgres.js';
import { asKafkaRecords, deduplicated, RABBITMQ_PASSWORD, RABBITMQ_USER, type RabbitMQMessage, useRabbitMQServer } from '../support/rabbitmq-server.js';
import { freeLoopbackPort } from '../support/server-process.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const TABLE = `create table items (id int primary key, note text); ${CHANGE_LOG_SQL}`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The run failed (exit 1) with one error line with `code` that starts with `start` and ends with `end`. */
function expectFailure(result: CliResult, code: string, start: string, end: string): void {
  expect(result.code, result.stderr.slice(-3000)).toBe(1);
  expect(errorLine(result)).toMatch(new RegExp(`^${escape(`pgcdc: error[${code}] ${start}`)}.*${escape(end)}$`));
}

/** Every logged change is in the queue once (by message-id), in order per key, and the queue rebuilds the table. */
async function expectAllDelivered(url: string, messages: readonly RabbitMQMessage[]): Promise<void> {
  const records = asKafkaRecords(deduplicated(messages));
  const logged = await loggedChanges(url);
  expect(changesPerKey(recordedChanges(records))).toEqual(changesPerKey(logged));
  expect(rebuild(records)).toEqual(await sourceTable(url));
}

const run = (specFile: string, extra: readonly string[] = []) => runCli(['run', '-c', specFile, '--stop-at', 'now', ...extra], {}, 180_000);

describe('RabbitMQ target, bad input', () => {
  const server = useTestServer();
  const rabbit = useRabbitMQServer({ maxMessageSize: 4096, tls: true });

  async function stream(name: string, settings: Record<string, unknown>, secretsDir?: string, maxRetries = -1) {
    const url = await createDatabase(server(), 'rabbitmq_bad');
    await sql(url, TABLE);
    const dir = tempDir();
    const spec = (more: Record<string, unknown>) =>
      targetStream({
        url,
        name,
        dir,
        maxRetries, // retry forever by default: bad input must stop the run all the same
        source: ITEMS_ONLY,
        ...(secretsDir === undefined ? {} : { load: { secretsDir } }),
        target: { type: 'RabbitMQ', rabbitmq: { url: rabbit().url(), schemasEnable: false, exchange: { name: `${name}x`, declare: true }, queue: { name: `${name}q` }, retryBackoffDelay: 1, ...settings, ...more } },
      });
    const { specFile } = await spec({});
    return { url, specFile, spec, dir };
  }

  it('stops on a refused login with one line, acknowledging nothing, and delivers once the password is right', async () => {
    const secretsDir = tempDir();
    const writePassword = (password: string) => {
      fs.mkdirSync(path.join(secretsDir, 'rabbit'), { recursive: true });
      fs.writeFileSync(path.join(secretsDir, 'rabbit', 'password'), password);
    };
    writePassword(RABBITMQ_PASSWORD);
    const address = `127.0.0.1:${rabbit().port}`;
    const { url, specFile } = await stream('fa', { url: `amqp://${address}`, username: RABBITMQ_USER, password: { name: 'rabbit', key: 'password' } }, secretsDir);
    const args = ['--secrets-dir', secretsDir];
    expect((await run(specFile, args)).code).toBe(0); // the slot
    await sql(url, "insert into items values (1, 'a')");
    expect((await run(specFile, args)).code).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items values (2, 'b')");
    writePassword('not-the-password');
    expectFailure(
      await run(specFile, args),
      'TARGET_FAILED',
      `RabbitMQ at ${address} refused the login of user "pgcdc" (ACCESS_REFUSED)`,
      '(fix: check the user and password (spec.target.rabbitmq.username/password, or the URL\'s) and the user\'s permissions on vhost "/")',
    );
    expect(await confirmedAtMost(url, before)).toBe(true);
    writePassword(RABBITMQ_PASSWORD);
    expect((await run(specFile, args)).code).toBe(0);
    await expectAllDelivered(url, await rabbit().consume('faq'));
  }, 240_000);

  it('retries a login refused after the broker accepted it in this run (a broker booting), and delivers everything once it is accepted again', async () => {
    const { url, specFile } = await stream('fg', {});
    expect((await run(specFile)).code).toBe(0); // the slot, the exchange and the queue
    const running = startCli(['run', '-c', specFile]);
    try {
      await sql(url, "insert into items values (1, 'a')");
      await waitFor(async () => ((await rabbit().queueDepth('fgq')) >= 1 ? true : undefined), 60_000, 'the first message');
      rabbit().ctl('change_password', RABBITMQ_USER, 'not-the-password');
      rabbit().ctl('close_all_connections', 'test: the broker refuses the login for a while');
      const before = await walPosition(url);
      await sql(url, "insert into items values (2, 'b')");
      await waitFor(() => ((running.output().stderr.match(/refused the login/g) ?? []).length >= 3 ? true : undefined), 60_000, 'refused logins retried');
      expect(running.child.exitCode).toBeNull();
      expect(await confirmedAtMost(url, before)).toBe(true);
      rabbit().ctl('change_password', RABBITMQ_USER, RABBITMQ_PASSWORD);
      await sql(url, "insert into items values (3, 'c')");
      const end = await walPosition(url);
      await waitFor(async () => (!(await confirmedAtMost(url, end)) ? true : undefined), 120_000, 'the stream to go on');
    } finally {
      running.child.kill('SIGTERM');
    }
    await expectAllDelivered(url, await rabbit().consume('fgq'));
  }, 240_000);

  it('stops on an unreachable broker with one line, acknowledging nothing', async () => {
    const port = await freeLoopbackPort();
    const { url, specFile, spec } = await stream('fb', {}, undefined, 0);
    expect((await run(specFile)).code).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items values (1, 'a')");
    const { specFile: unreachable } = await spec({ url: `amqp://${RABBITMQ_USER}:${RABBITMQ_PASSWORD}@127.0.0.1:${port}` });
    expectFailure(await run(unreachable), 'TARGET_UNREACHABLE', `RabbitMQ at 127.0.0.1:${port} cannot be reached (ECONNREFUSED)`, '(fix: check spec.target.rabbitmq.url and that the broker runs and listens there)');
    expect(await confirmedAtMost(url, before)).toBe(true);
    const { specFile: fixed } = await spec({});
    expect((await run(fixed)).code).toBe(0);
    await expectAllDelivered(url, await rabbit().consume('fbq'));
  }, 240_000);

  it("publishes over TLS with the broker's CA, and stops with one line, acknowledging nothing, when the CA is not trusted", async () => {
    const address = `localhost:${rabbit().tlsPort}`;
    const tlsUrl = `amqps://${RABBITMQ_USER}:${RABBITMQ_PASSWORD}@${address}`;
    const { url, specFile, spec } = await stream('fe', { url: tlsUrl, tls: { caCertificate: rabbit().caFile } });
    expect((await run(specFile)).code).toBe(0); // the slot, over TLS
    await sql(url, "insert into items values (1, 'a')");
    const delivered = await run(specFile);
    expect(delivered.code, delivered.stderr).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items values (2, 'b')");
    const { specFile: untrusted } = await spec({ tls: undefined });
    expectFailure(
      await run(untrusted),
      'TARGET_FAILED',
      `the TLS connection to RabbitMQ at ${address} failed: `,
      "(fix: give the broker's CA in spec.target.rabbitmq.tls.caCertificate (or set tls.skipHostnameVerification for a certificate naming another host))",
    );
    expect(await confirmedAtMost(url, before)).toBe(true);
    const { specFile: trusted } = await spec({});
    expect((await run(trusted)).code).toBe(0);
    await expectAllDelivered(url, await rabbit().consume('feq'));
  }, 240_000);

  it('stops on a missing exchange (not declared) with one line, and delivers once it exists', async () => {
    const { url, specFile } = await stream('fc', { exchange: { name: 'fc-missing' }, queue: undefined });
    expectFailure(await run(specFile), 'TARGET_FAILED', 'RabbitMQ exchange "fc-missing" in vhost "/" does not exist', '(fix: create it, or set spec.target.rabbitmq.exchange.declare: true to declare it at start)');
    await rabbit().bindQueue('fcq', 'fc-missing');
    expect((await run(specFile)).code).toBe(0); // the slot
    await sql(url, "insert into items values (1, 'a'), (2, 'b')");
    expect((await run(specFile)).code).toBe(0);
    await expectAllDelivered(url, await rabbit().consume('fcq'));
  }, 240_000);

  it("stops on a message over the broker's max_message_size with one line, acknowledging nothing past it; sets it aside with the dead-letter policy", async () => {
    const { url, specFile, spec, dir } = await stream('fd', { deadLetter: { policy: 'stop' } });
    expect((await run(specFile)).code).toBe(0);
    await sql(url, "insert into items values (1, 'small')");
    expect((await run(specFile)).code).toBe(0);
    const before = await walPosition(url);
    // About 20 kB, more than the broker's 4096 bytes; the next change in the same transaction is small.
    await sql(url, "begin; insert into items select 2, string_agg(md5(g::text), '') from generate_series(1, 640) g; insert into items values (3, 'after'); commit");
    const refused = await run(specFile);
    expectFailure(refused, 'TARGET_FAILED', 'RabbitMQ message fd:', "more than the broker's max_message_size of 4096 (fix: raise the broker's max_message_size (rabbitmq.conf) and spec.target.rabbitmq.maxMessageBytes (the event is sent again on the next run), or set spec.target.rabbitmq.deadLetter.policy: dead-letter to set such events aside and go on)");
    expect(await confirmedAtMost(url, before)).toBe(true);
    // The queue holds the first row only, not the large one.
    expect([...rebuild(asKafkaRecords(deduplicated(await rabbit().consume('fdq')))).keys()]).toEqual(['{"id":1}']);
    const deadLetters = path.join(dir, 'dead.ndjson');
    const { specFile: setAside } = await spec({ deadLetter: { policy: 'dead-letter', file: deadLetters } });
    const accepted = await run(setAside);
    expect(accepted.code, accepted.stderr).toBe(0);
    const letters = fs.readFileSync(deadLetters, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(letters.map((letter) => [letter.event.after.id, letter.error])).toEqual([[2, expect.stringMatching(/^the message is \d+ bytes, more than the broker's max_message_size of 4096$/)]]);
    const rest = recordedChanges(asKafkaRecords(await rabbit().consume('fdq')));
    expect(rest).toEqual([{ op: 'c', id: 3 }]);
  }, 240_000);
});
