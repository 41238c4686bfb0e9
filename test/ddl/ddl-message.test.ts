/**
 * parseDdlMessage: a valid message is typed as is; anything else fails with one line that says
 * what is wrong and how to fix it.
 */
import { describe, expect, it } from 'vitest';
import { DDL_MESSAGE_PREFIX, parseDdlMessage } from '../../src/ddl/ddl-message.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

const DROP = {
  version: 1,
  event: 'sql_drop',
  commandTag: 'DROP TABLE',
  query: 'drop table t',
  schemas: [],
  types: [],
  tables: [],
  dropped: [
    {
      objectType: 'table',
      oid: 16384,
      subId: 0,
      schema: 'public',
      name: 't',
      identity: 'public.t',
      addressNames: ['public', 't'],
      original: true,
      normal: false,
    },
  ],
  error: null,
};

describe('parseDdlMessage', () => {
  it('reads a valid message', () => {
    expect(DDL_MESSAGE_PREFIX).toBe('pgcdc.ddl');
    expect(parseDdlMessage(JSON.stringify(DROP))).toEqual(DROP);
  });

  it('rejects text that is not JSON, another version, and missing fields', () => {
    const failure = (content: string) => {
      try {
        parseDdlMessage(content);
      } catch (error) {
        expect(error).toBeInstanceOf(PgcdcError);
        return (error as PgcdcError).toLine();
      }
      throw new Error('expected a failure');
    };
    expect(failure('{')).toMatch(/^invalid pgcdc\.ddl message: it is not JSON \(.+\): \{ \(fix: the source runs DDL capture from another pgcdc version; run pgcdc init with this version to reinstall it\)$/);
    expect(failure(JSON.stringify({ ...DROP, version: 2 }))).toMatch(/^invalid pgcdc\.ddl message: version: /);
    expect(failure(JSON.stringify({ ...DROP, dropped: [{ ...DROP.dropped[0], oid: 'x' }] }))).toMatch(/^invalid pgcdc\.ddl message: dropped\.0\.oid: /);
  });
});
