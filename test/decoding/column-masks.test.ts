/**
 * Column masks against Debezium's own algorithms: salted hashes (strategies 1 and 2) compared with
 * the JDK's ObjectOutputStream and MessageDigest run by `java`, which rule a column gets, the
 * hash cut to a varchar's length, truncation that never splits a surrogate pair.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ColumnMasks, javaSerializedString, type ValueMask } from '../../src/decoding/values/column-masks.js';
import type { PgType } from '../../src/decoding/values/pg-type.js';

const ORACLE = path.resolve('test/decoding/oracles/DebeziumMaskHash.java');

/** Debezium's hashes of `values`, computed by the JDK. */
function javaHashes(algorithm: string, salt: string, strategy: 'V1' | 'V2', values: readonly string[]): string[] {
  const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');
  const output = execFileSync('java', [ORACLE, algorithm, hex(salt), strategy], { input: values.map(hex).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 24 });
  return output.trim().split('\n');
}

function baseType(oid: number, name: string): PgType {
  return { oid, name, schema: 'pg_catalog', kind: 'base', elementOid: 0, baseOid: 0, delimiter: ',', fields: [] };
}
const TEXT = baseType(25, 'text');
const VARCHAR = baseType(1043, 'varchar');
const INT4 = baseType(23, 'int4');

const column = (name: string, type = TEXT, typeModifier = -1) => ({ schema: 'public', table: 'users', column: name, type, typeModifier });

function maskOf(masks: ColumnMasks, ...args: Parameters<typeof column>): ValueMask {
  const mask = masks.for(column(...args));
  if (mask === undefined || mask === 'not-character') throw new Error(`no mask for ${args[0]}`);
  return mask;
}

const VALUES = ['hello', '', 'ünïcödé', '日本語のテキスト', 'emoji 😀 inside', 'nul-free\ttab\nnewline', 'x'.repeat(70_000)];

describe('column masks', () => {
  it('hash as Debezium does, strategy 1 (Java-serialized strings, long ones too) and 2 (UTF-8 bytes)', () => {
    for (const [algorithm, salt] of [
      ['SHA-256', 'CzQMA0cB5K'],
      ['MD5', 'sel'],
      ['SHA-512', 'sälz ✓'],
      ['SHA-1', ''],
    ] as const) {
      for (const [strategy, version] of [
        ['V1', 1],
        ['V2', 2],
      ] as const) {
        const masks = new ColumnMasks({ maskWithChars: [], truncateToChars: [], hash: [{ algorithm, salt, version, columns: ['public\\.users\\.email'] }] });
        const mask = maskOf(masks, 'email');
        expect(VALUES.map((value) => mask.apply(value)), `${algorithm} ${strategy}`).toStrictEqual(javaHashes(algorithm, salt, strategy, VALUES));
        expect(mask.nullReplacement).toBeUndefined();
      }
    }
  });

  it('writes strings as ObjectOutputStream does: short with a 2-byte length, long with an 8-byte one', () => {
    expect(javaSerializedString('A\u0000é').toString('hex')).toBe('aced0005' + '74' + '0005' + '41' + 'c080' + 'c3a9');
    const long = javaSerializedString('é'.repeat(40_000));
    expect(long.subarray(0, 13).toString('hex')).toBe('aced00057c' + (80_000).toString(16).padStart(16, '0'));
  });

  it('match anchored, case-insensitive names; a mask wins over a truncation; other types are not masked', () => {
    const masks = new ColumnMasks({
      truncateToChars: [{ length: 3, columns: ['public\\.users\\..*'] }],
      maskWithChars: [{ length: 4, columns: ['PUBLIC\\.USERS\\.SSN'] }],
      hash: [{ algorithm: 'SHA-256', salt: 's', version: 2, columns: ['public\\.users\\.code'] }],
    });
    expect(maskOf(masks, 'ssn').apply('123-45-6789')).toBe('****');
    expect(maskOf(masks, 'ssn').nullReplacement).toBe('****');
    expect(maskOf(masks, 'bio').apply('a long text')).toBe('a l');
    expect(maskOf(masks, 'bio').nullReplacement).toBeUndefined();
    expect(maskOf(masks, 'code', VARCHAR, 8 + 4).apply('secret')).toBe(javaHashes('SHA-256', 's', 'V2', ['secret'])[0]!.slice(0, 8));
    expect(maskOf(masks, 'code').apply('secret')).toHaveLength(64);
    expect(masks.for(column('age', INT4))).toBe('not-character');
    expect(masks.for({ ...column('ssn'), table: 'users_archive' })).toBeUndefined();
    expect(masks.for({ ...column('ssn2') })).toBeDefined(); // truncation's .* covers it
  });

  it('truncate to UTF-16 code units without splitting a surrogate pair', () => {
    const masks = new ColumnMasks({ truncateToChars: [{ length: 3, columns: ['.*'] }], maskWithChars: [], hash: [] });
    const mask = maskOf(masks, 'bio');
    expect(mask.apply('ab😀cd')).toBe('ab');
    expect(mask.apply('a😀cd')).toBe('a😀');
    expect(mask.apply('abc')).toBe('abc');
  });

  it('mask with zero characters gives the empty string', () => {
    const masks = new ColumnMasks({ maskWithChars: [{ length: 0, columns: ['.*'] }], truncateToChars: [], hash: [] });
    expect(maskOf(masks, 'ssn').apply('x')).toBe('');
  });
});
