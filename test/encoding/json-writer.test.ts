import { describe, expect, it } from 'vitest';
import { JsonWriter } from '../../src/encoding/json-writer.js';

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');

describe('JsonWriter', () => {
  it('writes strings from bytes and from JavaScript exactly as JSON.stringify would', () => {
    const samples = ['', 'plain', 'quote " and backslash \\', 'tab\there\nnew\rline\b\f', '\u0000\u0001\u001f', 'é ü 🐘 中文', 'x'.repeat(70) + '"' + 'y'.repeat(70)];
    for (const sample of samples) {
      const w = new JsonWriter(64);
      const bytes = Buffer.from(sample, 'utf8');
      w.stringFromBytes(bytes, 0, bytes.length);
      w.raw(',');
      w.string(sample);
      expect(text(w.take())).toBe(`${JSON.stringify(sample)},${JSON.stringify(sample)}`);
    }
  });

  it('writes integers without going through strings', () => {
    const w = new JsonWriter(32);
    for (const n of [0, 7, 10, 99, 12345, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      w.integer(n);
      w.byte(0x20);
    }
    expect(text(w.take())).toBe('0 7 10 99 12345 4294967301 9007199254740991 ');
  });

  it('spans slabs, counts what it holds, and reuses slab memory only after recycle()', () => {
    const w = new JsonWriter(16);
    w.raw('{"a":');
    w.string('a value longer than one slab of sixteen bytes');
    w.raw('}');
    expect(w.length).toBe(53);
    const first = w.take();
    expect(text(first)).toBe('{"a":"a value longer than one slab of sixteen bytes"}');
    expect(w.length).toBe(0);
    // Until recycled, taken chunks stay intact whatever is written next.
    w.raw('0123456789abcdef0123456789');
    expect(text(first)).toBe('{"a":"a value longer than one slab of sixteen bytes"}');
    expect(text(w.take())).toBe('0123456789abcdef0123456789');
    w.recycle();
    w.raw('{"b":1}');
    expect(text(w.take())).toBe('{"b":1}');
  });

  it('refuses to recycle bytes that were not taken', () => {
    const w = new JsonWriter(16);
    w.raw('pending');
    expect(() => w.recycle()).toThrow(/not taken/);
  });
});
