/**
 * One connection to the Redis server on ioredis, made to fail fast: no offline queue, no command
 * retried by the client, no reconnect by the client (the target opens a new connection after a
 * failure and reads its position back), a reply timeout. Sends groups of XADDs in one atomic
 * script run with the position key's SET (exactly once) or without it (at least once), and reads
 * keys' types and the server's bulk length limit. Every failure comes out as a one-line PgcdcError.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisStreamsTargetConfig } from '../../config/redis-streams-settings.js';
import type { Logger } from '../../logging/logger.js';
import { describeRedisError, redisError } from './redis-errors.js';

/**
 * Appends entries and, in exactly-once mode, moves the position key, atomically. ARGV[1]: the
 * entries packed (`entry-packer`); then, or nothing: ARGV[2] the position key, ARGV[3] its new
 * value ('' = unchanged), ARGV[4] the value it must hold now ('' = none). A key holding anything
 * else (an earlier script of this pipeline failed, or another writer) refuses the whole script
 * before any write. Redis runs a script whole before any other command, and its AOF holds the
 * script's writes in one MULTI/EXEC. An error stops the script where it is, before the position is
 * set (unlike MULTI/EXEC, which runs the commands after a failed one, the position's SET
 * included): a failure can repeat entries on the next delivery, never skip them.
 */
const APPEND_SCRIPT = `if ARGV[2] then
  local current = redis.call('GET', ARGV[2]) or ''
  if current ~= ARGV[4] then
    return redis.error_reply('PGCDCPOSITION ' .. ARGV[2] .. ' holds ' .. current .. ' where ' .. ARGV[4] .. ' was expected')
  end
end
local entries = cmsgpack.unpack(ARGV[1])
for i = 1, #entries do
  redis.call('XADD', unpack(entries[i]))
end
if ARGV[2] and ARGV[3] ~= '' then redis.call('SET', ARGV[2], ARGV[3]) end
return #entries`;

/** The position key's move in an append: its new value ('' = unchanged) and the value it must hold ('' = none). */
export interface PositionMove {
  readonly key: string;
  readonly value: string;
  readonly expected: string;
}

export class RedisConnection {
  readonly #config: RedisStreamsTargetConfig;
  readonly #logger: Logger;
  readonly #client: Redis | Cluster;
  server: string;
  /** The last error the client reported (a refused login, a reset): commands then fail with "Connection is closed." only. */
  #lastError: unknown;

  constructor(config: RedisStreamsTargetConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.server = `${config.host}:${config.port}`;
    const tls = config.tls;
    const options: RedisOptions = {
      host: config.host,
      port: config.port,
      db: config.database,
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(tls
        ? {
            tls: {
              ...(tls.caCertificate ? { ca: tls.caCertificate } : {}),
              ...(tls.certificate ? { cert: tls.certificate, key: tls.key } : {}),
              servername: config.host,
              ...(tls.skipHostnameVerification ? { checkServerIdentity: () => undefined } : {}),
            },
          }
        : {}),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      autoResendUnfulfilledCommands: false,
      connectTimeout: config.connectTimeoutMs || undefined,
      commandTimeout: config.requestTimeoutMs || undefined,
      connectionName: 'pgcdc',
    };
    if (config.cluster) {
      const { host: _host, port: _port, enableOfflineQueue: _queue, retryStrategy: _retry, lazyConnect: _lazy, ...nodeOptions } = options;
      this.#client = new Cluster(config.cluster.nodes.map((node) => ({ host: node.host, port: node.port })), {
        redisOptions: nodeOptions,
        enableOfflineQueue: false,
        clusterRetryStrategy: () => null,
        lazyConnect: true,
        scaleReads: 'master',
      });
      this.server = config.cluster.nodes.map((node) => `${node.host}:${node.port}`).join(',');
    } else this.#client = new Redis(options);
    // Errors reach the commands that fail; the event only needs a listener.
    this.#client.on('error', (error: unknown) => {
      this.#lastError = error;
      this.#logger.debug({ err: describeRedisError(error) }, 'Redis connection error');
    });
  }

  /** Connects and logs in; resolves once the server answers PING. */
  async connect(): Promise<void> {
    try {
      await this.#client.connect();
      await this.#client.ping();
    } catch (error) {
      this.#client.disconnect();
      throw this.#error(error);
    }
  }

  /** The value of `key`, or undefined. */
  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.#client.get(key)) ?? undefined;
    } catch (error) {
      throw this.#error(error, key);
    }
  }

  /** The type of each of `keys` (`none` when missing). */
  async types(keys: readonly string[]): Promise<string[]> {
    try {
      const pipeline = this.#client.pipeline();
      for (const key of keys) pipeline.type(key);
      const results = (await pipeline.exec())!;
      return results.map(([error, type], i) => {
        if (error) throw this.#error(error, keys[i]);
        return type as string;
      });
    } catch (error) {
      throw this.#error(error, keys[0]);
    }
  }

  /** The server's `proto-max-bulk-len`, or undefined when CONFIG GET is not allowed. */
  async maxBulkLength(): Promise<number | undefined> {
    try {
      const reply = (await this.#client.config('GET', 'proto-max-bulk-len')) as string[];
      const value = Number(reply[1]);
      return Number.isFinite(value) && value > 0 ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Appends `entries` atomically, with the position key's move when given, in one script run;
   * resolves once Redis replied (with AOF `appendfsync always`, after the fsync). The command is
   * written to the socket before this returns (the entries' buffers may be reused then), so
   * appends reach Redis in the order of the calls.
   */
  appendAtomically(entries: Buffer, firstKey: string | undefined, position: PositionMove | undefined): Promise<void> {
    // One key named (KEYS[1], unused by the script) routes the run to its slot's node in a cluster.
    const args: (string | number | Buffer)[] = [APPEND_SCRIPT, 1, position?.key ?? firstKey ?? '', entries];
    if (position) args.push(position.key, position.value, position.expected);
    return this.#client.call('EVAL', args).then(
      () => undefined,
      (error: unknown) => {
        throw this.#scriptError(error, firstKey, position?.key);
      },
    );
  }

  /** Closes the connection (QUIT when it is up). */
  async close(): Promise<void> {
    if (this.#client.status === 'ready') await (this.#client as Redis).quit().catch(() => undefined);
    this.#client.disconnect();
  }

  /** Drops the connection at once (after a failure). */
  drop(): void {
    this.#client.disconnect();
  }

  /**
   * The error of a script run. Redis reports a failed call as `<error> script: <sha>, on
   * @user_script:<line>.`: the line tells the command (GET and SET: the position key; XADD: a
   * stream key, `streamKey`, the group's first). An ACL refusal inside a script is told as NOPERM.
   */
  #scriptError(error: unknown, streamKey: string | undefined, positionKey: string | undefined) {
    const text = describeRedisError(error);
    const match = /^(.*?) script: \w+, on @user_script:(\d+)\.?$/.exec(text);
    if (!match) return this.#error(error, streamKey ?? positionKey);
    const command = /redis\.call\('(\w+)'/.exec(APPEND_SCRIPT.split('\n')[Number(match[2]) - 1] ?? '')?.[1] ?? 'XADD';
    let inner = match[1]!;
    if (/can't run this command/.test(inner)) inner = `NOPERM this user has no permissions to run the '${command.toLowerCase()}' command`;
    else if (/can't access at least one of the keys/.test(inner)) inner = `NOPERM this user has no permissions to access the key ${command} writes`;
    return this.#error(Object.assign(new Error(inner), { code: (error as { code?: unknown }).code }), command === 'XADD' ? streamKey : positionKey);
  }

  #error(error: unknown, key?: string) {
    if (this.#lastError !== undefined && /Connection is closed/.test(describeRedisError(error))) error = this.#lastError;
    return redisError(error, { server: this.server, user: this.#config.username, ...(key === undefined ? {} : { key }) });
  }
}
