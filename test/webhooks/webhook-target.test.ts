/**
 * The Webhook target end to end on a real PostgreSQL, with real local HTTP subscribers: subscribed
 * through the HTTP API while the stream runs, each gets exactly the changes it asked for, in commit
 * order, with the source's data; unsubscribing stops delivery; a subscriber answering 500 gets
 * retries while the slot stays before the undelivered change; a 4xx goes to the dead-letter file
 * and the stream goes on; after kill -9, only the unacknowledged tail comes again.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { SubscriptionStore } from '../../src/targets/webhook/subscription-store.js';
import { runCli, startCli } from '../support/cli.js';
import { type Answer, CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { connectionConfigFor } from '../support/connection.js';
import { failure, freePort } from '../support/expected-failures.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { readEvents, tempDir } from '../support/stream-fixtures.js';

let counter = 0;

/** A webhook stream spec written to a temporary directory. */
async function webhookStream(url: string, webhook: Record<string, unknown> = {}): Promise<{ config: StreamConfig; specFile: string; apiUrl: string }> {
  const dir = tempDir('pgcdc-webhook-');
  const port = await freePort();
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name: `wh${process.pid}x${++counter}` },
    spec: {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', statusIntervalMs: 200 } },
      target: { type: 'Webhook', webhook: { subscriptionServer: { listenAddress: `127.0.0.1:${port}` }, ...webhook, http: { retryBackoffDelay: 1, ...(webhook.http as object) } } },
      maxRetries: 0,
      stateDir: path.join(dir, 'state'),
    },
  };
  const specFile = path.join(dir, 'stream.yaml');
  const text = JSON.stringify(spec, null, 2);
  fs.writeFileSync(specFile, text);
  return { config: await parseStreamConfig(text, { fileName: specFile, cwd: dir }), specFile, apiUrl: `http://127.0.0.1:${port}` };
}

async function post(apiUrl: string, path: string, body: unknown): Promise<number> {
  const response = await fetch(`${apiUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  await response.body?.cancel();
  return response.status;
}

/** Each request's body is `{"Data": <Debezium change event>}`: the change events. */
const parseNotification = (body: string): any[] => [JSON.parse(body).Data];
const changes = (events: readonly unknown[]): any[] => events as any[];
const summary = (event: any): string => `${event.source.table}:${event.op}:${(event.after ?? event.before).id}`;

/** The slot's confirmed_flush_lsn is at or before `lsn` (a number, as events carry it). */
async function slotNotPast(url: string, slot: string, lsn: number): Promise<boolean> {
  const { rows } = await sql(url, "select confirmed_flush_lsn <= ('0/0'::pg_lsn + $2::numeric) as behind from pg_replication_slots where slot_name = $1", [slot, lsn]);
  return rows[0].behind as boolean;
}

describe('Webhook target', () => {
  const server = useTestServer();
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function receiver(answer?: (events: any[]) => Answer): Promise<CloudEventReceiver> {
    const started = await CloudEventReceiver.start({ parse: parseNotification, ...(answer ? { answer } : {}) });
    cleanups.push(() => started.stop());
    return started;
  }

  /** A database with tables a and b, and a stream on it running in the background, its API up. */
  async function running(webhook: Record<string, unknown> = {}) {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key, n int, note text)');
    await sql(url, 'create table b (id int primary key, v text)');
    const stream = await webhookStream(url, webhook);
    await runStream(stream.config, { logger: silentLogger(), stopAt: 'now' });
    const controller = new AbortController();
    const run = runStream(stream.config, { logger: silentLogger(), signal: controller.signal });
    cleanups.push(async () => {
      controller.abort();
      await run.catch(() => undefined);
    });
    await waitFor(() => fetch(`${stream.apiUrl}/webhooks/subscriptions`).then((r) => (r.ok ? true : undefined), () => undefined), 20_000, 'the subscription API');
    return { url, run, ...stream };
  }

  it('sends each change to the subscriptions matching it, in commit order, with the source data; unsubscribing stops delivery', async () => {
    const { url, apiUrl } = await running({ http: { concurrency: 1 } });
    const inserts = await receiver();
    const everything = await receiver();
    expect(await post(apiUrl, '/webhooks/subscribe', { url: inserts.url, schema: 'public', table: 'a', event_types: ['I'] })).toBe(201);
    expect(await post(apiUrl, '/webhooks/subscribe', { url: everything.url })).toBe(201);

    await sql(url, "insert into a values (1, 10, 'one'), (2, 20, 'two')");
    await sql(url, "insert into b values (1, 'b-one')");
    await sql(url, 'update a set n = n + 1 where id = 1');
    await sql(url, "update b set v = 'b-uno' where id = 1");
    await sql(url, 'delete from a where id = 2');
    await sql(url, "insert into a values (3, 30, 'three')");
    await sql(url, 'truncate b');

    const all = ['a:c:1', 'a:c:2', 'b:c:1', 'a:u:1', 'b:u:1', 'a:d:2', 'a:c:3'];
    await waitFor(() => (everything.accepted.length >= all.length + 1 ? true : undefined), 20_000, 'every change at the all-tables subscriber');
    expect(changes(everything.accepted).map((e) => (e.op === 't' ? `${e.source.table}:t` : summary(e)))).toEqual([...all, 'b:t']);
    await waitFor(() => (inserts.accepted.length >= 3 ? true : undefined), 20_000, 'the inserts of a');
    expect(changes(inserts.accepted).map(summary)).toEqual(['a:c:1', 'a:c:2', 'a:c:3']);
    // The data is the source's.
    const { rows } = await sql(url, 'select to_jsonb(a) as row from a order by id');
    const lastAfter = new Map(changes(everything.accepted).filter((e) => e.source.table === 'a' && e.after).map((e) => [e.after.id, e.after]));
    expect(rows.map((r) => r.row)).toEqual([lastAfter.get(1), lastAfter.get(3)]);
    expect(changes(inserts.accepted)[0]).toMatchObject({ op: 'c', before: null, after: { id: 1, n: 10, note: 'one' }, source: { schema: 'public', table: 'a' } });
    expect(everything.requests[0]!.contentType).toBe('application/json; charset=utf-8');

    expect(await post(apiUrl, '/webhooks/unsubscribe', { url: everything.url })).toBe(200);
    await sql(url, "insert into b values (2, 'after')");
    await sql(url, "insert into a values (4, 40, 'after')");
    await waitFor(() => (inserts.accepted.length >= 4 ? true : undefined), 20_000, 'the insert made after unsubscribing');
    expect(changes(inserts.accepted).map(summary)).toEqual(['a:c:1', 'a:c:2', 'a:c:3', 'a:c:4']);
    expect(everything.received).toHaveLength(all.length + 1);
  });

  it('retries a subscriber answering 500 and keeps the slot before the undelivered change until it recovers', async () => {
    let failing = true;
    const subscriber = await receiver(() => (failing ? 500 : 200));
    const { url, apiUrl, config } = await running();
    expect(await post(apiUrl, '/webhooks/subscribe', { url: subscriber.url, table: 'a' })).toBe(201);
    for (let id = 1; id <= 5; id++) await sql(url, `insert into a values (${id}, ${id}, 'r${id}')`);
    await waitFor(() => (subscriber.received.length >= 8 ? true : undefined), 20_000, 'retries of the failing subscriber');
    const firstLsn = Math.min(...changes(subscriber.received).map((e) => Number(e.source.lsn)));
    // Keepalives and status updates go on meanwhile: the slot must stay before the first change.
    for (let check = 0; check < 5; check++) {
      expect(await slotNotPast(url, config.source.slotName, firstLsn)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(subscriber.accepted).toEqual([]);
    failing = false;
    await waitFor(() => (subscriber.accepted.length >= 5 ? true : undefined), 20_000, 'every change once the subscriber recovers');
    expect(changes(subscriber.accepted).map((e) => e.after.id).sort()).toEqual([1, 2, 3, 4, 5]);
    const lastLsn = Math.max(...changes(subscriber.accepted).map((e) => Number(e.source.lsn)));
    await waitFor(async () => ((await slotNotPast(url, config.source.slotName, lastLsn)) ? undefined : true), 20_000, 'the slot to pass the delivered changes');
  });

  it('sets a change a subscriber rejects with a 4xx aside in the dead-letter file and goes on', async () => {
    const subscriber = await receiver((events) => (events[0].after?.note === 'bad' ? 422 : 200));
    const { url, apiUrl, config } = await running();
    expect(await post(apiUrl, '/webhooks/subscribe', { url: subscriber.url, schema: 'public', table: 'a' })).toBe(201);
    await sql(url, "insert into a values (1, 0, 'ok'), (2, 0, 'bad'), (3, 0, 'ok')");
    await sql(url, 'update a set n = 1 where id = 3');
    await waitFor(() => (subscriber.accepted.length >= 3 ? true : undefined), 20_000, 'the accepted changes');
    const delivered = changes(subscriber.accepted).map(summary);
    expect([...delivered].sort()).toEqual(['a:c:1', 'a:c:3', 'a:u:3']);
    expect(delivered.indexOf('a:c:3')).toBeLessThan(delivered.indexOf('a:u:3'));
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ attempts: 1, error: `the webhook subscriber at ${subscriber.url} answered HTTP 422: status 422` });
    expect(letters[0].id).toMatch(new RegExp(`^\\d+:\\d+:\\d+@${subscriber.url}$`));
    expect(letters[0].event.Data.after).toEqual({ id: 2, n: 0, note: 'bad' });
  });

  it('stops at start with the fix when the subscription API cannot listen', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key)');
    const { config, apiUrl } = await webhookStream(url);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(Number(new URL(apiUrl).port), '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const error = await failure(runStream(config, { logger: silentLogger(), stopAt: 'now' }));
    expect(error.toLine()).toContain(`the webhook subscription server cannot listen on 127.0.0.1:${new URL(apiUrl).port}: the address is in use`);
    expect(error.hint).toBe('choose another port for the subscription server, or stop what listens there');
  });

  it('after kill -9, delivers again only the unacknowledged tail, and nothing is missing', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table a (id int primary key, n int, note text)');
    const subscriber = await receiver();
    // Subscriptions managed with SQL only: the API is off.
    const { config, specFile } = await webhookStream(url, { subscriptionServer: { enabled: false }, http: { concurrency: 4 } });
    const store = await SubscriptionStore.open({ connection: await connectionConfigFor(url) });
    await store.subscribe({ url: subscriber.url, schema: '', table: '' }, []);
    await store.close();
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);

    const run = startCli(['run', '-c', specFile]);
    cleanups.push(async () => {
      run.child.kill('SIGKILL');
      await run.finished();
    });
    await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [config.source.slotName])).rows[0]?.active ? true : undefined), 20_000, 'the stream');
    // A first half delivered and acknowledged, then a second half whose notifications are held after a few.
    for (let t = 0; t < 10; t++) await sql(url, `insert into a select g, 0, 'row ' || g from generate_series(${t * 5 + 1}, ${t * 5 + 5}) g`);
    await waitFor(() => (subscriber.accepted.length >= 50 ? true : undefined), 20_000, 'the first half');
    const firstHalfEnd = Math.max(...changes(subscriber.accepted).map((e) => Number(e.source.lsn)));
    await waitFor(async () => ((await slotNotPast(url, config.source.slotName, firstHalfEnd)) ? undefined : true), 20_000, 'the first half acknowledged');
    let answered = 0;
    subscriber.answer = () => (++answered > 10 ? 'hold' : 200);
    for (let t = 10; t < 20; t++) await sql(url, `insert into a select g, 0, 'row ' || g from generate_series(${t * 5 + 1}, ${t * 5 + 5}) g`);
    for (let t = 0; t < 10; t++) await sql(url, `update a set n = n + 1 where id % 10 = ${t}`);
    await waitFor(() => (subscriber.requests.some((r) => r.status === undefined) ? true : undefined), 30_000, 'a held notification');
    run.child.kill('SIGKILL');
    await run.finished();
    subscriber.dropHeld();
    const firstRun = subscriber.requests.length;
    const { rows } = await sql(url, "select (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint as lsn from pg_replication_slots where slot_name = $1", [config.source.slotName]);
    const confirmedAtKill = Number(rows[0].lsn);

    subscriber.answer = () => 200;
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const key = (e: any): string => `${e.source.lsn}:${summary(e)}`;
    const again = changes(subscriber.requests.slice(firstRun).flatMap((r) => r.events));
    // Only changes past the acknowledged position came again: not the acknowledged first half.
    expect(confirmedAtKill).toBeGreaterThan(firstHalfEnd);
    expect(again.length).toBeGreaterThan(0);
    for (const event of again) expect(Number(event.source.lsn), key(event)).toBeGreaterThanOrEqual(confirmedAtKill);
    expect(again.length).toBeLessThanOrEqual(150);
    // Every change was accepted, each once but for the tail.
    const accepted = changes(subscriber.accepted).map(key);
    expect(new Set(accepted).size).toBe(100 + 100);
    expect(accepted.length - 200).toBeLessThanOrEqual(again.length);
  }, 120_000);
});
