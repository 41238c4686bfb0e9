/**
 * `pgcdc init` run by a role that cannot create event triggers: DDL capture is not installed, and
 * only a target that replays DDL (Postgres with replicateDdl) is warned that schema changes will
 * not be replayed; a File stream initialises without that warning.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

let counter = 0;

describe('pgcdc init and DDL capture', () => {
  const server = useTestServer();

  /** A source database with one table, and the URL of a role with REPLICATION that is not a superuser. */
  async function sourceForPlainRole(): Promise<{ url: string; roleUrl: string }> {
    const url = await createDatabase(server(), 'src');
    const role = `init_plain_${process.pid}_${++counter}`;
    const database = new URL(url).pathname.slice(1);
    await sql(url, `create role ${role} login replication password 'secret'; grant create on database ${database} to ${role}`);
    const roleUrl = new URL(url);
    roleUrl.username = role;
    roleUrl.password = 'secret';
    await sql(roleUrl.toString(), 'create schema shop; create table shop.orders (id int primary key)');
    return { url, roleUrl: roleUrl.toString() };
  }

  async function init(roleUrl: string, target: Record<string, unknown>) {
    const dir = tempDir();
    const { specFile } = await targetStream({ url: roleUrl, target, name: `initddl${process.pid}x${++counter}`, dir });
    return runCli(['init', '-c', specFile]);
  }

  it('a File stream: no warning that DDL will not be replayed', async () => {
    const { roleUrl } = await sourceForPlainRole();
    const result = await init(roleUrl, { type: 'File', file: { path: 'changes.jsonl' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('DDL capture: not installed (needs a superuser)\n');
    expect(result.stderr).not.toContain('DDL capture');
    expect(result.stderr).not.toContain('replayed');
  });

  it.each([
    ['replays DDL', { replicateDdl: true }, true],
    ['has replicateDdl: false', { replicateDdl: false }, false],
  ])('a Postgres target that %s: the warning that schema changes will not be replayed when it does', async (_case, settings, warned) => {
    const { roleUrl } = await sourceForPlainRole();
    const targetUrl = await createDatabase(server(), 'dst');
    const result = await init(roleUrl, { type: 'Postgres', postgres: { ...settings, url: targetUrl } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('DDL capture: not installed (needs a superuser)\n');
    const warning = /DDL capture is not installed \([^\n]*permission denied[^\n]*\): schema changes on the source will not be replayed on the target/;
    if (warned) expect(result.stderr).toMatch(warning);
    else expect(result.stderr).not.toMatch(warning);
  });
});
