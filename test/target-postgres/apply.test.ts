/**
 * The Postgres target applies the stream exactly: every value type through both paths (the
 * initial load's COPY and streamed changes as SQL), unchanged TOAST values, primary-key changes,
 * truncates, tables without a key, whole source transactions only, and each change once across
 * restarts.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { createDatabase, sql, useTestServer, waitFor, withClient } from '../support/postgres.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { COLUMNS, EDGE_ROW, ROWS, SCHEMA } from '../support/value-fixtures.js';

describe('Postgres target: applying changes', () => {
  const server = useTestServer();

  it('copies every value type exactly, through the initial load and through streamed changes', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, SCHEMA);
    await sql(source, `insert into vals (${COLUMNS}) values ${ROWS[0]}`);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial' } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(await tableText(target, 'vals')).toEqual(await tableText(source, 'vals'));

    await sql(source, `insert into vals (${COLUMNS}) values ${ROWS[1]}, ${EDGE_ROW}`);
    await sql(source, `insert into vals (${COLUMNS}) select 10 + id, b, i2, i4, i8, n, n2, f4, f8, t, vc, c, by, d, tm, ttz, ts, tstz, iv, js, jb, u, ip, cd, mac, bt, vb, x, pt, r4, rtz, ia, ta, en, dm, cp, cpa, m, o from vals`);
    await sql(source, "update vals set t = t || ' (updated)', ta = array_append(ta, 'x'), cpa = null where id in (1, 11)");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const rows = await tableText(source, 'vals');
    expect(rows).toHaveLength(6);
    expect(await tableText(target, 'vals')).toEqual(rows);
    // The target was created from the source's catalogs: same column types, the enum, domain and composite.
    const columns = "select string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' order by attnum) as c from pg_attribute where attrelid = 'vals'::regclass and attnum > 0";
    expect((await sql(target, columns)).rows[0].c).toBe((await sql(source, columns)).rows[0].c);
  });

  it('copies every built-in type exactly through the binary initial load, and user types through the text one', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, SCHEMA);
    await sql(source, `insert into vals (${COLUMNS}) values ${ROWS[0]}, ${ROWS[1]}, ${EDGE_ROW}`);
    // Built-in types only (no enum, domain or composite): this table's rows travel in binary.
    const builtIn = COLUMNS.split(', ').filter((c) => !['en', 'dm', 'cp', 'cpa'].includes(c)).join(', ');
    await sql(source, `create table builtins as select ${builtIn} from vals; alter table builtins add primary key (id)`);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial' } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    for (const table of ['vals', 'builtins']) expect(await tableText(target, table), table).toEqual(await tableText(source, table));
    expect(await tableText(target, 'builtins')).toHaveLength(3);
  });

  it('keeps unchanged TOAST values, follows key changes (identity columns too) and truncates, and updates tables without a key by their old row', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, `
      create table docs (id int primary key, title text, body text);
      alter table docs alter column body set storage external;
      create table parent (id int primary key);
      create table child (id int primary key, parent_id int references parent);
      create table log (at int, what text);
      alter table log replica identity full;
      create table tickets (id int generated always as identity primary key, code int generated always as identity (start 100) unique, t text)`);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into docs select g, 'title ' || g, repeat(md5(g::text), 4000) from generate_series(1, 20) g");
    // Updates that leave the TOASTed body unchanged: the server sends it as "unchanged".
    await sql(source, "update docs set title = 'renamed ' || id where id <= 10");
    await sql(source, 'update docs set id = id + 100 where id in (3, 4)');
    await sql(source, "update docs set title = 'moved and renamed', id = 200 where id = 5");
    await sql(source, "insert into parent values (1), (2); insert into child values (10, 1), (20, 2)");
    await sql(source, 'truncate parent, child');
    await sql(source, "insert into parent values (3); insert into child values (30, 3)");
    await sql(source, "insert into log values (1, 'a'), (1, 'a'), (2, 'b'), (3, null)");
    await sql(source, "update log set what = 'changed' where at = 1 and ctid = (select min(ctid) from log where at = 1)");
    await sql(source, 'delete from log where what is null');
    await sql(source, "insert into tickets (t) values ('a'), ('b'), ('c')");
    await sql(source, "update tickets set id = default, t = 'key moved' where id = 1");
    await sql(source, 'update tickets set code = default where id = 2');
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    for (const table of ['docs', 'parent', 'child', 'log', 'tickets']) expect(await tableText(target, table), table).toEqual(await tableText(source, table));
    expect((await sql(target, 'select count(*)::int as n, min(length(body)) as len from docs')).rows[0]).toEqual({ n: 20, len: 128_000 });
  });

  it('loads into a target table that already holds rows: it ends equal to the source, with a warning', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    const table = 'create table accounts (id int primary key, seq int generated always as identity, name text)';
    await sql(source, `${table}; insert into accounts (id, name) select g, 'source ' || g from generate_series(1, 3000) g`);
    // The target holds older versions of some rows (other identity values, other names) and rows of its own.
    await sql(target, `${table}; insert into accounts (id, seq, name) overriding system value select g, 100000 + g, 'stale ' || g from generate_series(2001, 4000) g`);
    // A keyless table holding the source's rows already: loading must not double them.
    await sql(source, "create table notes (n int, note text); alter table notes replica identity full; insert into notes select g % 7, 'x' from generate_series(1, 50) g");
    await sql(target, "create table notes (n int, note text); insert into notes select g % 7, 'x' from generate_series(1, 50) g");
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, source: { snapshotMode: 'initial', snapshotChunkRows: 1000 } });
    const log = capturedLogger();
    await runStream(config, { logger: log.logger, stopAt: 'now' });
    for (const name of ['accounts', 'notes']) expect(await tableText(target, name), name).toEqual(await tableText(source, name));
    expect(log.lines().filter((l) => l.level === 40).map((l) => [l.msg, l.tables])).toEqual([
      ['emptied target tables that already held rows, to load them from the snapshot (the target ends equal to the source)', ['public.accounts', 'public.notes']],
    ]);
    // The identity column is GENERATED ALWAYS as on the source.
    expect((await sql(target, "select attidentity from pg_attribute where attrelid = 'accounts'::regclass and attname = 'seq'")).rows[0].attidentity).toBe('a');
  });

  it('never shows part of a source transaction, even one spanning many batches', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table big (id int primary key, payload text)');
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into big select g, repeat('x', 200) from generate_series(1, 30000) g");
    await sql(source, "update big set payload = 'y' where id % 2 = 0");
    // Small batches: the 30,000-row transaction reaches the target in dozens of writes.
    const seen = new Set<number>();
    let watching = true;
    const watcher = withClient(target, async (client) => {
      while (watching) {
        const { rows } = await client.query("select count(*)::int as n, count(*) filter (where payload = 'y')::int as y from big").catch(() => ({ rows: [{ n: -1, y: -1 }] }));
        seen.add(rows[0].n * 100_000 + rows[0].y);
      }
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now', queueBytes: { max: 256 * 1024, batch: 64 * 1024 } });
    watching = false;
    await watcher;
    // Before the first commit the table is absent (-1) or empty; then all 30,000 rows; then all updated.
    const states = [...seen].filter((s) => s >= 0).sort((a, b) => a - b);
    expect(states.every((s) => s === 0 || s === 30_000 * 100_000 || s === 30_000 * 100_000 + 15_000), `states seen: ${states.join(', ')}`).toBe(true);
    expect(await tableText(target, 'big')).toEqual(await tableText(source, 'big'));
  });

  it('applies each change once: transactions the source sends again after a restart are skipped', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table events (n int, note text)'); // no key: a change applied twice would show
    await sql(source, 'alter table events replica identity full');
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target });
    const slot = config.source.slotName;
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    // A copy of the slot at this position: restoring it makes the source send everything again.
    await sql(source, 'select pg_copy_logical_replication_slot($1, $2)', [slot, `${slot}_copy`]);
    for (let i = 1; i <= 5; i++) await sql(source, `insert into events values (${i}, 'one'), (${i}, 'two')`);
    await sql(source, "update events set note = 'changed' where n = 2 and note = 'one'");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const applied = (await sql(target, 'select lsn::text as lsn from pgcdc.applied_positions where stream = $1', [config.name])).rows[0].lsn;
    expect(await tableText(target, 'events')).toEqual(await tableText(source, 'events'));

    // "Crash": the slot goes back to before those transactions, as if their acknowledgement was lost.
    await waitFor(async () => ((await sql(source, 'select active from pg_replication_slots where slot_name = $1', [slot])).rows[0].active ? undefined : true));
    await sql(source, 'select pg_drop_replication_slot($1)', [slot]);
    await sql(source, 'select pg_copy_logical_replication_slot($1, $2)', [`${slot}_copy`, slot]);
    await sql(source, 'select pg_drop_replication_slot($1)', [`${slot}_copy`]);
    await sql(source, "insert into events values (6, 'after')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(await tableText(target, 'events')).toEqual(await tableText(source, 'events'));
    const now = (await sql(target, 'select lsn::text as lsn from pgcdc.applied_positions where stream = $1', [config.name])).rows[0].lsn;
    expect(now).not.toBe(applied);
  });
});
