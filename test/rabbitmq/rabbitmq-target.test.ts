/**
 * The RabbitMQ target against a real broker (Debian's rabbitmq-server, private instance): a random
 * workload (inserts, updates, primary-key changes, deletes, multi-row transactions) published to a
 * topic exchange and read back by an amqplib consumer from a queue the target declared and bound.
 * Checked against the source's own trigger-written change log and rows: every logged change arrives
 * once, in order per key, each message with its properties (persistent, JSON, message-id from the
 * position) and headers (operation, table, LSN, transaction id, key), and the queue rebuilds the
 * table. Also the routing key template, Debezium's key-change headers, the schemas envelope,
 * configured headers, and an unroutable (returned) message set aside as a dead letter.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { CHANGE_LOG_SQL, changesPerKey, ITEMS_ONLY, loggedChanges, rebuild, recordedChanges, sourceTable } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { asKafkaRecords, useRabbitMQServer } from '../support/rabbitmq-server.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const TABLE = `create table items (id int primary key, name text, qty int); ${CHANGE_LOG_SQL}`;

describe('RabbitMQ target', () => {
  const server = useTestServer();
  const rabbit = useRabbitMQServer();

  it('publishes every change once, in order per key, with its properties and headers, and the queue rebuilds the table', async () => {
    const url = await createDatabase(server(), 'rabbitmq');
    await sql(url, TABLE);
    const { config } = await targetStream({
      url,
      name: 'r1',
      dir: tempDir(),
      source: ITEMS_ONLY,
      target: {
        type: 'RabbitMQ',
        rabbitmq: { url: rabbit().url(), schemasEnable: false, exchange: { name: 'cdc', declare: true }, queue: { name: 'r1-changes' }, concurrency: 3, maxUnconfirmed: 30 },
      },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' }); // creates the slot, declares and binds
    let nextId = 1;
    for (let txn = 0; txn < 80; txn++) {
      const statements: string[] = [];
      for (let i = 0; i < 1 + below(testRandom, 5); i++) {
        const id = 1 + below(testRandom, nextId + 2);
        switch (below(testRandom, 5)) {
          case 0:
          case 1:
            statements.push(`insert into items values (${nextId++}, 'new', 1)`);
            break;
          case 2:
            statements.push(`update items set qty = qty + 1, name = name || '!' where id = ${id}`);
            break;
          case 3:
            statements.push(`update items set id = ${nextId++} where id = ${id}`);
            break;
          default:
            statements.push(`delete from items where id = ${id}`);
        }
      }
      await sql(url, `begin; ${statements.join('; ')}; commit`);
    }
    await sql(url, "insert into items select g, 'bulk', g from generate_series(10000, 10300) g");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });

    const messages = await rabbit().consume('r1-changes');
    const logged = await loggedChanges(url);
    const records = asKafkaRecords(messages);
    const recorded = recordedChanges(records);
    expect(recorded.length).toBe(logged.length);
    expect(changesPerKey(recorded)).toEqual(changesPerKey(logged));
    expect(rebuild(records)).toEqual(await sourceTable(url));
    // Message ids are unique (no redelivery happened) and come from positions.
    expect(new Set(messages.map((message) => message.messageId)).size).toBe(messages.length);
    for (const message of messages) {
      expect(message.exchange).toBe('cdc');
      expect(message.routingKey).toBe('r1.public.items');
      expect(message.deliveryMode).toBe(2);
      expect(message.contentType).toBe('application/json');
      expect(message.messageId).toMatch(/^r1:\d+:\d+:\d+$/);
      expect(message.headers['pgcdc-table']).toBe('public.items');
      expect(message.headers['pgcdc-lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(Number(message.headers['pgcdc-txid'])).toBeGreaterThan(0);
      const key = JSON.parse(message.headers['pgcdc-key']!);
      if (message.body === null) {
        expect(message.headers['pgcdc-op']).toBe('tombstone');
        continue;
      }
      const event = JSON.parse(message.body);
      expect(message.headers['pgcdc-op']).toBe(event.op);
      expect(key).toEqual({ id: (event.after ?? event.before).id });
      expect(message.headers['pgcdc-lsn']).toBe(lsnText(event.source.lsn));
      expect(Number(message.headers['pgcdc-txid'])).toBe(event.source.txId);
    }
    // Each delete is followed by its tombstone.
    const deletes = messages.filter((message) => message.body !== null && JSON.parse(message.body).op === 'd').length;
    expect(messages.filter((message) => message.body === null).length).toBe(deletes);
  }, 180_000);

  it('routes by its template, writes envelopes, key-change and configured headers, and sets an unroutable message aside as a dead letter', async () => {
    const url = await createDatabase(server(), 'rabbitmq');
    await sql(url, 'create table items (id int primary key, name text); create table others (id int primary key)');
    await rabbit().bindQueue('r2-items', 'r2x', 'cdc.items.#');
    const dir = tempDir();
    const deadLetters = path.join(dir, 'dead.ndjson');
    const { config } = await targetStream({
      url,
      name: 'r2',
      dir,
      target: {
        type: 'RabbitMQ',
        rabbitmq: { url: rabbit().url(), exchange: { name: 'r2x' }, routingKey: 'cdc.{table}.{schema}', headers: { team: 'orders' }, deadLetter: { file: deadLetters } },
      },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (1, 'a'); update items set id = 2 where id = 1; insert into others values (7)");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const messages = await rabbit().consume('r2-items');
    // In order per row key (a key change's delete and create belong to two keys, on two lanes).
    const keyOf = (message: (typeof messages)[number]) => JSON.parse(message.headers['pgcdc-key']!).payload.id as number;
    const perKey = (id: number) => messages.filter((message) => keyOf(message) === id).map((message) => [message.routingKey, message.headers['pgcdc-op']]);
    expect(messages).toHaveLength(4);
    expect(perKey(1)).toEqual([
      ['cdc.items.public', 'c'],
      ['cdc.items.public', 'd'],
      ['cdc.items.public', 'tombstone'],
    ]);
    expect(perKey(2)).toEqual([['cdc.items.public', 'c']]);
    expect(messages.every((message) => message.headers.team === 'orders')).toBe(true);
    const [created, deleted, , recreated] = [...messages.filter((message) => keyOf(message) === 1), ...messages.filter((message) => keyOf(message) === 2)];
    const createdEvent = JSON.parse(created!.body!);
    expect(createdEvent.schema.name).toBe('cdc.items.public.Envelope'); // Debezium names schemas after the destination
    expect(createdEvent.payload.after).toEqual({ id: 1, name: 'a' });
    expect(JSON.parse(deleted!.headers['__debezium.newkey']!)).toEqual({ id: 2 });
    expect(JSON.parse(recreated!.headers['__debezium.oldkey']!)).toEqual({ id: 1 });
    // `others` goes to cdc.others.public, which no queue takes: returned, then set aside.
    const letters = fs.readFileSync(deadLetters, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(letters).toHaveLength(1);
    expect(letters[0].error).toMatch(/no queue is bound to exchange "r2x" for routing key "cdc\.others\.public"/);
    expect(JSON.stringify(letters[0])).toContain('"id":7');
  }, 180_000);
});

/** An LSN number as PostgreSQL writes it (`16/B374D848`). */
function lsnText(lsn: number): string {
  return `${Math.floor(lsn / 2 ** 32).toString(16).toUpperCase()}/${(lsn % 2 ** 32).toString(16).toUpperCase()}`;
}
