/**
 * Builds the target a stream spec asks for. Each target type has one entry in `TARGET_FACTORIES`,
 * so a new type does not compile until it is handled here; each kind's modules (and libraries:
 * undici, isolated-vm) are loaded only when a stream uses it, which keeps the CLI's start short.
 * `checkTarget` checks, before a command touches the source, what the target needs: a file that
 * can be written, a Postgres target that can be reached and written, a CloudEvent receiver that
 * answers, a webhook API address that is free, a PgLambda script that compiles, Kafka brokers that
 * answer and accept the login.
 */
import type { StreamConfig, TargetConfig, TargetType } from '../config/stream-config.js';
import { DebeziumJsonEncoder, streamEncoderOptions } from '../events/debezium-json-encoder.js';
import type { Logger } from '../logging/logger.js';
import type { DeliveryObserver } from './delivery/reliable-delivery.js';
import type { Target } from './target.js';

type TargetFactory<T extends TargetType> = (target: Extract<TargetConfig, { type: T }>, stream: StreamConfig, logger: Logger, observer?: DeliveryObserver) => Promise<Target>;
type TargetCheck<T extends TargetType> = (target: Extract<TargetConfig, { type: T }>, logger: Logger) => Promise<void>;

const TARGET_FACTORIES: { readonly [T in TargetType]: TargetFactory<T> } = {
  Stdout: async (target, stream) => new (await import('./stdout/stdout-target.js')).StdoutTarget(debeziumEncoder(stream, target.format)),
  File: async (target, stream, logger) => new (await import('./file/file-target.js')).FileTarget(target, debeziumEncoder(stream, target.format), logger),
  Postgres: async (target, stream, logger) => new (await import('./postgres/postgres-target.js')).PostgresTarget(target, stream, logger),
  CloudEvent: async (target, stream, logger, observer) => new (await import('./cloudevent/cloudevent-target.js')).CloudEventTarget(target, stream, logger, observer),
  PgLambda: async (target, stream, logger, observer) => new (await import('./function/pglambda-target.js')).PgLambdaTarget(target, stream, logger, observer),
  Webhook: async (target, stream, logger, observer) => new (await import('./webhook/webhook-target.js')).WebhookTarget(target, stream, logger, observer),
  Kafka: async (target, stream, logger) => new (await import('./kafka/kafka-target.js')).KafkaTarget(target, stream, logger),
  NatsJetStream: async (target, stream, logger) => new (await import('./nats/nats-jetstream-target.js')).NatsJetStreamTarget(target, stream, logger),
  RedisStreams: async (target, stream, logger) => new (await import('./redis/redis-streams-target.js')).RedisStreamsTarget(target, stream, logger),
  RabbitMQ: async (target, stream, logger, observer) => new (await import('./rabbitmq/rabbitmq-target.js')).RabbitMQTarget(target, stream, logger, observer),
};

/** The target of a stream; `observer` is told of the retries and dead letters of targets that have them. */
export function createTarget(stream: StreamConfig, logger: Logger, observer?: DeliveryObserver): Promise<Target> {
  const factory = TARGET_FACTORIES[stream.target.type] as TargetFactory<TargetType>;
  return factory(stream.target, stream, logger, observer);
}

const TARGET_CHECKS: { readonly [T in TargetType]: TargetCheck<T> } = {
  Stdout: async () => undefined,
  File: async (target) => (await import('./file/file-target.js')).checkFileTarget(target),
  Postgres: async (target, logger) => (await import('./postgres/target-session.js')).checkTargetWritable(target.connection, logger),
  CloudEvent: async (target) => (await import('./cloudevent/cloudevent-target.js')).checkCloudEventReceiver(target),
  PgLambda: async (target) => (await import('./function/pglambda-target.js')).openSandbox(target).close(),
  Webhook: async (target) => {
    if (target.subscriptionServer) await (await import('./webhook/subscription-server.js')).SubscriptionServer.checkAddress(target.subscriptionServer.host, target.subscriptionServer.port);
  },
  Kafka: async (target, logger) => (await import('./kafka/kafka-target.js')).checkKafkaTarget(target, logger),
  NatsJetStream: async (target, logger) => (await import('./nats/nats-jetstream-target.js')).checkNatsJetStreamTarget(target, logger),
  RedisStreams: async (target, logger) => (await import('./redis/redis-streams-target.js')).checkRedisStreamsTarget(target, logger),
  RabbitMQ: async (target, logger) => (await import('./rabbitmq/rabbitmq-target.js')).checkRabbitMQTarget(target, logger),
};

/**
 * Checks what the target needs before anything touches the source, so that a stream that cannot
 * run neither creates a slot (which would hold WAL) nor passes `validate`.
 *
 * @throws PgcdcError saying what is wrong and how to fix it (CONFIG_INVALID for a PgLambda script
 *   that does not compile, with its line; TARGET_FAILED or TARGET_UNREACHABLE otherwise)
 */
export async function checkTarget(stream: StreamConfig, logger: Logger): Promise<void> {
  const check = TARGET_CHECKS[stream.target.type] as TargetCheck<TargetType>;
  // A transform function runs before the target: it must compile too (spec.transform).
  if (stream.transform?.script !== undefined) await (await import('../transform/transforming-target.js')).checkTransform(stream.transform);
  return check(stream.target, logger);
}

/** A Debezium JSON encoder configured from the stream spec. */
export function debeziumEncoder(stream: StreamConfig, format: 'value' | 'record'): DebeziumJsonEncoder {
  return new DebeziumJsonEncoder({ ...streamEncoderOptions(stream), format, tombstonesOnDelete: stream.source.tombstonesOnDelete });
}
