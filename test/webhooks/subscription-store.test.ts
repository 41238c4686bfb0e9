/**
 * The webhook subscription store on a real PostgreSQL: the table it creates, subscribe and
 * unsubscribe, which URLs an event goes to, and a running store seeing subscriptions another
 * process adds (through its own store or plain SQL) by LISTEN/NOTIFY, not by polling.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionConfig } from '../../src/config/stream-config.js';
import { matchingSubscriptions } from '../../src/targets/webhook/subscription-set.js';
import { SubscriptionStore } from '../../src/targets/webhook/subscription-store.js';
import { connectionConfigFor } from '../support/connection.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';

const server = useTestServer();
const opened: SubscriptionStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

/** Polling so rare that only notifications can explain a change seen in a test. */
const NO_POLLING = 3_600_000;

async function openStore(connection: ConnectionConfig): Promise<SubscriptionStore> {
  const store = await SubscriptionStore.open({ connection, pollIntervalMs: NO_POLLING });
  opened.push(store);
  return store;
}

async function freshStore(): Promise<{ url: string; connection: ConnectionConfig; store: SubscriptionStore }> {
  const url = await createDatabase(server(), 'webhooks');
  const connection = await connectionConfigFor(url);
  return { url, connection, store: await openStore(connection) };
}

describe('SubscriptionStore', () => {
  it('creates pgcdc.webhook_subscriptions keyed by url, schema and table, and opens again on it', async () => {
    const { url, connection } = await freshStore();
    const { rows: columns } = await sql(
      url,
      `select column_name, data_type from information_schema.columns where table_schema = 'pgcdc' and table_name = 'webhook_subscriptions' order by ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'url', data_type: 'text' },
      { column_name: 'schema', data_type: 'text' },
      { column_name: 'table', data_type: 'text' },
      { column_name: 'event_types', data_type: 'ARRAY' },
      { column_name: 'created_at', data_type: 'timestamp with time zone' },
    ]);
    const { rows: key } = await sql(
      url,
      `select array_agg(a.attname::text order by k.ord) as columns from pg_index i cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum where i.indrelid = 'pgcdc.webhook_subscriptions'::regclass and i.indisprimary`,
    );
    expect(key[0].columns).toEqual(['url', 'schema', 'table']);
    await expect(Promise.all([openStore(connection), openStore(connection)])).resolves.toHaveLength(2);
  });

  it('subscribes, replaces the event types of the same url, schema and table, and unsubscribes', async () => {
    const { url, store } = await freshStore();
    const first = await store.subscribe({ url: 'http://127.0.0.1:1/orders', schema: 'public', table: 'orders' }, ['c']);
    expect(first).toMatchObject({ url: 'http://127.0.0.1:1/orders', schema: 'public', table: 'orders', eventTypes: ['c'] });
    expect(first.createdAt).toBeInstanceOf(Date);
    await store.subscribe({ url: 'http://127.0.0.1:1/orders', schema: 'public', table: 'orders' }, ['c', 'u']);
    await store.subscribe({ url: 'http://127.0.0.1:1/all', schema: '', table: '' }, []);
    expect(store.list().map(({ url: hook, schema, table, eventTypes }) => ({ hook, schema, table, eventTypes }))).toEqual([
      { hook: 'http://127.0.0.1:1/orders', schema: 'public', table: 'orders', eventTypes: ['c', 'u'] },
      { hook: 'http://127.0.0.1:1/all', schema: '', table: '', eventTypes: [] },
    ]);
    const { rows } = await sql(url, 'select count(*)::int as n from pgcdc.webhook_subscriptions');
    expect(rows[0].n).toBe(2);

    expect(await store.unsubscribe({ url: 'http://127.0.0.1:1/orders', schema: 'public', table: 'orders' })).toBe(true);
    expect(await store.unsubscribe({ url: 'http://127.0.0.1:1/orders', schema: 'public', table: 'orders' })).toBe(false);
    expect(store.list().map((subscription) => subscription.url)).toEqual(['http://127.0.0.1:1/all']);
  });

  it('sends an event to the URLs whose schema, table and event types match, empty meaning all', async () => {
    const { store } = await freshStore();
    await store.subscribe({ url: 'http://hooks.test/orders-inserts', schema: 'public', table: 'orders' }, ['c']);
    await store.subscribe({ url: 'http://hooks.test/public', schema: 'public', table: '' }, ['c', 'u', 'd']);
    await store.subscribe({ url: 'http://hooks.test/any-orders', schema: '', table: 'orders' }, []);
    await store.subscribe({ url: 'http://hooks.test/everything', schema: '', table: '' }, []);
    await store.subscribe({ url: 'http://hooks.test/everything', schema: 'sales', table: '' }, ['d']);

    expect(matchingSubscriptions(store, 'public', 'orders', 'c')).toEqual(['http://hooks.test/orders-inserts', 'http://hooks.test/public', 'http://hooks.test/any-orders', 'http://hooks.test/everything']);
    expect(matchingSubscriptions(store, 'public', 'orders', 'u')).toEqual(['http://hooks.test/public', 'http://hooks.test/any-orders', 'http://hooks.test/everything']);
    expect(matchingSubscriptions(store, 'public', 'customers', 't')).toEqual(['http://hooks.test/everything']);
    expect(matchingSubscriptions(store, 'sales', 'orders', 'd')).toEqual(['http://hooks.test/any-orders', 'http://hooks.test/everything']);
    expect(matchingSubscriptions(store, 'sales', 'invoices', 'r')).toEqual(['http://hooks.test/everything']);

    await store.unsubscribe({ url: 'http://hooks.test/everything', schema: '', table: '' });
    expect(matchingSubscriptions(store, 'public', 'customers', 't')).toEqual([]);
    expect(matchingSubscriptions(store, 'sales', 'invoices', 'd')).toEqual(['http://hooks.test/everything']);
  });

  it('sees a subscription added by another store, and one written with SQL, without polling', async () => {
    const { url, connection, store: running } = await freshStore();
    const other = await openStore(connection);
    expect(matchingSubscriptions(running, 'public', 'orders', 'c')).toEqual([]);

    await other.subscribe({ url: 'http://hooks.test/orders', schema: 'public', table: 'orders' }, ['c']);
    await waitFor(() => (matchingSubscriptions(running, 'public', 'orders', 'c').length === 1 ? true : undefined), 10_000, 'the running store to see the new subscription');

    await sql(url, `insert into pgcdc.webhook_subscriptions (url, "schema", "table", event_types) values ('http://hooks.test/sql', 'public', '', '{u}')`);
    await waitFor(() => (matchingSubscriptions(running, 'public', 'orders', 'u').includes('http://hooks.test/sql') ? true : undefined), 10_000, 'the SQL subscription');

    await sql(url, 'delete from pgcdc.webhook_subscriptions');
    await waitFor(() => (running.list().length === 0 ? true : undefined), 10_000, 'the deletions');
  });

  it('tells a database it cannot reach', async () => {
    const connection = await connectionConfigFor(server().url('no_such_database'));
    await expect(SubscriptionStore.open({ connection })).rejects.toMatchObject({ code: 'DATABASE_NOT_FOUND' });
  });
});
