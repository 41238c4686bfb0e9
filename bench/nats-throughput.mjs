/**
 * NATS JetStream target throughput, side by side in one run with pg_recvlogical over the same WAL
 * and with a minimal confirmed publisher (the `nats` CLI and its `nats bench` are not packaged by
 * Debian: the reference is nats.js's own JetStream publish, pipelined, every PubAck awaited), on one
 * local nats-server (Debian's package, JetStream on, file storage) started here.
 *
 *  - The 1,000,000 inserts then 500,000 updates on the benchmark table (`PGCDC_BENCH_SCALE`), each
 *    side reading its own slot made before the workload. Per round (order alternating):
 *    pg_recvlogical to /dev/null (the server's ceiling), and `pgcdc run --stop-at <end>` into a
 *    stream it creates (`NB<round>`, subjects `nb<round>.>`), timed from its slot turning active
 *    (START_REPLICATION accepted: process start-up excluded, as in kafka-throughput.mjs; the whole
 *    process time is reported apart) to JetStream's store time of the last message (`last_ts`);
 *    the process exits only once every PubAck arrived and the slot is acknowledged.
 *  - Then an independent consumer (nats.js ordered consumer) reads the whole stream and counts the
 *    messages by their `pgcdc-op` header: exactly `inserts` creates and `updates` updates, or the
 *    benchmark fails. The stream is deleted after.
 *  - Two reference publishers then publish as many messages of the same mean size (headers and
 *    data, each with its own Nats-Msg-Id) to a stream of their own, `PGCDC_BENCH_NATS_WINDOW`
 *    (8192) in flight: nats.js's `jetstream().publish` (what a client application does), and a raw
 *    pipelined publisher (core publish, pre-encoded headers, PubAcks on one inbox: the broker's
 *    ceiling). The goal's reference is the faster of the two.
 *
 * Goal: at least 100,000 changes/s, or 80% of the reference publisher's rate; peak RSS <= 200 MiB.
 *
 *   npm run bench -- nats     (PGCDC_BENCH_ROUNDS=3, PGCDC_BENCH_SCALE=1; smoke: 6,000 changes)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ROUNDS, assertSlotConfirmed, median, prepareStreamWorkload, roundsReport, runAlternating, setting, startBenchServer, timePgcdc, timeRecvlogical, writeStreamSpec } from './bench-support.mjs';

const WINDOW = setting('PGCDC_BENCH_NATS_WINDOW', 8192);
const GOALS = { changesPerSecond: 100_000, ofReference: 0.8, rssMiB: 200 };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-nats-bench-'));
const [server, nats] = await Promise.all([startBenchServer(), startNatsServer(path.join(dir, 'nats'))]);
try {
  const url = server.url();
  const slots = Array.from({ length: ROUNDS }, (_, round) => [`ref_${round}`, `pgcdc_${round}`]).flat();
  const { events, inserts, updates, endLsn } = await prepareStreamWorkload(url, slots);
  const results = { recvlogical: [], pgcdc: [], process: [], rss: [], reference: [], raw: [], meanBytes: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const prefix = `nb${round}`;
    const spec = writeStreamSpec(dir, `nats-${round}`, {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotName: `pgcdc_${round}`, publicationName: 'bench_pub', publicationAutocreateMode: 'disabled' } },
      target: { type: 'NatsJetStream', natsJetStream: { servers: nats.url, topicPrefix: prefix, schemasEnable: false, stream: { name: `NB${round}`, create: true } } },
      stateDir: path.join(dir, `state-${round}`),
    });
    const [ref, run] = await runAlternating(round, [() => timeRecvlogical(url, `ref_${round}`, endLsn, server.major), () => timedPgcdc(url, spec, `pgcdc_${round}`, endLsn)]);
    await assertSlotConfirmed(url, `pgcdc_${round}`, endLsn);
    // From the slot turning active to JetStream's store time of the last message.
    run.streamingSeconds = (Date.parse((await streamInfo(nats.url, `NB${round}`)).state.last_ts) - run.activeAt) / 1000;
    const counted = await countStream(nats.url, `NB${round}`, events);
    if (counted.c !== inserts || counted.u !== updates || counted.total !== events) {
      throw new Error(`pgcdc: stream NB${round} holds ${counted.total} messages (${counted.c} creates, ${counted.u} updates) where ${inserts} inserts and ${updates} updates were made`);
    }
    const reference = await referencePublisher(nats.url, `REF${round}`, events, counted.meanHeaderBytes, counted.meanDataBytes);
    const raw = await rawPublisher(nats.url, `RAW${round}`, events, counted.meanHeaderBytes, counted.meanDataBytes);
    results.recvlogical.push(ref.seconds);
    results.pgcdc.push(run.streamingSeconds);
    results.process.push(run.seconds);
    results.rss.push(run.peakMiB);
    results.reference.push(reference.seconds);
    results.raw.push(raw.seconds);
    results.meanBytes.push(counted.meanHeaderBytes + counted.meanDataBytes);
    console.error(
      `round ${round + 1}: pg_recvlogical ${ref.seconds.toFixed(2)} s, pgcdc ${run.streamingSeconds.toFixed(2)} s streaming (${Math.round(events / run.streamingSeconds)}/s; process ${run.seconds.toFixed(2)} s; peak RSS ${run.peakMiB.toFixed(0)} MiB), ` +
        `js.publish reference ${reference.seconds.toFixed(2)} s (${Math.round(events / reference.seconds)}/s), raw pipelined reference ${raw.seconds.toFixed(2)} s (${Math.round(events / raw.seconds)}/s), ${counted.meanHeaderBytes + counted.meanDataBytes} B/message`,
    );
  }
  const pgcdc = median(results.pgcdc);
  const recvlogical = median(results.recvlogical);
  const reference = median(results.reference);
  const raw = median(results.raw);
  const rate = Math.round(events / pgcdc);
  // The broker's ceiling: the faster of the two publishers.
  const referenceRate = Math.round(events / Math.min(reference, raw));
  const rss = Math.round(Math.max(...results.rss));
  const goals = {
    changes_per_s: { goal: `>= ${GOALS.changesPerSecond}, or >= ${GOALS.ofReference * 100}% of the reference publisher`, value: rate, of_reference: +(rate / referenceRate).toFixed(3), met: rate >= GOALS.changesPerSecond || rate >= GOALS.ofReference * referenceRate },
    peak_rss_mib: { goal: `<= ${GOALS.rssMiB}`, value: rss, met: rss <= GOALS.rssMiB },
  };
  for (const [name, { goal, value, met }] of Object.entries(goals)) console.error(`goal ${name} ${goal}: ${value} ${met ? 'met' : 'NOT met'}`);
  console.log(
    JSON.stringify(
      {
        benchmark: 'NATS JetStream target, 1M inserts + 500k updates, one local nats-server (file storage)',
        postgres: server.major,
        events,
        mean_message_bytes: Math.round(median(results.meanBytes)),
        pg_recvlogical_s: +recvlogical.toFixed(3),
        pgcdc_s: +pgcdc.toFixed(3),
        pgcdc_process_s_rounds: results.process.map((s) => +s.toFixed(3)),
        ratio_to_recvlogical: +(pgcdc / recvlogical).toFixed(3),
        pgcdc_events_per_s: rate,
        js_publish_reference_s: +reference.toFixed(3),
        js_publish_reference_events_per_s: Math.round(events / reference),
        raw_reference_s: +raw.toFixed(3),
        raw_reference_events_per_s: Math.round(events / raw),
        reference_publisher_window: WINDOW,
        pgcdc_peak_rss_mib: rss,
        ...roundsReport(results.recvlogical, results.pgcdc),
        js_publish_reference_s_rounds: results.reference.map((s) => +s.toFixed(3)),
        raw_reference_s_rounds: results.raw.map((s) => +s.toFixed(3)),
        goals,
      },
      null,
      2,
    ),
  );
} finally {
  await Promise.allSettled([server.stop(), nats.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Debian's nats-server with JetStream, on a free loopback port, its store in `storeDir`. */
async function startNatsServer(storeDir) {
  const program = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((candidate) => fs.existsSync(candidate));
  if (!program) throw new Error('nats-server is missing: sudo apt-get install -y nats-server');
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const child = spawn(program, ['-js', '-sd', storeDir, '-p', String(port), '-a', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => (log = (log + chunk).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Reads stream `name` whole with an ordered consumer (independent of pgcdc) and counts its messages
 * by `pgcdc-op`; then deletes the stream.
 */
async function countStream(serverUrl, name, expected) {
  const nc = await connect({ servers: serverUrl });
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(name);
    const counts = { total: 0, c: 0, u: 0, other: 0, headerBytes: 0, dataBytes: 0 };
    if (info.state.messages > 0) {
      const consumer = await js.consumers.get(name);
      const messages = await consumer.consume({ max_messages: 10_000 });
      for await (const message of messages) {
        counts.total++;
        const op = message.headers?.get('pgcdc-op');
        if (op === 'c') counts.c++;
        else if (op === 'u') counts.u++;
        else counts.other++;
        counts.dataBytes += message.data.length;
        counts.headerBytes += message.headers ? message.headers.toString().length : 0;
        if (message.info.pending === 0) break;
      }
    }
    await jsm.streams.delete(name);
    const total = Math.max(1, counts.total);
    return { ...counts, meanHeaderBytes: Math.round(counts.headerBytes / total), meanDataBytes: Math.round(counts.dataBytes / total), expected };
  } finally {
    await nc.close();
  }
}

/**
 * The reference: `count` messages of the given sizes (each with a distinct Nats-Msg-Id) published
 * with nats.js's JetStream publish, `WINDOW` in flight, to a new stream; seconds until the last
 * PubAck. The stream is deleted after.
 */
async function referencePublisher(serverUrl, name, count, headerBytes, dataBytes) {
  const nc = await connect({ servers: serverUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`] });
    const js = jetstream(nc);
    const data = new Uint8Array(dataBytes).fill(120);
    const padding = 'x'.repeat(Math.max(1, headerBytes - 60));
    const { headers } = await import('@nats-io/transport-node');
    const started = process.hrtime.bigint();
    let next = 0;
    let failed;
    await new Promise((resolve, reject) => {
      let inFlight = 0;
      const pump = () => {
        while (inFlight < WINDOW && next < count) {
          const h = headers();
          h.set('pgcdc-op', 'c');
          h.set('pgcdc-pad', padding);
          const id = next++;
          inFlight++;
          js.publish(`${name.toLowerCase()}.public.bench`, data, { msgID: `ref:${id}`, headers: h }).then(
            () => {
              inFlight--;
              if (next === count && inFlight === 0) resolve();
              else pump();
            },
            (error) => {
              failed ??= error;
              reject(error);
            },
          );
        }
      };
      pump();
    });
    if (failed) throw failed;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const info = await jsm.streams.info(name);
    if (info.state.messages !== count) throw new Error(`the reference publisher's stream holds ${info.state.messages} messages where ${count} were published`);
    await jsm.streams.delete(name);
    return { seconds };
  } finally {
    await nc.close();
  }
}

/**
 * The broker's ceiling: `count` messages published with the core client, pipelined (`WINDOW` in
 * flight), each with its own pre-encoded header block (a Nats-Msg-Id) and a reply subject on one
 * inbox subscription that counts the PubAcks; seconds until the last PubAck. The stream is deleted after.
 */
async function rawPublisher(serverUrl, name, count, headerBytes, dataBytes) {
  const { createInbox } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: serverUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const subject = `${name.toLowerCase()}.public.bench`;
    await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`] });
    const data = new Uint8Array(dataBytes).fill(120);
    const padding = 'x'.repeat(Math.max(1, headerBytes - 50));
    const inbox = createInbox();
    const started = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      let next = 0;
      let acked = 0;
      const pump = () => {
        while (next - acked < WINDOW && next < count) {
          const id = next++;
          const block = Buffer.from(`NATS/1.0\r\nNats-Msg-Id: raw:${id}\r\npgcdc-pad: ${padding}\r\n\r\n`);
          nc.publish(subject, data, { reply: `${inbox}.${id}`, headers: { encode: () => block } });
        }
      };
      nc.subscribe(`${inbox}.*`, {
        callback: (error, msg) => {
          if (error || msg.string().includes('"error"')) return reject(error ?? new Error(msg.string()));
          if (++acked === count) resolve();
          else pump();
        },
      });
      pump();
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const info = await jsm.streams.info(name);
    if (info.state.messages !== count) throw new Error(`the raw publisher's stream holds ${info.state.messages} messages where ${count} were published`);
    await jsm.streams.delete(name);
    return { seconds };
  } finally {
    await nc.close();
  }
}

/** `pgcdc run --stop-at <end>` timed (timeCommand), with the moment its slot turned active (`activeAt`, epoch ms). */
async function timedPgcdc(url, spec, slot, endLsn) {
  let done = false;
  const running = timePgcdc(['run', '-c', spec, '--stop-at', endLsn]).finally(() => (done = true));
  running.catch(() => undefined);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let activeAt;
  try {
    const deadline = Date.now() + 180_000;
    while (activeAt === undefined) {
      if ((await client.query('select active from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.active === true) activeAt = Date.now();
      else if (done || Date.now() > deadline) {
        await running; // its own error first
        throw new Error(`pgcdc's slot ${slot} was not seen active`);
      } else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await client.end();
  }
  return { ...(await running), activeAt };
}

async function streamInfo(serverUrl, name) {
  const nc = await connect({ servers: serverUrl });
  try {
    return await (await jetstreamManager(nc)).streams.info(name);
  } finally {
    await nc.close();
  }
}
