/**
 * A transform function choosing where an event goes: the `destination` it sets is the Redis stream
 * key of the record (as it is the Kafka topic, NATS subject or RabbitMQ routing key: all write
 * through targets/records), against a real redis-server; and the URL path of CloudEvents, one
 * event or one batch per request, against an HTTP server recording paths. Events without one keep
 * their table's destination, or the URL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { useRedisServer } from '../support/redis-server.js';
import { tempDir } from '../support/stream-fixtures.js';
import { transformDocument } from './transform-fixtures.js';

describe('transform destinations', () => {
  const server = useTestServer();
  const redis = useRedisServer();

  it('writes each event to the destination the function set, others to their table stream', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key, region text)');
    const dir = tempDir('pgcdc-transform-');
    const script = `(event) => { const row = event.after ?? event.before; if (row.region) event.destination = 'orders.' + row.region; return event; }`;
    const document = transformDocument(url, { script }, { dir, name: 'dest', target: { type: 'RedisStreams', redisStreams: { url: redis().url, schemasEnable: false } } });
    const config = await parseStreamConfig(document, { fileName: path.join(dir, 'stream.yaml'), cwd: dir });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into orders values (1, 'eu'), (2, 'us'), (3, null), (4, 'eu')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const byStream = async (pattern: string) => (await redis().readStreams(pattern)).map((record) => [record.topic, JSON.parse(record.value!).after]);
    const { rows } = await sql(url, 'select id, to_jsonb(o) as row, region from orders o order by id');
    const expected = rows.map((row) => [row.region === null ? 'dest.public.orders' : `orders.${row.region}`, row.row]);
    const written = [...(await byStream('orders.*')), ...(await byStream('dest.*'))].sort((a, b) => (a[1] as { id: number }).id - (b[1] as { id: number }).id);
    expect(written).toStrictEqual(expected);
  }, 120_000);

  it('POSTs each CloudEvent to the path the function set, below the URL or absolute, in structured and batched mode', async () => {
    const received: { path: string; ids: number[] }[] = [];
    const receiver = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const parsed = JSON.parse(body);
        received.push({ path: request.url!, ids: (Array.isArray(parsed) ? parsed : [parsed]).map((event: any) => event.data.after.id) });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = await createDatabase(server());
      await sql(url, 'create table orders (id int primary key, region text)');
      const script = `(event) => { const r = event.after.region; if (r === 'eu') event.destination = 'eu'; if (r === 'us') event.destination = '/us/orders'; return event; }`;
      const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events/`;
      const streams = await Promise.all(
        ['structured', 'batched'].map(async (mode) => {
          const dir = tempDir('pgcdc-transform-');
          // One lane: the requests come in commit order.
          const target = { type: 'CloudEvent', cloudEvent: { mode, http: { url: base, concurrency: 1 } } };
          return parseStreamConfig(transformDocument(url, { script }, { dir, name: `ce-${mode}`, target }), { fileName: path.join(dir, 'stream.yaml'), cwd: dir });
        }),
      );
      for (const config of streams) await runStream(config, { logger: silentLogger(), stopAt: 'now' });
      await sql(url, "insert into orders values (1, 'eu'), (2, 'us'), (3, null), (4, 'eu'), (5, 'eu')");
      const { rows } = await sql(url, 'select id, region from orders order by id');
      const pathOf = (region: string | null) => (region === 'eu' ? '/events/eu' : region === 'us' ? '/us/orders' : '/events/');
      const expected = rows.map((row) => [pathOf(row.region), row.id]);

      await runStream(streams[0]!, { logger: silentLogger(), stopAt: 'now' });
      expect(received.map((request) => request.ids.length)).toStrictEqual(rows.map(() => 1));
      expect(received.flatMap((request) => request.ids.map((id) => [request.path, id]))).toStrictEqual(expected);

      received.length = 0;
      await runStream(streams[1]!, { logger: silentLogger(), stopAt: 'now' });
      expect(received.flatMap((request) => request.ids.map((id) => [request.path, id]))).toStrictEqual(expected);
      // One request per run of the same destination: [1] eu, [2] us, [3] the URL, [4, 5] eu.
      expect(received.map((request) => request.ids)).toStrictEqual([[1], [2], [3], [4, 5]]);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  }, 120_000);
});
