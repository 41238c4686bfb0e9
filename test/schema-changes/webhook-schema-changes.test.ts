/**
 * Schema-change events on the Webhook target, with real local HTTP subscribers: a subscription to
 * the changed table that lists no event types gets the schema change between the rows of the old
 * and the new shape; one that lists `schema` gets it alone; one that lists row operations, or one
 * to another table, does not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { freePort } from '../support/expected-failures.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';

const parseNotification = (body: string): any[] => [JSON.parse(body).Data];

describe('schema changes on the Webhook target', () => {
  const server = useTestServer();
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function receiver(): Promise<CloudEventReceiver> {
    const started = await CloudEventReceiver.start({ parse: parseNotification });
    cleanups.push(() => started.stop());
    return started;
  }

  it('go to the subscriptions of their table that list no event types, in order with the rows', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key, n int); create table b (id int primary key)');
    const dir = tempDir('pgcdc-webhook-schema-');
    const port = await freePort();
    const text = JSON.stringify({
      apiVersion: 'pgcdc/v1',
      kind: 'Stream',
      metadata: { name: `whschema${process.pid}` },
      spec: {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', captureDdl: true, statusIntervalMs: 200 } },
        target: { type: 'Webhook', webhook: { subscriptionServer: { listenAddress: `127.0.0.1:${port}` }, http: { retryBackoffDelay: 1 } } },
        maxRetries: 0,
        stateDir: path.join(dir, 'state'),
      },
    });
    fs.writeFileSync(path.join(dir, 'stream.yaml'), text);
    const config = await parseStreamConfig(text, { fileName: path.join(dir, 'stream.yaml'), cwd: dir });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const controller = new AbortController();
    const run = runStream(config, { logger: silentLogger(), signal: controller.signal });
    cleanups.push(async () => {
      controller.abort();
      await run.catch(() => undefined);
    });
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${apiUrl}/webhooks/subscriptions`).then((r) => (r.ok ? true : undefined), () => undefined), 20_000, 'the subscription API');
    const subscribe = async (body: Record<string, unknown>) => {
      const response = await fetch(`${apiUrl}/webhooks/subscribe`, { method: 'POST', body: JSON.stringify(body) });
      await response.body?.cancel();
      expect(response.status).toBe(201);
    };
    const tableA = await receiver();
    const insertsOfA = await receiver();
    const tableB = await receiver();
    const schemaOfA = await receiver();
    await subscribe({ url: tableA.url, schema: 'public', table: 'a' });
    await subscribe({ url: schemaOfA.url, schema: 'public', table: 'a', event_types: ['schema'] });
    await subscribe({ url: insertsOfA.url, schema: 'public', table: 'a', event_types: ['I'] });
    await subscribe({ url: tableB.url, schema: 'public', table: 'b' });

    await sql(url, 'insert into a values (1, 10)');
    await sql(url, 'alter table a add column note text');
    await sql(url, "insert into a values (2, 20, 'two')");
    await sql(url, 'insert into b values (1)');

    await waitFor(() => (tableA.accepted.length >= 3 && insertsOfA.accepted.length >= 2 && tableB.accepted.length >= 1 && schemaOfA.accepted.length >= 1 ? true : undefined), 20_000, 'every notification');
    const received = tableA.accepted as any[];
    expect(received.map((e) => e.op)).toEqual(['c', 'schema', 'c']);
    const { rows } = await sql(url, 'select to_jsonb(a) as row from a order by id');
    expect(received[0].after).toEqual({ id: 1, n: 10 });
    expect(received[2].after).toEqual(rows[1].row);
    expect(received[1].schemaChange).toMatchObject({ operation: 'ALTER', schema: 'public', table: 'a', query: 'alter table a add column note text' });
    expect(received[1].schemaChange.after.map((c: { name: string }) => c.name)).toEqual(['id', 'n', 'note']);
    expect((insertsOfA.accepted as any[]).map((e) => e.op)).toEqual(['c', 'c']);
    expect((tableB.accepted as any[]).map((e) => e.op)).toEqual(['c']);
    expect((schemaOfA.accepted as any[]).map((e) => e.op)).toEqual(['schema']);
  });
});
