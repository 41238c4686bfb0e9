/**
 * JavaScript transform functions end to end into a File target: a value changed, events dropped
 * (null) and fanned out (array), unchanged events kept byte for byte, values checked against the
 * source's own to_jsonb(); and what the sandbox lacks (network, environment, file system, timers).
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exact, parseExact, rowsAsJsonb } from '../support/event-capture.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { startTransformCapture } from './transform-fixtures.js';

describe('transform functions', () => {
  const server = useTestServer();

  it('changes values, drops events with null and fans out with an array', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, name text, price numeric(12,2), tags text[])');
    const script = `
      (event) => {
        const row = event.after ?? event.before;
        if (row.id % 3 === 0) return null;
        if (event.after && row.id % 3 === 1) event.after.name = event.after.name.toUpperCase();
        if (row.id % 3 === 2) return [event, { op: 'c', after: { id: row.id * 100, copy_of: row.id, source_table: event.source.table } }];
        return event;
      }`;
    const capture = await startTransformCapture(url, { script });
    await sql(url, "insert into items select i, 'item ' || i, i * 1.5, array['t' || i] from generate_series(1, 9) i");
    await sql(url, 'delete from items where id in (1, 2, 3)');
    const events = await capture.events();
    const { rows } = await sql(
      url,
      `select to_jsonb(i) || case when i.id % 3 = 1 then jsonb_build_object('name', upper(i.name)) else '{}' end as row
         from (select i as id, 'item ' || i as name, (i * 1.5)::numeric(12,2) as price, array['t' || i] as tags from generate_series(1, 9) i) i
        where i.id % 3 <> 0 order by id`,
    );
    const expected = rows.flatMap((row) =>
      row.row.id % 3 === 2 ? [{ op: 'c', after: row.row }, { op: 'c', after: { id: row.row.id * 100, copy_of: row.row.id, source_table: 'items' } }] : [{ op: 'c', after: row.row }],
    );
    const creates = events.slice(0, expected.length).map((event) => ({ op: event.op, after: event.after }));
    expect(creates).toStrictEqual(expected);
    // Deletes: id 1 and 2 kept (2 fanned out into a delete and a create), 3 dropped.
    const afterDeletes = events.slice(creates.length);
    expect(afterDeletes.map((event) => [event.op, event.before?.id ?? event.after?.id])).toStrictEqual([
      ['d', 1],
      ['d', 2],
      ['c', 200],
    ]);
    // Events given back unchanged keep their exact text (numbers as the source wrote them).
    expect(events.find((event) => event.op === 'c' && event.after.id === 2).after.price).toBe(3);
    expect(JSON.stringify(events)).toContain('"source":{');
  });

  it('keeps the exact text of unchanged numbers beyond what JavaScript numbers hold', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, n numeric, b bigint)');
    const capture = await startTransformCapture(url, { script: '(event) => event' });
    await sql(url, 'insert into big values (1, 12345678901234567890.123456789, 9007199254740993), (2, 10.50, 1)');
    expect(await capture.events()).toHaveLength(2);
    const file = capture.config.target.type === 'File' ? capture.config.target.path : '';
    const written = fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => exact(parseExact(line).after));
    expect(written).toStrictEqual((await rowsAsJsonb(url, 'big')).map((row) => exact(row)));
  });

  it('gives the function no network, environment, file system, modules or timers', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table probe (id int primary key)');
    const script = `
      function transform(event) {
        event.after.seen = [typeof fetch, typeof process, typeof require, typeof XMLHttpRequest, typeof setTimeout, typeof WebSocket, typeof Deno, typeof Bun].join(',');
        return event;
      }`;
    const capture = await startTransformCapture(url, { script });
    await sql(url, 'insert into probe values (1)');
    const [event] = await capture.events();
    expect(event.after.seen).toBe('undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined');
  });

  it('gives the function the environment variables grants.env names, and only those', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table probe (id int primary key)');
    process.env.PGCDC_TRANSFORM_GRANTED = 'granted-value';
    process.env.PGCDC_TRANSFORM_NOT_GRANTED = 'hidden-value';
    const script = `(event) => ({ ...event, after: { ...event.after, token: process.env.PGCDC_TRANSFORM_GRANTED, other: process.env.PGCDC_TRANSFORM_NOT_GRANTED ?? 'absent', fetch: typeof fetch } })`;
    const capture = await startTransformCapture(url, { script, grants: { env: ['PGCDC_TRANSFORM_GRANTED'] } });
    await sql(url, 'insert into probe values (1)');
    const [event] = await capture.events();
    expect(event.after).toStrictEqual({ id: 1, token: 'granted-value', other: 'absent', fetch: 'undefined' });
  });
});
