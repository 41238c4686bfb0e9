/**
 * The Kafka target's exactly-once mode against a real broker. The oracle is the source's own
 * trigger-written log of every row change (`audit`, not captured): a read_committed consumer must
 * find each logged change exactly once on the table's topic, in order per key, whatever happened to
 * pgcdc meanwhile (kill -9 at random instants, transactions split over several Kafka transactions,
 * the broker stopped and started again), and the topic rebuilt must equal the table. Also: a second
 * producer taking the transactional id over fences the running stream, which stops with one line
 * and acknowledges nothing Kafka does not hold.
 */
import * as kafkaClient from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { runCli, startCli } from '../support/cli.js';
import { useKafkaCluster, type KafkaRecord } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { pgcdcRejection as failure } from '../support/rejection.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const TABLE = `create table items (id int primary key, qty int, note text);
  create table audit (seq bigserial primary key, op text not null, id int not null);
  create function log_change() returns trigger language plpgsql as $$
  begin
    if tg_op = 'INSERT' then insert into audit (op, id) values ('c', new.id);
    elsif tg_op = 'UPDATE' then insert into audit (op, id) values ('u', new.id);
    else insert into audit (op, id) values ('d', old.id);
    end if;
    return null;
  end $$;
  create trigger log_change after insert or update or delete on items for each row execute function log_change()`;

/** `op id` of every change the source logged, in commit order per key. */
async function loggedChanges(url: string): Promise<string[]> {
  const { rows } = await sql(url, 'select op, id from audit order by seq');
  return rows.map((row) => `${row.op} ${row.id}`);
}

/** `op id` of every change event on the topic (tombstones left out), in topic order. */
function recordedChanges(records: readonly KafkaRecord[]): string[] {
  return records.filter((record) => record.value !== null).map((record) => {
    const event = JSON.parse(record.value!);
    return `${event.op} ${(event.after ?? event.before).id}`;
  });
}

/** The changes of each key, in order. */
function perKey(changes: readonly string[]): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const change of changes) {
    const id = change.split(' ')[1]!;
    keys.set(id, [...(keys.get(id) ?? []), change]);
  }
  return keys;
}

async function sourceRows(url: string): Promise<Map<number, unknown>> {
  const { rows } = await sql(url, 'select id, to_jsonb(t) as row from items t');
  return new Map(rows.map((row) => [row.id, row.row]));
}

function rebuilt(records: readonly KafkaRecord[]): Map<number, unknown> {
  const rows = new Map<number, unknown>();
  for (const record of records) {
    if (record.value === null) continue;
    const event = JSON.parse(record.value);
    if (event.op === 'd') rows.delete(event.before.id);
    else rows.set(event.after.id, event.after);
  }
  return rows;
}

/** Each logged change once on the topic, per key in the same order, and the topic rebuilds the table. */
async function expectExactlyOnce(url: string, records: readonly KafkaRecord[]): Promise<void> {
  const logged = await loggedChanges(url);
  const recorded = recordedChanges(records);
  expect(recorded.length).toBe(logged.length);
  expect(perKey(recorded)).toEqual(perKey(logged));
  expect(rebuilt(records)).toEqual(await sourceRows(url));
}

/** Random transactions, some of them large enough to span several batches. */
function workload(url: string): { stop: () => Promise<void> } {
  let nextId = 1;
  let writing = true;
  const done = (async () => {
    while (writing) {
      const id = nextId;
      if (below(testRandom, 10) === 0) {
        nextId += 150;
        await sql(url, `begin; insert into items select g, 0, repeat('x', 50) from generate_series(${id}, ${id + 149}) g; update items set qty = qty + 1 where id % 5 = ${below(testRandom, 5)} and id < ${id + 150}; commit`);
      } else {
        nextId += 3;
        await sql(url, `begin; insert into items values (${id}, 1, 'a'), (${id + 1}, 2, 'b'), (${id + 2}, 3, 'c');
          update items set qty = qty + 1 where id = ${1 + below(testRandom, id + 2)}; delete from items where id = ${1 + below(testRandom, id + 2)}; commit`);
      }
    }
  })();
  return {
    async stop() {
      writing = false;
      await done;
    },
  };
}

describe('Kafka target, exactly once', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();

  async function exactlyOnceStream(name: string, url: string, kafkaSettings: Record<string, unknown> = {}, maxRetries = 0) {
    return targetStream({
      url,
      name,
      dir: tempDir(),
      maxRetries,
      source: { includes: ['public\\.items'] },
      // Small batches: transactions are split over several Kafka transactions.
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: false, exactlyOnce: true, batchSize: 40, ...kafkaSettings } },
    });
  }

  it('writes every change once when killed with -9 at random instants under a concurrent workload', async () => {
    const url = await createDatabase(server(), 'kafka_eos');
    await sql(url, TABLE);
    await kafka().createTopic('e1.public.items', { partitions: 3 });
    const { specFile } = await exactlyOnceStream('e1', url);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const changes = workload(url);
    for (let kill = 0; kill < 4; kill++) {
      const run = startCli(['run', '-c', specFile]);
      await new Promise((resolve) => setTimeout(resolve, 1500 + below(testRandom, 3000)));
      run.child.kill('SIGKILL');
      await run.finished();
    }
    await changes.stop();
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
    expect(last.code, last.stderr).toBe(0);
    const records = await kafka().consume('e1\\.public\\.items', { isolation: 'read_committed', timeoutMs: 60_000 });
    await expectExactlyOnce(url, records);
    expect(records.length).toBeGreaterThan(100);
  }, 300_000);

  it('stops with one line, acknowledging nothing more, when another producer takes its transactional id', async () => {
    const url = await createDatabase(server(), 'kafka_eos');
    await sql(url, TABLE);
    const { config } = await exactlyOnceStream('e2', url);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // creates the slot
    const stop = new AbortController();
    const run = failure(runStream(config, { logger: silentLogger(), signal: stop.signal }));
    try {
      await sql(url, 'insert into items values (1, 1, null)');
      await waitFor(async () => ((await kafka().consume('e2\\.public\\.items', { timeoutMs: 5_000 }).catch(() => [])).length === 1 ? true : undefined), 60_000, 'the first change in Kafka');
      const usurper = new kafkaClient.Producer({ clientId: 'usurper', bootstrapBrokers: [kafka().bootstrapServers], idempotent: true, transactionalId: 'pgcdc-e2', producerId: -1n, producerEpoch: -1 });
      await (await usurper.beginTransaction()).cancel();
      await usurper.close();
      const { rows: before } = await sql(url, "select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = 'pgcdc_e2'");
      await sql(url, 'insert into items values (2, 2, null)');
      const error = await run;
      expect(error.message).toMatch(/another Kafka producer took over transactional id "pgcdc-e2"/);
      const { rows: after } = await sql(url, "select confirmed_flush_lsn::text as lsn, pg_current_wal_lsn()::text as now from pg_replication_slots where slot_name = 'pgcdc_e2'");
      expect(after[0].lsn).toBe(before[0].lsn);
      expect(recordedChanges(await kafka().consume('e2\\.public\\.items', { timeoutMs: 30_000 }))).toEqual(['c 1']);
    } finally {
      stop.abort();
    }
  }, 180_000);

  // Last: it stops the file's broker.
  it('writes every change once across a broker stopped and started again mid-stream', async () => {
    const url = await createDatabase(server(), 'kafka_eos');
    await sql(url, TABLE);
    const { specFile } = await exactlyOnceStream('e3', url, { requestTimeout: '5s' }, -1);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const run = startCli(['run', '-c', specFile]);
    const changes = workload(url);
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await kafka().brokers[0]!.stop();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await kafka().brokers[0]!.start();
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      await changes.stop();
      run.child.kill('SIGTERM');
      await run.finished();
    }
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr).toBe(0);
    await expectExactlyOnce(url, await kafka().consume('e3\\.public\\.items', { isolation: 'read_committed', timeoutMs: 60_000 }));
  }, 300_000);
});
