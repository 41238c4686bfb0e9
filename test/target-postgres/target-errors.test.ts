/**
 * The Postgres target when the target disagrees: rows that already exist (conflict policy), rows
 * the target rejects and DDL it cannot apply (stop, naming the table, row and statement, or skip
 * by policy), incompatible tables, an unreachable, read-only or restarting target. Nothing the
 * target did not take is acknowledged at the source.
 */
import { describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { lsnToNumber } from '../support/truth-log.js';

const ITEMS = 'create table items (id int primary key, v int, note text)';

async function confirmedFlush(url: string, slot: string): Promise<number> {
  const { rows } = await sql(url, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [slot]);
  return lsnToNumber(rows[0].lsn);
}

async function currentLsn(url: string): Promise<number> {
  return lsnToNumber((await sql(url, 'select pg_current_wal_insert_lsn()::text as lsn')).rows[0].lsn);
}

describe('Postgres target: conflicts and errors', () => {
  const server = useTestServer();

  it.each([
    ['update', ['(1,1,source)', '(2,2,source)']],
    ['skip', ['(1,0,target)', '(2,2,source)']],
  ] as const)('conflictPolicy %s: a row that already exists on the target', async (conflictPolicy, expected) => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, ITEMS);
    await sql(target, `${ITEMS}; insert into items values (1, 0, 'target')`);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, target: { conflictPolicy } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into items values (1, 1, 'source'), (2, 2, 'source')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(await tableText(target, 'items')).toEqual(expected);
  });

  it('conflictPolicy fail: stops naming the table, the key and the statement, and acknowledges nothing of it', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, ITEMS);
    await sql(target, `${ITEMS}; insert into items values (1, 0, 'target')`);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, target: { conflictPolicy: 'fail' } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into items values (5, 5, 'before')");
    const before = await currentLsn(source);
    await sql(source, "insert into items values (2, 2, 'source'), (1, 1, 'source'), (3, 3, 'source')");
    const failure = await runStream(config, { logger: silentLogger(), stopAt: 'now' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PgcdcError);
    expect((failure as PgcdcError).code).toBe('TARGET_FAILED');
    expect((failure as PgcdcError).message).toMatch(/^the target rejected the insert of public\.items row \(id=1\): duplicate key value violates unique constraint "items_pkey" \(Key \(id\)=\(1\) already exists\.\) \[SQLSTATE 23505\]; statement: INSERT INTO "public"\."items"/);
    expect((failure as PgcdcError).hint).toMatch(/rowErrorPolicy: skip/);
    // Nothing of the failing transaction is acknowledged or on the target (nor of the one before it
    // when both went in one target transaction): it comes again once fixed.
    expect(await confirmedFlush(source, config.source.slotName)).toBeLessThanOrEqual(before);
    const rows = await tableText(target, 'items');
    expect(rows.filter((row) => row !== '(5,5,before)')).toEqual(['(1,0,target)']);
    await sql(target, 'delete from items');
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(await tableText(target, 'items')).toEqual(await tableText(source, 'items'));
  });

  it('rowErrorPolicy fail stops at a row the target rejects; after the fix the rest arrives exactly once', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, ITEMS);
    await sql(target, `${ITEMS}; alter table items add constraint small check (v < 100)`);
    const { config, specFile } = await postgresStream({ sourceUrl: source, targetUrl: target });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into items select g, g, 'ok' from generate_series(1, 50) g");
    await sql(source, "update items set v = 500, note = 'too big' where id = 7");
    await sql(source, "insert into items values (51, 51, 'after')");
    const result = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(result.code).not.toBe(0);
    const line = errorLine(result);
    expect(line).toMatch(/^pgcdc: error\[TARGET_FAILED\] the target rejected the update of public\.items row \(id=7\): new row for relation "items" violates check constraint "small"/);
    expect(line).toMatch(/statement: UPDATE "public"\."items" AS t SET .*\(fix: /);
    const applied = await tableText(target, 'items');
    expect(applied.some((row) => row.includes('too big') || row.includes('after'))).toBe(false);
    await sql(target, 'alter table items drop constraint small');
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(await tableText(target, 'items')).toEqual(await tableText(source, 'items'));
  });

  it('rowErrorPolicy skip applies everything else and logs the row it skipped', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, ITEMS);
    await sql(target, `${ITEMS}; alter table items add constraint small check (v < 100)`);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, target: { rowErrorPolicy: 'skip' } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into items select g, case when g = 20 then 500 else g end, 'x' from generate_series(1, 40) g");
    const logger = capturedLogger();
    // Batches of one event: the rejected row ends a batch whose source transaction goes on in the next.
    await runStream(config, { logger: logger.logger, stopAt: 'now', queueBytes: { max: 4 * 1024 * 1024, batch: 1 } });
    const expected = (await tableText(source, 'items')).filter((row) => !row.startsWith('(20,'));
    expect(await tableText(target, 'items')).toEqual(expected);
    const skipped = logger.lines().filter((l) => String(l.msg).startsWith('the target rejected a row; skipped'));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ table: 'public.items', key: 'id=20', statement: 'insert' });
    expect(skipped[0]!.error).toMatch(/violates check constraint "small"/);
  });

  it('refuses an existing target table that cannot take the rows, naming each difference', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, ITEMS);
    await sql(target, 'create table items (id int, v text, extra int not null)');
    const { specFile } = await postgresStream({ sourceUrl: source, targetUrl: target });
    const result = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(result.code).not.toBe(0);
    const line = errorLine(result);
    expect(line).toMatch(/^pgcdc: error\[TARGET_FAILED\] the target cannot take the source's rows: /);
    expect(line).toContain('target table public.items: column v has type text, the source has integer');
    expect(line).toContain('column note does not exist, the source has text');
    expect(line).toContain('column extra is NOT NULL without a default and does not exist on the source');
    expect(line).toContain('no primary key or unique index on (id)');
  });

  it('an unreachable or read-only target is one clear error, with nothing acknowledged', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, ITEMS);
    const unreachable = target.replace(/:(\d+)\//, ':1/');
    const closed = await postgresStream({ sourceUrl: source, targetUrl: unreachable });
    const refused = await runCli(['run', '-c', closed.specFile, '--stop-at', 'now']);
    expect(refused.code).not.toBe(0);
    expect(errorLine(refused)).toMatch(/^pgcdc: error\[TARGET_UNREACHABLE\] cannot connect to the target postgres@127\.0\.0\.1:1\/.*connection refused.*\(fix: check that the target server runs/);

    const readOnly = await createDatabase(server());
    await sql(readOnly, `alter database ${readOnly.split('/').pop()} set default_transaction_read_only = on`);
    const { specFile } = await postgresStream({ sourceUrl: source, targetUrl: readOnly });
    const result = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(result.code).not.toBe(0);
    expect(errorLine(result)).toMatch(/^pgcdc: error\[TARGET_FAILED\] the target postgres@.* is read-only \(default_transaction_read_only is on\) \(fix: point spec\.target\.postgres\.url at the primary/);
  });

  it.each(['fail', 'skip'] as const)('ddlErrorPolicy %s: a schema change the target cannot apply', async (ddlErrorPolicy) => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, ITEMS);
    // A view on the target depends on the column: changing its type fails there.
    await sql(target, `${ITEMS}; create view item_values as select v from items`);
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target, target: { ddlErrorPolicy } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(source, "insert into items values (1, 1, 'before')");
    await sql(source, 'alter table items alter column v type bigint');
    await sql(source, "insert into items values (2, 2, 'after')");
    const logger = capturedLogger();
    const outcome = await runStream(config, { logger: logger.logger, stopAt: 'now' }).catch((error: unknown) => error);
    if (ddlErrorPolicy === 'fail') {
      expect(outcome).toBeInstanceOf(PgcdcError);
      expect((outcome as PgcdcError).message).toMatch(/^the target cannot apply the source's ALTER TABLE \(alter table items alter column v type bigint\): cannot alter type of a column used by a view or rule; statement: ALTER TABLE "public"\."items" ALTER COLUMN "v" TYPE bigint/);
      // Stopped at the last applied position: nothing after the DDL is applied (the insert before
      // it is, or comes again with it, depending on how the batches fell).
      expect(await tableText(target, 'items')).not.toContain('(2,2,after)');
      // Once the target is fixed, the run goes on from there: everything arrives exactly once.
      await sql(target, 'drop view item_values');
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });
      expect(await tableText(target, 'items')).toEqual(['(1,1,before)', '(2,2,after)']);
      expect((await sql(target, "select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = 'items'::regclass and attname = 'v'")).rows[0].t).toBe('bigint');
    } else {
      expect(logger.lines().some((l) => String(l.msg).startsWith('the target cannot apply a DDL change; skipped'))).toBe(true);
      expect(await tableText(target, 'items')).toEqual(['(1,1,before)', '(2,2,after)']);
      expect((await sql(target, "select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = 'items'::regclass and attname = 'v'")).rows[0].t).toBe('integer');
    }
  });

  it('a target connection that drops is reconnected to, also in the middle of a source transaction, with nothing lost or doubled', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table counter (id int primary key, n int); create table log (n int)');
    await sql(source, 'alter table log replica identity full');
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    // Each statement into log takes 20 ms on the target (a trigger that fires under replication
    // too), so the target transaction of the large source transaction below stays open long enough.
    await sql(target, `create function slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.02); return null; end $$;
      create trigger slow after insert on log for each statement execute function slow();
      alter table log enable always trigger slow`);
    const controller = new AbortController();
    const logger = capturedLogger();
    const running = runStream(config, {
      logger: logger.logger,
      signal: controller.signal,
      retryDelayMs: { initial: 50, max: 200 },
      queueBytes: { max: 128 * 1024, batch: 32 * 1024 },
    });
    const terminate = async (condition: string): Promise<boolean> =>
      (await sql(target, `select pg_terminate_backend(pid) as done from pg_stat_activity where application_name = $1 and ${condition}`, [`pgcdc-${config.name}-target`])).rows.some((r) => r.done);
    // Between transactions: the next write just reconnects.
    for (let i = 1; i <= 30; i++) {
      await sql(source, `insert into log values (${i}); insert into counter values (${i}, ${i})`);
      if (i % 10 === 0) await waitFor(async () => ((await terminate("state = 'idle'")) ? true : undefined));
    }
    // Inside a source transaction larger than a batch: the target transaction is lost, the stream restarts from the slot.
    await sql(source, "insert into log select g from generate_series(1000, 40000) g");
    await waitFor(async () => ((await terminate("xact_start < now() - interval '200 milliseconds'")) ? true : undefined), 20_000, 'a target transaction to interrupt');
    await waitFor(
      async () => {
        const rows = (await sql(target, 'select count(*)::int as n from log')).rows[0].n;
        if (rows === 39_031) return true;
        // Which rows: one of 1..30 points at the reconnects between transactions, 1000..40000 at the large one.
        const { missing, doubled } = (
          await sql(
            target,
            `select (select array_agg(n order by n) from (select generate_series(1, 30) union all select generate_series(1000, 40000) except all select n from log) e(n)) as missing,
                    (select array_agg(n order by n) from (select n from log group by n having count(*) > 1) d) as doubled`,
          )
        ).rows[0];
        throw new Error(`the target has ${rows} rows; missing n: ${(missing ?? []).slice(0, 20).join(', ') || 'none'}; doubled n: ${(doubled ?? []).slice(0, 20).join(', ') || 'none'}`);
      },
      60_000,
      'all 39031 rows on the target',
    );
    controller.abort();
    await running;
    expect(logger.lines().some((l) => l.msg === 'replication interrupted; reconnecting' && l.code === 'TARGET_UNREACHABLE')).toBe(true);
    expect(await tableText(target, 'log')).toEqual(await tableText(source, 'log'));
    expect(await tableText(target, 'counter')).toEqual(await tableText(source, 'counter'));
  }, 120_000);
});
