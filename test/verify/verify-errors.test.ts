/**
 * Bad input to `verifyStream`: a stream whose target is not PostgreSQL, an unreachable target, a
 * wrong target password or database, no table to compare. Each is a PgcdcError naming the target
 * with its fix.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/embedded/embedded-postgres-server.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { verifyStream } from '../../src/verify/verify-stream.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream } from '../support/stream-fixtures.js';
import { postgresStream, sourceAndTarget } from './verify-fixtures.js';

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; hint: string | undefined }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof PgcdcError)) throw new Error(`expected a PgcdcError, got ${String(error)}`);
  return { code: error.code, message: error.message, hint: error.hint };
}

describe('pgcdc verify: bad input', () => {
  const server = useTestServer();

  it('a stream whose target is not PostgreSQL is refused', async () => {
    const { config } = await fileStream({ url: await createDatabase(server()) });
    expect(await failure(verifyStream(config))).toEqual({
      code: 'CONFIG_INVALID',
      message: `verify needs spec.target.type Postgres (or SGCluster); stream "${config.name}" writes to File`,
      hint: 'verify compares the source with a PostgreSQL target: use a spec whose target is a PostgreSQL database',
    });
  });

  it('an unreachable target says so, as the target', async () => {
    const sourceUrl = await createDatabase(server());
    await sql(sourceUrl, 'create table t (id int primary key)');
    const port = await freePort();
    expect(await failure(verifyStream(await postgresStream(sourceUrl, `postgres://postgres:x@127.0.0.1:${port}/db`)))).toEqual({
      code: 'TARGET_UNREACHABLE',
      message: `target: cannot connect to PostgreSQL at 127.0.0.1:${port}: connection refused`,
      hint: 'check that the server is running and listens on this host and port (listen_addresses, port)',
    });
  });

  it('a wrong target password and a missing target database are told apart', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), 'create table t (id int primary key)');
    const wrong = targetUrl.replace(/:[^:@/]+@/, ':not-the-password@');
    const { port } = new URL(targetUrl);
    const database = new URL(targetUrl).pathname.slice(1);
    expect(await failure(verifyStream(await postgresStream(sourceUrl, wrong)))).toEqual({
      code: 'AUTH_FAILED',
      message: `target: password authentication failed for postgres@127.0.0.1:${port}/${database}`,
      hint: 'check the user name and password in the target URL or secret',
    });
    expect(await failure(verifyStream(await postgresStream(sourceUrl, targetUrl.replace(/\/[^/]+$/, '/no_such_db'))))).toEqual({
      code: 'DATABASE_NOT_FOUND',
      message: `target: database "no_such_db" does not exist on 127.0.0.1:${port}`,
      hint: 'create it or fix the database name in the target URL',
    });
  });

  it('a wrong source password is the source’s error', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), 'create table t (id int primary key)');
    const result = await failure(verifyStream(await postgresStream(sourceUrl.replace(/:[^:@/]+@/, ':nope@'), targetUrl)));
    expect(result.code).toBe('AUTH_FAILED');
    expect(result.message).toMatch(/^password authentication failed for postgres@127\.0\.0\.1:\d+\/src_\w+$/);
    expect(result.hint).toBe('check the user name and password in the source URL or secret');
  });

  it('no table to compare is an error, not an identical report', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), 'create table t (id int primary key)');
    const config = await postgresStream(sourceUrl, targetUrl, { includes: ['public\\.nothing'] });
    expect(await failure(verifyStream(config))).toEqual({
      code: 'NO_TABLES',
      message: `no table of the source matches the include/exclude filters of stream "${config.name}": nothing to verify`,
      hint: 'check spec.source.postgres includes/excludes against the source tables',
    });
  });

  it('a target table the target role may not read fails with PERMISSION_DENIED, as the target', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), 'create table t (id int primary key)');
    await sql(targetUrl, "do $$ begin if not exists (select from pg_roles where rolname = 'verify_reader') then create role verify_reader login password 'pw'; end if; end $$");
    const result = await failure(verifyStream(await postgresStream(sourceUrl, targetUrl.replace('postgres:pgcdc@', 'verify_reader:pw@'))));
    expect(result.code).toBe('PERMISSION_DENIED');
    expect(result.message).toMatch(/^target: verify_reader@127\.0\.0\.1:\d+\/tgt_\w+: permission denied for table t$/);
  });
});
