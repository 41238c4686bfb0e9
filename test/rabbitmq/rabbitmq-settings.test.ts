/**
 * The RabbitMQ target's settings: defaults, and one line per problem (a URL that is not AMQP, an
 * unknown routing key placeholder, TLS options on a plain URL, a queue on the default exchange, a
 * missing password secret), each with its path and the fix.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { RabbitMQTargetConfig } from '../../src/config/rabbitmq-settings.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

function doc(rabbitmq: string): string {
  return `apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: orders\nspec:\n  source:\n    type: Postgres\n    postgres:\n      url: postgres://db/shop\n  target:\n    type: RabbitMQ\n    rabbitmq:\n${rabbitmq}`;
}

async function failure(yaml: string): Promise<PgcdcError> {
  const error = await parseStreamConfig(yaml, { fileName: 's.yaml', env: {}, cwd: '/tmp' }).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  return error as PgcdcError;
}

describe('RabbitMQ settings', () => {
  it('default to a topic exchange named after the prefix, the <prefix>.<schema>.<table> routing key, persistent mandatory messages and confirms', async () => {
    const config = await parseStreamConfig(doc('      url: amqp://u:p@mq:5672/shop\n'), { fileName: 's.yaml', env: {}, cwd: '/tmp' });
    const target = config.target as RabbitMQTargetConfig;
    expect(target).toMatchObject({
      type: 'RabbitMQ',
      url: 'amqp://u:p@mq:5672/shop',
      topicPrefix: 'orders',
      exchange: { name: 'orders', type: 'topic', durable: true, declare: false },
      routingKey: '{prefix}.{schema}.{table}',
      queue: undefined,
      persistent: true,
      mandatory: true,
      confirmTimeoutMs: 30_000,
      maxUnconfirmed: 8192,
      concurrency: 4,
      deadLetter: { policy: 'dead-letter' },
    });
  });

  it('report each problem on its own line with its path', async () => {
    const error = await failure(doc('      url: amqps://mq\n      routingKey: "{prefix}.{database}.{table}"\n      queue: {name: q}\n      exchange: {name: ""}\n'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toEqual([
      's.yaml:14: spec.target.rabbitmq.routingKey has the placeholder {database}, which is not one of {prefix}, {schema}, {table}',
      's.yaml:15: spec.target.rabbitmq.queue cannot be bound to the default exchange ("")',
    ]);
    const url = await failure(doc('      url: http://mq\n      tls: {skipHostnameVerification: true}\n'));
    expect(url.message).toMatch(/spec\.target\.rabbitmq\.url is "http:\/\/mq"; expected an amqp:\/\/ or amqps:\/\/ URL/);
    const tls = await failure(doc('      url: amqp://mq\n      tls: {skipHostnameVerification: true}\n'));
    expect(tls.message).toBe('s.yaml:14: spec.target.rabbitmq.tls is given but the url is not amqps://');
    expect(tls.hint).toBe('use an amqps:// URL (TLS), or remove tls');
  });
});
