/**
 * A target that cannot be used is found before anything touches the source: `pgcdc validate` and
 * `pgcdc run` (also with --stop-at now) end promptly with one error line, a non-zero exit, and no
 * slot or publication left on the source to hold WAL. One case per target kind that can fail so.
 */
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/embedded/embedded-postgres-server.js';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

let counter = 0;

describe('targets checked before the source is touched', () => {
  const server = useTestServer();

  /** Runs validate, run and run --stop-at now on a spec with `target`; each must fail alike, leaving the source untouched. */
  async function expectRefused(target: Record<string, unknown>, code: number, line: RegExp): Promise<void> {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const { specFile, config } = await targetStream({ url, target, name: `checked${process.pid}x${++counter}`, dir: tempDir() });
    for (const args of [['validate'], ['run'], ['run', '--stop-at', 'now']]) {
      const started = Date.now();
      const result = await runCli([...args, '-c', specFile], {}, 30_000);
      expect(result.signal, `${args.join(' ')} did not end by itself: ${result.stderr}`).toBe(null);
      expect(result.code, args.join(' ')).toBe(code);
      expect(errorLine(result), args.join(' ')).toMatch(line);
      expect(Date.now() - started, args.join(' ')).toBeLessThan(20_000);
    }
    const { rows } = await sql(url, 'select (select count(*)::int from pg_replication_slots where slot_name = $1) as slots, (select count(*)::int from pg_publication where pubname = $2) as publications', [
      config.source.slotName,
      config.source.publicationName,
    ]);
    expect(rows[0]).toEqual({ slots: 0, publications: 0 });
  }

  it('File: a directory that does not exist', async () => {
    const missing = path.join(tempDir(), 'no', 'such', 'dir');
    await expectRefused(
      { type: 'File', file: { path: path.join(missing, 'out.ndjson') } },
      1,
      /^pgcdc: error\[TARGET_FAILED\] cannot write \S*out\.ndjson: the directory \S*no\/such\/dir does not exist \(fix: create \S*no\/such\/dir, or choose another spec\.target\.file\.path\)$/,
    );
  });

  it('File: a path that is a directory', async () => {
    const dir = tempDir();
    await expectRefused({ type: 'File', file: { path: dir } }, 1, /^pgcdc: error\[TARGET_FAILED\] cannot write .*: it is a directory \(fix: set spec\.target\.file\.path to a file\)/);
  });

  it('Postgres: a target nothing listens for', async () => {
    const port = await freePort();
    await expectRefused({ type: 'Postgres', postgres: { url: `postgres://postgres:x@127.0.0.1:${port}/db` } }, 1, new RegExp(`^pgcdc: error\\[TARGET_UNREACHABLE\\] cannot connect to the target postgres@127\\.0\\.0\\.1:${port}/db`));
  });

  it('Postgres: a read-only target', async () => {
    const target = await createDatabase(server());
    await sql(target, `alter database ${new URL(target).pathname.slice(1)} set default_transaction_read_only = on`);
    await expectRefused({ type: 'Postgres', postgres: { url: target } }, 1, /^pgcdc: error\[TARGET_FAILED\] the target .* is read-only \(default_transaction_read_only is on\) \(fix: point spec\.target\.postgres\.url at the primary/);
  });

  it('CloudEvent: a receiver nothing listens for', async () => {
    const port = await freePort();
    await expectRefused({ type: 'CloudEvent', cloudEvent: { http: { url: `http://127.0.0.1:${port}/events` } } }, 1, /^pgcdc: error\[TARGET_\w+\] .*CloudEvent receiver/);
  });

  it('Webhook: a subscription API address already in use', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as net.AddressInfo).port;
      await expectRefused(
        { type: 'Webhook', webhook: { subscriptionServer: { listenAddress: `127.0.0.1:${port}` } } },
        2,
        new RegExp(`^pgcdc: error\\[CONFIG_INVALID\\] the webhook subscription server cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`),
      );
    } finally {
      busy.close();
    }
  });
});
