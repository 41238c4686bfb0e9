/**
 * Debezium's PostgreSQL connector on a Kafka Connect standalone worker, the reference the Kafka
 * target's records are compared with: one JVM from the jars `test/jvm/resolve.sh debezium` fetches,
 * writing JsonConverter records to a given broker, its offsets in a file of its own temporary
 * directory, its REST API on a free loopback port. No worker outlives the test process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LIB_DIR = path.join(ROOT, '.jvm', 'debezium', 'lib');
const CONNECTOR_CLASS = 'io.debezium.connector.postgresql.PostgresConnector';
/** Logged by Debezium's ChangeEventSourceCoordinator when the snapshot phase has ended (or was skipped). */
const SNAPSHOT_DONE = /Snapshot ended with SnapshotResult \[status=(COMPLETED|SKIPPED)/;
/** Logged by Debezium's ChangeEventSourceCoordinator when the snapshot was aborted. */
const SNAPSHOT_FAILED = /Snapshot ended with SnapshotResult \[status=ABORTED/;
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const SETPRIV = '/usr/bin/setpriv';

export interface DebeziumConnectOptions {
  readonly bootstrapServers: string;
  /** postgres://user:password@host:port/database */
  readonly postgresUrl: string;
  /** The connector's name; also names its replication slot and publication unless overridden. */
  readonly name: string;
  /** topic.prefix: change events go to `<topicPrefix>.<schema>.<table>`. */
  readonly topicPrefix: string;
  /** JsonConverter schemas.enable for keys and values (default true). */
  readonly schemas?: boolean;
  /** snapshot.mode (default initial). */
  readonly snapshotMode?: string;
  /** Connector properties that add to or override the harness's (e.g. table.include.list). */
  readonly connector?: Record<string, string>;
  /** Worker properties that add to or override the harness's. */
  readonly worker?: Record<string, string>;
  /** Maximum heap of the worker JVM (default 512m). */
  readonly heap?: string;
  /** More JVM options (e.g. for a benchmark's GC), before the main class. */
  readonly jvmArgs?: readonly string[];
}

export interface ConnectorStatus {
  readonly name: string;
  readonly connector: { readonly state: string; readonly worker_id: string; readonly trace?: string };
  readonly tasks: { readonly id: number; readonly state: string; readonly worker_id: string; readonly trace?: string }[];
  readonly type?: string;
}

export interface DebeziumConnect {
  readonly name: string;
  /** Base URL of the worker's REST API, e.g. http://127.0.0.1:41234. */
  readonly restUrl: string;
  /** The temporary directory of the properties files, the offsets file and the log. */
  readonly dir: string;
  /** The JVM's stdout and stderr (log4j2: WARN and up, Debezium and the Connect tasks at INFO). */
  readonly logFile: string;
  readonly slotName: string;
  readonly publicationName: string;
  readonly running: boolean;
  /** GET /connectors/<name>/status. */
  status(): Promise<ConnectorStatus>;
  /** Waits until the snapshot phase has ended (completed, or skipped under snapshot.mode=no_data / never). */
  waitForSnapshotDone(timeoutMs?: number): Promise<void>;
  /**
   * Waits until the connector and its task are RUNNING and its replication slot is active in
   * PostgreSQL (START_REPLICATION has been accepted): changes committed from then on are streamed.
   */
  waitForStreaming(timeoutMs?: number): Promise<void>;
  /** Graceful stop (SIGTERM: Connect stops the task and commits its offsets); SIGKILL after 30 s. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Starts the worker again after stop() or kill(), on the same offsets file and REST port. */
  start(): Promise<void>;
  /** Kills the worker and removes its directory (the log with it). */
  dispose(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Processes: every worker is killed when this process exits.

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

let resolved: Promise<void> | undefined;

/** Resolves the Connect and Debezium jars (skipped when the pom is unchanged); once per process. */
export function ensureDebeziumJars(): Promise<void> {
  resolved ??= new Promise<void>((resolve, reject) => {
    execFile('bash', [path.join(ROOT, 'test', 'jvm', 'resolve.sh'), 'debezium'], { cwd: ROOT, timeout: 15 * 60_000, maxBuffer: 1 << 26 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`test/jvm/resolve.sh debezium failed: ${error.message}\n${stderr.slice(-4000)}`));
      else resolve();
    });
  });
  resolved.catch(() => (resolved = undefined));
  return resolved;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A Java .properties file (read as ISO-8859-1 by Connect: other characters as \\uXXXX escapes). */
function properties(settings: Record<string, string>): string {
  // Backslashes, line breaks, and the separators and blanks that would change a line's meaning are
  // escaped; so are tabs and the like, whose \\u escapes Java reads as plain characters.
  const escape = (text: string, key: boolean): string =>
    text
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(key ? /([=:# !])/g : /^( )/, '\\$1')
      .replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Object.entries(settings).map(([key, value]) => `${escape(key, true)}=${escape(value, false)}`).join('\n') + '\n';
}

/** A replication slot or publication name from the connector's name: lower-case letters, digits, _. */
function identifier(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 50);
}

const LOG4J2 = `# Connect worker logging for the tests: warnings and errors, Debezium and the source tasks at INFO.
status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.debezium.name = io.debezium
logger.debezium.level = info
logger.task.name = org.apache.kafka.connect.runtime.WorkerSourceTask
logger.task.level = info
logger.herder.name = org.apache.kafka.connect.runtime.standalone
logger.herder.level = info
`;

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-6000);
  } catch {
    return '(no log)';
  }
}

/** Starts a worker with the connector; resolves once its REST API answers and the connector exists. */
export async function startDebeziumConnect(options: DebeziumConnectOptions): Promise<DebeziumConnect> {
  await ensureDebeziumJars();
  const url = new URL(options.postgresUrl);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-debezium-'));
  const port = await freePort();
  const restUrl = `http://127.0.0.1:${port}`;
  const schemas = String(options.schemas ?? true);
  const worker: Record<string, string> = {
    'bootstrap.servers': options.bootstrapServers,
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': schemas,
    'value.converter.schemas.enable': schemas,
    'offset.storage.file.filename': path.join(dir, 'offsets.dat'),
    'offset.flush.interval.ms': '1000',
    listeners: restUrl,
    'rest.advertised.host.name': '127.0.0.1',
    'rest.advertised.port': String(port),
    // Debezium's jars are on the classpath and declare their plugins for the ServiceLoader: no scan.
    'plugin.discovery': 'service_load',
    ...options.worker,
  };
  const slotName = options.connector?.['slot.name'] ?? identifier(options.name);
  const publicationName = options.connector?.['publication.name'] ?? `${identifier(options.name)}_pub`;
  const connector: Record<string, string> = {
    name: options.name,
    'connector.class': CONNECTOR_CLASS,
    'tasks.max': '1',
    'database.hostname': url.hostname,
    'database.port': url.port || '5432',
    'database.user': decodeURIComponent(url.username),
    'database.password': decodeURIComponent(url.password),
    'database.dbname': decodeURIComponent(url.pathname.slice(1)),
    'topic.prefix': options.topicPrefix,
    'plugin.name': 'pgoutput',
    'slot.name': slotName,
    'publication.name': publicationName,
    // A publication of the captured tables (table.include.list and the like) as they are when the
    // connector starts: created if missing, brought up to date at each start. A table created
    // while it runs is not captured.
    'publication.autocreate.mode': 'filtered',
    'snapshot.mode': options.snapshotMode ?? 'initial',
    // The brokers do not create topics on their own: Connect creates each topic the connector writes.
    'topic.creation.default.partitions': '1',
    'topic.creation.default.replication.factor': '-1',
    ...options.connector,
  };
  fs.writeFileSync(path.join(dir, 'worker.properties'), properties(worker));
  fs.writeFileSync(path.join(dir, 'connector.properties'), properties(connector));
  fs.writeFileSync(path.join(dir, 'log4j2.properties'), LOG4J2);
  const connect = new Worker(options, dir, restUrl, slotName, publicationName);
  try {
    await connect.start();
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true }); // the error carries the log's tail
    throw error;
  }
  return connect;
}

class FailedError extends Error {}

class Worker implements DebeziumConnect {
  readonly name: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** The snapshot phase of the current run, from its log. */
  private snapshot: 'running' | 'done' | 'failed' = 'running';

  constructor(
    private readonly options: DebeziumConnectOptions,
    readonly dir: string,
    readonly restUrl: string,
    readonly slotName: string,
    readonly publicationName: string,
  ) {
    this.name = options.name;
    this.logFile = path.join(dir, 'connect.log');
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    this.snapshot = 'running';
    const log = fs.openSync(this.logFile, 'a');
    const java = [
      'java',
      '-Xms64m',
      `-Xmx${this.options.heap ?? '512m'}`,
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${path.join(this.dir, 'log4j2.properties')}`,
      ...(this.options.jvmArgs ?? []),
      '-cp',
      `${LIB_DIR}/*`,
      'org.apache.kafka.connect.cli.ConnectStandalone',
      path.join(this.dir, 'worker.properties'),
      path.join(this.dir, 'connector.properties'),
    ];
    // setpriv (util-linux) execs the JVM with a parent-death signal: it dies with this process even
    // when this process is killed and its exit handler does not run.
    const command = fs.existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', ...java] : java;
    const child = spawn(command[0]!, command.slice(1), { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    this.child = child;
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      children.delete(child);
      if (this.child === child) this.child = undefined;
    });
    // Output can still come after 'exit': the log is closed once the pipes are.
    let open = true;
    child.once('close', () => {
      open = false;
      fs.closeSync(log);
    });
    child.once('error', () => undefined);
    // The log is scanned as it comes for the end of the snapshot, so that no line is missed.
    let recent = '';
    const onData = (chunk: Buffer): void => {
      if (open) fs.writeSync(log, chunk);
      if (this.child !== child || this.snapshot !== 'running') return;
      recent = (recent + chunk.toString('utf8')).slice(-8192);
      if (SNAPSHOT_DONE.test(recent)) this.snapshot = 'done';
      else if (SNAPSHOT_FAILED.test(recent)) this.snapshot = 'failed';
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    try {
      await this.poll(`Kafka Connect to create connector ${this.name}`, START_TIMEOUT_MS, async () => (await this.request(this.statusPath())).ok);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  async status(): Promise<ConnectorStatus> {
    const response = await this.request(this.statusPath());
    if (!response.ok) throw new Error(`GET ${this.statusPath()}: ${response.status} ${await response.text()}`);
    return (await response.json()) as ConnectorStatus;
  }

  async waitForSnapshotDone(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    await this.poll(`the snapshot of ${this.name} to end`, timeoutMs, async () => {
      if (this.snapshot === 'failed') throw new FailedError(`the snapshot of ${this.name} was aborted`);
      if (this.snapshot === 'done') return true;
      await this.tasksRunning(); // a failed task fails the wait at once
      return false;
    });
  }

  async waitForStreaming(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    await this.poll(`${this.name} to stream`, timeoutMs, async () => (await this.tasksRunning()) && (await this.slotActive()));
  }

  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  async dispose(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private statusPath(): string {
    return `/connectors/${encodeURIComponent(this.name)}/status`;
  }

  private request(pathname: string): Promise<Response> {
    return fetch(`${this.restUrl}${pathname}`, { signal: AbortSignal.timeout(10_000) });
  }

  /** True when the connector and all its tasks are RUNNING; throws a FailedError when one FAILED. */
  private async tasksRunning(): Promise<boolean> {
    const current = await this.status();
    const failed = [current.connector, ...current.tasks].find((state) => state.state === 'FAILED');
    if (failed) throw new FailedError(`connector ${this.name} failed: ${failed.trace ?? ''}`);
    return current.connector.state === 'RUNNING' && current.tasks.length > 0 && current.tasks.every((task) => task.state === 'RUNNING');
  }

  private async slotActive(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.options.postgresUrl });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const { rows } = await client.query('select active from pg_replication_slots where slot_name = $1', [this.slotName]);
      return rows[0]?.active === true;
    } finally {
      await client.end();
    }
  }

  /** Polls until `check` returns true; fails at once when the worker exits or reports a failure. */
  private async poll(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      if (!this.child) throw new Error(`Kafka Connect is not running while waiting for ${what}:\n${tail(this.logFile)}`);
      try {
        if (await check()) return;
        last = undefined;
      } catch (error) {
        if (error instanceof FailedError) throw new Error(`${error.message}\n${tail(this.logFile)}`);
        last = error;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ''}:\n${tail(this.logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
