/**
 * The Postgres target's connection dropping while the replication session that fed it is paused
 * in the middle of a source transaction (the stream processor waiting for a relation's catalog
 * lookup): the session ends, the queue forgets what was not durable, and the next session sends
 * the transaction again from the slot. Nothing the ended session had received may reach the queue
 * after that: its tail, applied with the transaction's commit position, would make the target
 * skip the whole transaction when it comes again (a lost row). The pipeline is wired as
 * `runStream` wires it, with one hook: the catalog lookup of one relation waits for the test.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { CatalogQuery } from '../../src/decoding/values/type-catalog.js';
import { TypeCatalog } from '../../src/decoding/values/type-catalog.js';
import { RelationRegistry } from '../../src/decoding/relation-registry.js';
import { DDL_MESSAGE_PREFIX } from '../../src/ddl/ddl-message.js';
import { ChangeFilter } from '../../src/pipeline/change-filter.js';
import { Checkpointer } from '../../src/pipeline/checkpointer.js';
import { DeliveryQueue } from '../../src/pipeline/delivery-queue.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { streamWithRetries } from '../../src/pipeline/stream-connection.js';
import { newStreamCounters } from '../../src/pipeline/stream-processor.js';
import { StreamedTransactionSpill } from '../../src/pipeline/streamed-transaction-spill.js';
import { silentLogger } from '../../src/logging/logger.js';
import { CatalogConnection } from '../../src/source/catalog-connection.js';
import { parseLsn } from '../../src/source/lsn.js';
import { createTarget } from '../../src/targets/create-target.js';
import { capturedLogger } from '../support/captured-logger.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { postgresStream, tableText } from '../support/postgres-target-fixtures.js';
import { tempDir } from '../support/stream-fixtures.js';

/** The advisory lock a target trigger on `log` waits for while the test holds it. */
const GATE_LOCK = 7_310_042;

describe('Postgres target: a connection lost while the stream waits inside a source transaction', () => {
  const server = useTestServer();

  it('applies the interrupted transaction whole after the reconnect: nothing of the ended session is delivered', async () => {
    const source = await createDatabase(server());
    const target = await createDatabase(server());
    await sql(source, 'create table log (n int); alter table log replica identity full; create table counter (id int primary key, n int)');
    const { config } = await postgresStream({ sourceUrl: source, targetUrl: target });
    // Slot, publication and the target's tables.
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    // On the target, an insert into log waits while the test holds the gate (also under replication).
    await sql(target, `create function wait_for_gate() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock_shared(${GATE_LOCK}); return null; end $$;
      create trigger wait_for_gate after insert on log for each statement execute function wait_for_gate();
      alter table log enable always trigger wait_for_gate`);
    const gate = new pg.Client({ connectionString: target });
    await gate.connect();
    await gate.query('select pg_advisory_lock($1)', [GATE_LOCK]);

    // The pipeline as runStream builds it; the first catalog lookup of counter waits for `releaseLookup`.
    const catalog = await CatalogConnection.open(config.source.connection);
    const counterOid = Number((await sql(source, "select 'counter'::regclass::oid as oid")).rows[0].oid);
    const logOid = Number((await sql(source, "select 'log'::regclass::oid as oid")).rows[0].oid);
    let armed = false;
    let heldOnce = false;
    let lookupHeld!: () => void;
    const held = new Promise<void>((resolve) => (lookupHeld = resolve));
    let releaseLookup!: () => void;
    const released = new Promise<void>((resolve) => (releaseLookup = resolve));
    let heldLookupAnswered!: () => void;
    const heldAnswered = new Promise<void>((resolve) => (heldLookupAnswered = resolve));
    const query: CatalogQuery = async (text, params) => {
      if (armed && params[0] === counterOid) {
        armed = false;
        heldOnce = true;
        lookupHeld();
        await released;
        try {
          return await catalog.query(text, params);
        } finally {
          // Once the messages buffered behind the lookup have been handled too.
          setImmediate(heldLookupAnswered);
        }
      }
      // The next session's lookups come after it: whatever the ended session does then happens first.
      if (heldOnce) await heldAnswered;
      return catalog.query(text, params);
    };
    const logger = capturedLogger();
    const applier = await createTarget(config, logger.logger);
    await applier.open();
    await applier.prepareTables!(query, [logOid, counterOid], undefined);
    const slot = await sql(source, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [config.source.slotName]);
    const checkpointer = new Checkpointer(parseLsn(slot.rows[0].lsn));
    const queue = new DeliveryQueue(applier, checkpointer, { maxBytes: 1024 * 1024, maxBatchBytes: 256 * 1024 });
    const registry = new RelationRegistry(query, new TypeCatalog(query), {
      filter: new ChangeFilter(config.source.includes, config.source.excludes),
      unavailableValuePlaceholder: config.source.unavailableValuePlaceholder,
    });
    const controller = new AbortController();
    armed = true;
    const running = streamWithRetries(
      config,
      { registry, queue, checkpointer, spill: new StreamedTransactionSpill(tempDir()), counters: newStreamCounters(), requiredMessagePrefixes: [DDL_MESSAGE_PREFIX] },
      { logger: logger.logger, signal: controller.signal, retryDelayMs: { initial: 100, max: 100 } },
    );
    try {
      // One source transaction: the stream processor hands Begin and log's row to the queue, then
      // waits for counter's lookup; the target applies log's row and waits for the gate.
      await sql(source, 'insert into log values (1); insert into counter values (1, 1)');
      await held;
      const targetApplication = `pgcdc-${config.name}-target`;
      await waitFor(
        async () => (await sql(target, "select pg_terminate_backend(pid) as done from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'", [targetApplication])).rows.some((r) => r.done) || undefined,
        20_000,
        'the target connection waiting for the gate',
      );
      await gate.query('select pg_advisory_unlock($1)', [GATE_LOCK]);
      // The session ended on the target's failure and the queue was reset: only then does the lookup end.
      await waitFor(() => logger.lines().some((l) => l.msg === 'replication interrupted; reconnecting' && l.code === 'TARGET_UNREACHABLE') || undefined, 20_000, 'the reconnect');
      releaseLookup();
      // A later transaction: once it is on the target, the interrupted one was dealt with before it.
      await sql(source, 'insert into log values (2); insert into counter values (2, 2)');
      await waitFor(async () => (await tableText(target, 'counter')).length === 2 || undefined, 30_000, 'both transactions on the target');
    } finally {
      releaseLookup();
      controller.abort();
      await running.catch(() => undefined);
      await applier.close();
      await catalog.close();
      await gate.end();
    }
    expect(await tableText(target, 'counter')).toEqual(await tableText(source, 'counter'));
    expect(await tableText(target, 'log')).toEqual(await tableText(source, 'log'));
  }, 90_000);
});
