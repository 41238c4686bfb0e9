/**
 * The Kafka target when Kafka fails, against real brokers and the `pgcdc` command line. Under a
 * concurrent workload, the only broker stopped gracefully (then killed with -9) and started again:
 * the stream pauses without acknowledging anything at the source, resumes by itself, and loses
 * nothing; on three brokers (replication factor 3, min.insync.replicas 2) the leader of a table
 * topic's partition is killed: the stream goes on with the new leader. Bad input (a wrong SASL
 * password, a record over the topic's max.message.bytes, a topic that cannot be created, missing
 * ACLs) stops the run with one line naming the topic or login and the fix, and the slot is not
 * acknowledged past the failing transaction. The oracles are independent of pgcdc: a trigger's log
 * of every source change, the source rows (to_jsonb), the topics as Kafka's Java consumer reads
 * them (TopicDump), and the slot's confirmed_flush_lsn in pg_replication_slots.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli, startCli, type CliResult, type StartedProgram } from '../support/cli.js';
import { useKafkaCluster, type KafkaCluster } from '../support/kafka-cluster.js';
import { CHANGE_LOG_SQL, expectNothingLost, ITEMS_ONLY, javaPartitions, rebuild, sourceTable } from '../support/change-oracles.js';
import { confirmedAtMost, createDatabase, sql, useTestServer, waitFor, walPosition } from '../support/postgres.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

/** The captured table; the change log (the oracle) is added to it. */
const TABLES = `create table items (id int primary key, name text, qty int, price numeric(10,2), at timestamptz, tags text[]);
  ${CHANGE_LOG_SQL}`;

/** Transactions of inserts, updates, key changes and deletes on `items` from one connection, until stopped. */
function startWorkload(url: string): { committed: () => number; stop: () => Promise<number> } {
  let writing = true;
  let committed = 0;
  const done = (async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      let nextId = 1;
      while (writing) {
        const id = nextId;
        nextId += 4;
        const some = () => 1 + below(testRandom, id + 2);
        await client.query(`begin; insert into items values (${id}, 'a', 1, 1.5, now(), '{a}'), (${id + 1}, 'b', 2, 2.5, now(), '{b}'), (${id + 2}, 'c', 3, 3.5, now(), '{c}');
          update items set qty = qty + 1, name = name || '!' where id = ${some()};
          update items set id = ${id + 3} where id = ${some()};
          delete from items where id = ${some()}; commit`);
        committed++;
        // Paced, so an outage does not pile up more than the machine can replay quickly.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await client.end();
    }
  })();
  return {
    committed: () => committed,
    async stop() {
      writing = false;
      await done;
      return committed;
    },
  };
}

/** Waits until the slot's confirmed_flush_lsn reaches `lsn` (the stream delivered everything committed before it). */
async function waitConfirmedPast(url: string, lsn: string, what: string, run?: StartedProgram): Promise<void> {
  await waitFor(
    async () => {
      if (run && run.child.exitCode !== null) throw new Error(`pgcdc exited with ${run.child.exitCode}: ${run.output().stderr.slice(-3000)}`);
      const { rows } = await sql(url, 'select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where database = current_database()', [lsn]);
      return rows[0].ok ? true : undefined;
    },
    240_000,
    what,
  ).catch((error: Error) => {
    throw new Error(run ? `${error.message}; pgcdc's log:\n${run.output().stderr.slice(-6000)}` : error.message);
  });
}

/** Waits until the workload committed `count` more transactions and the stream delivered them. */
async function waitDelivering(url: string, workload: { committed: () => number }, stream: StartedProgram, what: string, count = 10): Promise<void> {
  const from = workload.committed();
  await waitFor(() => (workload.committed() >= from + count ? true : undefined), 60_000, `${count} transactions of the workload`);
  await waitConfirmedPast(url, await walPosition(url), what, stream);
}

/** The JSON log lines of a pgcdc run with `msg` (a line still being written is left out). */
function logLines(output: string, msg: string): any[] {
  return output.split('\n').flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return entry.msg === msg ? [entry] : [];
    } catch {
      return [];
    }
  });
}

/** SIGTERM: pgcdc stops once what it received is delivered and acknowledged, and exits 0. */
async function stopGracefully(run: StartedProgram): Promise<void> {
  run.child.kill('SIGTERM');
  const result = await run.finished();
  expect(result.code, result.stderr.slice(-3000)).toBe(0);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The run failed with one error line that starts with `start` and ends with `end` (the client's and broker's words between). */
function expectFailure(result: CliResult, start: string, end: string): void {
  expect(result.code, result.stderr.slice(-3000)).toBe(1);
  expect(errorLine(result)).toMatch(new RegExp(`^${escape(`pgcdc: error[TARGET_FAILED] ${start}`)}.*${escape(end)}$`));
}

const run = (specFile: string, extra: readonly string[] = []) => runCli(['run', '-c', specFile, '--stop-at', 'now', ...extra], {}, 180_000);

const server = useTestServer();

/**
 * The stream runs while the only broker is stopped (`stop`: gracefully, `kill`: -9) and started
 * again: while it is away nothing is acknowledged past what Kafka held when it went, the
 * interruption is logged, and the same pgcdc process resumes once it is back.
 */
async function survivesOutage(kafka: KafkaCluster, name: string, outage: 'stop' | 'kill'): Promise<void> {
  const broker = kafka.brokers[0]!;
  const url = await createDatabase(server(), 'kafka_fail');
  await sql(url, TABLES);
  await kafka.createTopic(`${name}.public.items`, { partitions: 3 });
  const { specFile } = await targetStream({
    url,
    name,
    dir: tempDir(),
    maxRetries: -1,
    source: ITEMS_ONLY,
    target: { type: 'Kafka', kafka: { bootstrapServers: kafka.bootstrapServers, schemasEnable: false, requestTimeout: '5s' } },
  });
  expect((await run(specFile)).code).toBe(0); // creates the slot
  const workload = startWorkload(url);
  const stream = startCli(['run', '-c', specFile]);
  try {
    await waitDelivering(url, workload, stream, 'the stream to deliver before the outage');
    await (outage === 'stop' ? broker.stop() : broker.kill());
    const down = await walPosition(url);
    const before = workload.committed();
    await waitFor(
      () => (logLines(stream.output().stderr, 'replication interrupted; reconnecting').some((line) => line.code === 'TARGET_UNREACHABLE') ? true : undefined),
      120_000,
      'pgcdc to report the broker unreachable',
    ).catch((error: Error) => {
      throw new Error(`${error.message}; pgcdc's log:\n${stream.output().stderr.slice(-6000)}`);
    });
    await waitFor(() => (workload.committed() >= before + 50 ? true : undefined), 60_000, 'transactions during the outage');
    // No broker holds anything written after `down`, so nothing after it may be acknowledged.
    expect(await confirmedAtMost(url, down)).toBe(true);
    await broker.start();
    await waitDelivering(url, workload, stream, 'the same stream to resume after the outage');
  } finally {
    await workload.stop();
    if (!broker.running) await broker.start(); // the next tests need it
    if (stream.child.exitCode === null) await stopGracefully(stream);
  }
  expect((await run(specFile)).code).toBe(0);
  const records = await kafka.consume(`${escape(name)}\\.public\\.items`, { timeoutMs: 60_000 });
  expect(records.map((record) => record.partition)).toEqual(javaPartitions(records, 3));
  await expectNothingLost(url, records);
}

describe('Kafka target, one broker failing and bad input', () => {
  const kafka = useKafkaCluster({ listeners: ['SASL_PLAINTEXT'], users: { alice: 'alice-secret', carol: 'carol-secret' }, authorizer: true });

  it('pauses while the broker is stopped gracefully, resumes when it is back, and loses nothing', async () => {
    await survivesOutage(kafka(), 'f1', 'stop');
  }, 600_000);

  it('pauses while the broker is killed with -9, resumes when it is back, and loses nothing', async () => {
    await survivesOutage(kafka(), 'f2', 'kill');
  }, 600_000);

  /** A database with `tables` captured and a spec (rewritten by `spec`) whose secrets `writeSecrets` changes. */
  async function deliveredStream(name: string, kafkaSettings: Record<string, unknown>, secrets?: Record<string, string>, tables = ['items']) {
    const url = await createDatabase(server(), 'kafka_bad');
    await sql(url, TABLES);
    if (tables.includes('others')) await sql(url, 'create table others (id int primary key, name text)');
    const dir = tempDir();
    const secretsDir = path.join(dir, 'secrets');
    const writeSecrets = (values: Record<string, string>) => {
      for (const [file, value] of Object.entries(values)) {
        fs.mkdirSync(path.dirname(path.join(secretsDir, file)), { recursive: true });
        fs.writeFileSync(path.join(secretsDir, file), value);
      }
    };
    writeSecrets(secrets ?? {});
    const spec = (settings: Record<string, unknown>) =>
      targetStream({
        url,
        name,
        dir,
        maxRetries: -1, // retry forever: bad input must stop the run all the same
        source: { includes: tables.map((table) => `public\\.${table}`) },
        load: { secretsDir },
        target: { type: 'Kafka', kafka: { schemasEnable: false, requestTimeout: '10s', ...kafkaSettings, ...settings } },
      });
    const { specFile } = await spec({});
    const args = ['--secrets-dir', secretsDir];
    return { url, specFile, args, spec, writeSecrets };
  }

  it('stops on a wrong SASL password with one line, and delivers once the secret is right', async () => {
    const cluster = kafka();
    await cluster.addAcl('User:alice', 'All', { type: 'topic', name: 'fa.', prefixed: true });
    const servers = cluster.listenerBootstrapServers.SASL_PLAINTEXT!;
    const stream = await deliveredStream(
      'fa',
      { bootstrapServers: servers, sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: { name: 'kafka-login', key: 'password' } } },
      { 'kafka-login/password': 'alice-secret' },
    );
    const { url, specFile, args } = stream;
    expect((await run(specFile, args)).code).toBe(0);
    await sql(url, "insert into items values (1, 'a', 1, 1.5, now(), '{a}')");
    const delivered = await run(specFile, args);
    expect(delivered.code, delivered.stderr).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items values (2, 'b', 2, 2.5, now(), '{b}')");
    stream.writeSecrets({ 'kafka-login/password': 'not-alices-password' });
    const refused = await run(specFile, args);
    expectFailure(
      refused,
      `Kafka at ${servers} refused the login of "alice": `,
      'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256 [SASL_AUTHENTICATION_FAILED] (fix: check spec.target.kafka.sasl: mechanism, username and the password secret)',
    );
    expect(await confirmedAtMost(url, before)).toBe(true);
    stream.writeSecrets({ 'kafka-login/password': 'alice-secret' });
    expect((await run(specFile, args)).code).toBe(0);
    await expectNothingLost(url, await cluster.consume('fa\\.public\\.items', { expect: 2, timeoutMs: 60_000 }));
  }, 240_000);

  it("stops on a record over the topic's max.message.bytes with one line, and delivers once the topic takes it", async () => {
    const cluster = kafka();
    await cluster.createTopic('fb.public.items', { config: { 'max.message.bytes': '4096' } });
    const { url, specFile } = await deliveredStream('fb', { bootstrapServers: cluster.bootstrapServers });
    expect((await run(specFile)).code).toBe(0);
    await sql(url, "insert into items values (1, 'small', 1, 1.5, now(), '{a}')");
    expect((await run(specFile)).code).toBe(0);
    const before = await walPosition(url);
    // About 20 kB of text that does not compress (compression is off anyway).
    await sql(url, "insert into items select 2, string_agg(md5(g::text), ''), 2, 2.5, now(), '{b}' from generate_series(1, 640) g");
    const refused = await run(specFile);
    expectFailure(
      refused,
      'Kafka refused a record (topic "fb.public.items") as too large: ',
      "[MESSAGE_TOO_LARGE] (fix: raise the topic's max.message.bytes (kafka-configs.sh --alter --entity-type topics --entity-name fb.public.items --add-config max.message.bytes=<bytes>) and the broker's message.max.bytes, or exclude the large column)",
    );
    expect(await confirmedAtMost(url, before)).toBe(true);
    // What Kafka holds is what was acknowledged: the first row, not the large one.
    expect([...rebuild(await cluster.consume('fb\\.public\\.items', { timeoutMs: 60_000 })).keys()]).toEqual(['{"id":1}']);
    await cluster.alterTopicConfig('fb.public.items', { 'max.message.bytes': String(1024 * 1024) });
    const accepted = await run(specFile);
    expect(accepted.code, accepted.stderr).toBe(0);
    await expectNothingLost(url, await cluster.consume('fb\\.public\\.items', { expect: 2, timeoutMs: 60_000 }));
  }, 240_000);

  it('stops on a topic that cannot be created (replication factor 3 on one broker) with one line, and delivers once it can', async () => {
    const cluster = kafka();
    const { url, specFile, spec } = await deliveredStream('fc', { bootstrapServers: cluster.bootstrapServers, createTopics: { replicationFactor: 3 } });
    expect((await run(specFile)).code).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items values (1, 'a', 1, 1.5, now(), '{a}')");
    const refused = await run(specFile);
    expectFailure(
      refused,
      'Kafka could not create topic "fc.public.items" with createTopics.replicationFactor 3: ',
      "[INVALID_REPLICATION_FACTOR] (fix: set spec.target.kafka.createTopics.replicationFactor to at most the number of brokers (-1: the broker's default.replication.factor), or create the topic yourself)",
    );
    expect(refused.stderr).toContain('only 1 broker(s) are registered'); // the broker's own words
    expect(await confirmedAtMost(url, before)).toBe(true);
    await spec({ createTopics: { replicationFactor: 1 } });
    const created = await run(specFile);
    expect(created.code, created.stderr).toBe(0);
    expect((await cluster.describeTopic('fc.public.items')).partitions.map((partition) => partition.replicas)).toEqual([[1]]);
    await expectNothingLost(url, await cluster.consume('fc\\.public\\.items', { expect: 1, timeoutMs: 60_000 }));
  }, 240_000);

  it('stops with one line for each missing ACL (idempotent producer, write, create), and delivers once granted', async () => {
    const cluster = kafka();
    const servers = cluster.listenerBootstrapServers.SASL_PLAINTEXT!;
    const { url, specFile, args } = await deliveredStream(
      'fd',
      { bootstrapServers: servers, sasl: { mechanism: 'SCRAM-SHA-512', username: 'carol', password: { name: 'kafka-carol', key: 'password' } } },
      { 'kafka-carol/password': 'carol-secret' },
      ['items', 'others'],
    );
    // No ACL at all: refused at start, before the source is touched.
    expectFailure(
      await run(specFile, args),
      'Kafka refused "carol" an idempotent producer (cluster authorization): ',
      "[CLUSTER_AUTHORIZATION_FAILED] (fix: grant the ACL (kafka-acls.sh --add --allow-principal User:carol --operation IdempotentWrite --cluster), or Write on the stream's topics)",
    );
    expect((await sql(url, 'select count(*)::int as n from pg_replication_slots where database = current_database()')).rows[0].n).toBe(0);

    await cluster.addAcl('User:carol', 'IdempotentWrite', { type: 'cluster', name: 'kafka-cluster' });
    await cluster.addAcl('User:carol', 'Describe', { type: 'topic', name: 'fd.', prefixed: true });
    await cluster.createTopic('fd.public.items');
    expect((await run(specFile, args)).code).toBe(0); // creates the slot
    const beforeItems = await walPosition(url);
    await sql(url, "insert into items values (1, 'a', 1, 1.5, now(), '{a}')");
    expectFailure(
      await run(specFile, args),
      'Kafka refused to let "carol" write (topic "fd.public.items"): ',
      '[TOPIC_AUTHORIZATION_FAILED] (fix: grant the ACL (kafka-acls.sh --add --allow-principal User:carol --operation Write --topic fd.public.items))',
    );
    expect(await confirmedAtMost(url, beforeItems)).toBe(true);

    await cluster.addAcl('User:carol', 'Write', { type: 'topic', name: 'fd.public.items' });
    const beforeOthers = await walPosition(url);
    await sql(url, "insert into others values (1, 'x')");
    expectFailure(
      await run(specFile, args),
      'Kafka refused to let "carol" create (topic "fd.public.others"): ',
      '[TOPIC_AUTHORIZATION_FAILED] (fix: grant the ACL (kafka-acls.sh --add --allow-principal User:carol --operation Create --topic fd.public.others))',
    );
    expect(await confirmedAtMost(url, beforeOthers)).toBe(true);

    await cluster.addAcl('User:carol', 'Create', { type: 'topic', name: 'fd.public.others' });
    await cluster.addAcl('User:carol', 'Write', { type: 'topic', name: 'fd.public.others' });
    const granted = await run(specFile, args);
    expect(granted.code, granted.stderr).toBe(0);
    await expectNothingLost(url, await cluster.consume('fd\\.public\\.items', { expect: 1, timeoutMs: 60_000 }));
    expect(rebuild(await cluster.consume('fd\\.public\\.others', { expect: 1, timeoutMs: 60_000 }))).toEqual(await sourceTable(url, 'others'));
  }, 300_000);
});

describe('Kafka target, three brokers losing a partition leader', () => {
  const kafka = useKafkaCluster({ brokers: 3 });

  it('goes on with the new leader when the leader of a table partition is killed, and loses nothing', async () => {
    const cluster = kafka();
    const url = await createDatabase(server(), 'kafka_fail');
    await sql(url, TABLES);
    const topic = 'f3.public.items';
    await cluster.createTopic(topic, { partitions: 3, replicationFactor: 3, config: { 'min.insync.replicas': '2' } });
    const { specFile } = await targetStream({
      url,
      name: 'f3',
      dir: tempDir(),
      maxRetries: -1,
      source: ITEMS_ONLY,
      target: { type: 'Kafka', kafka: { bootstrapServers: cluster.bootstrapServers, schemasEnable: false, requestTimeout: '10s' } },
    });
    expect((await run(specFile)).code).toBe(0);
    const workload = startWorkload(url);
    const stream = startCli(['run', '-c', specFile]);
    const leader = (await cluster.leaderOf(topic, 0))!;
    const node = cluster.brokers.find((broker) => broker.nodeId === leader)!;
    try {
      await waitDelivering(url, workload, stream, 'the stream to deliver before the kill');
      await node.kill();
      const newLeader = await cluster.waitForLeader(topic, 0, leader, 60_000);
      expect(newLeader).not.toBe(leader);
      // Acknowledged (acks=all) by the two replicas left, while the old leader is down.
      await waitDelivering(url, workload, stream, 'the stream to go on with the new leader');
      expect(node.running).toBe(false);
    } finally {
      await workload.stop();
      if (stream.child.exitCode === null) await stopGracefully(stream);
      await node.start();
    }
    expect((await run(specFile)).code).toBe(0);
    const records = await cluster.consume('f3\\.public\\.items', { timeoutMs: 60_000 });
    expect(records.map((record) => record.partition)).toEqual(javaPartitions(records, 3));
    await expectNothingLost(url, records);
  }, 600_000);
});
