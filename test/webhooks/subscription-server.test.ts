/**
 * The webhook subscription HTTP API on a real PostgreSQL and a real HTTP client: subscribe,
 * unsubscribe and list as pgstream's API does, clear 400s for bad requests, and a running
 * stream's store seeing a subscription made through the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchingSubscriptions } from '../../src/targets/webhook/subscription-set.js';
import { SubscriptionServer } from '../../src/targets/webhook/subscription-server.js';
import { SubscriptionStore } from '../../src/targets/webhook/subscription-store.js';
import { connectionConfigFor } from '../support/connection.js';
import { createDatabase, useTestServer, waitFor } from '../support/postgres.js';

const postgres = useTestServer();
let serverStore: SubscriptionStore;
let streamStore: SubscriptionStore;
let server: SubscriptionServer;

beforeAll(async () => {
  const connection = await connectionConfigFor(await createDatabase(postgres(), 'webhook_api'));
  serverStore = await SubscriptionStore.open({ connection });
  // The store of a running stream: a separate process in production, with polling out of the way.
  streamStore = await SubscriptionStore.open({ connection, pollIntervalMs: 3_600_000 });
  server = await SubscriptionServer.start({ store: serverStore, port: 0 });
});

afterAll(async () => {
  await server?.close();
  await Promise.all([serverStore?.close(), streamStore?.close()]);
});

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function list(): Promise<any[]> {
  const response = await fetch(`${server.url}/webhooks/subscriptions`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return ((await response.json()) as { subscriptions: any[] }).subscriptions;
}

describe('the subscription API', () => {
  it('subscribes with 201, and the running stream sends matching events to the URL', async () => {
    const answer = await post('/webhooks/subscribe', { url: 'http://127.0.0.1:7001/orders', schema: 'public', table: 'orders', event_types: ['I', 'U'] });
    expect(answer).toEqual({
      status: 201,
      body: { url: 'http://127.0.0.1:7001/orders', schema: 'public', table: 'orders', event_types: ['c', 'u', 'r'], created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    });
    await waitFor(() => (matchingSubscriptions(streamStore, 'public', 'orders', 'c').length > 0 ? true : undefined), 10_000, 'the stream to see the subscription');
    expect(matchingSubscriptions(streamStore, 'public', 'orders', 'c')).toEqual(['http://127.0.0.1:7001/orders']);
    expect(matchingSubscriptions(streamStore, 'public', 'orders', 'd')).toEqual([]);
  });

  it('takes missing or empty schema, table and event types as all', async () => {
    expect((await post('/webhooks/subscribe', { url: 'http://127.0.0.1:7001/all' })).status).toBe(201);
    expect((await post('/webhooks/subscribe', { url: 'http://127.0.0.1:7001/sales', schema: 'sales', table: '', event_types: [] })).status).toBe(201);
    const subscriptions = await list();
    expect(subscriptions.map(({ url, schema, table, event_types }) => ({ url, schema, table, event_types }))).toEqual([
      { url: 'http://127.0.0.1:7001/orders', schema: 'public', table: 'orders', event_types: ['c', 'u', 'r'] },
      { url: 'http://127.0.0.1:7001/all', schema: '', table: '', event_types: [] },
      { url: 'http://127.0.0.1:7001/sales', schema: 'sales', table: '', event_types: [] },
    ]);
    await waitFor(() => (matchingSubscriptions(streamStore, 'sales', 'invoices', 't').length === 2 ? true : undefined), 10_000, 'the stream to see both');
    expect(matchingSubscriptions(streamStore, 'sales', 'invoices', 't')).toEqual(['http://127.0.0.1:7001/all', 'http://127.0.0.1:7001/sales']);
  });

  it('unsubscribes with 200, saying whether there was such a subscription', async () => {
    expect(await post('/webhooks/unsubscribe', { url: 'http://127.0.0.1:7001/sales', schema: 'sales', event_types: ['D'] })).toEqual({ status: 200, body: { deleted: true } });
    expect(await post('/webhooks/unsubscribe', { url: 'http://127.0.0.1:7001/sales', schema: 'sales' })).toEqual({ status: 200, body: { deleted: false } });
    expect((await list()).map((subscription) => subscription.url)).toEqual(['http://127.0.0.1:7001/orders', 'http://127.0.0.1:7001/all']);
    await waitFor(() => (matchingSubscriptions(streamStore, 'sales', 'invoices', 't').length === 1 ? true : undefined), 10_000, 'the stream to see the removal');
  });

  it.each([
    ['a body that is not JSON', '{"url": ', /^the body is not JSON \(.+\); expected \{"url": …, "schema": …, "table": …, "event_types": \[…\]\}$/],
    ['a list', [], 'the body is a list; expected a JSON object {"url": …, "schema": …, "table": …, "event_types": […]}'],
    ['no url', { schema: 'public' }, 'url is missing; expected an http:// or https:// URL, e.g. "https://hooks.example.com/orders"'],
    ['a url that is not http', { url: 'ftp://hooks.example.com' }, 'url is "ftp://hooks.example.com"; expected an http:// or https:// URL, e.g. "https://hooks.example.com/orders"'],
    ['a url that is not a URL', { url: 'hooks' }, 'url is "hooks", which is not a URL; expected an http:// or https:// URL, e.g. "https://hooks.example.com/orders"'],
    ['a schema that is not a string', { url: 'http://h.test/', schema: 5 }, 'schema is 5; expected the schema name as a string ("" or missing for every schema)'],
    ['event types that are not a list', { url: 'http://h.test/', event_types: 'I' }, 'event_types is "I"; expected a list of one of c, u, d, t, r, schema (Debezium\'s op; schema: schema changes) or I, U, D, T (pgstream\'s) (empty or missing for every operation)'],
    ['an unknown event type', { url: 'http://h.test/', event_types: ['I', 'X'] }, 'event_types[1] is "X"; expected one of c, u, d, t, r, schema (Debezium\'s op; schema: schema changes) or I, U, D, T (pgstream\'s)'],
    ['an unknown key', { url: 'http://h.test/', tabel: 'orders' }, 'unknown key "tabel"; expected url, schema, table, event_types'],
  ])('answers 400 to %s, saying what is wrong', async (_case, body, error) => {
    const answer = await post('/webhooks/subscribe', body);
    expect(answer.status).toBe(400);
    if (typeof error === 'string') expect(answer.body).toEqual({ error });
    else expect(answer.body.error).toMatch(error);
  });

  it('answers 404 to other paths and 405 to other methods', async () => {
    const missing = await fetch(`${server.url}/webhooks/subscribers`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no such endpoint: /webhooks/subscribers; expected POST /webhooks/subscribe, POST /webhooks/unsubscribe or GET /webhooks/subscriptions' });
    const wrongMethod = await fetch(`${server.url}/webhooks/subscribe`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect((await post('/webhooks/subscriptions', {})).status).toBe(405);
  });

  it('tells a port in use', async () => {
    const port = Number(new URL(server.url).port);
    await expect(SubscriptionServer.start({ store: serverStore, port })).rejects.toThrow(`the webhook subscription server cannot listen on 127.0.0.1:${port}: the address is in use`);
  });
});
