import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';

describe('embedded PostgreSQL harness', () => {
  const server = useTestServer();

  it('runs a real server with logical WAL on a loopback port', async () => {
    const url = await createDatabase(server());
    const { rows } = await sql(url, "select current_setting('wal_level') as wal_level, current_setting('server_version_num')::int as version");
    expect(rows[0].wal_level).toBe('logical');
    expect(Math.floor(rows[0].version / 10000)).toBe(server().major);
  });

  it('survives a restart with its data', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table kept (id int primary key); insert into kept values (1)');
    await server().restart();
    const { rows } = await sql(url, 'select count(*)::int as n from kept');
    expect(rows[0].n).toBe(1);
  });
});
