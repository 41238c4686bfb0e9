/**
 * Shared pieces of the benchmarks: an embedded PostgreSQL tuned like a real server, the benchmark
 * table and workload, timing of child processes with their peak memory, and the reference tools
 * (pg_recvlogical, pg_dump, psql) from Debian's postgresql-client, installed when missing, and the
 * CloudEvents receiver process.
 */
import { execFileSync, spawn } from 'node:child_process';
import readline from 'node:readline';
import fs from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres } from '../dist/embedded/embedded-postgres-server.js';

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

export async function startBenchServer(major = Number(process.env.PGCDC_BENCH_PG ?? 18)) {
  return startEmbeddedPostgres({ major, settings: BENCH_SETTINGS });
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
export async function runScaledWorkload(admin, url, scale = Number(process.env.PGCDC_BENCH_SCALE ?? 1)) {
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
export async function prepareStreamWorkload(url, slots, scale = Number(process.env.PGCDC_BENCH_SCALE ?? 1)) {
  const admin = await prepareBenchSource(url, slots);
  try {
    return await runScaledWorkload(admin, url, scale);
  } finally {
    await admin.end();
  }
}

/** Times pg_recvlogical decoding `slot` (pgoutput, publication bench_pub) up to `endLsn` into /dev/null: the server's ceiling. */
export function timeRecvlogical(url, slot, endLsn, major) {
  const protocol = major >= 16 ? 4 : major >= 15 ? 3 : 2;
  return timeCommand(referenceTool('pg_recvlogical'), [
    '-d', url, '--slot', slot, '--start', '--endpos', endLsn, '--no-loop', '-f', '/dev/null',
    '-o', `proto_version=${protocol}`, '-o', 'publication_names=bench_pub', '-o', 'messages=true', '-o', 'streaming=on',
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

/** Runs a command to completion; returns wall seconds and peak RSS in MiB (VmHWM polled from /proc). */
export function timeCommand(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'], env: { ...process.env, ...options.env } });
    let stderr = '';
    let peakKiB = 0;
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const poll = setInterval(() => {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const match = /VmHWM:\s+(\d+) kB/.exec(status);
        if (match) peakKiB = Math.max(peakKiB, Number(match[1]));
      } catch {
        // the process is gone
      }
    }, 20);
    child.on('close', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${stderr}`));
      else resolve({ seconds, peakMiB: peakKiB / 1024, stderr });
    });
  });
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
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql-client'], { stdio: 'inherit' });
    tool = find();
  }
  if (!tool) throw new Error(`${name} is not available; install postgresql-client`);
  return tool;
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
