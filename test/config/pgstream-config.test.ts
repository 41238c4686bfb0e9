/**
 * pgstream's configuration as a stream, from its `.env` file and from its YAML: the Postgres
 * listener (URL, slot, snapshot tables and mode), the Kafka writer (one topic, topic creation,
 * batching), the webhook notifier, the Postgres writer and the table filters; the settings pgcdc
 * does not apply named in one warning; unknown names refused with the nearest one; bad files.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { pgstreamTablePattern } from '../../src/config/pgstream-config.js';

const LISTENER = [
  '# pgstream pg2kafka.env',
  'PGSTREAM_POSTGRES_LISTENER_URL="postgres://cdc:pw@db.example.com:5433/shop?sslmode=disable"',
  'export PGSTREAM_POSTGRES_REPLICATION_SLOT_NAME=pgstream_shop_slot',
  'PGSTREAM_POSTGRES_SNAPSHOT_TABLES="orders inventory.*"',
  'PGSTREAM_POSTGRES_SNAPSHOT_EXCLUDED_TABLES=inventory.audit',
  'PGSTREAM_POSTGRES_SNAPSHOT_WORKERS=2',
  'PGSTREAM_POSTGRES_SNAPSHOT_BATCH_BYTES=1000',
  'PGSTREAM_FILTER_INCLUDE_TABLES="orders inventory.*"',
  'PGSTREAM_FILTER_EXCLUDE_TABLES=inventory.audit',
];
const KAFKA = [
  'PGSTREAM_KAFKA_WRITER_SERVERS="kafka-1:9092 kafka-2:9092"',
  'PGSTREAM_KAFKA_TOPIC_NAME=pgstream',
  'PGSTREAM_KAFKA_TOPIC_PARTITIONS=3',
  'PGSTREAM_KAFKA_TOPIC_REPLICATION_FACTOR=1',
  'PGSTREAM_KAFKA_TOPIC_AUTO_CREATE=true',
  'PGSTREAM_KAFKA_WRITER_BATCH_TIMEOUT=50ms',
  'PGSTREAM_KAFKA_WRITER_BATCH_SIZE=500',
  'PGSTREAM_KAFKA_WRITER_MAX_QUEUE_BYTES=100',
];

const env = (lines: readonly string[], fileName = 'pg2kafka.env') => parseStreamConfig(lines.join('\n'), { fileName, env: {} });

describe('pgstream configurations', () => {
  it('turns table patterns into anchored regular expressions', () => {
    expect(pgstreamTablePattern('orders')).toBe('public\\.orders');
    expect(pgstreamTablePattern('inventory.*')).toBe('inventory\\.[^.]*');
    expect(new RegExp(`^${pgstreamTablePattern('*.*')}$`).test('a.b')).toBe(true);
  });

  it('maps the listener, snapshot, filters and Kafka writer of an .env file; names the rest in one warning', async () => {
    const config = await env([...LISTENER, ...KAFKA]);
    expect(config.name).toBe('pg2kafka');
    expect(config.source.connection).toMatchObject({ host: 'db.example.com', port: 5433, user: 'cdc', password: 'pw', database: 'shop' });
    expect(config.source).toMatchObject({ slotName: 'pgstream_shop_slot', snapshotMode: 'initial', snapshotParallelism: 2 });
    expect(config.source.includes).toEqual(['public\\.orders', 'inventory\\.[^.]*']);
    expect(config.source.excludes).toEqual(['inventory\\.audit']);
    const snapshotIncludes = config.source.snapshotIncludes.map((pattern) => new RegExp(`^(?:${pattern})$`));
    expect(['public.orders', 'inventory.items', 'inventory.audit', 'public.other'].map((table) => snapshotIncludes.some((r) => r.test(table)))).toEqual([true, true, false, false]);
    expect(config.target).toMatchObject({
      type: 'Kafka',
      bootstrapServers: ['kafka-1:9092', 'kafka-2:9092'],
      lingerMs: 50,
      batchSize: 500,
      createTopics: { enabled: true, partitions: 3, replicationFactor: 1 },
    });
    expect(config.target).toMatchObject({ topicRouting: [{ topic: 'pgstream' }], schemasEnable: false });
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toMatch(/PGSTREAM_POSTGRES_SNAPSHOT_BATCH_BYTES.*PGSTREAM_KAFKA_WRITER_MAX_QUEUE_BYTES/);
  });

  it('maps the webhook notifier and the Postgres writer; no snapshot tables means no snapshot', async () => {
    const webhook = await env([
      'PGSTREAM_POSTGRES_LISTENER_URL=postgres://cdc@db/shop',
      'PGSTREAM_WEBHOOK_SUBSCRIPTION_STORE_URL=postgres://cdc@db/hooks',
      'PGSTREAM_WEBHOOK_SUBSCRIPTION_SERVER_ADDRESS=127.0.0.1:9911',
      'PGSTREAM_WEBHOOK_NOTIFIER_CLIENT_TIMEOUT=3s',
      'PGSTREAM_WEBHOOK_NOTIFIER_WORKER_COUNT=4',
    ]);
    expect(webhook.source.snapshotMode).toBe('no_data');
    expect(webhook.target).toMatchObject({ type: 'Webhook', payload: 'pgstream', readTimeoutMs: 3000, concurrency: 4 });
    expect(JSON.stringify(webhook.target)).toContain('9911');
    const postgres = await env(['PGSTREAM_POSTGRES_LISTENER_URL=postgres://cdc@db/shop', 'PGSTREAM_POSTGRES_WRITER_TARGET_URL=postgres://cdc@replica/shop', 'PGSTREAM_POSTGRES_WRITER_ON_CONFLICT_ACTION=nothing']);
    expect(postgres.target).toMatchObject({ type: 'Postgres', conflictPolicy: 'skip' });
  });

  it('reads the YAML configuration with the same meaning', async () => {
    const yaml = `
source:
  postgres:
    url: "postgres://cdc:pw@db.example.com:5433/shop?sslmode=disable"
    mode: snapshot_and_replication
    snapshot:
      mode: full
      tables: ["orders", "inventory.*"]
      excluded_tables: ["inventory.audit"]
      snapshot_workers: 2
    replication:
      replication_slot: pgstream_shop_slot
target:
  kafka:
    servers: ["kafka-1:9092", "kafka-2:9092"]
    topic:
      name: pgstream
      partitions: 3
      auto_create: true
    batch:
      timeout: 50
      size: 500
modifiers:
  filter:
    include_tables: ["orders", "inventory.*"]
instrumentation:
  metrics:
    endpoint: "0.0.0.0:4317"
`;
    const config = await parseStreamConfig(yaml, { fileName: 'pg2kafka.yaml', env: {} });
    const fromEnv = await env([...LISTENER.filter((l) => !/EXCLUDE_TABLES|BATCH_BYTES/.test(l)), ...KAFKA.filter((l) => !/REPLICATION_FACTOR|MAX_QUEUE/.test(l))]);
    expect(config.source).toEqual(fromEnv.source);
    expect(config.target).toEqual({ ...fromEnv.target, createTopics: { ...(fromEnv.target as { createTopics: object }).createTopics, replicationFactor: -1 } });
    expect(config.warnings).toEqual([expect.stringContaining('instrumentation.metrics.endpoint')]);
  });

  it('refuses unknown names with the nearest one, unsupported parts, two targets, and lines that are not NAME=value', async () => {
    await expect(env([...LISTENER, ...KAFKA, 'PGSTREAM_KAFKA_TOPIC_NAEM=x'])).rejects.toThrow(/PGSTREAM_KAFKA_TOPIC_NAEM is not a pgstream variable pgcdc knows; did you mean PGSTREAM_KAFKA_TOPIC_NAME\?/);
    await expect(parseStreamConfig('source:\n  postgres:\n    ulr: x\ntarget:\n  kafka: {}\n', { fileName: 'p.yaml', env: {} })).rejects.toThrow(/source\.postgres\.ulr is not a key of pgstream's configuration pgcdc knows; did you mean source\.postgres\.url\?/);
    await expect(env([...LISTENER, 'PGSTREAM_OPENSEARCH_STORE_URL=http://os:9200'])).rejects.toThrow(/PGSTREAM_OPENSEARCH_STORE_URL: pgcdc has no OpenSearch\/Elasticsearch target/);
    await expect(env([...LISTENER, ...KAFKA, 'PGSTREAM_POSTGRES_WRITER_TARGET_URL=postgres://x/y'])).rejects.toThrow(/2 targets \(Kafka, Postgres\)/);
    await expect(env([...LISTENER, ...KAFKA, 'this is not a variable'])).rejects.toThrow(/line 18 \(this is not a variable\) is not NAME=value/);
    await expect(env(['PGSTREAM_KAFKA_WRITER_SERVERS=k:9092', 'PGSTREAM_KAFKA_TOPIC_NAME=t'])).rejects.toThrow(/PGSTREAM_POSTGRES_LISTENER_URL \(source\.postgres\.url\) is missing/);
    await expect(env(['FOO=bar'], 'other.env')).rejects.toThrow(/other\.env is a \.env file without PGSTREAM_ variables/);
  });
});
