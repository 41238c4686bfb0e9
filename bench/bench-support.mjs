/**
 * Shared pieces of the benchmarks: their settings (full scale, or the tiny smoke workload of
 * `PGCDC_BENCH_SMOKE=1`), an embedded PostgreSQL tuned like a real server, the benchmark table and
 * workload, rounds that alternate which side goes first, timing of child processes with their peak
 * memory, the checks that pgcdc delivered everything, the reference tools (pg_recvlogical,
 * pg_dump, psql, pgbench) from Debian's postgresql-client, installed when missing, and the
 * CloudEvents receiver process.
 */
import { execFileSync, spawn } from 'node:child_process';
import readline from 'node:readline';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../dist/embedded/embedded-postgres-server.js';

/**
 * `PGCDC_BENCH_SMOKE=1`: every benchmark with a tiny workload and one round, to check that it still
 * runs and that pgcdc still delivers everything (CI); its figures mean nothing.
 */
export const SMOKE = process.env.PGCDC_BENCH_SMOKE === '1';

/** A numeric setting: the environment variable `name` when set, else the full-scale or the smoke default. */
export function setting(name, full, smoke = full) {
  const value = process.env[name];
  return value === undefined || value === '' ? (SMOKE ? smoke : full) : Number(value);
}

/** Rounds of the benchmarks that compare with a reference; the median is reported. */
export const ROUNDS = setting('PGCDC_BENCH_ROUNDS', 3, 1);
/** Scale of the stream workload: 1 is 1,000,000 inserts then 500,000 updates (smoke: 4,000 and 2,000). */
export const SCALE = setting('PGCDC_BENCH_SCALE', 1, 0.004);

/** pgcdc's command line, built by `npm run build`. */
const PGCDC_MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
/** Extra node options for the pgcdc processes (`PGCDC_BENCH_NODE_ARGS`, e.g. `--cpu-prof`). */
const NODE_ARGS = (process.env.PGCDC_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** Node's arguments for `pgcdc --log-format json <args>`, started as a user starts it: `node dist/cli/main.js …`. */
export function pgcdcArgs(args) {
  return [...NODE_ARGS, PGCDC_MAIN, '--log-format', 'json', ...args];
}

/** Times pgcdc with `args` (see timeCommand). */
export function timePgcdc(args) {
  return timeCommand(process.execPath, pgcdcArgs(args));
}

/** Writes the pgcdc/v1 Stream `name` with `spec` into directory `dir`; returns the file's path. */
export function writeStreamSpec(dir, name, spec) {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, JSON.stringify({ apiVersion: 'pgcdc/v1', kind: 'Stream', metadata: { name }, spec }));
  return file;
}

/** Settings shared by both sides of every comparison. */
export const BENCH_SETTINGS = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  shared_buffers: '512MB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  wal_sender_timeout: '5min',
};

export async function startBenchServer(major = Number(process.env.PGCDC_BENCH_PG ?? 18), settings = {}) {
  return startEmbeddedPostgres({ major, settings: { ...BENCH_SETTINGS, ...settings } });
}

export const BENCH_TABLE = 'create table bench (id bigserial primary key, a int, b text, c timestamptz, d numeric(12,2))';

/**
 * A connected admin client on a database holding the benchmark table, its publication `bench_pub`
 * and a pgoutput slot for each name in `slots` (created before the workload, so each decodes it).
 */
export async function prepareBenchSource(url, slots) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(BENCH_TABLE);
  await admin.query('create publication bench_pub for table bench');
  for (const slot of slots) await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  return admin;
}

/**
 * The workload scaled by `scale` (1: 1,000,000 inserts, 500,000 updates), then a checkpoint;
 * returns the counts and the WAL position after it (`--stop-at`, `--endpos`).
 */
export async function runScaledWorkload(admin, url, scale = SCALE) {
  const inserts = Math.round(1_000_000 * scale);
  const updates = Math.round(500_000 * scale);
  console.error(`workload: ${inserts} inserts then ${updates} updates…`);
  await runBenchWorkload(url, { inserts, updates });
  await admin.query('checkpoint');
  const { rows } = await admin.query('select pg_current_wal_lsn()::text as lsn, pg_size_pretty(pg_current_wal_lsn() - min(restart_lsn)) as wal from pg_replication_slots');
  console.error(`WAL to decode: ${rows[0].wal}; end ${rows[0].lsn}`);
  return { inserts, updates, events: inserts + updates, endLsn: rows[0].lsn };
}

/** prepareBenchSource then runScaledWorkload, on a fresh server. */
export async function prepareStreamWorkload(url, slots, scale = SCALE) {
  const admin = await prepareBenchSource(url, slots);
  try {
    return await runScaledWorkload(admin, url, scale);
  } finally {
    await admin.end();
  }
}

/** Times pg_recvlogical decoding `slot` (pgoutput, publication `publication`, bench_pub by default) up to `endLsn` into /dev/null: the server's ceiling. */
export function timeRecvlogical(url, slot, endLsn, major, publication = 'bench_pub') {
  const protocol = major >= 16 ? 4 : major >= 15 ? 3 : 2;
  return timeCommand(referenceTool('pg_recvlogical'), [
    '-d', url, '--slot', slot, '--start', '--endpos', endLsn, '--no-loop', '-f', '/dev/null',
    '-o', `proto_version=${protocol}`, '-o', `publication_names=${publication}`, '-o', 'messages=true', '-o', 'streaming=on',
  ]);
}

/** 1,000,000 inserts then 500,000 updates, in transactions of `rowsPerTransaction` rows. */
export async function runBenchWorkload(url, { inserts = 1_000_000, updates = 500_000, rowsPerTransaction = 1000 } = {}) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let done = 0; done < inserts; done += rowsPerTransaction) {
      const n = Math.min(rowsPerTransaction, inserts - done);
      await client.query(
        `insert into bench (a, b, c, d) select g, md5(g::text), now() - g * interval '1 second', (g % 100000) / 7.0 from generate_series($1::int, $2::int) g`,
        [done + 1, done + n],
      );
    }
    for (let done = 0; done < updates; done += rowsPerTransaction) {
      const n = Math.min(rowsPerTransaction, updates - done);
      await client.query(`update bench set a = a + 1, d = d + 1 where id between $1 and $2`, [done + 1, done + n]);
    }
  } finally {
    await client.end();
  }
}

/**
 * Runs a command to completion; returns wall seconds and peak RSS in MiB: the sum of the peaks
 * (VmHWM, polled from /proc) of the process and its descendants, so that a command that relaunches
 * itself (pgcdc with the PgLambda target) is measured whole.
 */
export function timeCommand(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'], env: { ...process.env, ...options.env } });
    let stderr = '';
    let peakKiB = 0;
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    const poll = setInterval(() => (peakKiB = Math.max(peakKiB, treePeakKiB(child.pid))), 20);
    child.on('close', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${stderr}`));
      else resolve({ seconds, peakMiB: peakKiB / 1024, stderr });
    });
  });
}

/** The sum of the peak RSS (VmHWM) of process `pid` and its descendants, in KiB; 0 once it is gone. */
export function treePeakKiB(pid) {
  try {
    const own = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean);
    return children.reduce((sum, child) => sum + treePeakKiB(child), own);
  } catch {
    return 0; // the process is gone
  }
}

/**
 * Runs each side of a round (functions returning promises) one after the other, alternating which
 * goes first from round to round (the first may find the machine's caches colder, the second the
 * server busy with the first's aftermath); resolves with their results in the order given.
 */
export async function runAlternating(round, sides) {
  const results = new Map();
  for (const side of inRoundOrder(round, sides)) results.set(side, await side());
  return sides.map((side) => results.get(side));
}

/** `sides` in the order round `round` runs them: as given in even rounds, reversed in odd ones. */
export function inRoundOrder(round, sides) {
  return round % 2 === 0 ? [...sides] : [...sides].reverse();
}

/** The raw rounds for a report: each side's seconds and pgcdc's ratio to the reference, per round. */
export function roundsReport(referenceSeconds, pgcdcSeconds) {
  return {
    rounds: pgcdcSeconds.length,
    reference_s_rounds: referenceSeconds.map((s) => +s.toFixed(3)),
    pgcdc_s_rounds: pgcdcSeconds.map((s) => +s.toFixed(3)),
    ratio_rounds: pgcdcSeconds.map((s, i) => +(s / referenceSeconds[i]).toFixed(3)),
  };
}

/** Throws unless replication slot `slot` is confirmed up to `endLsn`: pgcdc acknowledged everything. */
export async function assertSlotConfirmed(url, slot, endLsn) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query('select confirmed_flush_lsn >= $1::pg_lsn as done from pg_replication_slots where slot_name = $2', [endLsn, slot]);
    if (!rows[0]?.done) throw new Error(`pgcdc exited before its slot ${slot} was confirmed up to ${endLsn}`);
  } finally {
    await admin.end();
  }
}

/**
 * Polls `done` (may be async, may throw to fail at once) every `intervalMs` until it is true; after
 * `timeoutMs` throws, saying `what` (a text, or a function giving it then), so that a benchmark
 * whose events stop arriving fails instead of waiting forever.
 */
export async function waitUntil(done, what, { timeoutMs = 120_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs / 1000} s: ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves once pgcdc streams from replication slot `slot` (the slot is active), so a load started then is all captured. */
export async function waitForActiveSlot(url, slot, failed = () => undefined) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await waitUntil(async () => {
      failed();
      return (await admin.query('select active from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.active === true;
    }, `pgcdc did not start streaming from slot ${slot}`);
  } finally {
    await admin.end();
  }
}

/** Finds a PostgreSQL client tool, installing Debian's postgresql-client when it is missing. */
export function referenceTool(name) {
  const find = () => {
    for (const dir of ['/usr/bin', ...fs.readdirSync('/usr/lib/postgresql', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `/usr/lib/postgresql/${d.name}/bin`)]) {
      if (fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
    }
    return undefined;
  };
  let tool = fs.existsSync('/usr/lib/postgresql') ? find() : undefined;
  if (!tool) {
    console.error(`${name} not found: installing postgresql-client with apt-get`);
    aptGet(['update', '-qq']);
    aptGet(['install', '-y', '-qq', '--no-install-recommends', 'postgresql-client']);
    tool = find();
  }
  if (!tool) throw new Error(`${name} is not available; install postgresql-client`);
  return tool;
}

/**
 * Runs apt-get without prompts (CI): as is when root, else through `sudo -n` (which fails rather
 * than ask for a password) when there is a sudo. Its output goes to standard error, leaving
 * standard output to the benchmarks' results.
 */
function aptGet(args) {
  const sudo = process.getuid() !== 0 && onPath('sudo') ? ['sudo', '-n'] : [];
  const [command, ...rest] = [...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
  execFileSync(command, rest, { stdio: ['ignore', process.stderr, 'inherit'] });
}

function onPath(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && fs.existsSync(`${dir}/${command}`));
}

/** Runs one query on its own connection (for setup and checks, not timed paths). */
export async function queryOnce(url, text) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Starts the CloudEvents receiver process (bench/cloudevents-receiver.mjs); resolves once it listens. */
export async function startReceiver(args) {
  const child = spawn(process.execPath, [new URL('./cloudevents-receiver.mjs', import.meta.url).pathname, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
  });
  const port = Number(line);
  return {
    port,
    stats: async (sinceMs = 0) => (await fetch(`http://127.0.0.1:${port}/stats?since=${sinceMs}`)).json(),
    stop: () => child.kill('SIGTERM'),
  };
}
