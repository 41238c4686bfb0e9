/**
 * Unchanged TOASTed values: an update that leaves a large out-of-line value alone does not carry it
 * (pgoutput sends `u`), so the event holds the placeholder and lists the column in
 * `unchanged_toast_columns`, never a null; with REPLICA IDENTITY FULL the old row carries the value,
 * and the event has it, as Debezium writes it.
 */
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { startCapture } from '../support/event-capture.js';

const DEFAULT_PLACEHOLDER = '__debezium_unavailable_value';

/** About 64 kB of random hex: too large to stay inline even if compressed. */
const BIG_TEXT = `(select string_agg(md5(random()::text), '') from generate_series(1, 2000))`;
const BIG_JSONB = `(select jsonb_object_agg('k' || i, md5(random()::text)) from generate_series(1, 2000) as i)`;
const BIG_TEXTS = `(select array_agg(md5(random()::text)) from generate_series(1, 2000))`;
const BIG_BYTEA = `(select string_agg(decode(md5(random()::text), 'hex'), '') from generate_series(1, 4000))`;

const TABLE = `create table docs (id int primary key, counter int, body text, doc jsonb, tags text[], blob bytea, note text)`;

async function insertBigRow(url: string): Promise<void> {
  await sql(url, `insert into docs values (1, 0, ${BIG_TEXT}, ${BIG_JSONB}, ${BIG_TEXTS}, ${BIG_BYTEA}, 'small')`);
}

describe('unchanged TOAST values', () => {
  const server = useTestServer();

  it('writes the default placeholder and lists the columns, by type', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLE);
    const capture = await startCapture({ url });
    await insertBigRow(url);
    await sql(url, 'update docs set counter = counter + 1 where id = 1');
    const events = await capture.events();
    expect(events.map((e) => e.op)).toEqual(['c', 'u']);
    const { rows } = await sql(url, 'select body, doc::text as doc, note from docs');
    // The insert carries the whole values.
    expect(events[0].after.body).toBe(rows[0].body);
    expect(events[0].after.doc).toEqual(JSON.parse(rows[0].doc));
    expect(events[0]).not.toHaveProperty('unchanged_toast_columns');

    const update = events[1];
    expect(update.before).toBeNull();
    expect(update.after).toEqual({
      id: 1,
      counter: 1,
      body: DEFAULT_PLACEHOLDER,
      doc: DEFAULT_PLACEHOLDER,
      tags: [DEFAULT_PLACEHOLDER],
      blob: `\\x${Buffer.from(DEFAULT_PLACEHOLDER).toString('hex')}`,
      note: 'small',
    });
    expect(update.unchanged_toast_columns).toEqual(['body', 'doc', 'tags', 'blob']);
    // Field order: the list comes after op, before the processing time.
    expect(Object.keys(update)).toEqual(['before', 'after', 'source', 'transaction', 'op', 'unchanged_toast_columns', 'ts_ms', 'ts_us', 'ts_ns']);
  });

  it('writes a configured placeholder, and only for the columns left unchanged', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLE);
    const capture = await startCapture({ url, source: { unavailableValuePlaceholder: 'N/A "toast"' } });
    await insertBigRow(url);
    await sql(url, `update docs set note = 'changed', doc = '{"small": 1.50}' where id = 1`);
    await sql(url, `update docs set body = 'short now', counter = 2 where id = 1`);
    const events = await capture.events();
    expect(events.map((e) => e.op)).toEqual(['c', 'u', 'u']);
    expect(events[1].after).toEqual({
      id: 1,
      counter: 0,
      body: 'N/A "toast"',
      doc: { small: 1.5 },
      tags: ['N/A "toast"'],
      blob: `\\x${Buffer.from('N/A "toast"').toString('hex')}`,
      note: 'changed',
    });
    expect(events[1].unchanged_toast_columns).toEqual(['body', 'tags', 'blob']);
    expect(events[2].after).toEqual({
      id: 1,
      counter: 2,
      body: 'short now',
      doc: { small: 1.5 },
      tags: ['N/A "toast"'],
      blob: `\\x${Buffer.from('N/A "toast"').toString('hex')}`,
      note: 'changed',
    });
    expect(events[2].unchanged_toast_columns).toEqual(['tags', 'blob']);
  });

  it('never writes null for an unchanged TOASTed value of a table without other columns changed, nor in a delete', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLE);
    const capture = await startCapture({ url });
    await insertBigRow(url);
    // An update that changes nothing still rewrites the row; TOASTed values stay unchanged.
    await sql(url, 'update docs set counter = counter where id = 1');
    await sql(url, 'delete from docs where id = 1');
    const events = await capture.events();
    expect(events.map((e) => e.op)).toEqual(['c', 'u', 'd']);
    expect(events[1].after.body).toBe(DEFAULT_PLACEHOLDER);
    expect(Object.values(events[1].after)).not.toContain(null);
    expect(events[1].unchanged_toast_columns).toEqual(['body', 'doc', 'tags', 'blob']);
    // A delete's before holds the key only: no placeholder, no list.
    expect(events[2].before).toEqual({ id: 1 });
    expect(events[2]).not.toHaveProperty('unchanged_toast_columns');
  });

  it('takes an unchanged TOASTed value from the old row with REPLICA IDENTITY FULL', async () => {
    const url = await createDatabase(server());
    await sql(url, TABLE);
    await sql(url, 'alter table docs replica identity full');
    const capture = await startCapture({ url });
    await insertBigRow(url);
    await sql(url, 'update docs set counter = counter + 1 where id = 1');
    await sql(url, 'update docs set id = 2 where id = 1'); // a key change: delete + create
    const events = await capture.events();
    expect(events.map((e) => e.op)).toEqual(['c', 'u', 'd', 'c']);
    const inserted = events[0].after;
    expect(events[1].before).toEqual(inserted);
    expect(events[1].after).toEqual({ ...inserted, counter: 1 });
    expect(events[1]).not.toHaveProperty('unchanged_toast_columns');
    expect(events[3].after).toEqual({ ...inserted, id: 2, counter: 1 });
    expect(events[3]).not.toHaveProperty('unchanged_toast_columns');
  });
});
