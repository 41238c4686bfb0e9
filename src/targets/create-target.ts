/**
 * Builds the target a stream spec asks for. Each target type has one entry in `TARGET_FACTORIES`,
 * so a new type does not compile until it is handled here. `checkTarget` checks, before a command
 * touches the source, what only the target's own machinery can (a PgLambda script compiles).
 */
import type { StreamConfig, TargetConfig, TargetType } from '../config/stream-config.js';
import { DebeziumJsonEncoder } from '../events/debezium-json-encoder.js';
import type { Logger } from '../logging/logger.js';
import { PGCDC_VERSION } from '../version.js';
import { CloudEventTarget } from './cloudevent/cloudevent-target.js';
import { FileTarget } from './file/file-target.js';
import { openSandbox, PgLambdaTarget } from './function/pglambda-target.js';
import { PostgresTarget } from './postgres/postgres-target.js';
import { StdoutTarget } from './stdout/stdout-target.js';
import type { Target } from './target.js';
import { WebhookTarget } from './webhook/webhook-target.js';

type TargetFactory<T extends TargetType> = (target: Extract<TargetConfig, { type: T }>, stream: StreamConfig, logger: Logger) => Target;

const TARGET_FACTORIES: { readonly [T in TargetType]: TargetFactory<T> } = {
  Stdout: (target, stream) => new StdoutTarget(debeziumEncoder(stream, target.format)),
  File: (target, stream, logger) => new FileTarget(target, debeziumEncoder(stream, target.format), logger),
  Postgres: (target, stream, logger) => new PostgresTarget(target, stream, logger),
  CloudEvent: (target, stream, logger) => new CloudEventTarget(target, stream, logger),
  PgLambda: (target, stream, logger) => new PgLambdaTarget(target, stream, logger),
  Webhook: (target, stream, logger) => new WebhookTarget(target, stream, logger),
};

/** The target of a stream. */
export function createTarget(stream: StreamConfig, logger: Logger): Target {
  const factory = TARGET_FACTORIES[stream.target.type] as TargetFactory<TargetType>;
  return factory(stream.target, stream, logger);
}

/**
 * Checks the target's settings no schema can: a PgLambda script must compile.
 *
 * @throws PgcdcError CONFIG_INVALID naming the script's line and column
 */
export function checkTarget(stream: StreamConfig): void {
  if (stream.target.type === 'PgLambda') openSandbox(stream.target).close();
}

/** A Debezium JSON encoder configured from the stream spec. */
export function debeziumEncoder(stream: StreamConfig, format: 'value' | 'record'): DebeziumJsonEncoder {
  return new DebeziumJsonEncoder({
    serverName: stream.name,
    database: stream.source.connection.database,
    version: PGCDC_VERSION,
    format,
    tombstonesOnDelete: stream.source.tombstonesOnDelete,
    transactionMetadata: stream.source.provideTransactionMetadata,
    skippedOperations: stream.source.skippedOperations,
  });
}
