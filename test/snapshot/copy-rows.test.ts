/**
 * COPY text rows: field splitting, `\N`, and every escape COPY writes, both as rows rendered
 * straight from their bytes and as TupleData for incremental chunks.
 */
import { describe, expect, it } from 'vitest';
import { columnBounds } from '../../src/events/tuple-json.js';
import { copyRow, copyRowField, unescapeCopyText } from '../../src/events/copy-row.js';
import { CopyRowDecoder } from '../../src/snapshot/copy-row-decoder.js';
import { summaryLine, tableLine } from '../../src/snapshot/snapshot-progress-reporter.js';

const ROW = Buffer.from('1\t\\N\ta\\tb\\nc\\\\d\\re\\bf\\fg\\vh\t\t\\x41\\101z\n', 'latin1');
const VALUES = ['1', null, 'a\tb\nc\\d\re\bf\fg\vh', '', 'AAz'];

describe('COPY rows', () => {
  it('splits fields and unescapes them', () => {
    const row = copyRow(ROW, 0, ROW.length - 1);
    const fields = VALUES.map((_, i) => copyRowField(row, i));
    expect(fields.map((f) => (f.kind === 0x6e ? null : f.buf.toString('latin1', f.start, f.end)))).toEqual(VALUES);
  });

  it('becomes the same values as TupleData', () => {
    const tuple = new CopyRowDecoder(64).decode(ROW, 0, ROW.length, VALUES.length);
    const values = VALUES.map((_, i) => {
      const bounds = columnBounds(tuple, i);
      return bounds.kind === 0x6e ? null : tuple.buf.toString('latin1', bounds.start, bounds.end);
    });
    expect(values).toEqual(VALUES);
    expect(() => new CopyRowDecoder().decode(ROW, 0, ROW.length, VALUES.length + 1)).toThrow(/4 columns where 5|5 columns where 6/);
  });

  it('unescapes octal and hex escapes and keeps unknown ones as the character', () => {
    const text = Buffer.from('\\101\\x42\\7\\q', 'latin1');
    const out = Buffer.alloc(16);
    expect(out.toString('latin1', 0, unescapeCopyText(text, 0, text.length, out, 0))).toBe('AB\u0007q');
  });
});

describe('snapshot progress line', () => {
  it('sums rows, rates and the ETA over tables', () => {
    expect(
      summaryLine([
        { name: 'public.a', rowsDone: 1000, estimatedRows: 1000, chunksDone: 2, chunks: 2, rowsPerSecond: 500, etaSeconds: 0 },
        { name: 'public.b', rowsDone: 200_000, estimatedRows: 1_000_000, chunksDone: 1, chunks: 10, rowsPerSecond: 100_000, etaSeconds: 8 },
      ]),
    ).toBe('snapshot 1/2 tables, 201,000 of ~1,001,000 rows (20%), 100,500 rows/s, ETA 8s');
    expect(tableLine({ name: 'public.b', rowsDone: 200_000, estimatedRows: 1_000_000, chunksDone: 1, chunks: 10, rowsPerSecond: 100_000, etaSeconds: 8 })).toBe(
      'public.b 200,000 of ~1,000,000 rows (20%) 100,000 rows/s ETA 8s',
    );
  });

  it('shows the rows copied alone, without percent or ETA, for a table never analyzed (no estimate)', () => {
    const fresh = { name: 'public.fresh', rowsDone: 298, estimatedRows: 0, chunksDone: 0, chunks: 1, rowsPerSecond: 100, etaSeconds: undefined };
    expect(tableLine(fresh)).toBe('public.fresh 298 rows copied 100 rows/s');
    expect(summaryLine([fresh])).toBe('snapshot 0/1 table, 298 rows copied, 100 rows/s');
  });
});
