/**
 * pgcdc as a library, through the entry point package.json names (the built dist/index.js): a
 * spec parsed, a stream run into a target of the caller's own, rows read as plain objects.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { main: string; exports: { '.': string } };

describe('the library entry point', () => {
  const server = useTestServer();

  it('parses a spec and streams into a target of the caller', async () => {
    expect(manifest.exports['.']).toBe(`./${manifest.main}`);
    const pgcdc = await import(path.resolve(manifest.main));
    const url = await createDatabase(server());
    await sql(url, "create table notes (id int primary key, body text); insert into notes values (1, 'kept')");
    const dir = tempDir();
    const config = await pgcdc.parseStreamConfig(
      JSON.stringify({
        apiVersion: 'pgcdc/v1',
        kind: 'Stream',
        metadata: { name: 'library' },
        spec: { source: { type: 'Postgres', postgres: { url } }, target: { type: 'Stdout' }, stateDir: path.join(dir, 'state') },
      }),
    );
    const rows: Record<string, unknown>[] = [];
    const target = {
      open: async () => undefined,
      close: async () => undefined,
      write: async (batch: { events: readonly any[] }) => {
        for (const event of batch.events) if (event.kind === 'row' && event.after) rows.push({ op: event.op, ...pgcdc.tupleToObject(event.table, event.after) });
      },
    };
    await pgcdc.runStream(config, { logger: pgcdc.silentLogger(), stopAt: 'now', target });
    await sql(url, "insert into notes values (2, 'new')");
    const result = await pgcdc.runStream(config, { logger: pgcdc.silentLogger(), stopAt: 'now', target });
    expect(rows).toStrictEqual([
      { op: 'r', id: 1, body: 'kept' },
      { op: 'c', id: 2, body: 'new' },
    ]);
    expect(pgcdc.formatLsn(result.confirmedLsn)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(pgcdc.PGCDC_VERSION).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });
});
