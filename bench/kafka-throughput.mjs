/**
 * Kafka target against Debezium on Kafka Connect, side by side in one run, on one Apache Kafka
 * 4.1.1 KRaft broker (full JIT, 1 GiB heap, LogAppendTime) started by the tests' harness
 * (test/support/kafka-cluster.ts, debezium-connect.ts, compiled by bench/tsconfig.harness.json):
 *
 *  - throughput: 1,000,000 inserts then 500,000 updates on the benchmark table, each side reading
 *    its own slot of the same WAL. Every side was started before the workload and seen streaming
 *    (so it gets the changes from the stream, never from a snapshot), then stopped; after the
 *    workload the sides run one after the other (order alternating across rounds): Debezium 3.6.1
 *    (JsonConverter), `pgcdc run --stop-at <end>` (at least once) and the same with
 *    `exactlyOnce: true`, and with `converter: avro` (Avro with a schema registry: Apicurio Registry,
 *    test/support/schema-registry.ts; compared with pgcdc's JSON). Every topic is created beforehand (one partition), so that no side has a
 *    topic's creation in its time. Each is timed from its slot turning active (START_REPLICATION accepted:
 *    process and JVM start-up excluded, reported apart) to the broker append time of its last
 *    record; Kafka's Java consumer (bench/KafkaCount.java, read_committed) must count exactly one
 *    record per change, or the benchmark fails.
 *  - latency: pgbench inserting `PGCDC_BENCH_RATE` (5,000) rows/s for `PGCDC_BENCH_SECONDS` (20)
 *    while `pgcdc run` streams them (a first row is delivered before the load: a warm producer);
 *    per record, from its source commit (the value's
 *    `source.ts_us`) to its broker append time (LogAppendTime, millisecond resolution).
 *
 * Both write JSON with the same schemas.enable (`PGCDC_BENCH_KAFKA_SCHEMAS`, 0), acks=all,
 * compression none, idempotent producers, 5 ms linger, 20,000-record batches, one partition.
 *
 *   npm run bench -- kafka    (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_SCALE=1, PGCDC_BENCH_KAFKA_PARTS=
 *                              throughput,exactly-once,avro,latency; smoke: 6,000 changes, 200 rows/s for 3 s)
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  ROUNDS, SMOKE, assertSlotConfirmed, inRoundOrder, median, percentile, pgcdcArgs, prepareBenchSource, referenceTool, runScaledWorkload, setting,
  startBenchServer, timeCommand, timePgcdc, waitForActiveSlot, writeStreamSpec, queryOnce as query,
} from './bench-support.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PARTS = new Set((process.env.PGCDC_BENCH_KAFKA_PARTS ?? 'throughput,exactly-once,avro,latency').split(','));
/** JsonConverter schemas.enable on both sides (pgcdc's schemasEnable). */
const SCHEMAS = process.env.PGCDC_BENCH_KAFKA_SCHEMAS === '1';
const LINGER_MS = 5;
const BATCH = 20_000;
const rate = setting('PGCDC_BENCH_RATE', 5000, 200);
const rowsPerTransaction = setting('PGCDC_BENCH_ROWS_PER_TXN', 2);
const seconds = setting('PGCDC_BENCH_SECONDS', 20, 3);
const clients = setting('PGCDC_BENCH_CLIENTS', 8, 2);
const warmupSeconds = setting('PGCDC_BENCH_WARMUP', 2, 1);
/** How long a side may take to deliver everything before the benchmark gives up. */
const DELIVERY_TIMEOUT_MS = SMOKE ? 120_000 : 20 * 60_000;
const GOALS = { ratio: 3, changesPerSecond: 100_000, p99Ms: 50, rssMiB: 200 };

const { startKafkaCluster, ensureKafkaJars, startDebeziumConnect, startSchemaRegistry } = await loadHarness();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-kafka-bench-'));
const counter = await compileCounter();
const [server, kafka] = await Promise.all([
  startBenchServer(),
  startKafkaCluster({
    // Full JIT and a bigger heap than the tests' C1-only brokers: this measures throughput.
    jvmOptions: ['-XX:TieredStopAtLevel=4', '-Xmx1g'],
    // Every record stamped with the broker's clock when appended: the end of each measurement.
    brokerConfig: { 'log.message.timestamp.type': 'LogAppendTime' },
  }),
]);
const connects = [];
/** The schema registry of the Avro side. */
let registry;
try {
  registry = PARTS.has('avro') ? await startSchemaRegistry() : undefined;
  const url = server.url();
  const report = { benchmark: 'Kafka target vs Debezium on Kafka Connect, one broker', postgres: server.major, schemas_enable: SCHEMAS, acks: 'all', compression: 'none', linger_ms: LINGER_MS, batch: BATCH };
  if (PARTS.has('throughput') || PARTS.has('exactly-once')) Object.assign(report, await throughput(url));
  if (PARTS.has('latency')) report.latency = await latency(url);
  report.goals = goals(report);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await Promise.allSettled(connects.map((connect) => connect.dispose()));
  await Promise.allSettled([kafka.stop(), server.stop(), registry?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The throughput rounds: Debezium, pgcdc, pgcdc exactly once and pgcdc with Avro on the same WAL. */
async function throughput(url) {
  const admin = await prepareBenchSource(url, []);
  try {
    const sides = [];
    // Every side is created and seen streaming before the workload, then stopped.
    for (let round = 0; round < ROUNDS; round++) {
      const perRound = [];
      if (PARTS.has('throughput')) perRound.push(await prepareDebezium(url, round), await preparePgcdc(url, round, 'json'));
      if (PARTS.has('exactly-once')) perRound.push(await preparePgcdc(url, round, 'exactly-once'));
      if (PARTS.has('avro')) perRound.push(await preparePgcdc(url, round, 'avro'));
      sides.push(perRound);
    }
    const { events, inserts, updates, endLsn } = await runScaledWorkload(admin, url);
    const results = {};
    for (let round = 0; round < ROUNDS; round++) {
      const line = [];
      for (const side of inRoundOrder(round, sides[round])) {
        const result = await side.run(events, endLsn);
        (results[side.kind] ??= []).push(result);
        line.push(`${side.kind} ${result.seconds.toFixed(2)} s (${Math.round(events / result.seconds)}/s, start-up ${result.startupSeconds.toFixed(2)} s, peak RSS ${result.peakMiB.toFixed(0)} MiB)`);
      }
      console.error(`round ${round + 1}: ${line.join('; ')}`);
    }
    const summary = (kind) => {
      const rounds = results[kind];
      if (!rounds) return undefined;
      const s = median(rounds.map((r) => r.seconds));
      return {
        seconds: +s.toFixed(3),
        changes_per_s: Math.round(events / s),
        seconds_rounds: rounds.map((r) => +r.seconds.toFixed(3)),
        startup_s_rounds: rounds.map((r) => +r.startupSeconds.toFixed(2)),
        peak_rss_mib: Math.round(Math.max(...rounds.map((r) => r.peakMiB))),
        ...(rounds[0].processSeconds !== undefined ? { process_s_rounds: rounds.map((r) => +r.processSeconds.toFixed(3)) } : {}),
      };
    };
    const debezium = summary('debezium');
    const pgcdc = summary('pgcdc');
    const exactlyOnce = summary('pgcdc-exactly-once');
    const avro = summary('pgcdc-avro');
    const ratio = (ours) => debezium && ours && +(debezium.seconds / ours.seconds).toFixed(3);
    const ratioRounds = (kind) => debezium && results[kind] && results[kind].map((r, i) => +(results.debezium[i].seconds / r.seconds).toFixed(3));
    return {
      events,
      inserts,
      updates,
      rounds: ROUNDS,
      debezium,
      pgcdc,
      pgcdc_exactly_once: exactlyOnce,
      throughput_ratio: ratio(pgcdc),
      throughput_ratio_rounds: ratioRounds('pgcdc'),
      exactly_once_throughput_ratio: ratio(exactlyOnce),
      exactly_once_throughput_ratio_rounds: ratioRounds('pgcdc-exactly-once'),
      pgcdc_avro: avro,
      avro_throughput_ratio: ratio(avro),
      /** Avro's changes/s as a fraction of pgcdc's JSON. */
      avro_vs_json: pgcdc && avro && +(pgcdc.seconds / avro.seconds).toFixed(3),
    };
  } finally {
    await admin.end();
  }
}

/** Debezium's connector for `round`: started, seen streaming, stopped; `run` starts it again and times it. */
async function prepareDebezium(url, round) {
  const prefix = `dbz${round}`;
  const slot = `dbz_${round}`;
  const connect = await startDebeziumConnect({
    bootstrapServers: kafka.bootstrapServers,
    postgresUrl: url,
    name: `dbz-${round}`,
    topicPrefix: prefix,
    schemas: SCHEMAS,
    snapshotMode: 'no_data',
    heap: '1g',
    connector: {
      'slot.name': slot,
      'publication.name': 'bench_pub',
      'publication.autocreate.mode': 'disabled',
      'table.include.list': 'public.bench',
      // Debezium's throughput settings (defaults 2,048 and 8,192): batches as large as pgcdc's.
      'max.batch.size': String(BATCH),
      'max.queue.size': String(4 * BATCH),
    },
    worker: {
      // The worker's producer: the same acks, compression and linger as pgcdc's, idempotent as
      // pgcdc's, with Kafka's batching room (1 MiB requests, as pgcdc's maxRequestSize) and five
      // requests in flight (Connect's default is one; idempotence keeps the order with five).
      'producer.acks': 'all',
      'producer.enable.idempotence': 'true',
      'producer.compression.type': 'none',
      'producer.linger.ms': String(LINGER_MS),
      'producer.batch.size': String(512 * 1024),
      'producer.max.request.size': String(1024 * 1024),
      'producer.max.in.flight.requests.per.connection': '5',
      'producer.buffer.memory': String(128 * 1024 * 1024),
    },
  });
  connects.push(connect);
  await connect.waitForStreaming();
  await connect.stop();
  const topic = `${prefix}.public.bench`;
  await kafka.createTopic(topic, { partitions: 1 });
  return {
    kind: 'debezium',
    async run(events) {
      const spawnedAt = Date.now();
      // The reader waits on the end offsets (no reading while Debezium works), then counts.
      const count = kafkaCount(topic, { wait: events });
      count.catch(() => undefined);
      let started = false;
      const active = slotActiveAt(url, slot, () => {
        if (started && !connect.running) throw new Error(`Kafka Connect exited:\n${fs.readFileSync(connect.logFile, 'utf8').slice(-4000)}`);
      });
      active.catch(() => undefined);
      await connect.start();
      started = true;
      const activeAt = await active;
      const counted = await count;
      const peakMiB = jvmPeakMiB(connect.dir);
      await connect.dispose();
      await kafka.deleteTopic(topic);
      checkCount('Debezium', counted, events);
      return { seconds: (counted.lastTimestamp - activeAt) / 1000, startupSeconds: (activeAt - spawnedAt) / 1000, peakMiB };
    },
  };
}

/**
 * pgcdc's stream for `round` (`mode`: json, exactly-once, avro): run once with --stop-at now (slot
 * made, streaming seen); `run` times it.
 */
async function preparePgcdc(url, round, mode) {
  const exactlyOnce = mode === 'exactly-once';
  const prefix = { json: `pgcdc${round}`, 'exactly-once': `pgcdceos${round}`, avro: `pgcdcavro${round}` }[mode];
  const slot = { json: `pgcdc_${round}`, 'exactly-once': `pgcdc_eos_${round}`, avro: `pgcdc_avro_${round}` }[mode];
  const kind = { json: 'pgcdc', 'exactly-once': 'pgcdc-exactly-once', avro: 'pgcdc-avro' }[mode];
  const spec = writeStreamSpec(dir, `kafka-${prefix}`, {
    source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: slot, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
    target: {
      type: 'Kafka',
      kafka: {
        bootstrapServers: kafka.bootstrapServers,
        topicPrefix: prefix,
        schemasEnable: SCHEMAS,
        acks: 'all',
        compression: 'none',
        linger: `${LINGER_MS}ms`,
        batchSize: BATCH,
        createTopics: { partitions: 1 },
        ...(exactlyOnce ? { exactlyOnce: true } : {}),
        ...(mode === 'avro' ? { converter: 'avro', schemaRegistry: { url: registry.url } } : {}),
      },
    },
    stateDir: path.join(dir, `state-${prefix}`),
  });
  await timePgcdc(['run', '-c', spec, '--stop-at', 'now']);
  const topic = `${prefix}.public.bench`;
  await kafka.createTopic(topic, { partitions: 1 });
  return {
    kind,
    async run(events, endLsn) {
      const spawnedAt = Date.now();
      let done = false;
      const running = timePgcdc(['run', '-c', spec, '--stop-at', endLsn]).finally(() => (done = true));
      running.catch(() => undefined);
      const activeAt = await slotActiveAt(url, slot, () => {
        if (done) throw new Error(`pgcdc (${prefix}) ended before its slot was seen active`);
      }).catch(async (error) => {
        await running; // its own error first, when it failed
        throw error;
      });
      const run = await running;
      await assertSlotConfirmed(url, slot, endLsn);
      const counted = await kafkaCount(topic);
      await kafka.deleteTopic(topic);
      checkCount(kind, counted, events);
      return { seconds: (counted.lastTimestamp - activeAt) / 1000, startupSeconds: (activeAt - spawnedAt) / 1000, processSeconds: run.seconds, peakMiB: run.peakMiB };
    },
  };
}

/** Commit-to-Kafka latency of pgcdc under a paced insert load. */
async function latency(url) {
  const pgbench = referenceTool('pgbench');
  await query(url, 'create table latency (id bigserial primary key, payload text not null, created_at timestamptz not null default now())');
  await query(url, 'create publication latency_pub for table latency');
  const prefix = 'pgcdclat';
  const spec = writeStreamSpec(dir, 'kafka-latency', {
    source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: 'pgcdc_latency', publicationName: 'latency_pub', publicationAutocreateMode: 'disabled' } },
    target: { type: 'Kafka', kafka: { bootstrapServers: kafka.bootstrapServers, topicPrefix: prefix, schemasEnable: SCHEMAS, acks: 'all', compression: 'none', linger: `${LINGER_MS}ms`, batchSize: BATCH, createTopics: { partitions: 1 } } },
    stateDir: path.join(dir, 'state-latency'),
  });
  const topic = `${prefix}.public.latency`;
  await kafka.createTopic(topic, { partitions: 1 });
  const pgcdc = spawn(process.execPath, pgcdcArgs(['run', '-c', spec]), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  pgcdc.stderr.on('data', (chunk) => (log = (log + chunk).slice(-8000)));
  const exited = () => {
    if (pgcdc.exitCode !== null) throw new Error(`pgcdc exited with ${pgcdc.exitCode}:\n${log}`);
  };
  try {
    await waitForActiveSlot(url, 'pgcdc_latency', exited);
    // One row first, through to Kafka: the producer is connected and warm when the load starts.
    await query(url, "insert into latency (payload) values ('warm-up')");
    await kafkaCount(topic, { wait: 1 });
    const script = path.join(dir, 'insert.sql');
    fs.writeFileSync(script, `insert into latency (payload) select md5(random()::text) from generate_series(1, ${rowsPerTransaction});\n`);
    const loadStartMs = Date.now();
    const load = await timeCommand(pgbench, ['-n', '-f', script, '-R', String(rate / rowsPerTransaction), '-T', String(seconds), '-c', String(clients), '-j', '2', url], { stdout: 'pipe' });
    const expected = Number((await query(url, 'select count(*) as n from latency')).rows[0].n);
    const counted = await kafkaCount(topic, { wait: expected, latency: true });
    exited();
    checkCount('pgcdc (latency)', counted, expected);
    const steadyFromMicros = (loadStartMs + warmupSeconds * 1000) * 1000;
    const all = counted.latencies.filter(([commitMicros]) => commitMicros >= loadStartMs * 1000).map(([, ms]) => ms).sort((a, b) => a - b);
    const steady = counted.latencies.filter(([commitMicros]) => commitMicros >= steadyFromMicros).map(([, ms]) => ms).sort((a, b) => a - b);
    const stats = (sorted) => ({ events: sorted.length, p50_ms: +percentile(sorted, 50).toFixed(2), p99_ms: +percentile(sorted, 99).toFixed(2), max_ms: +sorted[sorted.length - 1].toFixed(2) });
    const result = {
      measured: 'source commit (value source.ts_us) to broker append time (LogAppendTime, ms)',
      target_changes_per_s: rate,
      achieved_changes_per_s: Math.round((expected - 1) / load.seconds),
      rows_per_transaction: rowsPerTransaction,
      clients,
      seconds,
      warmup_s: warmupSeconds,
      steady: stats(steady),
      all: stats(all),
    };
    console.error(`latency at ${result.achieved_changes_per_s} changes/s: steady p50 ${result.steady.p50_ms} ms, p99 ${result.steady.p99_ms} ms, max ${result.steady.max_ms} ms; all events p99 ${result.all.p99_ms} ms`);
    return result;
  } finally {
    pgcdc.kill('SIGTERM');
    if (pgcdc.exitCode === null) await new Promise((resolve) => pgcdc.once('close', resolve));
  }
}

/** Each goal with the figure held to it and whether it is met. */
function goals(report) {
  const out = {};
  if (report.throughput_ratio !== undefined && report.throughput_ratio !== null) out.ratio_vs_debezium = { goal: `>= ${GOALS.ratio}`, value: report.throughput_ratio, met: report.throughput_ratio >= GOALS.ratio };
  if (report.pgcdc) {
    out.changes_per_s = { goal: `>= ${GOALS.changesPerSecond}`, value: report.pgcdc.changes_per_s, met: report.pgcdc.changes_per_s >= GOALS.changesPerSecond };
    out.peak_rss_mib = { goal: `<= ${GOALS.rssMiB}`, value: report.pgcdc.peak_rss_mib, met: report.pgcdc.peak_rss_mib <= GOALS.rssMiB };
  }
  if (report.latency) out.p99_ms = { goal: `<= ${GOALS.p99Ms}`, value: report.latency.steady.p99_ms, met: report.latency.steady.p99_ms <= GOALS.p99Ms };
  for (const [name, { goal, value, met }] of Object.entries(out)) console.error(`goal ${name} ${goal}: ${value} ${met ? 'met' : 'NOT met'}`);
  return out;
}

function checkCount(who, counted, expected) {
  if (counted.count !== expected || counted.nullValues !== 0) {
    throw new Error(`${who}: Kafka holds ${counted.count} records (${counted.nullValues} without value) where ${expected} changes were made`);
  }
}

/**
 * Peak RSS (VmHWM) of the Kafka Connect JVM whose working directory is `dir`, a child of this
 * process (setpriv execs the JVM in its place), in MiB; NaN when it is not found.
 */
function jvmPeakMiB(dir) {
  const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').split(' ').filter(Boolean);
  for (const pid of children) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/cwd`) !== dir) continue;
      return Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
    } catch {
      // gone meanwhile
    }
  }
  return Number.NaN;
}

/** The moment (epoch ms, polled every 10 ms) replication slot `slot` turns active; `check` may throw to give up. */
async function slotActiveAt(url, slot, check) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      if ((await client.query('select active from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.active === true) return Date.now();
      check();
      if (Date.now() > deadline) throw new Error(`slot ${slot} did not turn active`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await client.end();
  }
}

/**
 * Runs bench/KafkaCount.java (Kafka's Java consumer, read_committed) on `topic`: with `wait`, once
 * the end offsets reach it; resolves with the count, the append time of the last record and, with
 * `latency`, [commit µs, latency ms] per record.
 */
function kafkaCount(topic, { wait, latency = false } = {}) {
  const args = ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', counter.classpath, 'KafkaCount', kafka.bootstrapServers, 'read_committed', topic, '--timeout-ms', String(DELIVERY_TIMEOUT_MS)];
  if (wait !== undefined) args.push('--wait', String(wait));
  if (latency) args.push('--latency');
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let summary;
    const latencies = [];
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-8000)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) {
        const parsed = JSON.parse(line);
        if ('count' in parsed) summary = parsed;
      } else if (line !== '') {
        const [commitMicros, appendMs] = line.split(' ').map(Number);
        latencies.push([commitMicros, appendMs - commitMicros / 1000]);
      }
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0 || !summary) reject(new Error(`KafkaCount ${topic} exited with ${code}: ${stderr}`));
      else resolve({ ...summary, latencies });
    });
  });
}

/** Compiles the harness (test/support, TypeScript) with bench/tsconfig.harness.json and imports it. */
async function loadHarness() {
  await new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'bench', 'tsconfig.harness.json')], { cwd: ROOT }, (error, stdout, stderr) => {
      if (error) reject(new Error(`compiling the Kafka harness failed:\n${stdout}${stderr}`));
      else resolve();
    });
  });
  const build = path.join(ROOT, '.bench-harness', 'support');
  const [cluster, connect, schemaRegistry] = await Promise.all([
    import(path.join(build, 'kafka-cluster.js')),
    import(path.join(build, 'debezium-connect.js')),
    import(path.join(build, 'schema-registry.js')),
  ]);
  // Both sets of jars up front (a fresh checkout downloads them here, not inside a measurement).
  await Promise.all([cluster.ensureKafkaJars(), connect.ensureDebeziumJars()]);
  return { ...cluster, ...connect, ...schemaRegistry };
}

/** bench/KafkaCount.java compiled against the broker's jars; its classpath. */
async function compileCounter() {
  const { lib } = await ensureKafkaJars();
  const classes = path.join(dir, 'classes');
  await new Promise((resolve, reject) => {
    execFile('javac', ['-nowarn', '-d', classes, '-cp', `${lib}/*`, path.join(ROOT, 'bench', 'KafkaCount.java')], (error, _stdout, stderr) => {
      if (error) reject(new Error(`javac KafkaCount.java failed:\n${stderr}`));
      else resolve();
    });
  });
  return { classpath: `${classes}${path.delimiter}${lib}/*` };
}

