/**
 * Snapshot reads go through COPY rather than pgoutput: their values must still render exactly as
 * to_jsonb (and so as streamed events) do, for every common type and edge case.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { exactRow, parseExact, rowsAsJsonb, startCapture } from '../support/event-capture.js';
import { COLUMNS, EDGE_ROW, JSON_COLUMNS, ROWS, SCHEMA } from '../support/value-fixtures.js';

describe('snapshot values', () => {
  const server = useTestServer();

  it.each([
    ['initial snapshot (COPY at the exported snapshot)', 'initial'],
    ['incremental snapshot (COPY between watermarks)', 'always'],
  ])('%s renders every type as to_jsonb does', async (_name, snapshotMode) => {
    const url = await createDatabase(server());
    await sql(url, SCHEMA);
    await sql(url, `insert into vals (${COLUMNS}) values ${[...ROWS, EDGE_ROW].join(',\n')}`);
    // `always` snapshots again at its second start, from the existing slot, between watermarks.
    const capture = await startCapture({ url, source: { snapshotMode } });
    if (snapshotMode === 'always') await capture.run();
    const incremental = snapshotMode === 'always';
    const events = fs
      .readFileSync(capture.outFile, 'utf8')
      .trim()
      .split('\n')
      .map(parseExact)
      .filter((e) => e.op === 'r' && (e.source.snapshot === 'incremental') === incremental);
    const expected = await rowsAsJsonb(url, 'vals');
    expect(events).toHaveLength(5);
    const byId = new Map(events.map((e) => [String(e.after.id), e]));
    for (const row of expected) {
      expect(exactRow(byId.get(String(row.id))!.after, JSON_COLUMNS), `row ${String(row.id)}`).toEqual(exactRow(row, JSON_COLUMNS));
    }
  });
});
