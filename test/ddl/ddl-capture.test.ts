/**
 * Installing and removing DDL capture, who may install it, whose DDL it captures, message order
 * around savepoints, and what happens when describing a command fails.
 */
import { describe, expect, it } from 'vitest';
import { ddlCaptureInstalled, installDdlCapture, removeDdlCapture } from '../../src/ddl/ddl-capture.js';
import { ReplicatedSchema } from '../../src/ddl/replicated-schema.js';
import { replayStatements } from '../../src/ddl/replay-statements.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';
import { createDecodingSlot, queryOf, readDdlMessages, readDecoded } from '../support/ddl-catalog.js';

const server = useTestServer();
let slots = 0;

async function sourceWithCapture(): Promise<{ url: string; slot: string }> {
  const url = await createDatabase(server(), 'src');
  expect(await withClient(url, (client) => installDdlCapture(queryOf(client)))).toEqual({ installed: true });
  const slot = `capture_${process.pid}_${++slots}`;
  await createDecodingSlot(url, slot);
  return { url, slot };
}

/** test_decoding lines with transaction ids and message contents left out. */
async function decodedLines(url: string, slot: string): Promise<string[]> {
  return (await readDecoded(url, slot)).map((line) =>
    line.kind === 'ddl' ? `ddl ${line.message.commandTag}` : line.data.replace(/^(BEGIN|COMMIT) \d+/, '$1'),
  );
}

describe('DDL capture', () => {
  it('keeps a message from a savepoint before the changes after it, and drops it with a rolled back savepoint', async () => {
    const { url, slot } = await sourceWithCapture();
    await sql(
      url,
      `begin;
       create table public.s (id int primary key);
       savepoint a; alter table public.s add column v text; release a;
       insert into public.s values (1, 'x');
       savepoint b; alter table public.s add column w int; rollback to b;
       insert into public.s values (2, 'y');
       commit;`,
    );
    expect(await decodedLines(url, slot)).toEqual([
      'BEGIN',
      'ddl CREATE TABLE',
      'ddl ALTER TABLE',
      "table public.s: INSERT: id[integer]:1 v[text]:'x'",
      "table public.s: INSERT: id[integer]:2 v[text]:'y'",
      'COMMIT',
    ]);
  });

  it('needs a superuser to install, then captures the DDL of every role', async () => {
    const url = await createDatabase(server(), 'src');
    const role = `plain_${process.pid}_${++slots}`;
    const database = new URL(url).pathname.slice(1);
    await sql(url, `create role ${role} login password 'secret'; grant create on database ${database} to ${role}`);
    const roleUrl = new URL(url);
    roleUrl.username = role;
    roleUrl.password = 'secret';
    const denied = await withClient(roleUrl.toString(), (client) => installDdlCapture(queryOf(client)));
    expect(denied).toEqual({
      installed: false,
      warning: expect.stringMatching(
        /^DDL capture is not installed \(permission denied .*\): schema changes on the source will not be replayed on the target; run pgcdc init as a superuser to install it$/,
      ),
    });
    expect(await withClient(url, (client) => ddlCaptureInstalled(queryOf(client)))).toBe(false);

    expect(await withClient(url, (client) => installDdlCapture(queryOf(client)))).toEqual({ installed: true });
    expect(await withClient(url, (client) => installDdlCapture(queryOf(client)))).toEqual({ installed: true });
    const slot = `capture_${process.pid}_${++slots}`;
    await createDecodingSlot(url, slot);
    await sql(roleUrl.toString(), `create schema mine; create table mine.t (x int)`);
    const messages = await readDdlMessages(url, slot);
    expect(messages.map((m) => [m.commandTag, m.schemas.map((s) => s.name), m.tables.map((t) => `${t.schema}.${t.name}`)])).toEqual([
      ['CREATE SCHEMA', ['mine'], []],
      ['CREATE TABLE', [], ['mine.t']],
    ]);
    await sql(url, `drop schema mine cascade; revoke create on database ${database} from ${role}; drop role ${role}`);
  });

  it('is removed without touching the pgcdc schema', async () => {
    const { url, slot } = await sourceWithCapture();
    await sql(url, `create table pgcdc.kept (x int)`);
    expect(await withClient(url, (client) => ddlCaptureInstalled(queryOf(client)))).toBe(true);
    await withClient(url, (client) => removeDdlCapture(queryOf(client)));
    expect(await withClient(url, (client) => ddlCaptureInstalled(queryOf(client)))).toBe(false);
    await sql(url, `create table public.after_removal (x int)`);
    expect(await readDdlMessages(url, slot)).toEqual([]);
    const { rows } = await sql(
      url,
      `select (select count(*) from pg_proc where pronamespace = 'pgcdc'::regnamespace)::int as functions,
              to_regclass('pgcdc.kept') is not null as kept`,
    );
    expect(rows[0]).toEqual({ functions: 0, kept: true });
    await sql(url, `select pg_drop_replication_slot($1)`, [slot]);
  });

  it('lets the DDL through when it cannot describe it, and says so in the message', async () => {
    const { url, slot } = await sourceWithCapture();
    await sql(
      url,
      `create or replace function pgcdc.describe_table(oid) returns jsonb language plpgsql as $$
       begin raise exception 'catalog unavailable'; end $$`,
    );
    await sql(url, `create table public.t (x int)`);
    expect((await sql(url, `select to_regclass('public.t') is not null as exists`)).rows[0].exists).toBe(true);
    const [message] = await readDdlMessages(url, slot);
    expect(message).toMatchObject({ event: 'ddl_command_end', commandTag: 'CREATE TABLE', tables: [], error: 'catalog unavailable' });
    expect(() => replayStatements(message!, ReplicatedSchema.fromDescriptions([]))).toThrow(
      'the source could not capture CREATE TABLE for replication: catalog unavailable',
    );
  });
});
