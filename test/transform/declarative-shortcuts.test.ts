/**
 * The declarative shortcuts of spec.transform end to end into a File target: dropped, renamed and
 * masked columns, added fields and kept operations, on snapshot reads, inserts, updates (before
 * images) and deletes, checked against the source's own to_jsonb() and sha256().
 */
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { startTransformCapture } from './transform-fixtures.js';

const TRANSFORM = {
  dropColumns: ['public\\.users\\.secret'],
  renameColumns: [{ column: 'public\\.users\\.name', to: 'full_name' }],
  maskColumns: [
    { columns: ['public\\.users\\.email'], hash: { salt: 'pepper' } },
    { columns: ['public\\.users\\.ssn', 'public\\.users\\.age'], fixed: '#masked#' },
  ],
  addFields: [{ tables: ['public\\.users'], fields: { region: 'eu-west', version: 2, tags: ['a', 'ü'] } }],
  keepOperations: [{ tables: ['public\\.audit'], operations: ['c'] }],
};

/** What each users row must look like, computed by the source itself. */
async function expectedUsers(url: string): Promise<Map<number, Record<string, unknown>>> {
  const { rows } = await sql(
    url,
    `select (to_jsonb(u) - 'secret' - 'name' - 'email' - 'ssn' - 'age')
            || jsonb_build_object('full_name', u.name,
                                  'email', case when u.email is null then null else encode(sha256(convert_to('pepper' || u.email, 'UTF8')), 'hex') end,
                                  'ssn', '#masked#', 'age', '#masked#',
                                  'region', 'eu-west', 'version', 2, 'tags', jsonb_build_array('a', 'ü')) as row
       from users u order by id`,
  );
  return new Map(rows.map((row) => [row.row.id as number, row.row as Record<string, unknown>]));
}

describe('declarative transform shortcuts', () => {
  const server = useTestServer();

  it('drops, renames and masks columns and adds fields on snapshot rows, changes and before images', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create table users (id int primary key, name text, email text, ssn varchar(11), secret text, age int, joined date);
       alter table users replica identity full;
       insert into users values (1, 'Ann', 'ann@example.com', '123-45-6789', 'hunter2', 41, '2020-01-02'),
                                (2, null, null, null, null, null, null)`,
    );
    const capture = await startTransformCapture(url, TRANSFORM, { snapshotMode: 'initial' });
    const snapshot = capture.first;
    const before = await expectedUsers(url);
    expect(snapshot.map((event) => event.op)).toStrictEqual(['r', 'r']);
    for (const event of snapshot) expect(event.after).toStrictEqual(before.get(event.after.id));

    await sql(url, "insert into users values (3, 'Bob', 'bob@example.com', '987-65-4321', 's3cret', 7, '2021-03-04')");
    await sql(url, "update users set name = 'Ann B', secret = 'x' where id = 1");
    await sql(url, 'delete from users where id = 3');
    const changes = await capture.events();
    const after = await expectedUsers(url);
    expect(changes.map((event) => event.op)).toStrictEqual(['c', 'u', 'd']);
    const bob = changes[0].after;
    expect(changes[1].before).toStrictEqual(before.get(1));
    expect(changes[1].after).toStrictEqual(after.get(1));
    expect(changes[2].before).toStrictEqual(bob);
    expect(Object.keys(bob)).toStrictEqual(['id', 'full_name', 'email', 'ssn', 'age', 'joined', 'region', 'version', 'tags']);
    const raw = JSON.stringify([snapshot, changes]);
    for (const secret of ['hunter2', 's3cret', 'ann@example', 'bob@example', '123-45', '987-65']) expect(raw).not.toContain(secret);
  });

  it('keeps only the operations a table pattern names, other tables keep all', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table audit (id int primary key, what text); create table other (id int primary key)');
    const capture = await startTransformCapture(url, TRANSFORM);
    await sql(url, "insert into audit values (1, 'a'), (2, 'b'); update audit set what = 'c'; delete from audit where id = 1; truncate audit");
    await sql(url, 'insert into other values (1); update other set id = 1; delete from other');
    const events = await capture.events();
    const { rows } = await sql(url, "select to_jsonb(a) as row from (values (1, 'a'), (2, 'b')) as a(id, what)");
    expect(events.filter((event) => event.source?.table === 'audit').map((event) => event.after)).toStrictEqual(rows.map((row) => row.row));
    expect(events.filter((event) => event.source?.table === 'other').map((event) => event.op)).toStrictEqual(['c', 'u', 'd']);
  });

  it('stops with one line when two fields of a table get the same name', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table pairs (id int primary key, a text, b text)');
    const capture = await startTransformCapture(url, { renameColumns: [{ column: 'public\\.pairs\\.a', to: 'b' }] });
    await sql(url, "insert into pairs values (1, 'x', 'y')");
    await expect(capture.events()).rejects.toThrow(/spec\.transform gives public\.pairs two fields named "b"/);
  });
});
