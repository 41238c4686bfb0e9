/**
 * Kafka as a source, end to end on a real broker: a source database → pgcdc's Kafka target →
 * a 4-partition topic → pgcdc processes in one consumer group → a Postgres target (and, in another
 * group, File targets). Two processes, one killed with -9 mid-stream, a third added: the Postgres
 * target must end equal to the source (rows as `to_jsonb` gives them, an md5 checksum of the
 * table computed by each server, and `pgcdc verify`) and apply each record of the topic once; the
 * File targets together must hold every change the source's own trigger logged, per key in the
 * logged order, each file giving a key's changes in source order the first time it writes them (a
 * rebalance repeats a tail). Bad input: a missing topic, a record that is not a change event
 * (stopping, or dead-lettered with its topic, partition and offset), unreachable brokers.
 */
import * as kafkaClient from '@platformatic/kafka';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli, startCli, type StartedProgram } from '../support/cli.js';
import { type KafkaRecord, useKafkaCluster } from '../support/kafka-cluster.js';
import { changesPerKey, expectNothingLost, ITEMS_ONLY, ITEMS_TABLE, itemsWorkload, loggedChanges, recordedChanges, sourceTable } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { below, testRandom } from '../support/seeded-random.js';
import { kafkaSourcedSpec, readEvents, targetStream, tempDir } from '../support/stream-fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** md5 of the table's rows in key order, computed by the server. */
async function tableChecksum(url: string): Promise<string> {
  const { rows } = await sql(url, "select md5(coalesce(string_agg(t::text, '|' order by id), '')) as sum, count(*)::int as n from items t");
  return `${rows[0].n}:${rows[0].sum}`;
}

describe('Kafka source: consumer groups', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();

  it('shares partitions between processes, loses and doubles nothing when one is killed with -9 and another joins', async () => {
    const sourceUrl = await createDatabase(server(), 'ks_src');
    const targetUrl = await createDatabase(server(), 'ks_dst');
    await sql(sourceUrl, ITEMS_TABLE);
    // The target logs what is applied to it with the source's trigger (ALWAYS: pgcdc applies as a
    // replica): exactly once means the same changes per key as the source logged, none repeated.
    await sql(targetUrl, `${ITEMS_TABLE}; alter table items enable always trigger log_change`);
    const dir = tempDir();
    const topic = 'ks1.public.items';
    await kafka().createTopic(topic, { partitions: 4 });
    const upstream = await targetStream({
      url: sourceUrl,
      name: 'ks1',
      dir,
      source: ITEMS_ONLY,
      maxRetries: 5,
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: true } },
    });
    expect((await runCli(['run', '-c', upstream.specFile, '--stop-at', 'now'])).code).toBe(0);
    const bootstrapServers = kafka().bootstrapServers;
    const postgresSpec = kafkaSourcedSpec(dir, 'ks1-pg', { bootstrapServers, topics: [topic], groupId: 'ks1-pg', maxBatchRecords: 500 }, { type: 'Postgres', postgres: { url: targetUrl } });
    const fileSpec = (n: number) => kafkaSourcedSpec(dir, `ks1-file${n}`, { bootstrapServers, topics: [topic], groupId: 'ks1-file', maxBatchRecords: 500 }, { type: 'File', file: { path: path.join(dir, `file${n}.ndjson`) } });
    const started: StartedProgram[] = [];
    const start = (spec: string): StartedProgram => {
      const program = startCli(['run', '-c', spec]);
      started.push(program);
      return program;
    };
    /** The last log lines of the processes of `spec`, for a failure's message. */
    const logsOf = (spec: string) =>
      started
        .filter((program) => program.child.spawnargs.includes(spec))
        .map((program) => program.output().stderr.split('\n').slice(-8).join('\n'))
        .join('\n---\n');
    const producer = start(upstream.specFile);
    const changes = itemsWorkload(sourceUrl, { keyChanges: true });
    try {
      const pgA = start(postgresSpec);
      start(postgresSpec);
      const fileA = start(fileSpec(1));
      start(fileSpec(2));
      await sleep(6000);
      pgA.child.kill('SIGKILL');
      fileA.child.kill('SIGKILL');
      await sleep(1000);
      start(postgresSpec);
      start(fileSpec(3));
      await sleep(6000);
      await changes.stop();
      producer.child.kill('SIGTERM');
      await producer.finished();
      const last = await runCli(['run', '-c', upstream.specFile, '--stop-at', 'now'], {}, 120_000);
      expect(last.code, last.stderr).toBe(0);
      expect(changes.committed()).toBeGreaterThan(20);

      // The Postgres target: equal to the source, row for row.
      const expected = await sourceTable(sourceUrl);
      await waitFor(async () => (JSON.stringify([...(await sourceTable(targetUrl))]) === JSON.stringify([...expected]) ? true : undefined), 120_000, 'the target equal to the source').catch(async (error) => {
        const got = await sourceTable(targetUrl);
        throw new Error(`${(error as Error).message}: target has ${got.size} rows, source ${expected.size}; the target's processes logged:\n${logsOf(postgresSpec)}`);
      });
      expect(await tableChecksum(targetUrl)).toBe(await tableChecksum(sourceUrl));
      // A process joining an idle group takes partitions over: the changes after it are applied.
      start(postgresSpec);
      await sleep(8000);
      await sql(sourceUrl, 'insert into items select g, g, null from generate_series(5000000, 5000199) g');
      const more = await runCli(['run', '-c', upstream.specFile, '--stop-at', 'now'], {}, 120_000);
      expect(more.code, more.stderr).toBe(0);
      const grown = await sourceTable(sourceUrl);
      await waitFor(async () => (JSON.stringify([...(await sourceTable(targetUrl))]) === JSON.stringify([...grown]) ? true : undefined), 60_000, 'the changes after the join on the target').catch((error) => {
        throw new Error(`${(error as Error).message}; the target's processes logged:\n${logsOf(postgresSpec)}`);
      });
      expect(await tableChecksum(targetUrl)).toBe(await tableChecksum(sourceUrl));
      // pgcdc verify, as a user would run it: a spec with the source database and the target.
      const { specFile: verifySpec } = await targetStream({ url: sourceUrl, name: 'ks1-verify', dir: tempDir(), source: ITEMS_ONLY, target: { type: 'Postgres', postgres: { url: targetUrl } } });
      const verified = await runCli(['verify', '-c', verifySpec]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      const logged = await loggedChanges(sourceUrl);
      // Exactly once from Kafka on: the target applied each record of the topic once (read by
      // Kafka's own consumer). The topic holds every logged change; the Kafka target writing it is
      // at least once, so a source transaction cut by a retry (or by a stop that waited in vain for
      // its end) is there twice from its start, and the target applies those records again: a
      // create as an upsert.
      const topicRecords = await kafka().consume(topic.replace(/\./g, '\\.'), { timeoutMs: 60_000 });
      const repeated = await expectNothingLost(sourceUrl, topicRecords, (value) => value.payload);
      expect(changesPerKey(await loggedChanges(targetUrl)), `the topic repeats ${repeated} records`).toEqual(appliedOnce(topicRecords));

      // The partitions were shared: more than one process held some, and a survivor took over the killed one's.
      const holders = started.filter((program) => program.child.spawnargs.includes(postgresSpec) && /holding these/.test(program.output().stderr) && /"partitions":\["/.test(program.output().stderr));
      expect(holders.length).toBeGreaterThanOrEqual(2);

      // The File targets: every logged change, per key in order; each file in source order per key.
      const files = [1, 2, 3].map((n) => path.join(dir, `file${n}.ndjson`));
      await waitFor(() => (distinctChanges(files).size >= logged.length ? true : undefined), 120_000, 'every change in the File targets');
      const perKey = new Map<number, { lsn: number; op: string }[]>();
      // At least once: after a rebalance a member reads again from the last committed offset, so a
      // file may repeat a key's tail; the first time each change appears, it is in source order.
      for (const file of files) {
        const lastLsn = new Map<number, number>();
        const seen = new Set<string>();
        for (const event of readEvents(file)) {
          const id = (event.after ?? event.before).id as number;
          const change = `${event.source.lsn}:${id}:${event.op}`;
          if (seen.has(change)) continue;
          seen.add(change);
          expect(event.source.lsn, `${path.basename(file)}: key ${id} out of source order`).toBeGreaterThanOrEqual(lastLsn.get(id) ?? 0);
          lastLsn.set(id, event.source.lsn);
        }
      }
      for (const key of distinctChanges(files).values()) {
        const list = perKey.get(key.id) ?? [];
        list.push(key);
        perKey.set(key.id, list);
      }
      const loggedPerKey = changesPerKey(logged);
      const deliveredPerKey = new Map([...perKey].map(([id, list]) => [id, list.sort((a, b) => a.lsn - b.lsn || (a.op === 'd' ? -1 : 1)).map((c) => c.op).join('')]));
      expect(deliveredPerKey).toEqual(loggedPerKey);
    } finally {
      await changes.stop();
      for (const program of started) program.child.kill('SIGTERM');
      await Promise.all(started.map((program) => program.finished()));
    }
  }, 400_000);

  it("reads only the committed Kafka transactions of pgcdc's exactly-once target, killed with -9 while writing", async () => {
    const sourceUrl = await createDatabase(server(), 'ks_src');
    const targetUrl = await createDatabase(server(), 'ks_dst');
    await sql(sourceUrl, ITEMS_TABLE);
    await sql(targetUrl, `${ITEMS_TABLE}; alter table items enable always trigger log_change`);
    const dir = tempDir();
    const topic = 'ks5.public.items';
    await kafka().createTopic(topic, { partitions: 2 });
    // Small batches: transactions span several Kafka transactions, and a kill leaves aborted ones.
    const upstream = await targetStream({
      url: sourceUrl,
      name: 'ks5',
      dir,
      source: ITEMS_ONLY,
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: false, exactlyOnce: true, batchSize: 40 } },
    });
    expect((await runCli(['run', '-c', upstream.specFile, '--stop-at', 'now'])).code).toBe(0);
    const downstream = startCli(['run', '-c', kafkaSourcedSpec(dir, 'ks5-pg', { bootstrapServers: kafka().bootstrapServers, topics: [topic] }, { type: 'Postgres', postgres: { url: targetUrl } })]);
    const changes = itemsWorkload(sourceUrl);
    try {
      for (let kill = 0; kill < 3; kill++) {
        const run = startCli(['run', '-c', upstream.specFile]);
        await sleep(1500 + below(testRandom, 2500));
        run.child.kill('SIGKILL');
        await run.finished();
      }
      await changes.stop();
      const last = await runCli(['run', '-c', upstream.specFile, '--stop-at', 'now'], {}, 120_000);
      expect(last.code, last.stderr).toBe(0);
      const expected = await sourceTable(sourceUrl);
      await waitFor(async () => (JSON.stringify([...(await sourceTable(targetUrl))]) === JSON.stringify([...expected]) ? true : undefined), 120_000, 'the target equal to the source').catch((error) => {
        throw new Error(`${(error as Error).message}; the target's process logged:\n${downstream.output().stderr.split('\n').slice(-40).join('\n')}`);
      });
      expect(changesPerKey(await loggedChanges(targetUrl))).toEqual(changesPerKey(await loggedChanges(sourceUrl)));
      // An aborted Kafka transaction holding a change of a row, then a committed one: only the second is applied.
      const producer = new kafkaClient.Producer({ clientId: 'ks5-test', bootstrapBrokers: [kafka().bootstrapServers], idempotent: true, transactionalId: 'ks5-test', producerId: -1n, producerEpoch: -1 });
      try {
        const change = (qty: number) => ({
          topic,
          partition: 0,
          key: Buffer.from(JSON.stringify({ id: -1 })),
          value: Buffer.from(JSON.stringify({ before: null, after: { id: -1, qty, note: 'kafka' }, source: { schema: 'public', table: 'items', lsn: 1, txId: 1 }, op: 'c', ts_ms: 1 })),
        });
        const aborted = await producer.beginTransaction();
        await aborted.send({ messages: [change(666)] });
        await aborted.abort();
        const committed = await producer.beginTransaction();
        await committed.send({ messages: [change(1)] });
        await committed.commit();
      } finally {
        await producer.close();
      }
      await waitFor(async () => ((await sql(targetUrl, 'select qty from items where id = -1')).rows[0]?.qty === 1 ? true : undefined), 60_000, 'the committed change on the target');
      expect((await sql(targetUrl, "select op from audit where id = -1 order by seq")).rows.map((row) => row.op)).toEqual(['c']);
    } finally {
      await changes.stop();
      downstream.child.kill('SIGTERM');
      await downstream.finished();
    }
  }, 300_000);

  it('lets go of a partition moved to a process that joins while the topic is idle, without waiting for records of its own', async () => {
    const targetUrl = await createDatabase(server(), 'ks_dst');
    await sql(targetUrl, 'create table items (id int primary key, qty int, note text)');
    const dir = tempDir();
    const topic = 'ks7.public.items';
    await kafka().createTopic(topic, { partitions: 2 });
    const insert = (id: number, partition: number) => ({
      partition,
      key: JSON.stringify({ id }),
      value: JSON.stringify({ before: null, after: { id, qty: id, note: null }, source: { schema: 'public', table: 'items', lsn: id, txId: id }, op: 'c', ts_ms: 1 }),
    });
    const count = async () => (await sql(targetUrl, 'select count(*)::int as n from items')).rows[0].n as number;
    const spec = kafkaSourcedSpec(dir, 'ks7', { bootstrapServers: kafka().bootstrapServers, topics: [topic] }, { type: 'Postgres', postgres: { url: targetUrl } });
    await kafka().produce(topic, [insert(1, 0), insert(2, 1)]);
    const first = startCli(['run', '-c', spec]);
    const second = { program: undefined as StartedProgram | undefined };
    try {
      await waitFor(async () => ((await count()) === 2 ? true : undefined), 60_000, 'both partitions applied by the first process');
      second.program = startCli(['run', '-c', spec]);
      // The partition the second process is given; the first keeps the other, which gets no record.
      const taken = await waitFor(() => /"partitions":\["ks7\.public\.items:(\d)"\],"generation":\d+,"msg":"joined the group/.exec(second.program!.output().stderr)?.[1], 60_000, 'the second process holding one partition');
      await kafka().produce(topic, [insert(3, Number(taken)), insert(4, Number(taken))]);
      await waitFor(async () => ((await count()) === 4 ? true : undefined), 60_000, "the moved partition's records applied by the second process").catch((error) => {
        throw new Error(`${(error as Error).message}; the first process logged:\n${first.output().stderr.split('\n').slice(-6).join('\n')}\nthe second:\n${second.program!.output().stderr.split('\n').slice(-6).join('\n')}`);
      });
    } finally {
      first.child.kill('SIGTERM');
      second.program?.child.kill('SIGTERM');
      await Promise.all([first.finished(), second.program?.finished()]);
    }
  }, 180_000);

  it('applies each row with its own columns when the records of one batch carry different ones (a column added meanwhile)', async () => {
    const targetUrl = await createDatabase(server(), 'ks_dst');
    await sql(targetUrl, "create table items (id int primary key, qty int, note text default 'none')");
    const dir = tempDir();
    const topic = 'ks6.public.items';
    await kafka().createTopic(topic, { partitions: 1 });
    const insert = (after: Record<string, unknown>, lsn: number) => ({
      key: JSON.stringify({ id: after.id }),
      value: JSON.stringify({ before: null, after, source: { schema: 'public', table: 'items', lsn, txId: lsn }, op: 'c', ts_ms: 1 }),
    });
    await kafka().produce(topic, [insert({ id: 1, qty: 1 }, 10), insert({ id: 2, qty: 2, note: 'two' }, 20), insert({ id: 3, qty: 3 }, 30), insert({ id: 4, qty: 4, note: null }, 40)]);
    const run = startCli(['run', '-c', kafkaSourcedSpec(dir, 'ks6', { bootstrapServers: kafka().bootstrapServers, topics: [topic] }, { type: 'Postgres', postgres: { url: targetUrl } })]);
    try {
      await waitFor(async () => ((await sql(targetUrl, 'select count(*)::int as n from items')).rows[0].n === 4 ? true : undefined), 60_000, 'the four rows on the target');
    } finally {
      run.child.kill('SIGTERM');
      await run.finished();
    }
    const { rows } = await sql(targetUrl, 'select id, qty, note from items order by id');
    expect(rows).toEqual([
      { id: 1, qty: 1, note: 'none' },
      { id: 2, qty: 2, note: 'two' },
      { id: 3, qty: 3, note: 'none' },
      { id: 4, qty: 4, note: null },
    ]);
  }, 120_000);

  it('reads topics created after it started that match its topic pattern', async () => {
    const targetUrl = await createDatabase(server(), 'ks_dst');
    await sql(targetUrl, 'create table a (id int primary key, v text); create table b (id int primary key, v text)');
    const dir = tempDir();
    const record = (table: string, id: number) => ({
      key: JSON.stringify({ id }),
      value: JSON.stringify({ before: null, after: { id, v: `${table}${id}` }, source: { schema: 'public', table, lsn: id, txId: id }, op: 'c', ts_ms: 1 }),
    });
    await kafka().createTopic('ks8.public.a', { partitions: 1 });
    await kafka().produce('ks8.public.a', [record('a', 1)]);
    const spec = kafkaSourcedSpec(dir, 'ks8', { bootstrapServers: kafka().bootstrapServers, topicPattern: 'ks8\\.public\\..*', topicRefreshInterval: '1s' }, { type: 'Postgres', postgres: { url: targetUrl } });
    const run = startCli(['run', '-c', spec]);
    const rows = async () => (await sql(targetUrl, "select string_agg(v, ',' order by v) as v from (select v from a union all select v from b) t")).rows[0].v as string | null;
    try {
      await waitFor(async () => ((await rows()) === 'a1' ? true : undefined), 60_000, 'the first topic applied');
      await kafka().createTopic('ks8.public.b', { partitions: 2 });
      await kafka().produce('ks8.public.b', [record('b', 1), record('b', 2)]);
      await kafka().produce('ks8.public.a', [record('a', 2)]);
      await waitFor(async () => ((await rows()) === 'a1,a2,b1,b2' ? true : undefined), 60_000, 'the new topic applied');
    } catch (error) {
      throw new Error(`${(error as Error).message}; pgcdc logged:\n${run.output().stderr.split('\n').slice(-10).join('\n')}`);
    } finally {
      run.child.kill('SIGTERM');
      await run.finished();
    }
    expect(run.output().stderr).toContain('new topics match spec.source.kafka.topicPattern');
  }, 120_000);

  it('stops with one line for a missing topic and for unreachable brokers', async () => {
    const dir = tempDir();
    const missing = kafkaSourcedSpec(dir, 'ks2', { bootstrapServers: kafka().bootstrapServers, topics: ['no.such.topic'] }, { type: 'File', file: { path: path.join(dir, 'out.ndjson') } }, 0);
    const result = await runCli(['run', '-c', missing]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/KAFKA_SOURCE_FAILED.*topic "no\.such\.topic" of spec\.source\.kafka\.topics does not exist/);
    const unreachable = kafkaSourcedSpec(dir, 'ks3', { bootstrapServers: '127.0.0.1:1', topics: ['t'] }, { type: 'File', file: { path: path.join(dir, 'out.ndjson') } }, 0);
    const down = await runCli(['run', '-c', unreachable], {}, 90_000);
    expect(down.code).toBe(1);
    expect(errorLine(down)).toMatch(/KAFKA_SOURCE_UNREACHABLE.*Kafka at 127\.0\.0\.1:1 cannot be reached/);
  }, 120_000);

  it('stops at a record that is not a change event, or sets it aside with its topic, partition and offset', async () => {
    const dir = tempDir();
    const topic = 'ks4.public.items';
    await kafka().createTopic(topic, { partitions: 1 });
    const change = (id: number) => JSON.stringify({ before: null, after: { id, qty: id, note: null }, source: { schema: 'public', table: 'items', lsn: 100 + id, txId: 7 }, op: 'c', ts_ms: 1 });
    await kafka().produce(topic, [
      { key: JSON.stringify({ id: 1 }), value: change(1) },
      { key: null, value: 'not json at all' },
      { key: JSON.stringify({ id: 2 }), value: change(2) },
    ]);
    const out = path.join(dir, 'stop.ndjson');
    const stopping = kafkaSourcedSpec(dir, 'ks4-stop', { bootstrapServers: kafka().bootstrapServers, topics: [topic], groupId: 'ks4-stop' }, { type: 'File', file: { path: out } }, 0);
    const stopped = await runCli(['run', '-c', stopping], {}, 90_000);
    expect(stopped.code).toBe(1);
    expect(errorLine(stopped)).toMatch(new RegExp(`KAFKA_SOURCE_FAILED.*the record at topic ${topic.replace(/\./g, '\\.')}, partition 0, offset 1 is not a change event`));
    expect(readEvents(out).map((event) => event.after.id)).toEqual([1]);

    const letters = path.join(dir, 'letters.ndjson');
    const out2 = path.join(dir, 'dead-letter.ndjson');
    const setAside = kafkaSourcedSpec(dir, 'ks4-dl', { bootstrapServers: kafka().bootstrapServers, topics: [topic], groupId: 'ks4-dl', invalidRecords: { policy: 'dead-letter', file: letters } }, { type: 'File', file: { path: out2 } });
    const run = startCli(['run', '-c', setAside]);
    try {
      await waitFor(() => (readEvents(out2).length === 2 ? true : undefined), 60_000, 'both changes delivered');
    } finally {
      run.child.kill('SIGTERM');
      await run.finished();
    }
    expect(readEvents(out2).map((event) => event.after.id)).toEqual([1, 2]);
    const [letter] = readEvents(letters);
    expect(letter).toMatchObject({ topic, partition: 0, offset: '1', key: null, value: Buffer.from('not json at all').toString('base64') });
    expect(letter.reason).toMatch(/\S/);
  }, 180_000);
});

/**
 * What applying each change record of the topic once, in topic order, logs on the target: a create
 * of a row there already is an upsert (`u`), an update or delete of a missing row changes nothing.
 * With no record repeated, the records' own changes.
 */
function appliedOnce(records: readonly KafkaRecord[]): Map<number, string> {
  const present = new Set<number>();
  const applied: { op: string; id: number }[] = [];
  for (const { op, id } of recordedChanges(records, (value) => value.payload)) {
    if (op === 'c') {
      applied.push({ op: present.has(id) ? 'u' : 'c', id });
      present.add(id);
    } else if (present.has(id)) {
      applied.push({ op, id });
      if (op === 'd') present.delete(id);
    }
  }
  return changesPerKey(applied);
}

/** The distinct changes the File targets hold, by `lsn:id:op` (a change written twice counts once). */
function distinctChanges(files: readonly string[]): Map<string, { id: number; lsn: number; op: string }> {
  const changes = new Map<string, { id: number; lsn: number; op: string }>();
  for (const file of files) {
    for (const event of readEvents(file)) {
      const id = (event.after ?? event.before).id as number;
      const op = event.op === 'r' ? 'c' : event.op;
      changes.set(`${event.source.lsn}:${id}:${op}`, { id, lsn: event.source.lsn, op });
    }
  }
  return changes;
}
