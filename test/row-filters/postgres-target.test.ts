/**
 * `rowFilters` into a Postgres target: after the initial load, streaming (rows moving in and out
 * of the filter), a table added later and an execute-snapshot (table synchronisation), the target's
 * table holds exactly `SELECT … FROM source WHERE filter`: compared as ordered to_jsonb dumps read
 * from both servers; `pgcdc verify` compares the filtered source rows too.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { verifyStream } from '../../src/verify/verify-stream.js';
import { postgresStream } from '../support/postgres-target-fixtures.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';

const ORDERS_FILTER = "region = 'eu' AND NOT archived";
/** On the key only: the default replica identity (the primary key) covers it. */
const LATE_FILTER = 'id % 3 <> 0';

/** Every row of `table` that `where` keeps, as to_jsonb text, in a stable order. */
async function dump(url: string, table: string, where = 'true'): Promise<string[]> {
  const { rows } = await sql(url, `select to_jsonb(t)::text as row from ${table} t where ${where} order by to_jsonb(t)::text collate "C"`);
  return rows.map((row) => row.row as string);
}

describe('rowFilters into a Postgres target', () => {
  const server = useTestServer();

  it('keeps exactly the filtered rows through the initial load, streaming, a later table and execute-snapshot', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(
      source,
      `create table orders (id int primary key, region text not null, archived boolean not null default false, amount int, note text);
       alter table orders replica identity full;
       create table keyless (body text, region text);
       alter table keyless replica identity full;
       insert into orders select i, (array['eu', 'us', 'eu'])[i % 3 + 1], i % 7 = 0, i, repeat('x', i % 50) from generate_series(1, 5000) i;
       insert into keyless select 'b' || i, case when i % 2 = 0 then 'eu' else 'us' end from generate_series(1, 300) i`,
    );
    const dir = tempDir();
    const filters = { 'public.orders': ORDERS_FILTER, 'public.keyless': "region = 'eu'", 'public.late': LATE_FILTER };
    const { config } = await postgresStream({
      sourceUrl: source,
      targetUrl: target,
      dir,
      source: { snapshotMode: 'initial', snapshotChunkRows: 700, snapshotParallelism: 2, statusIntervalMs: 100, tableDiscoveryIntervalMs: 200, rowFilters: filters },
    });
    const runToNow = () => runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const expectEqual = async (table: string, filter: string) => {
      const expected = await dump(source, table, filter);
      expect(expected.length).toBeGreaterThan(0);
      expect(await dump(target, table)).toEqual(expected);
    };

    // The initial load (public.late does not exist yet: its filter waits for it).
    await runToNow();
    await expectEqual('orders', ORDERS_FILTER);
    await expectEqual('keyless', "region = 'eu'");

    // Streaming: rows in and out of the filter, moved in, moved out, changed within, deleted.
    await sql(
      source,
      `insert into orders select i, (array['eu', 'us'])[i % 2 + 1], false, i, 'new' from generate_series(5001, 5200) i;
       update orders set region = 'eu' where id % 10 = 1 and region = 'us';
       update orders set archived = true where id % 10 = 2 and region = 'eu';
       update orders set amount = amount + 1000, note = 'changed' where id % 10 = 3;
       update orders set archived = false where id % 14 = 7;
       delete from orders where id % 10 = 4;
       update keyless set region = 'eu' where body like '%1';
       update keyless set region = 'us' where body like '%2';
       delete from keyless where body like '%4'`,
    );
    await runToNow();
    await expectEqual('orders', ORDERS_FILTER);
    await expectEqual('keyless', "region = 'eu'");

    // A table created while the stream runs, with rows: found, published with its filter, copied by
    // table synchronisation, then streamed (key changes moving rows out of the filter, 1 → 2001, and
    // into it, 3 → 2004; a change within it; inserts).
    const controller = new AbortController();
    const running = runStream(config, { logger: silentLogger(), signal: controller.signal });
    try {
      await waitFor(async () => ((await sql(source, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined));
      await sql(source, 'create table late (id int primary key, kind int); insert into late select i, i % 3 from generate_series(1, 900) i');
      const copied = await dump(source, 'late', LATE_FILTER);
      const copiedOnTarget = async () => (await sql(target, "select to_regclass('public.late') is not null as made")).rows[0].made && (await dump(target, 'late')).length === copied.length;
      await waitFor(async () => ((await copiedOnTarget()) ? true : undefined), 60_000, 'public.late copied');
      await sql(source, 'update late set id = id + 2000 where id % 9 in (1, 3); update late set kind = 7 where id % 9 = 2; insert into late values (1000, 0), (1002, 1)');
    } finally {
      controller.abort();
      await running;
    }
    await runToNow();
    await expectEqual('late', LATE_FILTER);
    const published = await sql(source, `select tablename, rowfilter from pg_publication_tables where pubname = $1 and tablename = 'late'`, [config.source.publicationName]);
    expect(published.rows).toEqual([{ tablename: 'late', rowfilter: '((id % 3) <> 0)' }]);

    // execute-snapshot: the table is copied again whole, through the filter.
    await sql(source, `insert into pgcdc.signals (id, type, data) values ('again', 'execute-snapshot', '{"data-collections": ["public.orders"]}')`);
    await runToNow();
    await sql(source, "update orders set region = 'us' where id % 10 = 5");
    await runToNow();
    await expectEqual('orders', ORDERS_FILTER);
    await expectEqual('keyless', "region = 'eu'");
    await expectEqual('late', LATE_FILTER);

    // verify compares what the filters keep of the source with the target, and sees a row too many.
    const report = await verifyStream(config, { rangeRows: 500 });
    expect(report.tables.map((t) => [t.table, t.status])).toEqual(
      expect.arrayContaining([
        ['public.orders', 'identical'],
        ['public.keyless', 'identical'],
        ['public.late', 'identical'],
      ]),
    );
    await sql(target, "insert into orders values (99999, 'us', false, 1, 'outside the filter')");
    const after = await verifyStream(config, { rangeRows: 500 });
    expect(after.tables.find((t) => t.table === 'public.orders')?.status).toBe('different');
  }, 180_000);
});
