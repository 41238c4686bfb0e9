/**
 * `spec.transform.grants.allowNetwork` on real streams and real HTTP servers (node:http on
 * 127.0.0.1): an async function enriching each event from a server (one request per event, the
 * enrichment in the File target's events, commit order kept); a host not in the list refused
 * inside the function (the server sees nothing; policy stop: TRANSFORM_FAILED, the slot not
 * acknowledged past the event); a server that never answers, past the time limit (stop: the
 * batch named; dead-letter: only that event stored, the others delivered, the hung requests
 * aborted); a promise that waits for nothing fails its event. Without the grant there is no
 * `fetch` (script-transform.test.ts).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { currentWal, slotPosition } from '../support/event-capture.js';
import { failure } from '../support/expected-failures.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { startTransformCapture } from './transform-fixtures.js';

/** `to_jsonb()` of each row of `orders`, by id (plain numbers: the columns are int). */
async function ordersAsJsonb(url: string): Promise<Record<string, any>[]> {
  const { rows } = await sql(url, 'select to_jsonb(o) as j from orders as o order by id');
  return rows.map((row: { j: Record<string, any> }) => row.j);
}

/** A real HTTP server on 127.0.0.1 recording each request's path; `hang` lists paths it never answers. */
interface CustomerServer {
  readonly port: number;
  readonly seen: string[];
  /** Requests left unanswered, and how many of them the client closed (aborted). */
  readonly hung: { count: number; closed: number };
  close(): Promise<void>;
}

/** Answers `/customers/<n>` with `{"name":"customer-<n>"}`; paths in `hang` get no answer. */
async function customerServer(hang: readonly string[] = []): Promise<CustomerServer> {
  const seen: string[] = [];
  const hung = { count: 0, closed: 0 };
  const sockets = new Set<Socket>();
  const server = http.createServer((request, response) => {
    const url = request.url!;
    seen.push(url);
    if (hang.includes(url)) {
      hung.count++;
      response.on('close', () => hung.closed++);
      return;
    }
    const customer = /^\/customers\/(\d+)$/.exec(url);
    if (customer === null) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: `customer-${customer[1]}` }));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    hung,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An async function adding the customer's name (fetched from the server) to each order. */
function enrichingScript(host: string): string {
  return `async (event) => {
    const reply = await fetch('http://${host}/customers/' + event.after.customer);
    if (!reply.ok) throw new Error('the customer service answered ' + reply.status);
    event.after.customer_name = (await reply.json()).name;
    return event;
  }`;
}

describe('transform network grant', () => {
  const server = useTestServer();
  const servers: CustomerServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((started) => started.close()));
  });
  async function startServer(hang: readonly string[] = []): Promise<CustomerServer> {
    const started = await customerServer(hang);
    servers.push(started);
    return started;
  }

  it('enriches each event from an allowed host, one request per event, in commit order', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key, customer int not null, qty int)');
    const customers = await startServer();
    const host = `127.0.0.1:${customers.port}`;
    const capture = await startTransformCapture(url, { script: enrichingScript(host), grants: { allowNetwork: { hosts: [host] } } });
    await sql(url, 'insert into orders select n, 100 + n % 4, n * 2 from generate_series(1, 40) as n');
    await sql(url, 'insert into orders values (41, 7, 9)');
    await sql(url, 'update orders set qty = 0 where id in (3, 41)');
    const events = await capture.events();
    const rows = await ordersAsJsonb(url);
    const byId = new Map(rows.map((row) => [row.id, row]));
    const expectedIds = [...Array.from({ length: 41 }, (_, i) => i + 1), 3, 41];
    expect(events.map((event) => event.after.id)).toStrictEqual(expectedIds);
    expect(events.map((event) => event.op)).toStrictEqual([...Array(41).fill('c'), 'u', 'u']);
    // The updates carry the rows as they are now; each insert the row as it was inserted (qty changed only for 3 and 41).
    for (const event of events) {
      const row = byId.get(event.after.id)!;
      const asInserted = event.op === 'c' && (row.id === 3 || row.id === 41) ? { ...row, qty: row.id === 3 ? 6 : 9 } : row;
      expect(event.after).toStrictEqual({ ...asInserted, customer_name: `customer-${row.customer}` });
    }
    expect([...customers.seen].sort()).toStrictEqual(events.map((event) => `/customers/${event.after.customer}`).sort());
  });

  it('refuses a host not in the list inside the function and stops at the event without acknowledging it', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key, customer int not null)');
    const customers = await startServer();
    const allowed = `127.0.0.1:${customers.port}`;
    // The same server under another name: not in the list.
    const script = `async (event) => {
      const host = event.after.id === 2 ? 'localhost:${customers.port}' : '${allowed}';
      const reply = await fetch('http://' + host + '/customers/' + event.after.customer);
      event.after.customer_name = (await reply.json()).name;
      return event;
    }`;
    const capture = await startTransformCapture(url, { script, grants: { allowNetwork: { hosts: [allowed] } } });
    const { confirmedFlush: before } = await slotPosition(url, capture.config.source.slotName);
    const wal = await currentWal(url);
    await sql(url, 'insert into orders values (2, 5)');
    const error = await failure(capture.events());
    expect(error.code).toBe('TRANSFORM_FAILED');
    expect(error.message).toMatch(/failed for the c event of public\.orders at LSN [0-9A-F]+\/[0-9A-F]+: TypeError: fetch refused: localhost:\d+ is not in spec\.transform\.grants\.allowNetwork\.hosts \(127\.0\.0\.1:\d+\)/);
    expect(customers.seen).toStrictEqual([]);
    const { confirmedFlush } = await slotPosition(url, capture.config.source.slotName);
    expect(confirmedFlush).toBeGreaterThanOrEqual(before);
    expect(confirmedFlush).toBeLessThanOrEqual(wal);
  });

  it('stops a batch whose fetches outlast the time limit, or dead-letters only the event waiting for them', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key, customer int not null)');
    const customers = await startServer(['/customers/2']);
    const host = `127.0.0.1:${customers.port}`;
    const transform = { script: enrichingScript(host), timeoutMs: 300, grants: { allowNetwork: { hosts: [host] } } };
    const stopping = await startTransformCapture(url, transform);
    const letting = await startTransformCapture(url, { ...transform, deadLetter: { policy: 'dead-letter' } });
    await sql(url, 'insert into orders values (1, 1), (2, 2), (3, 3)');
    const error = await failure(stopping.events());
    expect(error.code).toBe('TRANSFORM_FAILED');
    expect(error.message).toMatch(/took longer than 300 ms for a batch of 3 events/);
    expect(error.hint).toMatch(/covers the function and the fetches it waits for/);
    const delivered = await letting.events();
    expect(delivered.map((event) => [event.after.id, event.after.customer_name])).toStrictEqual([
      [1, 'customer-1'],
      [3, 'customer-3'],
    ]);
    const letters = fs
      .readFileSync(path.join(letting.dir, 'state', 'dead-letters.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(letters).toHaveLength(1);
    const letterEvent = typeof letters[0].event === 'string' ? JSON.parse(letters[0].event) : letters[0].event;
    expect(letterEvent.after).toStrictEqual({ id: 2, customer: 2 });
    expect(letters[0].error).toMatch(/took longer than 300 ms for this event/);
    // Every request left hanging was aborted when its batch or event was given up.
    expect(customers.hung.count).toBeGreaterThanOrEqual(2);
    await waitFor(() => (customers.hung.closed === customers.hung.count ? true : undefined), 20_000, 'the hung requests to be aborted');
  });

  it('fails an event whose promise waits for nothing, and keeps plain results of an async-capable function', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key, customer int not null)');
    const customers = await startServer();
    const host = `127.0.0.1:${customers.port}`;
    const script = `(event) => event.after.id === 2 ? new Promise(() => {}) : event.after.id === 3 ? Promise.reject(new RangeError('three')) : event.after.id === 4 ? null : event`;
    const capture = await startTransformCapture(url, { script, grants: { allowNetwork: { hosts: [host] } }, deadLetter: { policy: 'dead-letter' } });
    await sql(url, 'insert into orders select n, n from generate_series(1, 5) as n');
    const events = await capture.events();
    expect(events.map((event) => event.after)).toStrictEqual((await ordersAsJsonb(url)).filter((row) => row.id === 1 || row.id === 5));
    const letters = fs
      .readFileSync(path.join(capture.dir, 'state', 'dead-letters.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(letters.map((letter) => letter.error)).toStrictEqual([expect.stringContaining('never settled'), expect.stringContaining('RangeError: three')]);
    expect(customers.seen).toStrictEqual([]);
  });
});
