#!/usr/bin/env node
/**
 * Kafka client comparison for the Kafka target: which Node.js client pgcdc should use, by measurement.
 *
 * Clients (not project dependencies: they are loaded from KAFKA_CLIENTS_DIR/node_modules, default
 * /tmp/kafka-clients):
 *   platformatic  @platformatic/kafka (pure TypeScript; 1.35.0 is the last release for Node 20)
 *   kafkajs       kafkajs 2.2.4 (pure JS, unmaintained) with kafkajs-lz4 for LZ4
 *   confluent     @confluentinc/kafka-javascript (librdkafka), its KafkaJS-compatible API
 *   confluent-native  the same library through its node-rdkafka style API (produce + delivery reports)
 *   platformatic2 @platformatic/kafka 2.x from KAFKA_PLATFORMATIC2_DIR (default KAFKA_CLIENTS_DIR/plt2): needs
 *                 Node >= 22.22; here only with a Promise.withResolvers polyfill, for comparison
 *
 * Setup:
 *   mkdir -p /tmp/kafka-clients && cd /tmp/kafka-clients && npm init -y
 *   npm install --ignore-scripts @platformatic/kafka@1.35.0 kafkajs@2.2.4 kafkajs-lz4 kafkajs-snappy \
 *     @confluentinc/kafka-javascript@1.10.1
 *   apt-get install -y build-essential python3 libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev \
 *     libcurl4-openssl-dev
 *   npm_config_nodedir=/usr npm rebuild lz4                         # kafkajs-lz4's native lz4, ~10 s
 *   CKJS_LINKING=dynamic npm_config_nodedir=/usr \
 *     npm rebuild @confluentinc/kafka-javascript --build-from-source  # bundled librdkafka, ~75 s on 2 cores
 *   A single Apache Kafka 4.1.1 KRaft broker (jars from Maven Central: org.apache.kafka:kafka_2.13 and
 *   kafka-tools 4.1.1 + log4j-slf4j-impl/log4j-core 2.24.3, `mvn dependency:copy-dependencies`; formatted
 *   with kafka.tools.StorageTool format -t <uuid> -c server.properties --add-scram ...; run with
 *   java -Xmx1g -cp 'lib/*' kafka.Kafka server.properties; the scripts used are in /tmp/kafka-clients/broker):
 *   PLAINTEXT on 127.0.0.1:29092 (KAFKA_BOOTSTRAP), and for the feature probes SASL_PLAINTEXT :29094,
 *   SSL :29095, SASL_SSL :29096 (KAFKA_CA_FILE: the CA of the broker's certificate), users admin and
 *   alice (password alice-secret; PLAIN, SCRAM-SHA-256/512), StandardAuthorizer, auto-create off,
 *   topics `forbidden` (Write denied to User:alice) and `small-max` (max.message.bytes=100000).
 *   KAFKA_JAVA_CP: classpath with kafka-clients and the compiled Verify class (consumer check), e.g.
 *   '/tmp/kafka-clients/broker/tools:/tmp/kafka-clients/broker/lib/*'. Without it nothing is verified.
 *
 * Run:
 *   node bench/kafka-clients.mjs bench      # throughput: 3 rounds x {idempotent none, idempotent lz4,
 *                                           # transactional none} x clients, alternating client order
 *   node bench/kafka-clients.mjs features   # feature probes: compression codecs, SASL/TLS, transactions
 *                                           # (commit/abort/fencing), error shapes
 *   node bench/kafka-clients.mjs murmur2    # checks the JS murmur2 against values from kafka-clients' Utils
 *   node bench/kafka-clients.mjs gen        # cost of building the records alone (no client)
 *
 * Settings (environment): KAFKA_BENCH_CLIENTS (platformatic,kafkajs,confluent), KAFKA_BENCH_ROUNDS (3),
 * KAFKA_BENCH_RECORDS (1000000), KAFKA_BENCH_BATCH (2000 records per send call), KAFKA_BENCH_INFLIGHT
 * (4 sends in flight, 1 for platformatic 1.x, see DEFAULT_INFLIGHT; per client:
 * KAFKA_BENCH_INFLIGHT_<CLIENT>), KAFKA_BENCH_TXN (5000 records per transaction),
 * KAFKA_BENCH_CONFLUENT_CONFIG (JSON of extra librdkafka settings, e.g. {"linger.ms":5}),
 * KAFKA_BENCH_CONFIGS (idem-none,idem-lz4,txn-none; also idem-zstd, idem-gzip, idem-snappy, txn-lz4), KAFKA_BENCH_PARTITIONS (6), KAFKA_BENCH_OUT (JSON results file).
 *
 * Every measured run is its own child process (peak RSS = that process's maxRSS, native threads of
 * librdkafka included), writes to a fresh topic created with that client's admin API, and is timed
 * from the first send call to the last acknowledgement (producer connect/init excluded, reported
 * apart). Each record has a 20-byte key `k` + 19 digits, a JSON value shaped like a CDC event (373
 * bytes on average; ~410 bytes per record with key and headers), two headers, and an explicit partition: toPositive(murmur2(key)) % partitions, as Java's
 * default partitioner. Afterwards the Java consumer (read_committed) counts the records, checks each
 * record's partition against kafka-clients' own murmur2 and that no key repeats, then deletes the topic.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// for @platformatic/kafka 2.x on Node 20 only (the 'platformatic2' client): Node 22's Promise.withResolvers
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new Promise((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
};

const CLIENTS_DIR = process.env.KAFKA_CLIENTS_DIR ?? '/tmp/kafka-clients';
const requireClient = createRequire(path.join(CLIENTS_DIR, 'package.json'));
const BOOTSTRAP = process.env.KAFKA_BOOTSTRAP ?? '127.0.0.1:29092';
const HOST = BOOTSTRAP.split(':')[0];
const SASL_PORT = Number(process.env.KAFKA_SASL_PORT ?? 29094);
const SSL_PORT = Number(process.env.KAFKA_SSL_PORT ?? 29095);
const SASL_SSL_PORT = Number(process.env.KAFKA_SASL_SSL_PORT ?? 29096);
const CA_FILE = process.env.KAFKA_CA_FILE ?? path.join(CLIENTS_DIR, 'broker/tls/ca.pem');
const JAVA_CP = process.env.KAFKA_JAVA_CP ?? '';
/** A client package's package.json, read from the file (some packages do not export it). */
const pkgJson = (name) => JSON.parse(fs.readFileSync(path.join(CLIENTS_DIR, 'node_modules', name, 'package.json'), 'utf8'));
const num = (name, def) => (process.env[name] ? Number(process.env[name]) : def);

// ---------------------------------------------------------------------------------------------
// Java's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) and the default partitioner's choice.

/** murmur2 of `data` (a Buffer), as a signed 32-bit int, bit for bit like kafka-clients. */
export function murmur2(data) {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  switch (length & 3) {
    case 3: h ^= data[length4 + 2] << 16; // falls through
    case 2: h ^= data[length4 + 1] << 8; // falls through
    case 1: h ^= data[length4]; h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The Java producer's partition for a non-null key: toPositive(murmur2(key)) % numPartitions. */
export function javaPartition(key, numPartitions) {
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}

/** key, murmur2, partition of 6, printed by kafka-clients 4.1.1's Utils (broker/tools/Murmur2Check.java). */
const JAVA_MURMUR2 = [
  ['k0000000000000000000', -1174392914, 0], ['k0000000000000000001', -1929781082, 0],
  ['k0000000000000012345', 1263137976, 0], ['k0000000000000999999', 1522398386, 2],
  ['', 275646681, 3], ['a', -1563381124, 4], ['ab', 316155434, 2], ['abc', 479470107, 3],
  ['abcd', -1323649548, 2], ['abcde', 461995741, 1], ['hello world', 1221641059, 1],
  ['20-byte-key-00000042', -323622312, 2], ['ñandú€', -1818598162, 4], ['user-123', -1468255980, 2],
  ['order:98765', 14593562, 2], ['k', -1567496736, 2], ['kk', -1987041014, 0], ['kkk', 1730307235, 1],
  ['kkkk', -1350106659, 5], ['the quick brown fox jumps over the lazy dog', -890066680, 4],
];

function checkMurmur2() {
  let bad = 0;
  for (const [key, hash, partition] of JAVA_MURMUR2) {
    const b = Buffer.from(key, 'utf8');
    if (murmur2(b) !== hash || javaPartition(b, 6) !== partition) {
      bad++;
      console.error(`murmur2 mismatch for ${JSON.stringify(key)}: js ${murmur2(b)}/${javaPartition(b, 6)}, java ${hash}/${partition}`);
    }
  }
  if (bad) throw new Error(`${bad} murmur2 mismatches`);
  return JAVA_MURMUR2.length;
}

// ---------------------------------------------------------------------------------------------
// Workload

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet',
  'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango'];
const T0 = Date.parse('2025-01-01T00:00:00Z');

function keyOf(i) {
  return Buffer.from('k' + String(i).padStart(19, '0'));
}

/** ~400 bytes of JSON shaped like a CDC insert event (compressible like real rows, not trivially). */
function valueOf(i) {
  let x = (i * 2654435761) >>> 0;
  let text = '';
  while (text.length < 110) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    text += WORDS[x % WORDS.length] + ' ';
  }
  const ts = T0 + i * 7;
  return Buffer.from(JSON.stringify({
    op: 'c',
    before: null,
    after: { id: i, a: x % 100000, b: text.trimEnd(), c: new Date(ts).toISOString(), d: ((x % 10000000) / 100).toFixed(2) },
    source: { connector: 'pgcdc', db: 'bench', schema: 'public', table: 'bench', txId: 1000 + (i >> 4), lsn: `0/${(0x1000000 + i * 120).toString(16).toUpperCase()}`, ts_ms: ts },
    ts_ms: ts + 3,
  }));
}

const HEADER_OP = Buffer.from('c');
const HEADER_TABLE = Buffer.from('public.bench');

/** Records [from, from+n) as {topic, partition, key, value, headers: [[name, Buffer]]}. */
function makeRecords(topic, partitions, from, n) {
  const out = new Array(n);
  for (let j = 0; j < n; j++) {
    const key = keyOf(from + j);
    out[j] = { topic, partition: javaPartition(key, partitions), key, value: valueOf(from + j), headers: [['op', HEADER_OP], ['table', HEADER_TABLE]] };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Client adapters: createTopic, producer(opts) -> {send(records), begin(), commit(), abort(), close()}

/** Connection settings for each probe. */
function securityFor(kind) {
  const ca = kind === 'ssl' || kind.startsWith('sasl_ssl') ? fs.readFileSync(CA_FILE, 'utf8') : undefined;
  switch (kind) {
    case 'plaintext': return { port: Number(BOOTSTRAP.split(':')[1]) };
    case 'ssl': return { port: SSL_PORT, host: 'localhost', ca };
    default: {
      // sasl_plaintext-plain, sasl_plaintext-scram-sha-256, sasl_ssl-scram-sha-512, with user/password
      const [proto, mech] = kind.split(/-(.*)/s);
      return { port: proto === 'sasl_ssl' ? SASL_SSL_PORT : SASL_PORT, host: proto === 'sasl_ssl' ? 'localhost' : HOST, ca, mechanism: mech };
    }
  }
}

/** @platformatic/kafka from `dir` (a folder holding node_modules/@platformatic/kafka). */
async function platformaticAdapter(name, dir) {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules/@platformatic/kafka/package.json'), 'utf8'));
    const k = await import(pathToFileURL(path.join(dir, 'node_modules/@platformatic/kafka/dist/index.js')).href);
    const base = ({ security = { port: Number(BOOTSTRAP.split(':')[1]) }, user, password, timeouts } = {}) => ({
      clientId: 'pgcdc-bench',
      bootstrapBrokers: [`${security.host ?? HOST}:${security.port}`],
      ...(security.ca ? { tls: { ca: security.ca }, tlsServerName: security.host } : {}),
      ...(security.mechanism ? { sasl: { mechanism: security.mechanism.toUpperCase(), username: user, password } } : {}),
      ...(timeouts ? { connectTimeout: 3000, requestTimeout: 10000, retries: 2, retryDelay: 200, timeout: 10000 } : {}),
    });
    return {
      name, version: pkg.version,
      async createTopic(topic, partitions, configs = {}, conn) {
        const admin = new k.Admin(base(conn));
        try {
          await admin.createTopics({ topics: [topic], partitions, replicas: 1, configs: Object.entries(configs).map(([name, value]) => ({ name, value: String(value) })) });
        } finally { await admin.close(); }
      },
      async producer({ compression = 'none', transactionalId, idempotent = true, conn } = {}) {
        // producerId -1n / producerEpoch -1: without them InitProducerId goes out with 0/0 and a transactional.id
        // used before (a restart) gets PRODUCER_FENCED instead of an epoch bump (seen in 1.35.0 and 2.12.1)
        const p = new k.Producer({ ...base(conn), idempotent, acks: k.ProduceAcks.ALL, compression, ...(transactionalId ? { transactionalId, producerId: -1n, producerEpoch: -1 } : {}) });
        if (idempotent && !transactionalId) await p.initIdempotentProducer({});
        let tx;
        const toMessages = (records) => records.map((r) => ({
          topic: r.topic, partition: r.partition, key: r.key, value: r.value,
          headers: new Map(r.headers.map(([n, v]) => [Buffer.from(n), v])),
        }));
        return {
          raw: p,
          send: (records) => (tx ?? p).send({ messages: toMessages(records) }),
          async begin() { tx = await p.beginTransaction(); },
          async commit() { await tx.commit(); tx = undefined; },
          async abort() { await tx.abort(); tx = undefined; },
          close: () => p.close(),
        };
      },
    };
}

const adapters = {
  platformatic: () => platformaticAdapter('platformatic', CLIENTS_DIR),
  // 2.x needs Node >= 22.22 (engines); on Node 20 it runs only with the Promise.withResolvers polyfill below
  platformatic2: () => platformaticAdapter('platformatic2', process.env.KAFKA_PLATFORMATIC2_DIR ?? path.join(CLIENTS_DIR, 'plt2')),

  async kafkajs() {
    const pkg = pkgJson('kafkajs');
    const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = requireClient('kafkajs');
    try { CompressionCodecs[CompressionTypes.LZ4] = new (requireClient('kafkajs-lz4'))().codec; } catch { /* no lz4 plugin */ }
    try { CompressionCodecs[CompressionTypes.Snappy] = requireClient('kafkajs-snappy'); } catch { /* no snappy plugin */ }
    const types = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD };
    const kafkaFor = ({ security = { port: Number(BOOTSTRAP.split(':')[1]) }, user, password, timeouts } = {}) => new Kafka({
      clientId: 'pgcdc-bench', brokers: [`${security.host ?? HOST}:${security.port}`], logLevel: logLevel.NOTHING,
      ...(security.ca ? { ssl: { ca: [security.ca], servername: security.host } } : {}),
      ...(security.mechanism ? { sasl: { mechanism: security.mechanism.toLowerCase(), username: user, password } } : {}),
      ...(timeouts ? { connectionTimeout: 3000, requestTimeout: 10000, retry: { retries: 2, initialRetryTime: 200 } } : {}),
    });
    return {
      name: 'kafkajs', version: pkg.version,
      async createTopic(topic, partitions, configs = {}, conn) {
        const admin = kafkaFor(conn).admin();
        await admin.connect();
        try {
          await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value: String(value) })) }] });
        } finally { await admin.disconnect(); }
      },
      async producer({ compression = 'none', transactionalId, idempotent = true, conn } = {}) {
        const p = kafkaFor(conn).producer({ idempotent, maxInFlightRequests: idempotent ? 1 : 5, allowAutoTopicCreation: false, ...(transactionalId ? { transactionalId } : {}) });
        await p.connect();
        let tx;
        const sendArgs = (records) => {
          // one send call may span topics: group them (sendBatch)
          const byTopic = new Map();
          for (const r of records) {
            let list = byTopic.get(r.topic);
            if (!list) byTopic.set(r.topic, (list = []));
            list.push({ partition: r.partition, key: r.key, value: r.value, headers: Object.fromEntries(r.headers) });
          }
          return { topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), acks: -1, compression: types[compression] };
        };
        return {
          raw: p,
          send: (records) => (tx ?? p).sendBatch(sendArgs(records)),
          async begin() { tx = await p.transaction(); },
          async commit() { await tx.commit(); tx = undefined; },
          async abort() { await tx.abort(); tx = undefined; },
          close: () => p.disconnect(),
        };
      },
    };
  },

  async confluent() {
    const pkg = pkgJson('@confluentinc/kafka-javascript');
    const ck = requireClient('@confluentinc/kafka-javascript');
    const { Kafka, logLevel } = ck.KafkaJS;
    const extra = JSON.parse(process.env.KAFKA_BENCH_CONFLUENT_CONFIG ?? '{}'); // e.g. {"linger.ms":5}
    const kafkaFor = ({ security = { port: Number(BOOTSTRAP.split(':')[1]) }, user, password, timeouts } = {}) => new Kafka({
      kafkaJS: {
        clientId: 'pgcdc-bench', brokers: [`${security.host ?? HOST}:${security.port}`], logLevel: logLevel.NOTHING,
        ...(security.ca ? { ssl: true } : {}),
        ...(security.mechanism ? { sasl: { mechanism: security.mechanism.toLowerCase(), username: user, password } } : {}),
        ...(timeouts ? { connectionTimeout: 3000, requestTimeout: 10000 } : {}),
      },
      ...(security.ca ? { 'ssl.ca.pem': security.ca } : {}),
    });
    return {
      name: 'confluent', version: `${pkg.version} (librdkafka ${ck.librdkafkaVersion})`,
      async createTopic(topic, partitions, configs = {}, conn) {
        const admin = kafkaFor(conn).admin();
        await admin.connect();
        try {
          await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value: String(value) })) }] });
        } finally { await admin.disconnect(); }
      },
      async producer({ compression = 'none', transactionalId, idempotent = true, conn, timeouts } = {}) {
        const p = kafkaFor(conn).producer({
          kafkaJS: { idempotent, acks: -1, compression, allowAutoTopicCreation: false, ...(transactionalId ? { transactionalId } : {}) },
          ...(conn?.timeouts || timeouts ? { 'message.timeout.ms': 10000 } : {}),
          ...extra,
        });
        await p.connect();
        const sendOne = (records) => {
          const byTopic = new Map();
          for (const r of records) {
            let list = byTopic.get(r.topic);
            if (!list) byTopic.set(r.topic, (list = []));
            list.push({ partition: r.partition, key: r.key, value: r.value, headers: Object.fromEntries(r.headers) });
          }
          return p.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        };
        return {
          raw: p,
          send: sendOne,
          async begin() { await p.transaction(); },
          async commit() { await p.commit(); },
          async abort() { await p.abort(); },
          close: () => p.disconnect(),
        };
      },
    };
  },

  /**
   * The same library through its node-rdkafka style API: produce() + delivery reports, no promise per
   * record. Plaintext bootstrap only (not in the feature probes).
   */
  async 'confluent-native'() {
    const pkg = pkgJson('@confluentinc/kafka-javascript');
    const ck = requireClient('@confluentinc/kafka-javascript');
    const extra = JSON.parse(process.env.KAFKA_BENCH_CONFLUENT_CONFIG ?? '{}');
    const cb = (fn) => new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
    const confluent = await adapters.confluent(); // admin: same library
    return {
      name: 'confluent-native', version: `${pkg.version} (librdkafka ${ck.librdkafkaVersion})`,
      createTopic: confluent.createTopic,
      async producer({ compression = 'none', transactionalId, idempotent = true } = {}) {
        const p = new ck.Producer({
          'bootstrap.servers': BOOTSTRAP, 'client.id': 'pgcdc-bench', 'enable.idempotence': idempotent, acks: 'all',
          'compression.codec': compression, dr_cb: true, ...(transactionalId ? { 'transactional.id': transactionalId } : {}), ...extra,
        });
        // delivery reports: one tracker per send() call, found through the record's opaque
        p.on('delivery-report', (err, report) => {
          const t = report.opaque;
          if (err) t.error ??= err;
          if (--t.left === 0) (t.error ? t.reject(t.error) : t.resolve());
        });
        await cb((done) => p.connect({}, done));
        p.setPollInterval(5);
        if (transactionalId) await cb((done) => p.initTransactions(30000, done));
        return {
          raw: p,
          send(records) {
            return new Promise((resolve, reject) => {
              const t = { left: records.length, resolve, reject, error: undefined };
              const now = Date.now();
              for (const r of records) {
                p.produce(r.topic, r.partition, r.value, r.key, now, t, r.headers.map(([n, v]) => ({ [n]: v })));
              }
            });
          },
          begin: () => cb((done) => p.beginTransaction(done)),
          commit: () => cb((done) => p.commitTransaction(30000, done)),
          abort: () => cb((done) => p.abortTransaction(30000, done)),
          close: async () => { await cb((done) => p.flush(30000, done)); p.setPollInterval(0); await cb((done) => p.disconnect(done)); },
        };
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// One measured run (child process)

const CONFIGS = {
  'idem-none': { mode: 'idempotent', compression: 'none' },
  'idem-lz4': { mode: 'idempotent', compression: 'lz4' },
  'idem-zstd': { mode: 'idempotent', compression: 'zstd' },
  'idem-gzip': { mode: 'idempotent', compression: 'gzip' },
  'idem-snappy': { mode: 'idempotent', compression: 'snappy' },
  'txn-none': { mode: 'transactional', compression: 'none' },
  'txn-lz4': { mode: 'transactional', compression: 'lz4' },
};

/**
 * Sends in flight by default. @platformatic/kafka 1.x reads an idempotent batch's first sequence when
 * the request is built but advances it only on the response, so concurrent send() calls reuse sequence
 * numbers: OUT_OF_ORDER_SEQUENCE_NUMBER, or, when the per-partition counts match, the broker drops the
 * later batch as a duplicate while every send() resolves (platformatic/kafka issue #326, fixed in 2.x).
 */
const DEFAULT_INFLIGHT = { platformatic: 1 };

async function runChild([clientName, configName, topic]) {
  const { mode, compression } = CONFIGS[configName];
  const total = num('KAFKA_BENCH_RECORDS', 1_000_000);
  const batch = num('KAFKA_BENCH_BATCH', 2000);
  const inflight = num(`KAFKA_BENCH_INFLIGHT_${clientName.toUpperCase().replace(/-/g, '_')}`, num('KAFKA_BENCH_INFLIGHT', DEFAULT_INFLIGHT[clientName] ?? 4));
  const txnSize = num('KAFKA_BENCH_TXN', 5000);
  const partitions = num('KAFKA_BENCH_PARTITIONS', 6);
  const client = await adapters[clientName]();
  await client.createTopic(topic, partitions);
  const tInit = performance.now();
  const producer = await client.producer({ compression, transactionalId: mode === 'transactional' ? `bench-${topic}` : undefined });
  const initMs = performance.now() - tInit;

  // Sends [from, to) in calls of `batch` records with up to `inflight` calls outstanding.
  const pipeline = async (from, to) => {
    const pending = [];
    for (let i = from; i < to; i += batch) {
      const n = Math.min(batch, to - i);
      const p = producer.send(makeRecords(topic, partitions, i, n));
      p.catch(() => {});
      pending.push(p);
      if (pending.length >= inflight) await pending.shift();
    }
    await Promise.all(pending);
  };

  let transactions = 0;
  const t0 = performance.now();
  if (mode === 'transactional') {
    for (let i = 0; i < total; i += txnSize) {
      await producer.begin();
      await pipeline(i, Math.min(total, i + txnSize));
      await producer.commit();
      transactions++;
    }
  } else {
    await pipeline(0, total);
  }
  const seconds = (performance.now() - t0) / 1000;
  await producer.close();
  const result = {
    client: clientName, version: client.version, config: configName, mode, compression, topic, records: total,
    batch, inflight, txnSize: mode === 'transactional' ? txnSize : undefined, transactions: mode === 'transactional' ? transactions : undefined,
    seconds: +seconds.toFixed(3), recordsPerSecond: Math.round(total / seconds), initMs: Math.round(initMs),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write('RESULT ' + JSON.stringify(result) + '\n');
  // librdkafka/handles may keep the loop alive briefly
  setTimeout(() => process.exit(0), 200).unref();
}

function runNode(args, timeoutMs = 20 * 60_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)));
      else reject(new Error(`child ${args.join(' ')} failed: code ${code} signal ${signal}\n${out.slice(-2000)}`));
    });
  });
}

function verify(topic, expected, del = true) {
  if (!JAVA_CP) return { skipped: true };
  const r = spawnSync('java', ['-Xmx512m', '-cp', JAVA_CP, 'Verify', BOOTSTRAP, topic, String(expected), ...(del ? ['--delete'] : [])], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) return { ok: false, error: (r.stderr || '').slice(-1000) };
  return JSON.parse(line);
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function runBench() {
  console.log(`murmur2: ${checkMurmur2()} keys match kafka-clients' Utils.murmur2`);
  const clients = (process.env.KAFKA_BENCH_CLIENTS ?? 'platformatic,kafkajs,confluent').split(',');
  const configs = (process.env.KAFKA_BENCH_CONFIGS ?? 'idem-none,idem-lz4,txn-none').split(',');
  const rounds = num('KAFKA_BENCH_ROUNDS', 3);
  const total = num('KAFKA_BENCH_RECORDS', 1_000_000);
  const results = [];
  const stamp = Date.now().toString(36);
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) {
      // rotate which client goes first from one round to the next
      const order = clients.map((_, i) => clients[(i + round) % clients.length]);
      for (const client of order) {
        const topic = `bench-${client}-${config}-${stamp}-r${round + 1}`;
        let result;
        try {
          result = await runNode(['child', client, config, topic]);
        } catch (err) {
          result = { client, config, round: round + 1, error: String(err.message).slice(0, 1500) };
          console.log(JSON.stringify(result));
          results.push(result);
          verify(topic, 0);
          continue;
        }
        result.round = round + 1;
        result.verify = verify(topic, total);
        console.log(JSON.stringify(result));
        results.push(result);
      }
    }
  }
  console.log('\nclient       config     records/s median  [rounds]                  s median  peak RSS MiB median [rounds]  verified');
  for (const config of configs) {
    for (const client of clients) {
      const rs = results.filter((r) => r.client === client && r.config === config && !r.error);
      const failed = results.filter((r) => r.client === client && r.config === config && r.error).length;
      if (!rs.length) { console.log(`${client.padEnd(12)} ${config.padEnd(10)} failed (${failed})`); continue; }
      const rates = rs.map((r) => r.recordsPerSecond);
      const rss = rs.map((r) => r.peakRssMiB);
      const okAll = rs.every((r) => r.verify?.ok === true) ? 'yes' : rs.some((r) => r.verify?.skipped) ? 'skipped' : 'NO';
      console.log(`${client.padEnd(12)} ${config.padEnd(10)} ${String(median(rates)).padStart(9)}  [${rates.join(', ')}]`.padEnd(70) +
        `${median(rs.map((r) => r.seconds)).toFixed(1).padStart(6)}  ${String(median(rss)).padStart(5)} [${rss.join(', ')}]`.padEnd(30) + `  ${okAll}${failed ? ` (${failed} failed)` : ''}`);
    }
  }
  if (process.env.KAFKA_BENCH_OUT) fs.writeFileSync(process.env.KAFKA_BENCH_OUT, JSON.stringify(results, null, 2));
}

// ---------------------------------------------------------------------------------------------
// Feature probes

/** The fields of an error that a caller can branch on, nested errors included (abridged). */
function describeError(err, depth = 0) {
  if (!err || typeof err !== 'object') return String(err);
  const d = { class: err.constructor?.name, message: String(err.message).slice(0, 300) };
  for (const f of ['code', 'type', 'name', 'retriable', 'isRetriable', 'fatal', 'abortable', 'errno', 'canRetry', 'apiId', 'producerFenced', 'hasStaleMetadata', 'needsRefreshMetadata']) {
    if (err[f] !== undefined && f !== 'name') d[f] = err[f];
  }
  if (err.name && err.name !== d.class) d.name = err.name;
  if (depth < 3) {
    if (Array.isArray(err.errors) && err.errors.length) d.errors = err.errors.slice(0, 3).map((e) => describeError(e, depth + 1));
    if (err.cause) d.cause = describeError(err.cause, depth + 1);
    if (err.originalError) d.originalError = describeError(err.originalError, depth + 1);
  }
  return d;
}

const withTimeout = (p, ms, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`probe timeout after ${ms} ms: ${what}`)), ms).unref())]);

async function probe(log, name, fn, ms = 45000) {
  const t = performance.now();
  try {
    const detail = await withTimeout(fn(), ms, name);
    log.push({ probe: name, ok: true, ms: Math.round(performance.now() - t), ...(detail ? { detail } : {}) });
  } catch (err) {
    log.push({ probe: name, ok: false, ms: Math.round(performance.now() - t), error: describeError(err) });
  }
  console.log(JSON.stringify(log[log.length - 1]));
}

async function runFeatures([clientName]) {
  const client = await adapters[clientName]();
  const log = [];
  const stamp = `${clientName}-${Date.now().toString(36)}`;
  const P = 6;
  console.log(`# ${clientName} ${client.version}`);

  // idempotent producer, explicit partitions, headers; checked by the Java consumer
  await probe(log, 'idempotent acks=all send + partition check', async () => {
    const topic = `feat-idem-${stamp}`;
    await client.createTopic(topic, P, { 'retention.ms': 3600000, 'cleanup.policy': 'delete' });
    const p = await client.producer({});
    const res = await p.send(makeRecords(topic, P, 0, 1000));
    await p.close();
    return { sendResult: JSON.stringify(res, (k, v) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 200), verify: verify(topic, 1000) };
  });

  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    await probe(log, `compression ${codec}`, async () => {
      const topic = `feat-${codec}-${stamp}`;
      await client.createTopic(topic, P);
      const p = await client.producer({ compression: codec });
      try { await p.send(makeRecords(topic, P, 0, 500)); } finally { await p.close(); }
      const v = verify(topic, 500);
      if (JAVA_CP && !v.ok) throw new Error(`verify failed: ${JSON.stringify(v)}`);
      return { verify: v };
    });
  }

  await probe(log, 'transactions: commit 300, abort 200, commit 100 (read_committed sees 400)', async () => {
    const topic = `feat-txn-${stamp}`;
    await client.createTopic(topic, P);
    const p = await client.producer({ transactionalId: `feat-tx-${stamp}` });
    await p.begin(); await p.send(makeRecords(topic, P, 0, 300)); await p.commit();
    await p.begin(); await p.send(makeRecords(topic, P, 300, 200)); await p.abort();
    await p.begin(); await p.send(makeRecords(topic, P, 500, 100)); await p.commit();
    await p.close();
    const v = verify(topic, 400);
    if (JAVA_CP && !v.ok) throw new Error(`verify failed: ${JSON.stringify(v)}`);
    return { verify: v };
  });

  await probe(log, 'fencing: second producer with the same transactional.id fences the first', async () => {
    const topic = `feat-fence-${stamp}`;
    await client.createTopic(topic, P);
    const txid = `feat-fence-${stamp}`;
    const a = await client.producer({ transactionalId: txid });
    await a.begin();
    await a.send(makeRecords(topic, P, 0, 10));
    const b = await client.producer({ transactionalId: txid });
    await b.begin(); await b.send(makeRecords(topic, P, 10, 10)); await b.commit();
    let errSend = null, errCommit = null;
    try { await a.send(makeRecords(topic, P, 20, 10)); } catch (e) { errSend = describeError(e); }
    try { await a.commit(); } catch (e) { errCommit = describeError(e); }
    await a.close().catch(() => {}); await b.close();
    if (!errSend && !errCommit) throw new Error('first producer was not fenced');
    return { sendAfterFence: errSend, commitAfterFence: errCommit, verify: verify(topic, 10) };
  }, 60000);

  const secured = [
    ['sasl_plaintext-plain', 'alice', 'alice-secret'],
    ['sasl_plaintext-scram-sha-256', 'alice', 'alice-secret'],
    ['sasl_plaintext-scram-sha-512', 'alice', 'alice-secret'],
    ['ssl'],
    ['sasl_ssl-scram-sha-512', 'alice', 'alice-secret'],
  ];
  for (const [kind, user, password] of secured) {
    await probe(log, `security ${kind}`, async () => {
      const conn = { security: securityFor(kind), user, password, timeouts: true };
      const topic = `feat-sec-${kind}-${stamp}`;
      await client.createTopic(topic, 1, {}, conn);
      const p = await client.producer({ conn });
      try { await p.send(makeRecords(topic, 1, 0, 10)); } finally { await p.close(); }
      return { verify: verify(topic, 10) };
    });
  }

  // Errors: what a caller sees
  const errorProbe = (name, body, ms) => probe(log, `error ${name}`, async () => {
    try { await body(); } catch (e) { return { error: describeError(e) }; }
    throw new Error('no error surfaced');
  }, ms);

  await errorProbe('MESSAGE_TOO_LARGE (200 KB record, topic max.message.bytes=100000)', async () => {
    const p = await client.producer({ conn: { timeouts: true } });
    try {
      const big = { topic: 'small-max', partition: 0, key: keyOf(1), value: Buffer.alloc(200_000, 120), headers: [] };
      await p.send([big]);
    } finally { await p.close().catch(() => {}); }
  });
  await errorProbe('MESSAGE_TOO_LARGE (2 MB record, broker default 1 MB)', async () => {
    const topic = `feat-big-${stamp}`;
    await client.createTopic(topic, 1);
    const p = await client.producer({ conn: { timeouts: true } });
    try { await p.send([{ topic, partition: 0, key: keyOf(1), value: Buffer.alloc(2_000_000, 120), headers: [] }]); } finally { await p.close().catch(() => {}); }
  });
  await errorProbe('UNKNOWN_TOPIC_OR_PARTITION (no such topic, auto-create off)', async () => {
    const p = await client.producer({ conn: { timeouts: true } });
    try { await p.send(makeRecords(`no-such-topic-${stamp}`, 1, 0, 1)); } finally { await p.close().catch(() => {}); }
  }, 60000);
  await errorProbe('TOPIC_AUTHORIZATION_FAILED (alice, Write denied on forbidden)', async () => {
    const p = await client.producer({ conn: { security: securityFor('sasl_plaintext-scram-sha-256'), user: 'alice', password: 'alice-secret', timeouts: true } });
    try { await p.send(makeRecords('forbidden', 1, 0, 1)); } finally { await p.close().catch(() => {}); }
  }, 60000);
  await errorProbe('SASL authentication failure (wrong password, SCRAM-SHA-512)', async () => {
    const p = await client.producer({ conn: { security: securityFor('sasl_plaintext-scram-sha-512'), user: 'alice', password: 'wrong', timeouts: true } });
    try { await p.send(makeRecords(`feat-idem-${stamp}`, P, 0, 1)); } finally { await p.close().catch(() => {}); }
  }, 60000);
  await errorProbe('unreachable broker (127.0.0.1:1)', async () => {
    const p = await client.producer({ conn: { security: { port: 1 }, timeouts: true } });
    try { await p.send(makeRecords(`feat-idem-${stamp}`, P, 0, 1)); } finally { await p.close().catch(() => {}); }
  }, 60000);

  verify(`feat-idem-${stamp}`, 0);
  process.stdout.write('RESULT ' + JSON.stringify({ client: clientName, version: client.version, probes: log }) + '\n');
  setTimeout(() => process.exit(0), 200).unref();
}

async function runFeaturesAll() {
  const clients = (process.env.KAFKA_BENCH_CLIENTS ?? 'platformatic,kafkajs,confluent').split(',');
  const all = [];
  for (const c of clients) {
    try { all.push(await runNode(['features-child', c], 15 * 60_000)); } catch (e) { all.push({ client: c, error: e.message }); }
  }
  if (process.env.KAFKA_BENCH_OUT) fs.writeFileSync(process.env.KAFKA_BENCH_OUT, JSON.stringify(all, null, 2));
  console.log('\nprobe'.padEnd(80) + clients.map((c) => c.padEnd(14)).join(''));
  const names = [...new Set(all.flatMap((r) => (r.probes ?? []).map((p) => p.probe)))];
  for (const n of names) {
    console.log(n.slice(0, 78).padEnd(80) + all.map((r) => {
      const p = r.probes?.find((x) => x.probe === n);
      return (p ? (p.ok ? 'ok' : 'FAIL') + ` ${p.ms}ms` : '-').padEnd(14);
    }).join(''));
  }
}

// ---------------------------------------------------------------------------------------------

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
const [cmd = 'bench', ...rest] = isMain ? process.argv.slice(2) : ['none'];
const commands = {
  bench: runBench,
  child: () => runChild(rest),
  features: runFeaturesAll,
  'features-child': () => runFeatures(rest),
  // cost of building the records alone (keys, JSON values, murmur2 partitions), no client: the floor under every figure
  gen: async () => {
    const total = num('KAFKA_BENCH_RECORDS', 1_000_000), batch = num('KAFKA_BENCH_BATCH', 2000);
    const t = performance.now();
    let bytes = 0;
    for (let i = 0; i < total; i += batch) for (const r of makeRecords('t', 6, i, Math.min(batch, total - i))) bytes += r.value.length;
    const s = (performance.now() - t) / 1000;
    console.log(JSON.stringify({ records: total, seconds: +s.toFixed(3), recordsPerSecond: Math.round(total / s), meanValueBytes: Math.round(bytes / total) }));
  },
  murmur2: async () => console.log(`murmur2: ${checkMurmur2()} keys match kafka-clients' Utils.murmur2`),
};
if (!isMain) {
  // imported (murmur2, javaPartition): run nothing
} else if (!commands[cmd]) {
  console.error(`usage: node bench/kafka-clients.mjs [bench|features|murmur2]`);
  process.exit(2);
} else {
  await commands[cmd]();
}
