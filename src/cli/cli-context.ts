/**
 * What every command shares: the options common to commands that read a stream spec, the logger,
 * loading the spec, and reporting a failure as one line with a fix.
 */
import type { Command } from 'commander';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { loadStreamConfig } from '../config/load-stream-config.js';
import type { StreamConfig } from '../config/stream-config.js';
import { asPgcdcError } from '../errors/pgcdc-error.js';
import { createLogger, type LogFormat, type Logger, type LogLevel } from '../logging/logger.js';

/** Options of commands that take a stream spec. */
export interface SpecOptions {
  readonly config: string;
  readonly secretsDir?: string;
  readonly configMapsDir?: string;
  readonly kafkaBootstrapServers?: string;
}

/** Adds `-c/--config`, `--secrets-dir` and `--config-maps-dir` to a command. */
export function withSpecOptions(command: Command): Command {
  return command
    .requiredOption(
      '-c, --config <file>',
      'stream spec: pgcdc/v1 Stream or stackgres.io/v1alpha1 SGStream YAML, a Debezium connector configuration (JSON or .properties), Debezium Server\'s application.properties, or pgstream\'s .env or YAML',
    )
    .option('--secrets-dir <dir>', 'directory of secrets laid out as <dir>/<secret name>/<key> (Kubernetes mount style)')
    .option('--config-maps-dir <dir>', 'directory of ConfigMaps laid out as <dir>/<config map name>/<key> (Kubernetes mount style); default: the secrets directory')
    .option('--kafka-bootstrap-servers <host:port,...>', 'brokers of a connector configuration that names none, as a Connect worker\'s bootstrap.servers (or env PGCDC_KAFKA_BOOTSTRAP_SERVERS)');
}

/** The process logger built from the global options. */
export function loggerFor(command: Command): Logger {
  const globals = command.optsWithGlobals<{ logLevel: LogLevel; logFormat: LogFormat }>();
  return createLogger({ level: globals.logLevel, format: globals.logFormat });
}

/** Loads and validates the spec named by `-c`. */
export function loadSpec(options: SpecOptions): Promise<StreamConfig> {
  return loadStreamConfig(options.config, {
    ...(options.secretsDir ? { secretsDir: options.secretsDir } : {}),
    ...(options.configMapsDir ? { configMapsDir: options.configMapsDir } : {}),
    ...(options.kafkaBootstrapServers ? { kafkaBootstrapServers: options.kafkaBootstrapServers } : {}),
  });
}

/** Loads the spec named by `-c` for a command that works on the source database (not a Kafka-sourced stream). */
export async function loadDatabaseSourcedSpec(options: SpecOptions, command: string): Promise<StreamConfig> {
  const config = await loadSpec(options);
  if (config.kafkaSource !== undefined) {
    throw new PgcdcError('CONFIG_INVALID', `pgcdc ${command} works on streams whose source is a PostgreSQL database, and stream "${config.name}" reads Kafka (spec.source.type: Kafka)`, {
      hint: 'run it with the spec of the stream that writes those topics from the database',
    });
  }
  return config;
}

/** Prints a failure as one line and returns the exit code. */
export function reportFailure(error: unknown): number {
  const failure = asPgcdcError(error);
  process.stderr.write(`pgcdc: error[${failure.code}] ${failure.toLine()}\n`);
  if (failure.code === 'INTERNAL' && failure.cause instanceof Error && failure.cause.stack) {
    process.stderr.write(`${failure.cause.stack}\n`);
  }
  return failure.code === 'CONFIG_INVALID' || failure.code === 'CONFIG_UNREADABLE' ? 2 : 1;
}
