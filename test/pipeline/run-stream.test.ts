import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

describe('runStream to a File target', () => {
  const server = useTestServer();

  it('delivers inserts, updates and deletes as Debezium events in commit order and stops at --stop-at now', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, name text, price numeric(10,2))');
    const { config, outFile } = await fileStream({ url });
    // First run creates slot and publication, then stops at once.
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (1, 'apple', 1.50), (2, 'pear', 2.25)");
    await sql(url, "update items set price = 1.75 where id = 1");
    await sql(url, 'delete from items where id = 2');
    const result = await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(result.stopReason).toBe('stop-at');
    const events = readEvents(outFile);
    expect(events.map((e) => e.op)).toEqual(['c', 'c', 'u', 'd']);
    expect(events[0].after).toEqual({ id: 1, name: 'apple', price: 1.5 });
    expect(events[2].before).toBeNull();
    expect(events[2].after).toEqual({ id: 1, name: 'apple', price: 1.75 });
    expect(events[3].before).toEqual({ id: 2 });
    expect(events[0].source).toMatchObject({ connector: 'postgresql', name: config.name, schema: 'public', table: 'items', snapshot: 'false' });
    expect(events[0].source.txId).toBe(events[1].source.txId);
    expect(events[2].source.txId).toBeGreaterThan(events[0].source.txId);
  });
});
