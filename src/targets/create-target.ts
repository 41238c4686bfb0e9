/**
 * Builds the target a stream spec asks for. Each target type has one entry in `TARGET_FACTORIES`,
 * so a new type does not compile until it is handled here; each kind's modules (and libraries:
 * undici, isolated-vm) are loaded only when a stream uses it, which keeps the CLI's start short.
 * `checkTarget` checks, before a command touches the source, what only the target's own machinery
 * can (a PgLambda script compiles).
 */
import type { StreamConfig, TargetConfig, TargetType } from '../config/stream-config.js';
import { DebeziumJsonEncoder, streamEncoderOptions } from '../events/debezium-json-encoder.js';
import type { Logger } from '../logging/logger.js';
import type { Target } from './target.js';

type TargetFactory<T extends TargetType> = (target: Extract<TargetConfig, { type: T }>, stream: StreamConfig, logger: Logger) => Promise<Target>;

const TARGET_FACTORIES: { readonly [T in TargetType]: TargetFactory<T> } = {
  Stdout: async (target, stream) => new (await import('./stdout/stdout-target.js')).StdoutTarget(debeziumEncoder(stream, target.format)),
  File: async (target, stream, logger) => new (await import('./file/file-target.js')).FileTarget(target, debeziumEncoder(stream, target.format), logger),
  Postgres: async (target, stream, logger) => new (await import('./postgres/postgres-target.js')).PostgresTarget(target, stream, logger),
  CloudEvent: async (target, stream, logger) => new (await import('./cloudevent/cloudevent-target.js')).CloudEventTarget(target, stream, logger),
  PgLambda: async (target, stream, logger) => new (await import('./function/pglambda-target.js')).PgLambdaTarget(target, stream, logger),
  Webhook: async (target, stream, logger) => new (await import('./webhook/webhook-target.js')).WebhookTarget(target, stream, logger),
};

/** The target of a stream. */
export function createTarget(stream: StreamConfig, logger: Logger): Promise<Target> {
  const factory = TARGET_FACTORIES[stream.target.type] as TargetFactory<TargetType>;
  return factory(stream.target, stream, logger);
}

/**
 * Checks the target's settings no schema can: a PgLambda script must compile.
 *
 * @throws PgcdcError CONFIG_INVALID naming the script's line and column
 */
export async function checkTarget(stream: StreamConfig): Promise<void> {
  if (stream.target.type === 'PgLambda') (await import('./function/pglambda-target.js')).openSandbox(stream.target).close();
}

/** A Debezium JSON encoder configured from the stream spec. */
export function debeziumEncoder(stream: StreamConfig, format: 'value' | 'record'): DebeziumJsonEncoder {
  return new DebeziumJsonEncoder({ ...streamEncoderOptions(stream), format, tombstonesOnDelete: stream.source.tombstonesOnDelete });
}
