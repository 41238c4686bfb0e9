/**
 * What a user sees in the File target for values of every common built-in type: each event's
 * `after` (and `before` with REPLICA IDENTITY FULL) equals to_jsonb of the same row on the source,
 * numbers compared by their exact text (json columns by value: to_jsonb normalises them).
 */
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { exactRow, parseExact, rowsAsJsonb, startCapture } from '../support/event-capture.js';
import { COLUMNS, EDGE_ROW, JSON_COLUMNS, ROWS, SCHEMA } from '../support/value-fixtures.js';

describe('event values in the File target', () => {
  const server = useTestServer();

  it('renders inserted rows of every common type exactly as to_jsonb does', async () => {
    const url = await createDatabase(server());
    await sql(url, SCHEMA);
    const capture = await startCapture({ url });
    await sql(url, `insert into vals (${COLUMNS}) values ${[...ROWS, EDGE_ROW].join(',\n')}`);
    const lines = await capture.lines();
    const expected = await rowsAsJsonb(url, 'vals');
    expect(expected).toHaveLength(5);
    expect(lines).toHaveLength(5);
    const events = lines.map(parseExact);
    expect(events.map((e) => e.op)).toEqual(['c', 'c', 'c', 'c', 'c']);
    for (let i = 0; i < expected.length; i++) {
      expect(events[i].before).toBeNull();
      expect(exactRow(events[i].after, JSON_COLUMNS), `row ${i + 1}`).toEqual(exactRow(expected[i], JSON_COLUMNS));
    }
    // Spot checks that are independent of the oracle: exact digits and special values.
    const first = lines[0]!;
    expect(first).toContain('"i8":9223372036854775807');
    expect(first).toContain('"n":123456789012345678901234567890.123456789');
    expect(first).toContain('"n2":1.500');
    expect(first).toContain('"ia":[[1,2,3],[4,5,6]]');
    expect(first).toContain('"ta":["a",null,"b,c","d\\"e","NULL",""]');
    expect(first).toContain('"cp":{"a":1,"b":"x \\"y\\" \\\\"}');
    expect(first).toContain('"cpa":[{"a":1,"b":"a"},{"a":null,"b":null},null]');
    expect(first).toContain('"t":"quote \\" backslash \\\\ newline \\n tab \\t cr \\r emoji 😀 日本語 é ctl \\u0001"');
    expect(first).toContain('"by":"\\\\xdeadbeef00"');
    expect(first).toContain('"en":"happy \\"quoted\\""');
    expect(first).toContain('"dm":42');
    expect(first).toContain('"c":"ab   "');
    const second = JSON.parse(lines[1]!);
    expect(second.after).toMatchObject({ i8: -9223372036854775808, f4: 'NaN', f8: '-Infinity', ts: '-infinity', tstz: 'infinity', by: '\\x' });
    const fourth = JSON.parse(lines[3]!);
    expect(Object.keys(fourth.after)).toEqual(COLUMNS.split(', '));
    expect(Object.values(fourth.after).filter((v) => v !== null)).toEqual([4]);
  });

  it('renders updates and deletes: key-only before by default, the whole old row with REPLICA IDENTITY FULL', async () => {
    const url = await createDatabase(server());
    await sql(url, `${SCHEMA}; create table vals_full (like vals including all); alter table vals_full replica identity full`);
    const capture = await startCapture({ url });
    await sql(url, `insert into vals (${COLUMNS}) values ${ROWS.slice(0, 3).join(',\n')}`);
    await sql(url, `insert into vals_full select * from vals`);
    expect(await capture.lines()).toHaveLength(6);

    const oldFull = await rowsAsJsonb(url, 'vals_full');
    await sql(url, `update vals set t = 'changed', n = n * 2, jb = jsonb_set(jb, '{a}', '2.50') where id = 1`);
    await sql(url, `update vals_full set t = 'changed', n = n * 2, jb = jsonb_set(jb, '{a}', '2.50') where id = 1`);
    const newPlain = await rowsAsJsonb(url, 'vals');
    const newFull = await rowsAsJsonb(url, 'vals_full');
    await sql(url, 'delete from vals where id = 2');
    await sql(url, 'delete from vals_full where id = 2');
    const lines = await capture.lines();
    const events = lines.map(parseExact);
    expect(events.map((e) => `${e.op} ${e.source.table}`)).toEqual(['u vals', 'u vals_full', 'd vals', 'd vals_full']);

    const [updatePlain, updateFull, deletePlain, deleteFull] = events;
    // Default replica identity and an unchanged key: the server sends no old row.
    expect(updatePlain.before).toBeNull();
    expect(exactRow(updatePlain.after, JSON_COLUMNS)).toEqual(exactRow(newPlain[0], JSON_COLUMNS));
    expect(updatePlain.after.t).toBe('changed');
    expect(lines[0]).toContain('"n":246913578024691357802469135780.246913578');
    // FULL: the whole old row.
    expect(exactRow(updateFull.before, JSON_COLUMNS)).toEqual(exactRow(oldFull[0], JSON_COLUMNS));
    expect(exactRow(updateFull.after, JSON_COLUMNS)).toEqual(exactRow(newFull[0], JSON_COLUMNS));
    expect(updateFull.before.t).not.toBe('changed');
    // Deletes: the key only, or the whole row.
    expect(exactRow(deletePlain.before)).toEqual({ id: { '#number': '2' } });
    expect(deletePlain.after).toBeNull();
    expect(exactRow(deleteFull.before, JSON_COLUMNS)).toEqual(exactRow(oldFull[1], JSON_COLUMNS));
    expect(deleteFull.after).toBeNull();
  });

  it('follows schema changes between events: added, dropped and retyped columns', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table evolving (id int primary key, a int, b text)');
    const capture = await startCapture({ url });
    await sql(url, "insert into evolving values (1, 10, 'x')");
    await sql(url, "alter table evolving add column c numeric default 1.50, add column d text[] default '{p,q}'");
    await sql(url, "insert into evolving values (2, 20, 'y', 2.25, '{r}')");
    await sql(url, 'update evolving set a = 11 where id = 1');
    await sql(url, 'alter table evolving drop column b');
    await sql(url, 'alter table evolving alter column a type text');
    await sql(url, "insert into evolving values (3, 'thirty', 3, null)");
    await sql(url, 'delete from evolving where id = 2');
    const lines = await capture.lines();
    expect(lines.map((line) => JSON.parse(line).op)).toEqual(['c', 'c', 'u', 'c', 'd']);
    expect(lines.map((line) => JSON.stringify(JSON.parse(line).after))).toEqual([
      '{"id":1,"a":10,"b":"x"}',
      '{"id":2,"a":20,"b":"y","c":2.25,"d":["r"]}',
      '{"id":1,"a":11,"b":"x","c":1.5,"d":["p","q"]}',
      '{"id":3,"a":"thirty","c":3,"d":null}',
      'null',
    ]);
    // The default's digits are kept exactly.
    expect(lines[2]).toContain('"c":1.50');
    expect(JSON.parse(lines[4]!).before).toEqual({ id: 2 });
  });

  it('renders a key of several columns of different types in the before of a delete', async () => {
    const url = await createDatabase(server());
    await sql(url, `create table multi (tenant text, at timestamptz, n numeric, payload text, primary key (tenant, at, n))`);
    const capture = await startCapture({ url });
    await sql(url, `insert into multi values ('a "b"', '2020-01-01 10:00+02', 1.10, 'p')`);
    await sql(url, `delete from multi`);
    const lines = await capture.lines();
    expect(lines).toHaveLength(2);
    const deleted = parseExact(lines[1]!);
    expect(deleted.op).toBe('d');
    expect(exactRow(deleted.before)).toEqual({ tenant: 'a "b"', at: '2020-01-01T08:00:00+00:00', n: { '#number': '1.10' } });
  });
});
