/**
 * A real Redis server for the tests (Debian's redis-server, installed when missing): started on a
 * free loopback port with its data in a temporary directory, durable (AOF, fsync on every write),
 * killable with -9 and restartable on the same port and data; and a consumer reading every entry of
 * streams with XRANGE, mapped to the oracles' KafkaRecord shape (topic = stream key, offset = index,
 * key/value from the `key`/`value` fields, every field in `headers`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import type { KafkaRecord } from './kafka-cluster.js';
import { acceptsConnections, ensureProgram, freeLoopbackPort, ServerProcess } from './server-process.js';
import { tempDir } from './stream-fixtures.js';

/** A CA and a server certificate for 127.0.0.1 and localhost, made with openssl in `dir`. */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const openssl = ensureProgram('openssl', 'openssl');
  const file = (name: string) => path.join(dir, name);
  const run = (...args: string[]) => execFileSync(openssl, args, { stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=pgcdc test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr'));
  fs.writeFileSync(file('san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('san.cnf'), '-out', file('server.pem'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

export interface RedisServerOptions {
  /** Extra `--name value` configuration arguments, e.g. `['--requirepass', 'x']`. */
  readonly args?: readonly string[];
  /** Password of the default user, for the harness's own connections. */
  readonly password?: string;
  /** Serve TLS only (certificates made in the data directory: `tlsFiles`). */
  readonly tls?: boolean;
}

export class RedisServer {
  readonly process: ServerProcess;
  readonly port: number;
  readonly dir: string;
  readonly #password: string | undefined;
  /** The CA, certificate and key of a TLS server. */
  readonly tlsFiles: { readonly ca: string; readonly cert: string; readonly key: string } | undefined;

  private constructor(process: ServerProcess, port: number, dir: string, password: string | undefined, tlsFiles: RedisServer['tlsFiles']) {
    this.process = process;
    this.port = port;
    this.dir = dir;
    this.#password = password;
    this.tlsFiles = tlsFiles;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const command = ensureProgram('redis-server', 'redis-server');
    const port = await freeLoopbackPort();
    const dir = tempDir('pgcdc-redis-');
    const tlsFiles = options.tls ? makeCertificates(dir) : undefined;
    const listen = tlsFiles
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tlsFiles.cert, '--tls-key-file', tlsFiles.key, '--tls-ca-cert-file', tlsFiles.ca, '--tls-auth-clients', 'no']
      : ['--port', String(port)];
    const process = await ServerProcess.start({
      name: 'redis-server',
      command,
      args: [...listen, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', ...(options.args ?? [])],
      ready: () => acceptsConnections(port),
    });
    const server = new RedisServer(process, port, dir, options.password, tlsFiles);
    await server.#waitLoaded();
    return server;
  }

  /** `redis://127.0.0.1:<port>` (`rediss://` with TLS). */
  get url(): string {
    return `${this.tlsFiles ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  /** A connection of the default user. */
  client(): Redis {
    return new Redis({
      host: '127.0.0.1',
      port: this.port,
      ...(this.#password ? { password: this.#password } : {}),
      ...(this.tlsFiles ? { tls: { ca: fs.readFileSync(this.tlsFiles.ca, 'utf8') } } : {}),
      maxRetriesPerRequest: 1,
      lazyConnect: false,
    });
  }

  /** Runs `fn` with a connection of the default user. */
  async with<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.client();
    try {
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }

  /** Every entry of the streams whose keys match `pattern` (KEYS glob), stream by stream in key order, each in stream order. */
  async readStreams(pattern: string): Promise<KafkaRecord[]> {
    return this.with(async (client) => {
      const keys = (await client.keys(pattern)).sort();
      const records: KafkaRecord[] = [];
      for (const key of keys) {
        if ((await client.type(key)) !== 'stream') continue;
        let offset = 0;
        for (const [id, fields] of await client.xrange(key, '-', '+')) {
          const headers: Record<string, string> = {};
          for (let i = 0; i < fields.length; i += 2) headers[fields[i]!] = fields[i + 1]!;
          const tombstone = headers['pgcdc-op'] === 'tombstone';
          records.push({ topic: key, partition: 0, offset: offset++, key: headers.key ?? null, value: tombstone ? null : (headers.value ?? null), headers, timestamp: Number(id.split('-')[0]) });
        }
      }
      return records;
    });
  }

  async kill(): Promise<void> {
    await this.process.kill();
  }

  async restart(): Promise<void> {
    await this.process.restart();
    await this.#waitLoaded();
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  /** Waits until the server answers PING (not LOADING its AOF any more). */
  async #waitLoaded(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.with(async (client) => client.ping());
        return;
      } catch (error) {
        if (attempt > 600) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

/** A Redis server for the file's tests, started before them and stopped after. */
export function useRedisServer(options: RedisServerOptions = {}): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await RedisServer.start(options);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => server!;
}

/**
 * A Redis Cluster of `masters` masters without replicas (Debian's redis-server with
 * `--cluster-enabled yes`, joined with `redis-cli --cluster create`), for the file's tests.
 */
export function useRedisCluster(masters = 3): () => RedisCluster {
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    cluster = await RedisCluster.start(masters);
  }, 180_000);
  afterAll(async () => {
    await Promise.allSettled((cluster?.nodes ?? []).map((node) => node.stop()));
  });
  return () => cluster!;
}

export class RedisCluster {
  readonly nodes: readonly RedisServer[];

  private constructor(nodes: readonly RedisServer[]) {
    this.nodes = nodes;
  }

  static async start(masters: number): Promise<RedisCluster> {
    const nodes = await Promise.all(Array.from({ length: masters }, () => RedisServer.start({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] })));
    const cli = ensureProgram('redis-cli', 'redis-tools');
    execFileSync(cli, ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'pipe' });
    const cluster = new RedisCluster(nodes);
    // Every node sees every slot covered before the tests write.
    for (let attempt = 0; ; attempt++) {
      const states = await Promise.all(nodes.map((node) => node.with(async (client) => /cluster_state:ok/.test(String(await client.call('CLUSTER', 'INFO'))))));
      if (states.every(Boolean)) return cluster;
      if (attempt > 300) throw new Error('the Redis Cluster did not reach cluster_state:ok');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** `host:port` of every node. */
  get addresses(): string[] {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`);
  }

  /** Every entry of the streams matching `pattern` on any node, node by node. */
  async readStreams(pattern: string): Promise<{ node: number; records: KafkaRecord[] }[]> {
    return Promise.all(this.nodes.map(async (node, index) => ({ node: index, records: await node.readStreams(pattern) })));
  }
}
