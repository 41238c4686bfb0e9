/**
 * Real Apache Kafka 4 clusters for the tests: one or three KRaft nodes (broker and controller in
 * each, no ZooKeeper) on loopback ports, from the jars `test/jvm/resolve.sh kafka` fetches, with
 * topic administration, a producer and an independent reader (test/jvm/TopicDump.java) that all
 * use Kafka's own Java clients. On request also secured client listeners (SASL_PLAINTEXT and SASL_SSL
 * with PLAIN and SCRAM users, SSL with a CA made for the cluster) and an authorizer with ACLs; the
 * harness's own tools keep the PLAINTEXT listener. No broker outlives the test process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const JVM_SOURCES = path.join(ROOT, 'test', 'jvm');
const JVM_DIR = path.join(ROOT, '.jvm', 'kafka');
const LIB_DIR = path.join(JVM_DIR, 'lib');
const PROGRAMS = ['KafkaBroker.java', 'KafkaAdmin.java', 'TopicDump.java'];
/** The line kafka.server.KafkaRaftServer logs once the node serves clients. */
const STARTED = 'Kafka Server started';
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;
/** Flags of the short-lived client JVMs: a quick start matters more than peak speed. */
const TOOL_JVM_FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'];

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** UTF-8 text, or null. */
  readonly key: string | null;
  readonly value: string | null;
  /** A header name that repeats keeps its last value. */
  readonly headers: Record<string, string | null>;
  readonly timestamp: number;
}

/** A record to produce; no partition lets the default partitioner choose (by key). */
export interface KafkaRecordToProduce {
  readonly key?: string | null;
  readonly value?: string | null;
  readonly partition?: number;
  readonly headers?: Record<string, string | null>;
}

export interface KafkaPartitionDescription {
  readonly partition: number;
  /** Node id of the leader, or null while there is none. */
  readonly leader: number | null;
  readonly replicas: number[];
  readonly isr: number[];
}

export interface KafkaTopicDescription {
  readonly name: string;
  readonly partitions: KafkaPartitionDescription[];
}

/** Client listeners a cluster can have besides PLAINTEXT. */
export type KafkaSecureListener = 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL';
const SECURE_LISTENERS: readonly KafkaSecureListener[] = ['SASL_PLAINTEXT', 'SSL', 'SASL_SSL'];
/** The SASL mechanisms every user of a SASL listener has. */
const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export interface KafkaBrokerNode {
  readonly nodeId: number;
  /** The client (PLAINTEXT) port on 127.0.0.1. */
  readonly port: number;
  /** The port of each secured listener the cluster has, on 127.0.0.1. */
  readonly listenerPorts: Readonly<Partial<Record<KafkaSecureListener, number>>>;
  /** Its stdout and stderr (WARN and up, plus the start line), across restarts. */
  readonly logFile: string;
  readonly running: boolean;
  /** Graceful stop (SIGTERM: Kafka's controlled shutdown); SIGKILL after 30 s. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same data directory and ports, and waits until it serves. */
  start(): Promise<void>;
}

export interface KafkaClusterOptions {
  /** Number of nodes, each broker and controller (default 1). */
  readonly brokers?: 1 | 3;
  /** server.properties entries that override the harness's. */
  readonly brokerConfig?: Record<string, string>;
  /**
   * JVM options of each node, after the harness's (the later wins): e.g. ['-XX:TieredStopAtLevel=4']
   * for the full JIT in a throughput benchmark, ['-Xmx1g'] for a bigger heap.
   */
  readonly jvmOptions?: readonly string[];
  /**
   * Client listeners besides PLAINTEXT (which the harness's tools and the brokers among themselves
   * keep using): SASL_PLAINTEXT and SASL_SSL take each of `users` with PLAIN, SCRAM-SHA-256 and
   * SCRAM-SHA-512; SSL and SASL_SSL present a certificate for 127.0.0.1 and localhost signed by a CA
   * made for this cluster (`caCertificateFile`). Default none.
   */
  readonly listeners?: readonly KafkaSecureListener[];
  /** SASL users, name → password (SCRAM credentials are written when the nodes are formatted). */
  readonly users?: Readonly<Record<string, string>>;
  /**
   * Kafka's StandardAuthorizer: a SASL user may do only what an ACL (`addAcl`) allows; the
   * ANONYMOUS principal of the PLAINTEXT, SSL and controller listeners (the harness's tools, the
   * brokers themselves) is a super user. Default off.
   */
  readonly authorizer?: boolean;
}

/** An ACL's resource: `cluster` is named kafka-cluster; "*" names every resource of its type. */
export interface KafkaAclResource {
  readonly type: 'topic' | 'group' | 'cluster' | 'transactional-id';
  readonly name: string;
  /** The name is a prefix (default: the literal name). */
  readonly prefixed?: boolean;
}

export interface CreateTopicOptions {
  readonly partitions?: number;
  /** Default: the number of brokers. */
  readonly replicationFactor?: number;
  readonly config?: Record<string, string>;
}

export interface ConsumeOptions {
  /** Default read_committed. */
  readonly isolation?: 'read_committed' | 'read_uncommitted';
  /** Waits until at least this many records are there (then reads to the end offsets of that moment). */
  readonly expect?: number;
  /** Default 30 s. */
  readonly timeoutMs?: number;
}

export interface KafkaCluster {
  /** host:port of every broker, comma-separated (the PLAINTEXT listener). */
  readonly bootstrapServers: string;
  /** The same for each secured listener of `KafkaClusterOptions.listeners`. */
  readonly listenerBootstrapServers: Readonly<Partial<Record<KafkaSecureListener, string>>>;
  /** PEM file of the CA that signed the brokers' certificates, with an SSL or SASL_SSL listener. */
  readonly caCertificateFile: string | undefined;
  readonly brokers: readonly KafkaBrokerNode[];
  /** Creates a topic and waits until every partition has a leader. */
  createTopic(name: string, options?: CreateTopicOptions): Promise<KafkaTopicDescription>;
  describeTopic(name: string): Promise<KafkaTopicDescription>;
  deleteTopic(name: string): Promise<void>;
  /** The current leader's node id, or null. */
  leaderOf(topic: string, partition: number): Promise<number | null>;
  /** Waits until the partition has a leader (other than `notNodeId`); returns its node id. */
  waitForLeader(topic: string, partition: number, notNodeId?: number, timeoutMs?: number): Promise<number>;
  /** Sets topic configs (e.g. max.message.bytes) and waits until the cluster describes them. */
  alterTopicConfig(name: string, config: Record<string, string>): Promise<void>;
  /**
   * Allows `principal` (User:alice) `operation` (Write, Create, Describe, IdempotentWrite, All …) on a
   * resource from any host, and waits until a broker lists it; needs `authorizer`.
   */
  addAcl(principal: string, operation: string, resource: KafkaAclResource): Promise<void>;
  /** Sends the records in order (acks=all, idempotent); returns where each landed. */
  produce(topic: string, records: readonly KafkaRecordToProduce[]): Promise<{ partition: number; offset: number }[]>;
  /** Every record of the topics whose whole name matches the regex, read from the beginning by TopicDump. */
  consume(topicRegex: string, options?: ConsumeOptions): Promise<KafkaRecord[]>;
  /** Kills every broker and removes the data directories. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Processes: every Java child is killed when this process exits; a broker also halts by itself
// when its standard input (a pipe from this process) closes, which covers deaths by signal.

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

// ---------------------------------------------------------------------------------------------
// Jars and the Java programs.

export interface KafkaJars {
  /** The directory of the resolved jars. */
  readonly lib: string;
  /** -cp value: the compiled test/jvm programs, then every jar. */
  readonly classpath: string;
}

let jars: Promise<KafkaJars> | undefined;

/**
 * Resolves the Kafka jars (test/jvm/resolve.sh kafka, which skips the work when the pom is
 * unchanged) and compiles the programs in test/jvm once; once per process.
 */
export function ensureKafkaJars(): Promise<KafkaJars> {
  jars ??= (async () => {
    await run('bash', [path.join(JVM_SOURCES, 'resolve.sh'), 'kafka'], 15 * 60_000);
    const classes = await compilePrograms();
    return { lib: LIB_DIR, classpath: `${classes}${path.delimiter}${LIB_DIR}/*` };
  })();
  jars.catch(() => (jars = undefined));
  return jars;
}

/** Compiles the programs into .jvm/kafka/classes/<hash of pom and sources>, shared by processes. */
async function compilePrograms(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [path.join(JVM_SOURCES, 'kafka', 'pom.xml'), ...PROGRAMS.map((p) => path.join(JVM_SOURCES, p))]) {
    hash.update(fs.readFileSync(file));
  }
  const parent = path.join(JVM_DIR, 'classes');
  const classes = path.join(parent, hash.digest('hex').slice(0, 16));
  if (fs.existsSync(classes)) return classes;
  fs.mkdirSync(parent, { recursive: true });
  const building = fs.mkdtempSync(path.join(parent, 'building-'));
  try {
    await run('javac', ['-nowarn', '-d', building, '-cp', `${LIB_DIR}/*`, ...PROGRAMS.map((p) => path.join(JVM_SOURCES, p))], 120_000);
    try {
      fs.renameSync(building, classes);
    } catch (error) {
      if (!fs.existsSync(classes)) throw error; // another process compiled the same sources first
    }
  } finally {
    fs.rmSync(building, { recursive: true, force: true });
  }
  return classes;
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; rejects on a non-zero exit. */
async function run(command: string, args: readonly string[], timeoutMs: number, input?: string): Promise<RunResult> {
  const result = await runAny(command, args, timeoutMs, input);
  if (result.code !== 0) {
    throw new Error(`${path.basename(command)} ${args.slice(-3).join(' ')} exited with ${result.code}: ${result.stderr.trim().slice(-4000)}`);
  }
  return result;
}

function runAny(command: string, args: readonly string[], timeoutMs: number, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd: ROOT, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 30, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`${path.basename(command)} failed: ${error.message}${stderr ? `\n${stderr.slice(-4000)}` : ''}`));
        return;
      }
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
    track(child);
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

interface JavaRunOptions {
  readonly timeoutMs?: number;
  readonly input?: string;
  /** The heap's limit (-Xmx) when the tools' 256 MiB is too little. */
  readonly maxHeap?: string;
}

/** Runs one of the test/jvm programs. */
async function java(mainClass: string, args: readonly string[], options: JavaRunOptions = {}): Promise<RunResult> {
  const { classpath } = await ensureKafkaJars();
  const flags = options.maxHeap === undefined ? TOOL_JVM_FLAGS : [...TOOL_JVM_FLAGS, `-Xmx${options.maxHeap}`];
  return runAny('java', [...flags, '-cp', classpath, mainClass, ...args], options.timeoutMs ?? 60_000, options.input);
}

async function javaOk(mainClass: string, args: readonly string[], options: JavaRunOptions = {}): Promise<string> {
  const result = await java(mainClass, args, options);
  if (result.code !== 0) throw new Error(`${mainClass} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim().slice(-4000)}`);
  return result.stdout;
}

// ---------------------------------------------------------------------------------------------
// The cluster.

/**
 * Free loopback ports, all distinct (each held until all are found), picked below the kernel's
 * ephemeral range: a broker restarts on its old ports, which an outgoing connection could have
 * taken in the meantime if they were ephemeral ones.
 */
async function freePorts(count: number): Promise<number[]> {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the usual default
  }
  const [from, to] = low > 12000 ? [10000, low] : [0, 0];
  const servers: net.Server[] = [];
  const listen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(undefined));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
        servers.push(server);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  try {
    const ports: number[] = [];
    for (let tries = 0; ports.length < count; tries++) {
      // Past 500 collisions, whatever port the kernel gives.
      const port = await listen(tries < 500 && to > from ? from + Math.floor(Math.random() * (to - from)) : 0);
      if (port !== undefined) ports.push(port);
      else if (tries > 1000) throw new Error('no free loopback port');
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

const LOG4J2 = `# Broker logging for the tests: warnings and errors, and the line that says the node serves.
status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
`;

/** What a node needs to know about the cluster's secured listeners. */
interface SecuritySettings {
  readonly listenerPorts: Partial<Record<KafkaSecureListener, number>>;
  readonly users: Readonly<Record<string, string>>;
  /** The broker's PEM key store (key and certificate chain) and the CA, with SSL listeners. */
  readonly tls: { readonly keyStore: string; readonly ca: string } | undefined;
  readonly authorizer: boolean;
}

/** server.properties entries of the secured listeners and the authorizer. */
function securityProperties(security: SecuritySettings): Record<string, string> {
  const settings: Record<string, string> = {};
  const mechanisms = SASL_MECHANISMS.join(',');
  for (const listener of Object.keys(security.listenerPorts) as KafkaSecureListener[]) {
    if (!listener.startsWith('SASL_')) continue;
    settings['sasl.enabled.mechanisms'] = mechanisms;
    const prefix = `listener.name.${listener.toLowerCase()}`;
    settings[`${prefix}.sasl.enabled.mechanisms`] = mechanisms;
    const plainUsers = Object.entries(security.users).map(([name, password]) => ` user_${name}="${password}"`).join('');
    settings[`${prefix}.plain.sasl.jaas.config`] = `org.apache.kafka.common.security.plain.PlainLoginModule required${plainUsers};`;
    for (const scram of ['scram-sha-256', 'scram-sha-512']) {
      settings[`${prefix}.${scram}.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    }
  }
  if (security.tls) {
    Object.assign(settings, {
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': security.tls.keyStore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': security.tls.ca,
      'ssl.client.auth': 'none',
    });
  }
  if (security.authorizer) {
    settings['authorizer.class.name'] = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';
    settings['super.users'] = 'User:ANONYMOUS';
  }
  return settings;
}

function serverProperties(
  nodeId: number,
  count: number,
  dataDir: string,
  port: number,
  controllerPorts: number[],
  security: SecuritySettings,
  overrides: Record<string, string>,
): string {
  const minIsr = String(Math.min(2, count));
  const secured = Object.entries(security.listenerPorts).map(([listener, listenerPort]) => `,${listener}://127.0.0.1:${listenerPort}`).join('');
  const settings: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': String(nodeId),
    'controller.quorum.voters': controllerPorts.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(','),
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPorts[nodeId - 1]}${secured}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}${secured}`,
    'listener.security.protocol.map': ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...SECURE_LISTENERS.map((l) => `${l}:${l}`)].join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': dataDir,
    'auto.create.topics.enable': 'false',
    'num.partitions': '1',
    'default.replication.factor': String(count),
    'offsets.topic.replication.factor': String(count),
    'offsets.topic.num.partitions': '5',
    'transaction.state.log.replication.factor': String(count),
    // One node of three may be down without stopping transactions.
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': '5',
    'share.coordinator.state.topic.replication.factor': String(count),
    'share.coordinator.state.topic.min.isr': minIsr,
    'group.initial.rebalance.delay.ms': '0',
    // Few threads and small buffers: up to three nodes share two cores.
    'num.network.threads': '2',
    'num.io.threads': '2',
    'num.recovery.threads.per.data.dir': '1',
    'num.replica.fetchers': '1',
    'background.threads': '2',
    'log.cleaner.threads': '1',
    'log.cleaner.dedupe.buffer.size': String(8 * 1024 * 1024),
    // A stopped or killed node is noticed within seconds.
    'broker.heartbeat.interval.ms': '500',
    'broker.session.timeout.ms': '3000',
    'replica.lag.time.max.ms': '10000',
    'controlled.shutdown.enable': 'true',
    ...securityProperties(security),
    ...overrides,
  };
  return Object.entries(settings).map(([key, value]) => `${key}=${value}`).join('\n') + '\n';
}

class Node implements KafkaBrokerNode {
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(
    readonly nodeId: number,
    readonly port: number,
    readonly listenerPorts: Partial<Record<KafkaSecureListener, number>>,
    private readonly dir: string,
    private readonly clusterId: string,
    private readonly jvmOptions: readonly string[],
    /** Arguments of the format after the cluster id (--add-scram …). */
    private readonly formatArgs: readonly string[],
  ) {
    this.logFile = path.join(dir, 'broker.log');
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const { classpath } = await ensureKafkaJars();
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn(
      'java',
      [
        '-Xms64m',
        '-Xmx512m',
        '-XX:+UseSerialGC',
        // C1 only: three nodes on two cores start in 4.5 s instead of 6.6 s (7 s instead of 15 s
        // when other work loads the machine); test loads do not need C2's peak speed.
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        ...this.jvmOptions,
        `-Dlog4j2.configurationFile=${path.join(this.dir, 'log4j2.properties')}`,
        `-Dkafka.logs.dir=${path.join(this.dir, 'logs')}`,
        '-cp',
        classpath,
        'KafkaBroker',
        '--format',
        this.clusterId,
        ...this.formatArgs,
        path.join(this.dir, 'server.properties'),
      ],
      { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    track(child);
    this.child = child;
    // 'close': the process has exited and its output has all been written to the log.
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.once('close', () => {
      if (this.child === child) this.child = undefined;
      fs.closeSync(log);
    });
    let seen = '';
    let started = false;
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        fs.writeSync(log, chunk);
        if (started) return;
        seen = (seen + chunk.toString('utf8')).slice(-4096);
        if (seen.includes(STARTED)) {
          started = true;
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (!started) reject(new Error(`Kafka node ${this.nodeId} exited before it started (${signal ?? code}):\n${tail(this.logFile)}`));
      });
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Kafka node ${this.nodeId} did not start within ${START_TIMEOUT_MS} ms:\n${tail(this.logFile)}`)), START_TIMEOUT_MS);
        }),
      ]);
      await connectable(this.port);
    } catch (error) {
      await this.kill();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '(no log)';
  }
}

function connectable(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** Starts a cluster; all nodes start together (a node serves only once the quorum has a leader). */
export async function startKafkaCluster(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const count = options.brokers ?? 1;
  const listeners = SECURE_LISTENERS.filter((listener) => options.listeners?.includes(listener));
  const users = options.users ?? {};
  for (const [name, password] of Object.entries(users)) {
    // Neither StorageTool's --add-scram syntax nor the JAAS line in server.properties is quoted here.
    if (!/^[\w.-]+$/.test(name) || !/^[\w.-]+$/.test(password)) throw new Error(`SASL user ${name}: use only letters, digits, "_", "." and "-" in names and passwords`);
  }
  await ensureKafkaJars();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcdc-kafka-'));
  const ports = await freePorts(count * (2 + listeners.length));
  const clientPorts = ports.slice(0, count);
  const controllerPorts = ports.slice(count, 2 * count);
  const listenerPorts = (nodeId: number): Partial<Record<KafkaSecureListener, number>> =>
    Object.fromEntries(listeners.map((listener, i) => [listener, ports[(2 + i) * count + nodeId - 1]!]));
  let tls: SecuritySettings['tls'];
  try {
    tls = listeners.some((listener) => listener.endsWith('SSL')) ? await makeCertificates(path.join(root, 'tls')) : undefined;
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const formatArgs = listeners.some((listener) => listener.startsWith('SASL_'))
    ? Object.entries(users).flatMap(([name, password]) =>
        ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${name},password=${password}]`]),
      )
    : [];
  // A Kafka cluster id: 16 random bytes in URL-safe base64 without padding, not starting with "-"
  // (as Kafka's own Uuid.randomUuid() makes them: command lines would read it as an option).
  let clusterId: string;
  do clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-'));
  const nodes: Node[] = [];
  for (let nodeId = 1; nodeId <= count; nodeId++) {
    const dir = path.join(root, `node-${nodeId}`);
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'log4j2.properties'), LOG4J2);
    const security: SecuritySettings = { listenerPorts: listenerPorts(nodeId), users, tls, authorizer: options.authorizer ?? false };
    fs.writeFileSync(
      path.join(dir, 'server.properties'),
      serverProperties(nodeId, count, path.join(dir, 'data'), clientPorts[nodeId - 1]!, controllerPorts, security, options.brokerConfig ?? {}),
    );
    nodes.push(new Node(nodeId, clientPorts[nodeId - 1]!, security.listenerPorts, dir, clusterId, options.jvmOptions ?? [], formatArgs));
  }
  const bootstrapServers = clientPorts.map((port) => `127.0.0.1:${port}`).join(',');
  const listenerBootstrapServers = Object.fromEntries(
    listeners.map((listener) => [listener, nodes.map((node) => `127.0.0.1:${node.listenerPorts[listener]}`).join(',')]),
  ) as Partial<Record<KafkaSecureListener, string>>;

  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.kill()));
    fs.rmSync(root, { recursive: true, force: true });
  };
  const started = await Promise.allSettled(nodes.map((node) => node.start()));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }

  const describeTopic = async (name: string): Promise<KafkaTopicDescription> =>
    JSON.parse(await javaOk('KafkaAdmin', ['describe-topic', bootstrapServers, name])) as KafkaTopicDescription;

  return {
    bootstrapServers,
    listenerBootstrapServers,
    caCertificateFile: tls?.ca,
    brokers: nodes,
    async createTopic(name, topic = {}) {
      const config = Object.entries(topic.config ?? {}).map(([key, value]) => `${key}=${value}`);
      const args = ['create-topic', bootstrapServers, name, String(topic.partitions ?? 1), String(topic.replicationFactor ?? count), ...config];
      return JSON.parse(await javaOk('KafkaAdmin', args)) as KafkaTopicDescription;
    },
    describeTopic,
    async deleteTopic(name) {
      await javaOk('KafkaAdmin', ['delete-topic', bootstrapServers, name]);
    },
    async leaderOf(topic, partition) {
      const description = await describeTopic(topic);
      const info = description.partitions.find((p) => p.partition === partition);
      if (!info) throw new Error(`topic ${topic} has no partition ${partition}`);
      return info.leader;
    },
    async waitForLeader(topic, partition, notNodeId, timeoutMs = 30_000) {
      const args = ['wait-leader', bootstrapServers, topic, String(partition), '--timeout-ms', String(timeoutMs)];
      if (notNodeId !== undefined) args.push('--not', String(notNodeId));
      const description = JSON.parse(await javaOk('KafkaAdmin', args, { timeoutMs: timeoutMs + 30_000 })) as KafkaTopicDescription;
      return description.partitions.find((p) => p.partition === partition)!.leader!;
    },
    async alterTopicConfig(name, config) {
      await javaOk('KafkaAdmin', ['alter-topic-config', bootstrapServers, name, ...Object.entries(config).map(([key, value]) => `${key}=${value}`)]);
    },
    async addAcl(principal, operation, resource) {
      const args = ['add-acl', bootstrapServers, principal, operation, resource.type, resource.name];
      if (resource.prefixed) args.push('--prefixed');
      await javaOk('KafkaAdmin', args);
    },
    async produce(topic, records) {
      const input = records.map((record) => JSON.stringify(record)).join('\n') + '\n';
      const output = await javaOk('KafkaAdmin', ['produce', bootstrapServers, topic], { input });
      return lines(output) as { partition: number; offset: number }[];
    },
    async consume(topicRegex, consume = {}) {
      const timeoutMs = consume.timeoutMs ?? 30_000;
      const args = [bootstrapServers, consume.isolation ?? 'read_committed', topicRegex, '--timeout-ms', String(timeoutMs)];
      if (consume.expect !== undefined) args.push('--expect', String(consume.expect));
      // It holds every record until it prints them in offset order: a topic of tens of thousands of records with schemas needs more than 256 MiB.
      return lines(await javaOk('TopicDump', args, { timeoutMs: timeoutMs + 30_000, maxHeap: '2g' })) as KafkaRecord[];
    },
    stop,
  };
}

/**
 * A CA and a broker certificate signed by it for 127.0.0.1 and localhost, made with openssl in
 * `dir`: the CA's PEM, and a PEM key store (unencrypted PKCS#8 key, then the certificate chain) as
 * Kafka's ssl.keystore.type=PEM reads it.
 */
async function makeCertificates(dir: string): Promise<{ keyStore: string; ca: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => run('openssl', args, 60_000);
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '30', '-subj', '/CN=pgcdc test Kafka CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('broker.key'), '-out', file('broker.csr'), '-subj', '/CN=localhost']);
  fs.writeFileSync(file('broker.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  await openssl(['x509', '-req', '-in', file('broker.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('broker.pem'), '-days', '30', '-extfile', file('broker.ext')]);
  const keyStore = file('broker-keystore.pem');
  fs.writeFileSync(keyStore, [file('broker.key'), file('broker.pem'), file('ca.pem')].map((f) => fs.readFileSync(f, 'utf8')).join(''));
  return { keyStore, ca: file('ca.pem') };
}

function lines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}

/** Starts one cluster for the current test file and stops it afterwards. */
export function useKafkaCluster(options: KafkaClusterOptions = {}): () => KafkaCluster {
  let cluster: KafkaCluster | undefined;
  // Generous: the first run on a machine downloads the jars.
  beforeAll(async () => {
    cluster = await startKafkaCluster(options);
  }, 15 * 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error('Kafka cluster not started');
    return cluster;
  };
}
