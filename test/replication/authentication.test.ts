/**
 * The replication connection authenticates with every method PostgreSQL offers for passwords
 * (SCRAM-SHA-256, MD5, cleartext) and trust, and says clearly when credentials are wrong or missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { ReplicationSession } from '../../src/source/replication-session.js';
import { connectionConfigFor } from '../support/connection.js';
import { sql, useTestServer } from '../support/postgres.js';

describe('authentication', () => {
  const server = useTestServer();

  beforeAll(async () => {
    const url = server().url();
    await sql(url, "set password_encryption = 'md5'; create role md5_user login replication password 'md5-pw'");
    await sql(url, "create role clear_user login replication password 'clear-pw'; create role trust_user login replication");
    // Methods per user, ahead of the harness's scram-sha-256 lines.
    const hba = path.join(server().dir, 'data', 'pg_hba.conf');
    const methods = ['md5_user md5', 'clear_user password', 'trust_user trust']
      .flatMap((line) => [`host all ${line.replace(' ', ' 127.0.0.1/32 ')}`, `host replication ${line.replace(' ', ' 127.0.0.1/32 ')}`])
      .join('\n');
    fs.writeFileSync(hba, `${methods}\n${fs.readFileSync(hba, 'utf8')}`);
    await sql(url, 'select pg_reload_conf()');
  });

  it.each([
    ['scram-sha-256', 'postgres', undefined],
    ['md5', 'md5_user', 'md5-pw'],
    ['cleartext password', 'clear_user', 'clear-pw'],
    ['trust', 'trust_user', null],
  ])('connects with %s', async (_method, user, password) => {
    const base = await connectionConfigFor(server().url());
    const config = { ...base, user, password: password === undefined ? base.password : (password ?? undefined) };
    const session = await ReplicationSession.open(config);
    try {
      expect((await session.identifySystem()).database).toBe('postgres');
    } finally {
      await session.close();
    }
  });

  it.each([
    ['scram-sha-256', 'postgres'],
    ['md5', 'md5_user'],
    ['cleartext password', 'clear_user'],
  ])('rejects a wrong %s password with AUTH_FAILED', async (_method, user) => {
    const config = { ...(await connectionConfigFor(server().url())), user, password: 'wrong' };
    const error = await ReplicationSession.open(config).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PgcdcError);
    expect((error as PgcdcError).code).toBe('AUTH_FAILED');
    expect((error as PgcdcError).message).toBe(`password authentication failed for ${user}@127.0.0.1:${server().port}/postgres`);
  });

  it('says a password is needed when none is given', async () => {
    const config = { ...(await connectionConfigFor(server().url())), password: undefined };
    const error = (await ReplicationSession.open(config).then(() => undefined, (e: unknown) => e)) as PgcdcError;
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.toLine()).toBe(
      `the server asks for a password for postgres@127.0.0.1:${server().port} and none was given (fix: put it in the source URL (postgres://user:\${PGPASSWORD}@host/db reads it from the environment) or in the password secret)`,
    );
  });
});
