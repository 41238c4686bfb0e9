/**
 * Dead letters for `pgcdc serve`: a CloudEvent receiver (a real HTTP server, the user's endpoint)
 * rejects an event with 400, so the stream sets it aside; listDeadLetters shows it with its error;
 * once the receiver is fixed, resendDeadLetter delivers exactly that event through the target's
 * own sending path and marks it re-sent. With the file store (structured mode) and the table store
 * (binary mode, with the target's headers); an unknown id is a NOT_FOUND error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { listDeadLetters, resendDeadLetter } from '../../src/serve/dead-letter-access.js';
import { cloudEventStream } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';

describe('dead letters: list and re-send', () => {
  const server = useTestServer();
  const receivers: CloudEventReceiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });

  /** A receiver that rejects events whose row has note `bad` with 400 until `fixed` is set. */
  async function receiver(): Promise<{ receiver: CloudEventReceiver; fix: () => void }> {
    let fixed = false;
    const started = await CloudEventReceiver.start({ answer: (events) => (!fixed && events[0]?.data?.after?.note === 'bad' ? 400 : 200) });
    receivers.push(started);
    return { receiver: started, fix: () => (fixed = true) };
  }

  async function expectError(promise: Promise<unknown>): Promise<PgcdcError> {
    const error = await promise.then(() => undefined, (rejection: unknown) => rejection);
    expect(error).toBeInstanceOf(PgcdcError);
    return error as PgcdcError;
  }

  it('lists letters of the file store newest first, re-sends one as it was, and marks it re-sent', async () => {
    const { receiver: target, fix } = await receiver();
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, note text)');
    const { config } = await cloudEventStream({ url, receiverUrl: target.url });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    // Two runs, one rejected event each: the second letter is the newer.
    await sql(url, "insert into items values (1, 'bad'), (2, 'ok')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (3, 'bad')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    const letters = await listDeadLetters(config, { limit: 10 });
    expect(letters.map((letter) => (letter.event as any).data.after.id)).toEqual([3, 1]);
    const [newest] = letters;
    expect(newest).toMatchObject({ attempts: 1, error: `the CloudEvent receiver at ${target.url} answered HTTP 400: status 400`, resentAt: null });
    expect(newest!.id).toBe((newest!.event as any).id);
    expect(Date.parse(newest!.failedAt)).toBeGreaterThan(0);
    expect((await listDeadLetters(config, { limit: 1 })).map((letter) => letter.id)).toEqual([newest!.id]);

    // Still refused: the error says so, and the letter is not marked.
    const refused = await expectError(resendDeadLetter(config, newest!.id, silentLogger()));
    expect(refused.code).toBe('TARGET_FAILED');
    expect(refused.message).toContain(`re-sending dead letter ${newest!.id} failed after 1 attempt: the CloudEvent receiver at ${target.url} answered HTTP 400`);
    expect((await listDeadLetters(config, { limit: 10 }))[0]!.resentAt).toBeNull();

    fix();
    const before = target.requests.length;
    await resendDeadLetter(config, newest!.id, silentLogger());
    const sent = target.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.status).toBe(200);
    expect(sent[0]!.contentType).toContain('application/cloudevents+json');
    // Exactly the event set aside, byte for byte.
    const stored = fs.readFileSync(path.join(config.stateDir, 'dead-letters.ndjson'), 'utf8').split('\n').find((line) => line.includes(`"id":${JSON.stringify(newest!.id)}`))!;
    expect(stored.endsWith(`"event":${sent[0]!.body}}`)).toBe(true);
    expect(sent[0]!.events.map((event) => [event.id, (event.data as any).after])).toEqual([[newest!.id, { id: 3, note: 'bad' }]]);

    const after = await listDeadLetters(config, { limit: 10 });
    expect(after.map((letter) => [letter.id, letter.resentAt !== null])).toEqual([
      [newest!.id, true],
      [letters[1]!.id, false],
    ]);
    expect(Date.parse(after[0]!.resentAt!)).toBeGreaterThanOrEqual(Date.parse(newest!.failedAt));

    const unknown = await expectError(resendDeadLetter(config, 'no-such-letter', silentLogger()));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toBe(`stream ${config.name} has no dead letter with id no-such-letter`);
  });

  it('reads and marks letters of the table store, re-sending in binary mode with the target headers', async () => {
    const { receiver: target, fix } = await receiver();
    const url = await createDatabase(server());
    const letterDb = await createDatabase(server(), 'letters');
    await sql(url, 'create table items (id int primary key, note text, amount numeric)');
    const { config } = await cloudEventStream({
      url,
      receiverUrl: target.url,
      cloudEvent: { mode: 'binary', deadLetter: { table: { url: letterDb, name: 'public.cdc_dead_letters' } } },
      http: { headers: { Authorization: 'Bearer s3cret' } },
    });
    // Nothing set aside yet: the table does not even exist.
    expect(await listDeadLetters(config, { limit: 10 })).toEqual([]);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (7, 'bad', 12345678901234567890.5)");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    const [letter, ...others] = await listDeadLetters(config, { limit: 10 });
    expect(others).toEqual([]);
    expect(letter).toMatchObject({ attempts: 1, error: `the CloudEvent receiver at ${target.url} answered HTTP 400: status 400`, resentAt: null });
    expect((letter!.event as any).data.after).toMatchObject({ id: 7, note: 'bad' });
    const rejected = target.requests.find((request) => request.status === 400)!;

    fix();
    const before = target.requests.length;
    await resendDeadLetter(config, letter!.id, silentLogger());
    const [sent, ...more] = target.requests.slice(before);
    expect(more).toEqual([]);
    expect(sent!.status).toBe(200);
    expect(sent!.headers.authorization).toBe('Bearer s3cret');
    // The same CloudEvent as the rejected request: attributes as ce- headers, the data as the body.
    for (const name of ['ce-id', 'ce-source', 'ce-type', 'ce-specversion', 'ce-subject', 'content-type']) expect(sent!.headers[name]).toBe(rejected.headers[name]);
    expect(JSON.parse(sent!.body)).toEqual(JSON.parse(rejected.body));
    expect(sent!.events.map((event) => event.id)).toEqual([letter!.id]);

    const { rows } = await sql(letterDb, 'select event_id, resent_at from cdc_dead_letters');
    expect(rows.map((row) => [row.event_id, row.resent_at instanceof Date])).toEqual([[letter!.id, true]]);
    expect((await listDeadLetters(config, { limit: 10 }))[0]!.resentAt).toBe((rows[0].resent_at as Date).toISOString());
    expect((await expectError(resendDeadLetter(config, 'nope', silentLogger()))).code).toBe('NOT_FOUND');
  });
});
