/**
 * The CloudEvent target end to end in each content mode: real PostgreSQL, `runStream`, and a real
 * receiver parsing every request with the cloudevents SDK. Checks the attributes (Debezium's type
 * and source, lowercase extensions, ids from positions), the data (the Debezium change event), the
 * content types, and that the three modes carry the same events.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { cloudEventStream } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';

describe('CloudEvent target content modes', () => {
  const server = useTestServer();
  const receivers: CloudEventReceiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });

  /** Streams the same changes in `mode`; returns the receiver. */
  async function streamChanges(url: string, mode: string, extra: Record<string, unknown> = {}): Promise<CloudEventReceiver> {
    const receiver = await CloudEventReceiver.start();
    receivers.push(receiver);
    const { config } = await cloudEventStream({ url, receiverUrl: receiver.url, name: `modes-${mode}`, cloudEvent: { mode, ...extra }, http: { headers: { 'X-Api-Key': 'k1' } } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    return receiver;
  }

  it('sends the same events in structured, binary and batched mode, each parsed by the SDK', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, name text, price numeric(10,2))');
    const receivers = {
      structured: await streamChanges(url, 'structured'),
      binary: await streamChanges(url, 'binary'),
      batched: await streamChanges(url, 'batched', { batchSize: 3 }),
    };
    await sql(url, "insert into items values (1, 'apple', 1.50), (2, 'pear \"50%\"', 2.25)");
    await sql(url, 'update items set price = 1.75 where id = 1');
    await sql(url, 'update items set id = 3 where id = 2');
    await sql(url, 'delete from items where id = 1');
    const byMode: Record<string, any[]> = {};
    for (const mode of ['structured', 'binary', 'batched'] as const) {
      const { config } = await cloudEventStream({ url, receiverUrl: receivers[mode].url, name: `modes-${mode}`, cloudEvent: { mode, ...(mode === 'batched' ? { batchSize: 3 } : {}) }, http: { headers: { 'X-Api-Key': 'k1' } } });
      await runStream(config, { logger: silentLogger(), stopAt: 'now' });
      const receiver = receivers[mode];
      expect(receiver.rejected).toEqual([]);
      byMode[mode] = inCommitOrder(receiver.accepted);
      for (const request of receiver.requests) expect(request.headers['x-api-key']).toBe('k1');
    }
    // Events of different rows may arrive in any order (they are sent in parallel); sorted by position:
    const structured = byMode.structured!;
    // insert 1, insert 2, update 1, key change 2→3 (delete 2, create 3), delete 1
    expect(structured.map((e) => e.iodebeziumop)).toEqual(['c', 'c', 'u', 'd', 'c', 'd']);
    expect(structured.map((e) => e.data.op)).toEqual(['c', 'c', 'u', 'd', 'c', 'd']);
    for (const event of structured) {
      expect(event.specversion).toBe('1.0');
      expect(event.type).toBe('io.debezium.connector.postgresql.DataChangeEvent');
      expect(event.source).toBe('/debezium/postgresql/modes-structured');
      expect(event.datacontenttype).toBe('application/json');
      expect(event.iodebeziumtable).toBe('items');
      expect(event.iodebeziumschema).toBe('public');
      expect(event.iodebeziumlsn).toBe(String(event.data.source.lsn));
      expect(event.time).toBe(new Date(event.data.source.ts_ms).toISOString());
      expect(event.id).toBe(`${event.id.split(':')[0]}:${event.data.source.lsn}:${event.id.split(':')[2]}`);
    }
    // Attribute names as sent (the SDK object adds data_base64): lowercase letters and digits.
    for (const request of receivers.structured.requests) for (const name of Object.keys(JSON.parse(request.body))) expect(name).toMatch(/^[a-z0-9]+$/);
    expect(structured[1].data.after).toEqual({ id: 2, name: 'pear "50%"', price: 2.25 });
    // The two records of the key change share a position, told apart by their ordinal.
    expect([structured[3].id.split(':')[2], structured[4].id.split(':')[2]]).toEqual(['0', '1']);
    expect(new Set(structured.map((e) => e.id)).size).toBe(structured.length);

    // The same events (ids, attributes, data) in every mode; only the source differs (the stream name).
    const comparable = (events: any[]) => events.map(({ source: _s, data, ...rest }) => ({ ...rest, data: { ...data, ts_ms: 0, ts_us: 0, ts_ns: 0, source: { ...data.source, name: '', sequence: '' } } }));
    expect(comparable(byMode.binary!)).toEqual(comparable(structured));
    expect(comparable(byMode.batched!)).toEqual(comparable(structured));

    expect(receivers.structured.requests.every((r) => r.contentType === 'application/cloudevents+json; charset=utf-8' && r.events.length === 1)).toBe(true);
    expect(receivers.binary.requests.every((r) => r.contentType === 'application/json' && r.headers['ce-id'] !== undefined && r.events.length === 1)).toBe(true);
    expect(receivers.batched.requests.every((r) => r.contentType === 'application/cloudevents-batch+json; charset=utf-8')).toBe(true);
    expect(receivers.batched.requests.length).toBeLessThan(structured.length);
  });
});

/** Events sorted by the position their id carries (`<commitLsn>:<lsn>:<n>`). */
export function inCommitOrder(events: readonly any[]): any[] {
  const position = (event: any): number[] => String(event.id).split(':').map(Number);
  return [...events].sort((a, b) => {
    const [x, y] = [position(a), position(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}
