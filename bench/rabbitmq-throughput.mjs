/**
 * RabbitMQ target throughput, side by side in one run with pg_recvlogical over the same WAL and with
 * a minimal confirmed publisher (RabbitMQ's PerfTest is not packaged by Debian: the reference is
 * amqplib publishing on a confirm channel, `PGCDC_BENCH_RABBITMQ_WINDOW` (8192) unconfirmed at most,
 * persistent messages to a durable queue, every confirm awaited), on one local rabbitmq-server
 * (Debian's package, started here on free loopback ports with its own epmd, data in a temporary
 * directory).
 *
 *  - The 1,000,000 inserts then 500,000 updates on the benchmark table (`PGCDC_BENCH_SCALE`), each
 *    side reading its own slot made before the workload. Per round (order alternating):
 *    pg_recvlogical to /dev/null (the server's ceiling), and `pgcdc run --stop-at <end>` publishing
 *    persistent messages to a topic exchange it declares, with a durable queue it declares and
 *    binds, timed until the process exits: it exits only once the broker confirmed every message
 *    and the slot is acknowledged.
 *  - Then an independent consumer (amqplib, manual acks) reads the whole queue and counts the
 *    messages by their `pgcdc-op` header and distinct message-ids: exactly `inserts` creates and
 *    `updates` updates, or the benchmark fails. The queue is deleted after.
 *  - The reference publisher then publishes as many messages of the same mean size (body and
 *    headers, each with its own message-id) to a durable queue of its own, through a topic
 *    exchange; seconds until the last confirm.
 *
 * Goal: at least 100,000 changes/s, or 80% of the reference publisher's rate; peak RSS <= 200 MiB.
 *
 *   npm run bench -- rabbitmq     (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_SCALE=1; smoke: 6,000 changes)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { ROUNDS, assertSlotConfirmed, median, prepareStreamWorkload, roundsReport, runAlternating, setting, startBenchServer, timePgcdc, timeRecvlogical, writeStreamSpec } from './bench-support.mjs';

const WINDOW = setting('PGCDC_BENCH_RABBITMQ_WINDOW', 8192);
/** pgcdc's in-flight window and lanes (its defaults unless set). */
const PGCDC_TUNING = {
  ...(process.env.PGCDC_BENCH_RABBITMQ_UNCONFIRMED ? { maxUnconfirmed: Number(process.env.PGCDC_BENCH_RABBITMQ_UNCONFIRMED) } : {}),
  ...(process.env.PGCDC_BENCH_RABBITMQ_LANES ? { concurrency: Number(process.env.PGCDC_BENCH_RABBITMQ_LANES) } : {}),
};
const GOALS = { changesPerSecond: 100_000, ofReference: 0.8, rssMiB: 200 };
const USER = 'bench';
const PASSWORD = 'bench-secret';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-rabbitmq-bench-'));
const [server, rabbit] = await Promise.all([startBenchServer(), startRabbitMQ(path.join(dir, 'rabbitmq'))]);
try {
  const url = server.url();
  const slots = Array.from({ length: ROUNDS }, (_, round) => [`ref_${round}`, `pgcdc_${round}`]).flat();
  const { events, inserts, updates, endLsn } = await prepareStreamWorkload(url, slots);
  const results = { recvlogical: [], pgcdc: [], rss: [], reference: [], meanBytes: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const prefix = `rb${round}`;
    const queue = `rb${round}-changes`;
    const spec = writeStreamSpec(dir, `rabbitmq-${round}`, {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `pgcdc_${round}`, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
      target: { type: 'RabbitMQ', rabbitmq: { url: rabbit.url, topicPrefix: prefix, schemasEnable: false, exchange: { name: `${prefix}x`, declare: true }, queue: { name: queue }, ...PGCDC_TUNING } },
      stateDir: path.join(dir, `state-${round}`),
    });
    const [ref, run] = await runAlternating(round, [() => timeRecvlogical(url, `ref_${round}`, endLsn, server.major), () => timePgcdc(['run', '-c', spec, '--stop-at', endLsn])]);
    await assertSlotConfirmed(url, `pgcdc_${round}`, endLsn);
    const counted = await countQueue(rabbit.url, queue);
    if (counted.c !== inserts || counted.u !== updates || counted.total !== events || counted.ids !== events) {
      throw new Error(`pgcdc: queue ${queue} holds ${counted.total} messages (${counted.c} creates, ${counted.u} updates, ${counted.ids} distinct message-ids) where ${inserts} inserts and ${updates} updates were made`);
    }
    const reference = await referencePublisher(rabbit.url, `ref${round}`, events, counted.meanHeaderBytes, counted.meanBodyBytes);
    results.recvlogical.push(ref.seconds);
    results.pgcdc.push(run.seconds);
    results.rss.push(run.peakMiB);
    results.reference.push(reference.seconds);
    results.meanBytes.push(counted.meanHeaderBytes + counted.meanBodyBytes);
    console.error(
      `round ${round + 1}: pg_recvlogical ${ref.seconds.toFixed(2)} s, pgcdc ${run.seconds.toFixed(2)} s (${Math.round(events / run.seconds)}/s, peak RSS ${run.peakMiB.toFixed(0)} MiB), ` +
        `confirmed-publisher reference ${reference.seconds.toFixed(2)} s (${Math.round(events / reference.seconds)}/s), ${counted.meanHeaderBytes + counted.meanBodyBytes} B/message`,
    );
  }
  const pgcdc = median(results.pgcdc);
  const recvlogical = median(results.recvlogical);
  const reference = median(results.reference);
  const rate = Math.round(events / pgcdc);
  const referenceRate = Math.round(events / reference);
  const rss = Math.round(Math.max(...results.rss));
  const goals = {
    changes_per_s: {
      goal: `>= ${GOALS.changesPerSecond}, or >= ${GOALS.ofReference * 100}% of the reference publisher`,
      value: rate,
      of_reference: +(rate / referenceRate).toFixed(3),
      met: rate >= GOALS.changesPerSecond || rate >= GOALS.ofReference * referenceRate,
    },
    peak_rss_mib: { goal: `<= ${GOALS.rssMiB}`, value: rss, met: rss <= GOALS.rssMiB },
  };
  for (const [name, { goal, value, met }] of Object.entries(goals)) console.error(`goal ${name} ${goal}: ${value} ${met ? 'met' : 'NOT met'}`);
  console.log(
    JSON.stringify(
      {
        benchmark: 'RabbitMQ target, 1M inserts + 500k updates, one local rabbitmq-server (persistent messages, durable classic queue, publisher confirms)',
        postgres: server.major,
        rabbitmq: rabbit.version,
        events,
        mean_message_bytes: Math.round(median(results.meanBytes)),
        pg_recvlogical_s: +recvlogical.toFixed(3),
        pgcdc_s: +pgcdc.toFixed(3),
        ratio_to_recvlogical: +(pgcdc / recvlogical).toFixed(3),
        pgcdc_events_per_s: rate,
        reference_s: +reference.toFixed(3),
        reference_events_per_s: referenceRate,
        reference_publisher_window: WINDOW,
        pgcdc_peak_rss_mib: rss,
        ...roundsReport(results.recvlogical, results.pgcdc),
        reference_s_rounds: results.reference.map((s) => +s.toFixed(3)),
        goals,
      },
      null,
      2,
    ),
  );
} finally {
  await Promise.allSettled([server.stop(), rabbit.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A free loopback port. */
function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Debian's rabbitmq-server on free loopback ports (AMQP, distribution, its own epmd), its data,
 * config and Erlang cookie under `base`; ready once an AMQP login succeeds.
 */
async function startRabbitMQ(base) {
  const script = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'].find((candidate) => fs.existsSync(candidate));
  if (!script) throw new Error('rabbitmq-server is missing: sudo apt-get install -y rabbitmq-server');
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const home = path.join(base, 'home');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, '.erlang.cookie'), `PGCDCBENCH${port}`, { mode: 0o600 });
  fs.writeFileSync(
    path.join(base, 'rabbitmq.conf'),
    [`listeners.tcp.default = 127.0.0.1:${port}`, `default_user = ${USER}`, `default_pass = ${PASSWORD}`, 'loopback_users = none', 'disk_free_limit.absolute = 50MB', 'log.console = true', 'log.file = false'].join('\n') + '\n',
  );
  fs.writeFileSync(path.join(base, 'enabled_plugins'), '[].\n');
  const env = {
    ...process.env,
    HOME: home,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_NODENAME: `pgcdcbench${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(base, 'log'),
    RABBITMQ_CONFIG_FILE: path.join(base, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(base, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(base, 'enabled_plugins'),
    RABBITMQ_CONF_ENV_FILE: path.join(base, 'rabbitmq-env.conf'),
    RABBITMQ_PID_FILE: path.join(base, 'rabbitmq.pid'),
    // The script execs the Erlang VM in its place (as under systemd): stopping it stops the broker.
    NOTIFY_SOCKET: path.join(base, 'no-systemd.sock'),
  };
  const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { env, stdio: 'ignore' });
  const child = spawn(script, [], { env, cwd: base, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => (log = (log + chunk).slice(-4000)));
  const url = `amqp://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  let version = 'unknown';
  for (;;) {
    try {
      const connection = await amqp.connect(url);
      version = String(connection.connection.serverProperties.version);
      await connection.close();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        epmd.kill('SIGKILL');
        throw new Error(`rabbitmq-server did not start:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const exited = (process) => new Promise((resolve) => (process.exitCode !== null || process.signalCode !== null ? resolve() : process.once('exit', resolve)));
  return {
    url,
    version,
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
      epmd.kill('SIGTERM');
      await exited(epmd);
    },
  };
}

/**
 * Reads queue `queue` whole (independent of pgcdc: amqplib, manual acks) and counts its messages by
 * `pgcdc-op` and distinct message-id; then deletes the queue.
 */
async function countQueue(serverUrl, queue) {
  const connection = await amqp.connect(serverUrl);
  try {
    const channel = await connection.createChannel();
    const { messageCount } = await channel.checkQueue(queue);
    const counts = { total: 0, c: 0, u: 0, other: 0, headerBytes: 0, bodyBytes: 0 };
    const ids = new Set();
    if (messageCount > 0) {
      await channel.prefetch(5000);
      await new Promise((resolve, reject) => {
        channel.on('error', reject);
        channel
          .consume(queue, (message) => {
            if (message === null) return reject(new Error(`the consumer of ${queue} was cancelled`));
            counts.total++;
            const headers = message.properties.headers ?? {};
            const op = String(headers['pgcdc-op']);
            if (op === 'c') counts.c++;
            else if (op === 'u') counts.u++;
            else counts.other++;
            ids.add(message.properties.messageId);
            counts.bodyBytes += message.content.length;
            for (const [name, value] of Object.entries(headers)) counts.headerBytes += name.length + String(value).length;
            if (counts.total % 1000 === 0 || counts.total === messageCount) channel.ack(message, true);
            if (counts.total === messageCount) resolve();
          })
          .catch(reject);
      });
    }
    await channel.deleteQueue(queue);
    const total = Math.max(1, counts.total);
    return { ...counts, ids: ids.size, meanHeaderBytes: Math.round(counts.headerBytes / total), meanBodyBytes: Math.round(counts.bodyBytes / total) };
  } finally {
    await connection.close();
  }
}

/**
 * The reference: `count` persistent messages of the given sizes (each with its own message-id and
 * five headers) published through a topic exchange to a durable queue on a confirm channel,
 * `WINDOW` unconfirmed at most; seconds until the last confirm. The queue is deleted after.
 */
async function referencePublisher(serverUrl, name, count, headerBytes, bodyBytes) {
  const connection = await amqp.connect(serverUrl);
  try {
    const channel = await connection.createConfirmChannel();
    const exchange = `${name}x`;
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(name, { durable: true });
    await channel.bindQueue(name, exchange, '#');
    const body = Buffer.alloc(bodyBytes, 120);
    const padding = 'x'.repeat(Math.max(1, headerBytes - 70));
    const started = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      let published = 0;
      let confirmed = 0;
      let pumping = false;
      let waitingForDrain = false;
      channel.on('drain', () => {
        waitingForDrain = false;
        pump();
      });
      const onConfirm = (error) => {
        if (error) return reject(error);
        confirmed++;
        if (confirmed === count) resolve();
        else pump();
      };
      const pump = () => {
        if (pumping || waitingForDrain) return;
        pumping = true;
        while (published < count && published - confirmed < WINDOW) {
          const id = published++;
          const flowing = channel.publish(exchange, `${name}.public.bench`, body, {
            persistent: true,
            mandatory: true,
            contentType: 'application/json',
            messageId: `${name}:${id}`,
            timestamp: Math.floor(Date.now() / 1000),
            headers: { 'pgcdc-op': 'c', 'pgcdc-table': 'public.bench', 'pgcdc-lsn': '0/1', 'pgcdc-txid': id, 'pgcdc-key': padding },
          }, onConfirm);
          if (!flowing) {
            pumping = false;
            waitingForDrain = true;
            return;
          }
        }
        pumping = false;
      };
      pump();
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await channel.deleteQueue(name);
    await channel.deleteExchange(exchange);
    return { seconds };
  } finally {
    await connection.close();
  }
}
