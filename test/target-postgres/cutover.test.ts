/**
 * Cut-over tools of a migration to a Postgres target: `command` signals run SQL on the target in
 * their place in the stream, `tombstone` ends the stream and removes its slot and publication,
 * sequences follow the source (at --stop-at and on demand), and `verify` says when both sides
 * are identical. A stop in the middle of a source transaction leaves none of it on the target.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { parseLsn } from '../../src/source/lsn.js';
import { createTarget } from '../../src/targets/create-target.js';
import type { Target } from '../../src/targets/target.js';
import { capturedLogger } from '../support/captured-logger.js';
import { errorLine, runCli, startCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { fileStream } from '../support/stream-fixtures.js';

describe('Postgres target: cut-over', () => {
  const server = useTestServer();

  it('command signals run SQL on the target in their place in the stream; a failing one is logged', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table items (id int primary key, note text)');
    const { config, specFile } = await postgresStream({ sourceUrl: source, targetUrl: target });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into items values (1, 'a'), (2, 'a')");
    const cli = await runCli(['signal', '-c', specFile, 'command', "update items set note = 'by command'"]);
    expect(cli.code).toBe(0);
    await sql(source, "update items set note = 'after' where id = 2");
    await sql(source, "insert into pgcdc.signals values ('s1', 'command', '{\"command\": \"create table only_on_target (x int); insert into only_on_target values (7)\"}')");
    await sql(source, "insert into pgcdc.signals values ('s2', 'command', 'select no_such_function()')");
    await sql(source, "insert into items values (3, 'last')");
    const captured = capturedLogger();
    await runStream(config, { logger: captured.logger, stopAt: 'now' });
    const logs = captured.lines();
    // The command ran after rows 1 and 2 arrived and before the later update of row 2.
    expect(await tableText(target, 'items')).toEqual(['(1,"by command")', '(2,after)', '(3,last)']);
    expect((await sql(target, 'select x from only_on_target')).rows).toEqual([{ x: 7 }]);
    expect((await sql(source, "select to_regclass('only_on_target') as t")).rows[0].t).toBeNull();
    expect(logs.find((l) => l.msg === 'the command signal failed on the target; the stream goes on')).toMatchObject({ command: 'select no_such_function()' });
    expect(logs.filter((l) => l.msg === 'ran the command signal on the target')).toHaveLength(2);
  });

  it('refuses a command signal for a stream whose target is not Postgres', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const { specFile } = await fileStream({ url });
    const result = await runCli(['signal', '-c', specFile, 'command', 'select 1']);
    expect(result.code).toBe(2);
    expect(errorLine(result)).toMatch(/^pgcdc: error\[CONFIG_INVALID\] command signals run SQL on a Postgres target; this stream's target is File \(fix: /);
  });

  it.each([
    ['drops the slot and publication', false],
    ['keeps them when told to', true],
  ])('tombstone ends a running stream once what came before it is applied, and %s', async (_name, keep) => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table items (id bigserial primary key, note text)');
    const { config, specFile } = await postgresStream({
      sourceUrl: source,
      targetUrl: target,
      source: { statusIntervalMs: 100, ...(keep ? { skipDropReplicationSlotAndPublicationOnTombstone: true } : {}) },
    });
    const run = startCli(['run', '-c', specFile]);
    await waitFor(async () => ((await sql(source, 'select count(*)::int as n from pg_replication_slots where active')).rows[0].n === 1 ? true : undefined));
    await sql(source, "insert into items (note) select 'before' from generate_series(1, 100)");
    expect((await runCli(['signal', '-c', specFile, 'tombstone'])).code).toBe(0);
    const result = await run.finished();
    expect(result.code, result.stderr).toBe(0);
    expect(await tableText(target, 'items')).toEqual(await tableText(source, 'items'));
    const slots = (await sql(source, 'select count(*)::int as n from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0].n;
    const publications = (await sql(source, 'select count(*)::int as n from pg_publication where pubname = $1', [config.source.publicationName])).rows[0].n;
    expect([slots, publications]).toEqual(keep ? [1, 1] : [0, 0]);
    // The target's sequence continues where the source's is.
    expect((await sql(target, 'select last_value::int as v from items_id_seq')).rows[0].v).toBe(100);
  });

  it('sequences follow the source at --stop-at and on demand; verify tells identical from different', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table a (id serial primary key, v text); create table b (id bigint generated by default as identity (start 1000 increment 5) primary key, v text)');
    const { config, specFile } = await postgresStream({ sourceUrl: source, targetUrl: target });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into a (v) select 'x' from generate_series(1, 42); insert into b (v) select 'y' from generate_series(1, 3)");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    // Writes moved to the target continue the sequences without colliding.
    await sql(target, "insert into a (v) values ('on target'); insert into b (v) values ('on target')");
    expect((await sql(target, "select id from a where v = 'on target'")).rows[0].id).toBe(43);
    expect((await sql(target, "select id::int as id from b where v = 'on target'")).rows[0].id).toBe(1015);
    await sql(target, "delete from a where v = 'on target'; delete from b where v = 'on target'");

    await sql(source, "insert into a (v) select 'z' from generate_series(1, 8)");
    await sql(source, "select setval('a_id_seq', 500)");
    const synced = await runCli(['sync-sequences', '-c', specFile]);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toBe('sequences synchronised: 2\n');
    expect((await sql(target, 'select last_value::int as v from a_id_seq')).rows[0].v).toBe(500);

    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const identical = await runCli(['verify', '-c', specFile]);
    expect(identical.code, identical.stdout).toBe(0);
    await sql(target, "update a set v = 'drift' where id = 7");
    const different = await runCli(['verify', '-c', specFile]);
    expect(different.code).toBe(1);
    expect(different.stdout).toContain('public.a');
  });

  it('a --stop-at reached in the middle of a source transaction leaves it whole for the next run', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table journal (n int, note text); alter table journal replica identity full; create table counted (id serial primary key)');
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into journal values (0, 'before')");
    // The stop position is the end of that transaction; a large one follows. Every write waits a
    // little, so the stream has received part of the large one when the small one is confirmed
    // and the stop is reached: that part is written to the target, in a transaction left open.
    const stopAt = parseLsn((await sql(source, 'select pg_current_wal_lsn()::text as lsn')).rows[0].lsn);
    await sql(source, "insert into journal select g, 'large' from generate_series(1, 20000) g; insert into counted default values");
    const slowed = slowWrites(await createTarget(config, silentLogger()), 200);
    await runStream(config, { logger: silentLogger(), stopAt, target: slowed.target, queueBytes: { max: 64 * 1024, batch: 8 * 1024 } });
    expect(slowed.rowsWritten(), 'rows of the large transaction written before the stop').toBeGreaterThan(0);
    // The cut-over work at the stop (sequences) commits none of it.
    expect((await sql(target, "select count(*)::int as n from journal where note = 'large'")).rows[0].n).toBe(0);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(await tableText(target, 'journal')).toEqual(await tableText(source, 'journal'));
  });
});

/** The target with every write delayed by `ms`, counting the row events written. */
function slowWrites(inner: Target, ms: number): { target: Target; rowsWritten(): number } {
  let rows = 0;
  const target = new Proxy(inner, {
    get(object, property) {
      const value = Reflect.get(object, property, object) as unknown;
      if (property === 'write') {
        return async (batch: Parameters<Target['write']>[0]) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          rows += batch.events.filter((e) => e.kind === 'row').length;
          return inner.write(batch);
        };
      }
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
  return { target, rowsWritten: () => rows };
}
