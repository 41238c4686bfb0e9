/**
 * How the CloudEvent target delivers: events of one row in order while rows go in parallel,
 * retries of 5xx, timeouts and dropped connections, 4xx and oversized events set aside in the
 * dead-letter file or table with their error, the stop policy (nothing acknowledged past the event),
 * and a poison event in a batch isolated from its neighbours. A real receiver (cloudevents SDK)
 * answers as each test tells it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { cloudEventStream } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { readEvents } from '../support/stream-fixtures.js';
import { testRandom } from '../support/seeded-random.js';

const rowId = (event: any): number => (event.data.after ?? event.data.before).id;

describe('CloudEvent delivery', () => {
  const server = useTestServer();
  const receivers: CloudEventReceiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });
  async function receiver(options: Parameters<typeof CloudEventReceiver.start>[0] = {}): Promise<CloudEventReceiver> {
    const started = await CloudEventReceiver.start(options);
    receivers.push(started);
    return started;
  }

  /** A database with `items (id int primary key, n int, note text)` and a stream already at its end. */
  async function prepared(receiverUrl: string, options: Partial<Parameters<typeof cloudEventStream>[0]> = {}) {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, n int, note text)');
    const stream = await cloudEventStream({ url, receiverUrl, ...options });
    await runStream(stream.config, { logger: silentLogger(), stopAt: 'now' });
    return { url, ...stream };
  }

  it('keeps the events of each row in order while rows are sent in parallel', async () => {
    const inFlight = new Set<number>();
    let overlapping = 0;
    let sameRowOverlap = 0;
    const target = await receiver();
    target.answer = (events) => {
      const id = rowId(events[0]);
      if (inFlight.has(id)) sameRowOverlap++;
      inFlight.add(id);
      if (inFlight.size > 1) overlapping++;
      // Answer in a scrambled order: later requests may be answered first.
      return new Promise((resolve) => setTimeout(() => {
        inFlight.delete(id);
        resolve(200);
      }, testRandom() * 4));
    };
    const { url, config } = await prepared(target.url, { http: { concurrency: 8 } });
    await sql(url, 'insert into items select g, 0 from generate_series(1, 6) g');
    for (let round = 1; round <= 25; round++) await sql(url, `update items set n = ${round}`);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const accepted = target.accepted;
    expect(accepted).toHaveLength(6 + 6 * 25);
    expect(sameRowOverlap).toBe(0);
    expect(overlapping).toBeGreaterThan(0);
    for (let id = 1; id <= 6; id++) {
      expect(accepted.filter((e) => rowId(e) === id).map((e) => e.data.after.n)).toEqual(Array.from({ length: 26 }, (_, i) => i));
    }
  });

  it('retries 5xx answers, read timeouts and dropped connections until the receiver accepts', async () => {
    const attempts = new Map<string, number>();
    const target = await receiver();
    target.answer = (events) => {
      const attempt = (attempts.get(events[0].id) ?? 0) + 1;
      attempts.set(events[0].id, attempt);
      const note = events[0].data.after.note;
      if (attempt === 1 && note === 'timeout') return 'hold';
      if (attempt === 1 && note === 'drop') return 'drop';
      if (attempt <= 2 && note === '503') return 503;
      return 200;
    };
    const { url, config } = await prepared(target.url, { http: { readTimeout: '300ms' } });
    await sql(url, "insert into items values (1, 0, '503'), (2, 0, 'timeout'), (3, 0, 'drop'), (4, 0, 'fine')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(target.accepted.map(rowId).sort()).toEqual([1, 2, 3, 4]);
    const byNote = Object.fromEntries(target.accepted.map((e) => [e.data.after.note, attempts.get(e.id)]));
    expect(byNote).toEqual({ '503': 3, timeout: 2, drop: 2, fine: 1 });
    // Every attempt of an event carried the same id.
    expect(new Set(target.received.map((e) => e.id)).size).toBe(4);
  });

  it('sets a 4xx-rejected event aside in the dead-letter file with its error and goes on', async () => {
    const target = await receiver({ answer: (events) => (events[0].data.op === 'c' && events[0].data.after.note === 'bad' ? 422 : 200) });
    const { url, config } = await prepared(target.url);
    await sql(url, "insert into items values (1, 0, 'ok'), (2, 0, 'bad'), (3, 0, 'ok')");
    await sql(url, 'update items set n = 1 where id = 2');
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(target.accepted.map((e) => `${e.data.op}${rowId(e)}`).sort()).toEqual(['c1', 'c3', 'u2']);
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters).toHaveLength(1);
    const [letter] = letters;
    expect(letter.attempts).toBe(1);
    expect(letter.error).toBe(`the CloudEvent receiver at ${target.url} answered HTTP 422: status 422`);
    expect(letter.id).toBe(letter.event.id);
    expect(letter.event).toMatchObject({ specversion: '1.0', type: 'io.debezium.connector.postgresql.DataChangeEvent', iodebeziumop: 'c' });
    expect(letter.event.data.after).toEqual({ id: 2, n: 0, note: 'bad' });
    expect(Date.parse(letter.failedAt)).toBeGreaterThan(0);
  });

  it('dead-letters an event whose retries are exhausted, counting its attempts', async () => {
    const target = await receiver({ answer: (events) => (events[0].data.after.note === 'down' ? 500 : 200) });
    const { url, config } = await prepared(target.url, { http: { retryLimit: 2 } });
    await sql(url, "insert into items values (1, 0, 'down'), (2, 0, 'up')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(target.accepted.map(rowId)).toEqual([2]);
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters.map((l) => [l.event.data.after.id, l.attempts, l.error])).toEqual([[1, 3, `the CloudEvent receiver at ${target.url} answered HTTP 500: status 500`]]);
  });

  it('writes dead letters to a PostgreSQL table, one row per event id', async () => {
    const target = await receiver({ answer: (events) => (events[0].data.after?.note === 'bad' ? 400 : 200) });
    const letterDb = await createDatabase(server(), 'letters');
    const { url, config } = await prepared(target.url, { cloudEvent: { deadLetter: { table: { url: letterDb, name: 'public.cdc_dead_letters' } } } });
    await sql(url, "insert into items values (1, 0, 'bad'), (2, 0, 'ok'), (3, 0, 'bad')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(target.accepted.map(rowId)).toEqual([2]);
    const { rows } = await sql(letterDb, 'select stream, event_id, attempts, error, event from cdc_dead_letters order by event_id');
    expect(rows.map((r) => [r.stream, r.event_id === r.event.id, r.attempts, r.error, r.event.data.after.id])).toEqual([
      [config.name, true, 1, `the CloudEvent receiver at ${target.url} answered HTTP 400: status 400`, 1],
      [config.name, true, 1, `the CloudEvent receiver at ${target.url} answered HTTP 400: status 400`, 3],
    ]);
  });

  it('with deadLetter.policy stop, stops at the failed event and delivers it again on the next run', async () => {
    let broken = true;
    const target = await receiver({ answer: (events) => (broken && events[0].data.after?.note === 'bad' ? 404 : 200) });
    const { url, config } = await prepared(target.url, { cloudEvent: { deadLetter: { policy: 'stop' } } });
    await sql(url, "insert into items values (1, 0, 'bad')");
    await sql(url, "insert into items values (2, 0, 'after')");
    const error = await runStream(config, { logger: silentLogger(), stopAt: 'now' }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(PgcdcError);
    expect((error as PgcdcError).code).toBe('TARGET_FAILED');
    const failedId = target.received.find((e) => e.data.after.note === 'bad')!.id;
    expect((error as PgcdcError).message).toBe(`CloudEvent ${failedId} failed after 1 attempt: the CloudEvent receiver at ${target.url} answered HTTP 404: status 404`);
    expect((error as PgcdcError).hint).toContain('spec.target.cloudEvent.deadLetter.policy: dead-letter');
    expect(fs.existsSync(path.join(config.stateDir, 'dead-letters.ndjson'))).toBe(false);
    broken = false;
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const delivered = target.accepted.map((e) => [rowId(e), e.id]);
    expect(delivered).toContainEqual([1, failedId]);
    expect(delivered.map(([id]) => id)).toContain(2);
  });

  it('never sends an event larger than maxEventBytes: it is a dead letter at once', async () => {
    const target = await receiver();
    const { url, config } = await prepared(target.url, { cloudEvent: { maxEventBytes: 2048 } });
    await sql(url, "insert into items values (1, 0, repeat('x', 5000)), (2, 0, 'small')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(target.received.map(rowId)).toEqual([2]);
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters).toHaveLength(1);
    expect(letters[0].attempts).toBe(0);
    expect(letters[0].error).toMatch(/^the CloudEvent is \d+ bytes, more than the 2048 allowed$/);
    expect(letters[0].event.data.after.note).toHaveLength(5000);
  });

  it('in batched mode, isolates a rejected event from the rest of its batch', async () => {
    const target = await receiver({ answer: (events) => (events.some((e) => e.data.after?.note === 'poison') ? 400 : 200) });
    const { url, config } = await prepared(target.url, { cloudEvent: { mode: 'batched', batchSize: 50, linger: '0' }, http: { concurrency: 1 } });
    await sql(url, "insert into items select g, 0, case when g = 13 then 'poison' else 'ok' end from generate_series(1, 40) g");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(target.accepted.map(rowId)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1).filter((id) => id !== 13));
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters.map((l) => l.event.data.after.id)).toEqual([13]);
    expect(target.rejected).toEqual([]);
  });
});
