/**
 * The Kafka source's throughput (issue 10), on one Apache Kafka 4.1.1 KRaft broker started by the
 * tests' harness (test/support/kafka-cluster.ts, compiled by bench/tsconfig.harness.json):
 *
 *  - the stream workload (1,000,000 inserts then 500,000 updates on the benchmark table,
 *    `PGCDC_BENCH_SCALE`) is put in Kafka once, by `pgcdc run --stop-at <end>` with the Kafka target,
 *    into one topic of `PGCDC_BENCH_KAFKA_PARTITIONS` (6) partitions (JSON, schemas.enable from
 *    `PGCDC_BENCH_KAFKA_SCHEMAS`, 0);
 *  - then, each round (order rotating across `PGCDC_BENCH_ROUNDS`), the topic is read whole by:
 *    Kafka's own consumer (`org.apache.kafka.tools.ConsumerPerformance`, the reference), one and two
 *    `pgcdc run` processes in one consumer group into File targets on /dev/null, one and two into a
 *    Postgres target (an empty copy of the table in a fresh database), and native logical
 *    replication applying the same changes from the source's WAL (a subscription; the Postgres
 *    sides' yardstick). Every side has its own consumer group reading from `startFrom: earliest`.
 *
 * A Kafka-sourced `pgcdc run` runs until SIGTERM: each pgcdc side is timed from its first process's
 * start until the group's committed offsets (polled every 20 ms with the Admin API) reach the
 * topic's end offsets on every partition (pgcdc commits a batch's offsets once the target made it
 * durable), then its processes get SIGTERM and must exit 0.
 * pgcdc's CPU time (user + system, all its processes) up to that moment is reported too: events per
 * CPU second hold on a busy machine where wall times do not.
 * Checks: the committed offsets reach the end (File sides); the target table equal to the source,
 * count and hash (Postgres and native sides); ConsumerPerformance read every record.
 *
 *   npm run bench -- kafka-source   (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_SCALE=1,
 *                                    PGCDC_BENCH_KAFKA_PARTITIONS=6, PGCDC_BENCH_KAFKA_SCHEMAS=0)
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as kafkaClient from '@platformatic/kafka';
import {
  BENCH_TABLE, ROUNDS, SMOKE, median, pgcdcArgs, prepareBenchSource, queryOnce as query, runScaledWorkload, setting, startBenchServer, timePgcdc,
  treePeakKiB, waitUntil, writeStreamSpec,
} from './bench-support.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PARTITIONS = setting('PGCDC_BENCH_KAFKA_PARTITIONS', 6);
/** JsonConverter schemas.enable of the records pgcdc's Kafka target writes. */
const SCHEMAS = process.env.PGCDC_BENCH_KAFKA_SCHEMAS === '1';
const TOPIC = 'bench.public.bench';
/** The Kafka source's maxBatchRecords (its default, the most a process leaves uncommitted). */
const MAX_BATCH_RECORDS = 10_000;
/** How long a side may take to read everything before the benchmark gives up. */
const DELIVERY_TIMEOUT_MS = SMOKE ? 120_000 : 30 * 60_000;
const GOALS = { oneProcessFileEventsPerSecond: 150_000 };
/** The group settings of every pgcdc side: a member joining or leaving is noticed within a second. */
const GROUP_SETTINGS = { heartbeatInterval: '1s', sessionTimeout: '10s', rebalanceTimeout: '30s' };
/** Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS_PER_SECOND = 100;

const { startKafkaCluster, ensureKafkaJars } = await loadHarness();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-kafka-source-bench-'));
const [server, kafka] = await Promise.all([startBenchServer(), startKafkaCluster({ jvmOptions: ['-XX:TieredStopAtLevel=4', '-Xmx1g'] })]);
const clientOptions = { clientId: 'pgcdc-bench', bootstrapBrokers: kafka.bootstrapServers.split(',') };
const admin = new kafkaClient.Admin(clientOptions);
try {
  const url = server.url();
  const nativeSlots = Array.from({ length: ROUNDS }, (_, round) => `native_${round}`);
  const source = await prepareBenchSource(url, ['to_kafka', ...nativeSlots]);
  let workload;
  try {
    workload = await runScaledWorkload(source, url);
  } finally {
    await source.end();
  }
  const expected = await checksum(url);
  const { events } = workload;
  await kafka.createTopic(TOPIC, { partitions: PARTITIONS });
  const produced = await produceWorkload(url, workload.endLsn);
  const endOffsets = await topicEndOffsets();
  const inTopic = endOffsets.reduce((sum, offset) => sum + offset, 0n);
  if (inTopic !== BigInt(events)) throw new Error(`the topic holds ${inTopic} records where ${events} changes were made`);
  console.error(`${events} changes in ${TOPIC} (${PARTITIONS} partitions: ${endOffsets.join(', ')} records) in ${produced.seconds.toFixed(2)} s by pgcdc's Kafka target`);

  const sides = {
    reference: (round) => runConsumerPerformance(round, events),
    'file-1': (round) => runPgcdcSide('file-1', round, { processes: 1, endOffsets }),
    'file-2': (round) => runPgcdcSide('file-2', round, { processes: 2, endOffsets }),
    'postgres-1': (round) => runPgcdcSide('postgres-1', round, { processes: 1, endOffsets, expected }),
    'postgres-2': (round) => runPgcdcSide('postgres-2', round, { processes: 2, endOffsets, expected }),
    native: (round) => runNative(url, round, workload.endLsn, expected),
  };
  const names = Object.keys(sides);
  const results = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    const line = [];
    for (const name of order) {
      const result = await sides[name](round);
      results[name].push(result);
      line.push(`${name} ${result.seconds.toFixed(2)} s (${Math.round(events / result.seconds)}/s${result.cpuSeconds === undefined ? '' : `, CPU ${result.cpuSeconds.toFixed(1)} s`}${result.peakMiB ? `, peak RSS ${result.peakMiB.toFixed(0)} MiB` : ''})`);
    }
    console.error(`round ${round + 1}: ${line.join('; ')}`);
  }

  const summary = (name) => {
    const rounds = results[name];
    const seconds = median(rounds.map((r) => r.seconds));
    return {
      seconds: +seconds.toFixed(3),
      events_per_s: Math.round(events / seconds),
      seconds_rounds: rounds.map((r) => +r.seconds.toFixed(3)),
      ...(rounds[0].peakMiB === undefined ? {} : { peak_rss_mib: Math.round(Math.max(...rounds.map((r) => r.peakMiB))) }),
      ...(rounds[0].cpuSeconds === undefined
        ? {}
        : { cpu_s_rounds: rounds.map((r) => +r.cpuSeconds.toFixed(2)), events_per_cpu_s: Math.round(events / median(rounds.map((r) => r.cpuSeconds))) }),
      ...(rounds[0].groupSettledSeconds === undefined ? {} : { group_settled_s_rounds: rounds.map((r) => +r.groupSettledSeconds.toFixed(2)) }),
      ...(rounds[0].ownEventsPerSecond === undefined ? {} : { own_events_per_s_rounds: rounds.map((r) => r.ownEventsPerSecond) }),
    };
  };
  const key = (name) => name.replace('-', '_');
  /** How many times faster side `a` is than side `b`: above 1, `a` is faster. */
  const ratio = (a, b) => +(report[key(b)].seconds / report[key(a)].seconds).toFixed(3);
  const report = {
    benchmark: 'Kafka source: change topic read by pgcdc processes in a consumer group',
    postgres: server.major,
    events,
    partitions: PARTITIONS,
    schemas_enable: SCHEMAS,
    rounds: ROUNDS,
    produced_by_kafka_target_s: +produced.seconds.toFixed(3),
  };
  for (const name of names) report[key(name)] = summary(name);
  report.ratio_to_reference = Object.fromEntries(['file-1', 'file-2', 'postgres-1', 'postgres-2'].map((name) => [key(name), ratio(name, 'reference')]));
  report.postgres_ratio_to_native = { postgres_1: ratio('postgres-1', 'native'), postgres_2: ratio('postgres-2', 'native') };
  report.scaling_two_over_one = { file: ratio('file-2', 'file-1'), postgres: ratio('postgres-2', 'postgres-1') };
  const goal = report.file_1.events_per_s;
  report.goals = { one_process_file_events_per_s: { goal: `>= ${GOALS.oneProcessFileEventsPerSecond}`, value: goal, met: goal >= GOALS.oneProcessFileEventsPerSecond } };
  console.error(`goal one process into /dev/null >= ${GOALS.oneProcessFileEventsPerSecond} events/s: ${goal} ${goal >= GOALS.oneProcessFileEventsPerSecond ? 'met' : 'NOT met'}`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await Promise.allSettled([admin.close()]);
  await Promise.allSettled([kafka.stop(), server.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The benchmark table's row count and hash, computed by the server (`url`'s database). */
async function checksum(url) {
  return (await query(url, 'select count(*)::int as n, sum(hashtext(b || a || d || c))::text as h from bench')).rows[0];
}

/** Puts the workload in the topic: `pgcdc run --stop-at <end>` with the Kafka target, from slot to_kafka. */
async function produceWorkload(url, endLsn) {
  const spec = writeStreamSpec(dir, 'to-kafka', {
    source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: 'to_kafka', publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
    target: {
      type: 'Kafka',
      kafka: { bootstrapServers: kafka.bootstrapServers, topicPrefix: 'bench', schemasEnable: SCHEMAS, acks: 'all', compression: 'none', linger: '5ms', batchSize: 20_000, createTopics: { partitions: PARTITIONS } },
    },
    stateDir: path.join(dir, 'state-to-kafka'),
  });
  return timePgcdc(['run', '-c', spec, '--stop-at', endLsn]);
}

/** The topic's end offsets, by partition. */
async function topicEndOffsets() {
  const [topic] = await admin.listOffsets({ topics: [{ name: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] });
  return [...topic.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => p.offset);
}

/** The committed offsets of `group` on the topic, by partition (-1 where none). */
async function committedOffsets(group) {
  const [listed] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: TOPIC, partitionIndexes: Array.from({ length: PARTITIONS }, (_, i) => i) }] }] });
  const offsets = Array.from({ length: PARTITIONS }, () => -1n);
  for (const topic of listed?.topics ?? []) for (const p of topic.partitions) offsets[p.partitionIndex] = p.committedOffset;
  return offsets;
}

/**
 * One pgcdc side: `processes` `pgcdc run` processes of one stream (one consumer group, fresh for the
 * round) into File targets on /dev/null or, with `expected`, into a Postgres target (a fresh
 * database with an empty benchmark table). Timed from the first process's start until the group's
 * committed offsets reach `endOffsets`; then SIGTERM, exit 0, and for Postgres the table checked.
 */
async function runPgcdcSide(kind, round, { processes, endOffsets, expected }) {
  const name = `${kind}-${round}`;
  const db = `${kind.replace('-', '_')}_${round}`;
  if (expected) {
    await query(server.url(), `create database ${db}`);
    await query(server.url(db), BENCH_TABLE);
  }
  await query(server.url(), 'checkpoint');
  const spec = writeStreamSpec(dir, name, {
    source: { type: 'Kafka', kafka: { bootstrapServers: kafka.bootstrapServers, topics: [TOPIC], groupId: name, startFrom: 'earliest', maxBatchRecords: MAX_BATCH_RECORDS, ...GROUP_SETTINGS } },
    target: expected ? { type: 'Postgres', postgres: { url: server.url(db) } } : { type: 'File', file: { path: '/dev/null' } },
    maxRetries: 0,
    stateDir: path.join(dir, `state-${name}`),
  });
  const started = process.hrtime.bigint();
  const startedAtMs = Date.now();
  const running = Array.from({ length: processes }, () => startPgcdc(spec));
  await waitUntil(
    async () => {
      for (const program of running) program.check();
      const committed = await committedOffsets(name);
      return committed.every((offset, partition) => offset >= endOffsets[partition]);
    },
    () => `${kind} (round ${round + 1}): the group's committed offsets did not reach the end offsets ${endOffsets.join(', ')}`,
    { timeoutMs: DELIVERY_TIMEOUT_MS, intervalMs: 20 },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuSeconds = running.reduce((sum, program) => sum + program.cpuSeconds(), 0);
  const stopped = await Promise.all(running.map((program) => program.stop()));
  if (expected) {
    const got = await checksum(server.url(db));
    if (got.n !== expected.n || got.h !== expected.h) throw new Error(`${kind} (round ${round + 1}): the target table differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
  }
  // When the group last moved partitions (a process logging what it holds), from the start.
  const groupSettledSeconds = (Math.max(...stopped.map((s) => s.lastAssignmentAtMs)) - startedAtMs) / 1000;
  return { seconds, cpuSeconds, peakMiB: Math.max(...stopped.map((s) => s.peakMiB)), groupSettledSeconds };
}

/**
 * `pgcdc run -c spec` until `stop` (SIGTERM, which must end it with exit 0); `check` throws when it
 * ended before. Its peak RSS is polled (VmHWM of its process tree).
 */
function startPgcdc(spec) {
  const child = spawn(process.execPath, pgcdcArgs(['run', '-c', spec]), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let peakKiB = 0;
  let lastAssignmentAtMs = 0;
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    log = `${log}${line}\n`.slice(-8000);
    if (line.includes('holding these')) lastAssignmentAtMs = Date.parse(JSON.parse(line).time);
  });
  const poll = setInterval(() => (peakKiB = Math.max(peakKiB, treePeakKiB(child.pid))), 20);
  const closed = new Promise((resolve) => child.once('close', (code, signal) => resolve(code ?? signal)));
  closed.then(() => clearInterval(poll));
  return {
    check() {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`pgcdc ${spec} ended with ${child.exitCode ?? child.signalCode} before reading everything:\n${log}`);
    },
    /** CPU time (user + system) the process used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
    cpuSeconds() {
      const fields = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await closed;
      if (code !== 0) throw new Error(`pgcdc ${spec} exited with ${code} on SIGTERM:\n${log}`);
      return { peakMiB: peakKiB / 1024, lastAssignmentAtMs };
    },
  };
}

/**
 * The reference: Kafka's ConsumerPerformance reading every record of the topic in a fresh group, timed from the JVM's start to its exit; its own
 * figure (fetch time only) is kept too.
 */
async function runConsumerPerformance(round, events) {
  const { lib } = await ensureKafkaJars();
  const records = events;
  const started = process.hrtime.bigint();
  const stdout = await new Promise((resolve, reject) => {
    execFile('java', [
      '-Xmx512m', '-XX:+UseSerialGC', '-cp', `${lib}/*`, 'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server', kafka.bootstrapServers, '--topic', TOPIC, '--messages', String(records), '--group', `reference-${round}`, '--timeout', String(DELIVERY_TIMEOUT_MS),
    ], { maxBuffer: 16 * 1024 * 1024 }, (error, out, stderr) => {
      if (error) reject(new Error(`ConsumerPerformance failed: ${error.message}\n${stderr}`));
      else resolve(out);
    });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Its output: a CSV header and one line; data.consumed.in.nMsg must be every record (it cannot be more).
  const lines = stdout.trim().split('\n').filter((l) => l.includes(','));
  const header = lines.at(-2).split(',').map((s) => s.trim());
  const values = lines.at(-1).split(',').map((s) => s.trim());
  const field = (n) => Number(values[header.indexOf(n)]);
  if (field('data.consumed.in.nMsg') !== records) throw new Error(`ConsumerPerformance read ${field('data.consumed.in.nMsg')} records where the topic holds ${records}`);
  return { seconds, ownEventsPerSecond: Math.round(field('fetch.nMsg.sec')) };
}

/** Native logical replication of the same changes from slot native_<round> into a fresh database: timed until the slot is confirmed up to the end. */
async function runNative(url, round, endLsn, expected) {
  const db = `native_${round}`;
  await query(server.url(), `create database ${db}`);
  await query(server.url(db), BENCH_TABLE);
  await query(server.url(), 'checkpoint');
  const started = process.hrtime.bigint();
  await query(server.url(db), `create subscription sub_${round} connection '${url}' publication bench_pub with (create_slot = false, slot_name = 'native_${round}', copy_data = false)`);
  await waitUntil(
    async () => (await query(url, `select confirmed_flush_lsn >= '${endLsn}'::pg_lsn as done from pg_replication_slots where slot_name = 'native_${round}'`)).rows[0].done,
    `the native subscription did not reach ${endLsn}`,
    { timeoutMs: DELIVERY_TIMEOUT_MS, intervalMs: 20 },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await query(server.url(db), `alter subscription sub_${round} disable`);
  await query(server.url(db), `alter subscription sub_${round} set (slot_name = none)`);
  await query(server.url(db), `drop subscription sub_${round}`);
  const got = await checksum(server.url(db));
  if (got.n !== expected.n || got.h !== expected.h) throw new Error(`native (round ${round + 1}): the target table differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
  return { seconds };
}

/** Compiles the tests' Kafka harness (test/support, TypeScript) with bench/tsconfig.harness.json and imports it. */
async function loadHarness() {
  await new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'bench', 'tsconfig.harness.json')], { cwd: ROOT }, (error, stdout, stderr) => {
      if (error) reject(new Error(`compiling the Kafka harness failed:\n${stdout}${stderr}`));
      else resolve();
    });
  });
  const cluster = await import(path.join(ROOT, '.bench-harness', 'support', 'kafka-cluster.js'));
  await cluster.ensureKafkaJars();
  return cluster;
}
