/**
 * `pgcdc serve --streams DIR`: runs every stream of a directory of specs in one process, with an
 * HTTP API, Prometheus metrics and the web dashboard (src/serve). Listens on 127.0.0.1:8083 by
 * default; anywhere else it needs a bearer token or basic auth (options or PGCDC_SERVE_TOKEN /
 * PGCDC_SERVE_BASIC_AUTH, which keep secrets off the command line); HTTPS with --tls-cert and
 * --tls-key. SIGINT/SIGTERM: every stream delivers what it received, acknowledges and stops, then
 * the server closes and the process exits 0. Kafka Connect's REST API for connectors (src/serve/
 * connect-api) writes to the brokers of --kafka-bootstrap-servers (PGCDC_KAFKA_BOOTSTRAP_SERVERS).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import type { ServeAuth } from '../../serve/serve-auth.js';
import type { ServeServer } from '../../serve/serve-server.js';
import { EXIT_CODES } from '../exit-codes.js';
import { loggerFor } from '../cli-context.js';
import { relaunchWithoutSnapshot } from '../sandbox-relaunch.js';

const DEFAULT_LISTEN = '127.0.0.1:8083';

interface ServeOptions {
  readonly streams: string;
  readonly listen: string;
  readonly token?: string;
  readonly basicAuth?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly secretsDir?: string;
  readonly configMapsDir?: string;
  readonly kafkaBootstrapServers?: string;
}

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('run every stream of a directory of specs, with an HTTP API, metrics and a web dashboard')
    .requiredOption('--streams <dir>', 'directory of stream specs (*.yaml, *.yml, *.json); added, changed and removed files are picked up while running')
    .option('--listen <host:port>', 'address of the HTTP server', DEFAULT_LISTEN)
    .option('--token <token>', 'require "Authorization: Bearer <token>" (or env PGCDC_SERVE_TOKEN)')
    .option('--basic-auth <user:password>', 'require basic authentication (or env PGCDC_SERVE_BASIC_AUTH)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--secrets-dir <dir>', 'directory of secrets laid out as <dir>/<secret name>/<key> (Kubernetes mount style)')
    .option('--config-maps-dir <dir>', 'directory of ConfigMaps laid out as <dir>/<config map name>/<key>; default: the secrets directory')
    .option('--kafka-bootstrap-servers <host:port,...>', 'brokers of the connectors created through Kafka Connect\'s REST API (/connectors), as a Connect worker\'s bootstrap.servers (or env PGCDC_KAFKA_BOOTSTRAP_SERVERS)')
    .action(async (options: ServeOptions, command: Command) => {
      const listen = parseListen(options.listen);
      const auth = serveAuth(options, process.env);
      if (auth.kind === 'none' && !isLoopback(listen.host)) {
        throw new PgcdcError('CONFIG_INVALID', `refusing to listen on ${options.listen} without authentication: anyone who reaches it could stop streams or read their data`, {
          hint: 'give --token (or PGCDC_SERVE_TOKEN) or --basic-auth USER:PASSWORD (or PGCDC_SERVE_BASIC_AUTH), or listen on 127.0.0.1',
        });
      }
      const tls = tlsFiles(options);
      // A stream may be PgLambda, now or once added: its sandbox needs Node.js without the startup snapshot.
      if (!process.execArgv.includes('--no-node-snapshot')) {
        process.exitCode = await relaunchWithoutSnapshot();
        return;
      }
      process.exitCode = await serve(options, listen, auth, tls, loggerFor(command));
    });
}

async function serve(options: ServeOptions, listen: { host: string; port: number }, auth: ServeAuth, tls: { cert: Buffer; key: Buffer } | undefined, logger: Logger): Promise<number> {
  // A stream's stray rejection is logged; it never takes the other streams down with the process.
  const onStray = (error: unknown): void => logger.error({ err: error }, 'unhandled rejection (the process keeps running)');
  process.on('unhandledRejection', onStray);
  // Loaded here, not at the top: the other commands do not pay for the server, the dashboard and
  // the metrics exporters (OpenTelemetry's and Prometheus's libraries take a third of a second).
  const [{ ServeMetrics }, { serveRoutes }, { ServeServer }, { StreamDirectory }] = await Promise.all([
    import('../../metrics/serve-metrics.js'),
    import('../../serve/serve-api.js'),
    import('../../serve/serve-server.js'),
    import('../../serve/stream-directory.js'),
  ]);
  const metrics = new ServeMetrics({ logger });
  const kafkaBootstrapServers = options.kafkaBootstrapServers ?? (process.env.PGCDC_KAFKA_BOOTSTRAP_SERVERS || undefined);
  const directory = new StreamDirectory({
    dir: options.streams,
    logger,
    metrics,
    ...(options.secretsDir ? { secretsDir: options.secretsDir } : {}),
    ...(options.configMapsDir ? { configMapsDir: options.configMapsDir } : {}),
    ...(kafkaBootstrapServers ? { kafkaBootstrapServers } : {}),
  });
  let stopRequested!: () => void;
  const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without waiting; the unacknowledged tail of each stream will be delivered again');
      process.exit(EXIT_CODES.interrupted);
    }
    logger.info({ signal }, 'stopping: every stream delivers what it received, then stops');
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let server: ServeServer | undefined;
  try {
    await directory.open();
    server = await ServeServer.listen({ ...listen, auth, ...(tls ? { tls } : {}), routes: serveRoutes({ directory, metrics, logger, workerId: `${listen.host}:${listen.port}`, ...(kafkaBootstrapServers ? { kafkaBootstrapServers } : {}) }), logger });
    logger.info({ address: server.origin, streams: directory.list().length, dir: directory.dir, auth: auth.kind }, 'pgcdc serve listening');
    await stopping;
  } finally {
    await directory.close();
    await server?.close();
    await metrics.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onStray);
  }
  logger.info('pgcdc serve stopped');
  return EXIT_CODES.success;
}

/** `host:port` or `[ipv6]:port`. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new PgcdcError('CONFIG_INVALID', `--listen ${listen} is not HOST:PORT`, { hint: `write it as ${DEFAULT_LISTEN}, 0.0.0.0:8083 or [::1]:8083` });
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function serveAuth(options: ServeOptions, env: NodeJS.ProcessEnv): ServeAuth {
  const token = options.token ?? (env.PGCDC_SERVE_TOKEN || undefined);
  const basic = options.basicAuth ?? (env.PGCDC_SERVE_BASIC_AUTH || undefined);
  if (token !== undefined && basic !== undefined) {
    throw new PgcdcError('CONFIG_INVALID', 'both a token and basic auth are given (options or PGCDC_SERVE_TOKEN / PGCDC_SERVE_BASIC_AUTH)', { hint: 'use one of them' });
  }
  if (token !== undefined) {
    if (token.trim() === '') throw new PgcdcError('CONFIG_INVALID', 'the serve token is empty', { hint: 'give --token a non-empty value' });
    return { kind: 'token', token };
  }
  if (basic !== undefined) {
    const colon = basic.indexOf(':');
    if (colon <= 0 || colon === basic.length - 1) {
      throw new PgcdcError('CONFIG_INVALID', 'basic auth is not USER:PASSWORD', { hint: 'give --basic-auth (or PGCDC_SERVE_BASIC_AUTH) as user:password, both non-empty' });
    }
    return { kind: 'basic', user: basic.slice(0, colon), password: basic.slice(colon + 1) };
  }
  return { kind: 'none' };
}

function tlsFiles(options: ServeOptions): { cert: Buffer; key: Buffer } | undefined {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return undefined;
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw new PgcdcError('CONFIG_INVALID', `--${options.tlsCert === undefined ? 'tls-key' : 'tls-cert'} is given without --${options.tlsCert === undefined ? 'tls-cert' : 'tls-key'}`, {
      hint: 'give both --tls-cert and --tls-key (PEM files) to serve HTTPS',
    });
  }
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new PgcdcError('CONFIG_UNREADABLE', `cannot read the TLS ${what} ${file}: ${(error as Error).message}`, { hint: 'check the path given to --tls-cert / --tls-key', cause: error });
    }
  };
  return { cert: read(options.tlsCert, 'certificate'), key: read(options.tlsKey, 'key') };
}
