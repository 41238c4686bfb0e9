/**
 * `captureDdl: true` through the real command line with a role that cannot create event triggers:
 * `run` and `validate` stop with the one line naming the role and the fix, exit non-zero, and
 * nothing is created or streamed; once a superuser installed the capture (`pgcdc init`), the same
 * role streams schema changes. `teardown` keeps the capture while another stream of the database
 * remains and removes it with the last one.
 */
import { describe, expect, it } from 'vitest';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

let counter = 0;

describe('captureDdl and the role', () => {
  const server = useTestServer();

  /** A source with one table, and the URL of a role with REPLICATION that is not a superuser. */
  async function sourceForPlainRole(): Promise<{ url: string; roleUrl: string; role: string }> {
    const url = await createDatabase(server(), 'src');
    const role = `ddl_plain_${process.pid}_${++counter}`;
    const database = new URL(url).pathname.slice(1);
    await sql(url, `create role ${role} login replication password 'secret'; grant create on database ${database} to ${role}`);
    const roleUrl = new URL(url);
    roleUrl.username = role;
    roleUrl.password = 'secret';
    await sql(roleUrl.toString(), 'create schema shop; create table shop.orders (id int primary key)');
    return { url, roleUrl: roleUrl.toString(), role };
  }

  const triggers = async (url: string): Promise<number> => (await sql(url, "select count(*)::int as n from pg_event_trigger where evtname like 'pgcdc%'")).rows[0].n;
  const slots = async (url: string): Promise<number> => (await sql(url, 'select count(*)::int as n from pg_replication_slots where database = current_database()')).rows[0].n;

  it('run and validate stop with one line naming the role and the fix; nothing is created or streamed', async () => {
    const { url, roleUrl, role } = await sourceForPlainRole();
    const { specFile, outFile } = await fileStream({ url: roleUrl, name: `ddlpriv${process.pid}x${++counter}`, source: { captureDdl: true } });

    const run = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(run.code).not.toBe(0);
    const line = `captureDdl is true but role ${role} cannot install DDL capture on the source (`;
    const reason = 'permission denied to create event trigger "pgcdc_ddl_command_end")';
    const fix = ` (fix: event triggers need a superuser: run ALTER ROLE "${role}" SUPERUSER, or run pgcdc init once as a superuser to install DDL capture)`;
    const error = errorLine(run);
    expect(error.startsWith(`pgcdc: error[PERMISSION_DENIED] ${line}`), error).toBe(true);
    expect(error.endsWith(`${reason}${fix}`), error).toBe(true);
    expect(readEvents(outFile)).toEqual([]);
    expect(await slots(url)).toBe(0);
    expect(await triggers(url)).toBe(0);

    const validate = await runCli(['validate', '-c', specFile]);
    expect(validate.code).not.toBe(0);
    expect(`${validate.stdout}\n${validate.stderr}`).toContain(line);
    expect(await triggers(url)).toBe(0);
  });

  it('once a superuser installed the capture, the role streams schema changes; teardown removes it with the last stream', async () => {
    const { url, roleUrl } = await sourceForPlainRole();
    const name = `ddlrole${process.pid}x${++counter}`;
    // The role sets its stream up (the pgcdc schema and its state are the role's), without the capture it may not install.
    const setUp = await fileStream({ url: roleUrl, name });
    const roleInit = await runCli(['init', '-c', setUp.specFile]);
    expect(roleInit.code, roleInit.stderr).toBe(0);
    expect(roleInit.stdout).toContain('DDL capture: not installed');
    // A superuser installs it once.
    const other = await fileStream({ url, name: `ddlother${process.pid}x${++counter}`, source: { captureDdl: true } });
    const init = await runCli(['init', '-c', other.specFile]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('DDL capture: installed');
    const asRole = await fileStream({ url: roleUrl, name, source: { captureDdl: true } });

    const first = await runCli(['run', '-c', asRole.specFile, '--stop-at', 'now']);
    expect(first.code, first.stderr).toBe(0);
    await sql(roleUrl, 'alter table shop.orders add column note text');
    await sql(roleUrl, "insert into shop.orders values (1, 'a')");
    const second = await runCli(['run', '-c', asRole.specFile, '--stop-at', 'now']);
    expect(second.code, second.stderr).toBe(0);
    const events = readEvents(asRole.outFile);
    expect(events.map((e) => e.op)).toEqual(['schema', 'c']);
    expect(events[0].schemaChange).toMatchObject({ operation: 'ALTER', schema: 'shop', table: 'orders', query: 'alter table shop.orders add column note text' });
    expect(events[0].schemaChange.after.map((c: { name: string }) => c.name)).toEqual(['id', 'note']);
    expect(events[1].after).toEqual({ id: 1, note: 'a' });

    const otherTeardown = await runCli(['teardown', '-c', other.specFile]);
    expect(otherTeardown.code).toBe(0);
    expect(otherTeardown.stdout).toContain('DDL capture: kept: other streams of this database may use it\n');
    expect(await triggers(url)).toBe(2);
    // The last stream's role may not drop the triggers, but it owns the pgcdc schema: they go with it.
    const roleTeardown = await runCli(['teardown', '-c', asRole.specFile]);
    expect(roleTeardown.code, roleTeardown.stderr).toBe(0);
    expect(roleTeardown.stdout).toContain('DDL capture: removed (with the pgcdc schema)\nschema pgcdc: dropped');
    expect(await triggers(url)).toBe(0);
  });
});
