/**
 * A private RabbitMQ server for the tests and the benchmark: Debian's rabbitmq-server started on
 * free loopback ports (AMQP, Erlang distribution, and its own epmd, so nothing is shared with other
 * Erlang nodes), its data, logs, config and Erlang cookie in a temporary directory; a user and
 * password from the config file; ready once an AMQP login succeeds. Stopped, killed (-9) and started
 * again on the same ports and data. Plus a consumer reading every message of a queue as the
 * Kafka oracles' records.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll } from 'vitest';
import type { KafkaRecord } from './kafka-cluster.js';
import { acceptsConnections, ensureProgram, freeLoopbackPort, ServerProcess } from './server-process.js';
import { tempDir } from './stream-fixtures.js';

export const RABBITMQ_USER = 'pgcdc';
export const RABBITMQ_PASSWORD = 'pgcdc-secret';

export interface RabbitMQServerOptions {
  /** rabbitmq.conf's `max_message_size` (bytes); the server's default (128 MiB) when undefined. */
  readonly maxMessageSize?: number;
  /** Also listen for AMQP over TLS (`tlsPort`), with a certificate for localhost signed by a CA of its own (`caFile`). */
  readonly tls?: boolean;
}

/** A CA and a server certificate for localhost and 127.0.0.1 it signed, made with openssl in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=pgcdc test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr'));
  fs.writeFileSync(file('server.ext'), 'subjectAltName = DNS:localhost, IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('server.ext'), '-out', file('server.pem'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

export class RabbitMQServer {
  readonly port: number;
  readonly dir: string;
  /** The TLS listener's port and the CA file that signed its certificate (servers started with `tls`). */
  tlsPort: number | undefined;
  caFile: string | undefined;
  readonly #epmd: ServerProcess;
  readonly #server: ServerProcess;
  readonly #env: NodeJS.ProcessEnv;

  private constructor(port: number, dir: string, epmd: ServerProcess, server: ServerProcess, env: NodeJS.ProcessEnv) {
    this.port = port;
    this.dir = dir;
    this.#epmd = epmd;
    this.#server = server;
    this.#env = env;
  }

  /** Runs `rabbitmqctl` against this broker (its node name, cookie and epmd); returns its output. */
  ctl(...args: string[]): string {
    const program = fs.existsSync('/usr/lib/rabbitmq/bin/rabbitmqctl') ? '/usr/lib/rabbitmq/bin/rabbitmqctl' : 'rabbitmqctl';
    return execFileSync(program, args, { env: { ...process.env, ...this.#env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** `amqp://user:password@127.0.0.1:port` (other credentials when given). */
  url(user = RABBITMQ_USER, password = RABBITMQ_PASSWORD): string {
    return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  static async start(options: RabbitMQServerOptions = {}): Promise<RabbitMQServer> {
    ensureProgram('rabbitmq-server', 'rabbitmq-server', ['/usr/lib/rabbitmq/bin']);
    const serverScript = fs.existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? '/usr/lib/rabbitmq/bin/rabbitmq-server' : ensureProgram('rabbitmq-server', 'rabbitmq-server');
    const epmdProgram = ensureProgram('epmd', 'erlang-base');
    const dir = tempDir('pgcdc-rabbitmq-');
    const [port, distPort, epmdPort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, '.erlang.cookie'), `PGCDC${Math.random().toString(36).slice(2).toUpperCase()}`, { mode: 0o600 });
    const tlsPort = options.tls ? await freeLoopbackPort() : undefined;
    const certificates = options.tls ? makeCertificates(dir) : undefined;
    const config = path.join(dir, 'rabbitmq.conf');
    fs.writeFileSync(
      config,
      [
        `listeners.tcp.default = 127.0.0.1:${port}`,
        `default_user = ${RABBITMQ_USER}`,
        `default_pass = ${RABBITMQ_PASSWORD}`,
        'loopback_users = none',
        'disk_free_limit.absolute = 50MB',
        'log.console = true',
        'log.file = false',
        ...(options.maxMessageSize === undefined ? [] : [`max_message_size = ${options.maxMessageSize}`]),
        ...(certificates === undefined
          ? []
          : [
              `listeners.ssl.default = 127.0.0.1:${tlsPort}`,
              `ssl_options.cacertfile = ${certificates.ca}`,
              `ssl_options.certfile = ${certificates.cert}`,
              `ssl_options.keyfile = ${certificates.key}`,
              'ssl_options.verify = verify_none',
              'ssl_options.fail_if_no_peer_cert = false',
            ]),
      ].join('\n') + '\n',
    );
    const plugins = path.join(dir, 'enabled_plugins');
    fs.writeFileSync(plugins, '[].\n');
    const env: NodeJS.ProcessEnv = {
      HOME: home,
      ERL_EPMD_PORT: String(epmdPort),
      RABBITMQ_NODENAME: `pgcdc${port}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(dir, 'log'),
      RABBITMQ_CONFIG_FILE: config,
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
      RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
      RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
      // The script then execs the Erlang VM in place of itself (as under systemd), so a kill reaches
      // the broker itself rather than a wrapper shell.
      NOTIFY_SOCKET: path.join(dir, 'no-systemd.sock'),
    };
    const epmd = await ServerProcess.start({
      name: 'epmd',
      command: epmdProgram,
      args: ['-port', String(epmdPort), '-address', '127.0.0.1'],
      env: { HOME: home },
      ready: () => acceptsConnections(epmdPort),
    });
    const url = `amqp://${RABBITMQ_USER}:${RABBITMQ_PASSWORD}@127.0.0.1:${port}`;
    try {
      const server = await ServerProcess.start({
        name: 'rabbitmq-server',
        command: serverScript,
        args: [],
        env,
        cwd: dir,
        startTimeoutMs: 120_000,
        ready: async () => {
          const connection = await amqp.connect(url);
          await connection.close();
          return true;
        },
      });
      const started = new RabbitMQServer(port, dir, epmd, server, env);
      started.tlsPort = tlsPort;
      started.caFile = certificates?.ca;
      return started;
    } catch (error) {
      await epmd.kill();
      throw error;
    }
  }

  /** Kills the broker with SIGKILL (a crash); its data stays. */
  kill(): Promise<void> {
    return this.#server.kill();
  }

  /** Starts the broker again after `kill` or `stop`, on the same ports and data. */
  restart(): Promise<void> {
    return this.#server.restart();
  }

  async stop(): Promise<void> {
    await this.#server.stop();
    await this.#epmd.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Declares a durable queue bound to a topic exchange (declared durable too) with `bindingKey`. */
  async bindQueue(queue: string, exchange: string, bindingKey = '#'): Promise<void> {
    await this.#withChannel(async (channel) => {
      await channel.assertExchange(exchange, 'topic', { durable: true });
      await channel.assertQueue(queue, { durable: true });
      await channel.bindQueue(queue, exchange, bindingKey);
    });
  }

  /** Messages ready in `queue`. */
  async queueDepth(queue: string): Promise<number> {
    return this.#withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);
  }

  /**
   * Every message of `queue` (consumed and acknowledged), in queue order, once `count` arrived or
   * nothing more came for `quietMs`.
   */
  async consume(queue: string, options: { readonly count?: number; readonly quietMs?: number } = {}): Promise<RabbitMQMessage[]> {
    const quietMs = options.quietMs ?? 3000;
    const connection = await amqp.connect(this.url());
    try {
      const channel = await connection.createChannel();
      await channel.prefetch(1000);
      const messages: RabbitMQMessage[] = [];
      await new Promise<void>((resolve, reject) => {
        let timer = setTimeout(resolve, quietMs);
        channel.on('error', reject);
        void channel
          .consume(queue, (message) => {
            if (message === null) return;
            messages.push(toMessage(message));
            channel.ack(message);
            clearTimeout(timer);
            if (options.count !== undefined && messages.length >= options.count) resolve();
            else timer = setTimeout(resolve, quietMs);
          })
          .catch(reject);
      });
      await channel.close();
      return messages;
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  async #withChannel<T>(use: (channel: amqp.Channel) => Promise<T>): Promise<T> {
    const connection = await amqp.connect(this.url());
    try {
      const channel = await connection.createChannel();
      return await use(channel);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}

/** One consumed message: body, properties and headers as strings. */
export interface RabbitMQMessage {
  readonly routingKey: string;
  readonly exchange: string;
  /** Null for an empty body (a tombstone). */
  readonly body: string | null;
  readonly messageId: string | undefined;
  readonly contentType: string | undefined;
  readonly deliveryMode: number | undefined;
  readonly timestamp: number | undefined;
  readonly headers: Record<string, string>;
  readonly redelivered: boolean;
}

function toMessage(message: amqp.ConsumeMessage): RabbitMQMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.properties.headers ?? {})) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  return {
    routingKey: message.fields.routingKey,
    exchange: message.fields.exchange,
    body: message.content.length === 0 ? null : message.content.toString('utf8'),
    messageId: message.properties.messageId as string | undefined,
    contentType: message.properties.contentType as string | undefined,
    deliveryMode: message.properties.deliveryMode as number | undefined,
    timestamp: message.properties.timestamp as number | undefined,
    headers,
    redelivered: message.fields.redelivered,
  };
}

/** Messages as the Kafka oracles' records: the routing key as the topic, the `pgcdc-key` header as the key. */
export function asKafkaRecords(messages: readonly RabbitMQMessage[]): KafkaRecord[] {
  return messages.map((message, offset) => ({
    topic: message.routingKey,
    partition: 0,
    offset: String(offset),
    key: message.headers['pgcdc-key'] ?? null,
    value: message.body,
    headers: message.headers,
    timestamp: String(message.timestamp ?? 0),
  })) as unknown as KafkaRecord[];
}

/** The messages once each, the first of each message-id (a consumer de-duplicating by message-id). */
export function deduplicated(messages: readonly RabbitMQMessage[]): RabbitMQMessage[] {
  const seen = new Set<string>();
  return messages.filter((message) => {
    if (message.messageId === undefined) return true;
    if (seen.has(message.messageId)) return false;
    seen.add(message.messageId);
    return true;
  });
}

/** A RabbitMQ server for the test file, started before its tests and stopped after. */
export function useRabbitMQServer(options: RabbitMQServerOptions = {}): () => RabbitMQServer {
  let server: RabbitMQServer | undefined;
  beforeAll(async () => {
    server = await RabbitMQServer.start(options);
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);
  return () => server!;
}
