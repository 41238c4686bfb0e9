/**
 * `spec.target.redisStreams` as the config loader reads it: defaults (exactly once, position key,
 * stream key template, layout), credentials from the URL, and one clear problem for a URL that is
 * not redis:// or rediss://, an unknown placeholder in the stream key, a database with a cluster.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { RedisStreamsTargetConfig } from '../../src/config/redis-streams-settings.js';
import { pgcdcRejection } from '../support/rejection.js';

function spec(redisStreams: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name: 'orders' },
    spec: { source: { type: 'Postgres', postgres: { url: 'postgres://cdc@db.example.com/shop' } }, target: { type: 'RedisStreams', redisStreams } },
  });
}

describe('RedisStreams settings', () => {
  it('reads the URL, its credentials and the defaults', async () => {
    const config = await parseStreamConfig(spec({ url: 'redis://cdc:s%40cret@redis.example.com:6380/2' }), { fileName: 'stream.yaml' });
    const target = config.target as RedisStreamsTargetConfig;
    expect(target).toMatchObject({
      type: 'RedisStreams',
      host: 'redis.example.com',
      port: 6380,
      database: 2,
      username: 'cdc',
      password: 's@cret',
      tls: undefined,
      streamKey: '{prefix}.{schema}.{table}',
      fieldLayout: 'keyValue',
      exactlyOnce: { positionKey: 'pgcdc:position:orders' },
      topicPrefix: 'orders',
      batchSize: 5000,
      cluster: undefined,
    });
    const tls = (await parseStreamConfig(spec({ url: 'rediss://redis.example.com' }), { fileName: 'stream.yaml' })).target as RedisStreamsTargetConfig;
    expect(tls).toMatchObject({ port: 6379, database: 0, tls: { skipHostnameVerification: false } });
  });

  it('refuses a URL that is not redis://, an unknown placeholder, and a database with a cluster, each with one line', async () => {
    const wrongScheme = await pgcdcRejection(parseStreamConfig(spec({ url: 'http://redis.example.com' }), { fileName: 'stream.yaml' }));
    expect(wrongScheme.message).toMatch(/spec\.target\.redisStreams\.url .*redis:\/\/ or rediss:\/\//);
    const placeholder = await pgcdcRejection(parseStreamConfig(spec({ url: 'redis://r', streamKey: '{prefix}.{database}.{table}' }), { fileName: 'stream.yaml' }));
    expect(placeholder.message).toMatch(/spec\.target\.redisStreams\.streamKey has the placeholder \{database\}, which is not one of \{prefix\}, \{schema\}, \{table\}/);
    const clusterDb = await pgcdcRejection(parseStreamConfig(spec({ url: 'redis://r/3', cluster: { nodes: ['r:7000'] } }), { fileName: 'stream.yaml' }));
    expect(clusterDb.message).toMatch(/spec\.target\.redisStreams\.url selects database 3, but a Redis Cluster has database 0 only/);
  });
});
